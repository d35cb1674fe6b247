//! One keymap table: every binding, the action it sends and what it does. The
//! `?` help overlay is generated from it and config can rebind any action.

use std::collections::BTreeMap;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    /// Move the selection down.
    Down,
    /// Move the selection up.
    Up,
    /// Move the selection a page down.
    PageDown,
    /// Move the selection a page up.
    PageUp,
    /// Select the first row.
    Top,
    /// Select the last row.
    Bottom,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Show details of the selected thing.
    Details,
    /// Roll the selected environment back to its last known-good version.
    Rollback,
    /// Pick a version from the history to roll back to.
    RollbackPick,
    /// Approve the rollback another operator requested (`approvals = 2`).
    Approve,
    /// Toggle the environment's feature flag (flag-first rollback).
    ToggleFlag,
    /// Cancel a proposed automatic rollback.
    CancelProposal,
    /// Run a proposed automatic rollback now.
    ConfirmProposal,
    /// Pause or resume automatic rollback.
    ToggleAutomatic,
    /// Let automatic rollback try again what it failed at.
    Unblock,
    /// Write a note.
    Note,
    /// Tick or untick the selected checklist item.
    TickChecklist,
    /// Mark the current runbook step done.
    StepDone,
    /// Skip the current runbook step, with a reason.
    StepSkip,
    /// Open or close an incident.
    ToggleIncident,
    /// Filter the focused list.
    Filter,
    /// Zoom the focused pane to full screen, or back.
    Zoom,
    /// Show or hide this help.
    Help,
    /// Show the message log: every status message, newest first.
    Messages,
    /// Copy the selected row's text to the clipboard.
    Copy,
    /// Quit (asks first when an incident is open).
    Quit,
    /// Review: step back through the timeline.
    StepBack,
    /// Review: step forward through the timeline.
    StepForward,
}

impl Command {
    /// Name used in config (`[keys]`).
    pub fn name(self) -> &'static str {
        match self {
            Command::Down => "down",
            Command::Up => "up",
            Command::PageDown => "page_down",
            Command::PageUp => "page_up",
            Command::Top => "top",
            Command::Bottom => "bottom",
            Command::NextPane => "next_pane",
            Command::PrevPane => "prev_pane",
            Command::Details => "details",
            Command::Rollback => "rollback",
            Command::RollbackPick => "rollback_pick",
            Command::Approve => "approve",
            Command::ToggleFlag => "toggle_flag",
            Command::CancelProposal => "cancel_proposal",
            Command::ConfirmProposal => "confirm_proposal",
            Command::ToggleAutomatic => "toggle_automatic",
            Command::Unblock => "unblock",
            Command::Note => "note",
            Command::TickChecklist => "tick_checklist",
            Command::StepDone => "step_done",
            Command::StepSkip => "step_skip",
            Command::ToggleIncident => "toggle_incident",
            Command::Filter => "filter",
            Command::Zoom => "zoom",
            Command::Help => "help",
            Command::Messages => "messages",
            Command::Copy => "copy",
            Command::Quit => "quit",
            Command::StepBack => "step_back",
            Command::StepForward => "step_forward",
        }
    }
}

/// A key with its modifiers, as written in config (`ctrl-r`, `R`, `space`, `tab`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    ctrl: bool,
}

impl Key {
    /// A character key.
    pub const fn ch(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: false }
    }

    /// A character with Ctrl held.
    pub const fn ctrl(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: true }
    }

    /// A named key (Enter, Esc, Tab, an arrow).
    pub const fn code(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    /// Parses `ctrl-x`, a single character, or a named key.
    pub fn parse(s: &str) -> Result<Key, String> {
        let (ctrl, rest) = match s.strip_prefix("ctrl-") {
            Some(r) => (true, r),
            None => (false, s),
        };
        let code = match rest {
            "space" => KeyCode::Char(' '),
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" => KeyCode::PageUp,
            "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            r if r.chars().count() == 1 => KeyCode::Char(r.chars().next().unwrap_or(' ')),
            other => {
                return Err(format!(
                    "unknown key {other:?}: use a character, ctrl-x, space, tab, enter, esc, an arrow, pgup, pgdn, home or end"
                ));
            }
        };
        Ok(Key { code, ctrl })
    }

    /// How help shows it.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl { format!("C-{base}") } else { base }
    }

    fn of(ev: &KeyEvent) -> Key {
        Key { code: ev.code, ctrl: ev.modifiers.contains(KeyModifiers::CONTROL) }
    }
}

/// A pressed key as help writes it (`x`, `C-x`, `F5`), for "does nothing here".
pub fn describe_key(ev: &KeyEvent) -> String {
    match ev.code {
        KeyCode::F(n) => format!("F{n}"),
        _ => Key::of(ev).label(),
    }
}

/// The table: bindings in display order.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<(Key, Command, &'static str)>,
}

const DEFAULTS: [(Key, Command, &str); 36] = [
    (Key::ch('j'), Command::Down, "move down"),
    (Key::code(KeyCode::Down), Command::Down, "move down"),
    (Key::ch('k'), Command::Up, "move up"),
    (Key::code(KeyCode::Up), Command::Up, "move up"),
    (Key::code(KeyCode::PageDown), Command::PageDown, "a page down"),
    (Key::code(KeyCode::PageUp), Command::PageUp, "a page up"),
    (Key::ch('g'), Command::Top, "first row"),
    (Key::code(KeyCode::Home), Command::Top, "first row"),
    (Key::ch('G'), Command::Bottom, "last row"),
    (Key::code(KeyCode::End), Command::Bottom, "last row"),
    (Key::code(KeyCode::Tab), Command::NextPane, "next pane"),
    (Key::code(KeyCode::BackTab), Command::PrevPane, "previous pane"),
    (Key::code(KeyCode::Enter), Command::Details, "details"),
    (Key::ch('r'), Command::Rollback, "roll back to the last known-good version"),
    (Key::ch('R'), Command::RollbackPick, "roll back to a version picked from history"),
    (Key::ch('A'), Command::Approve, "approve another operator's rollback request"),
    (Key::ch('f'), Command::ToggleFlag, "turn the flag off (flag driver only)"),
    (Key::ch('c'), Command::CancelProposal, "cancel a proposed automatic rollback"),
    (Key::ch('C'), Command::ConfirmProposal, "run a proposed automatic rollback now"),
    (Key::ch('a'), Command::ToggleAutomatic, "pause / resume automatic rollback"),
    (Key::ch('u'), Command::Unblock, "let a failed automatic rollback run again"),
    (Key::ch('n'), Command::Note, "add a note (Ctrl-S saves)"),
    (Key::ch(' '), Command::TickChecklist, "tick / untick checklist item"),
    (Key::ch('s'), Command::StepDone, "mark runbook step done"),
    (Key::ch('S'), Command::StepSkip, "skip runbook step (with reason)"),
    (Key::ch('i'), Command::ToggleIncident, "open / close incident"),
    (Key::ch('/'), Command::Filter, "filter"),
    (Key::ch('z'), Command::Zoom, "zoom pane"),
    (Key::ch('?'), Command::Help, "help"),
    (Key::ch('m'), Command::Messages, "message log (every status message)"),
    (Key::ch('y'), Command::Copy, "copy the selected row (OSC 52)"),
    (Key::ch('q'), Command::Quit, "quit"),
    (Key::code(KeyCode::Left), Command::StepBack, "review: earlier"),
    (Key::code(KeyCode::Right), Command::StepForward, "review: later"),
    (Key::ch('h'), Command::StepBack, "review: earlier"),
    (Key::ch('l'), Command::StepForward, "review: later"),
];

impl Default for Keymap {
    fn default() -> Self {
        Keymap { bindings: DEFAULTS.to_vec() }
    }
}

impl Keymap {
    /// The defaults with `overrides` (`action name -> key`) applied: an
    /// overridden action loses its default keys.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Keymap, String> {
        let mut map = Keymap::default();
        for (action, key) in overrides {
            let Some(command) = DEFAULTS.iter().map(|(_, c, _)| *c).find(|c| c.name() == action) else {
                let names: Vec<&str> = DEFAULTS.iter().map(|(_, c, _)| c.name()).collect();
                return Err(format!("[keys] names unknown action {action:?} (known: {})", names.join(", ")));
            };
            let key = Key::parse(key).map_err(|e| format!("[keys] {action}: {e}"))?;
            let description = DEFAULTS.iter().find(|(_, c, _)| *c == command).map_or("", |(_, _, d)| d);
            map.bindings.retain(|(k, c, _)| *c != command && *k != key);
            map.bindings.push((key, command, description));
        }
        Ok(map)
    }

    /// The command bound to a key press.
    pub fn lookup(&self, ev: &KeyEvent) -> Option<Command> {
        let key = Key::of(ev);
        // Shifted letters arrive as upper-case chars, sometimes with SHIFT set.
        self.bindings.iter().find(|(k, _, _)| *k == key).map(|(_, c, _)| *c)
    }

    /// Rows of the help overlay: keys joined per command, in table order.
    pub fn help_rows(&self) -> Vec<(String, &'static str)> {
        let mut rows: Vec<(Command, Vec<String>, &'static str)> = Vec::new();
        for (k, c, d) in &self.bindings {
            match rows.iter_mut().find(|(rc, _, _)| rc == c) {
                Some(row) => row.1.push(k.label()),
                None => rows.push((*c, vec![k.label()], d)),
            }
        }
        rows.into_iter().map(|(_, keys, d)| (keys.join("/"), d)).collect()
    }

    /// The first key bound to a command, for the status bar.
    pub fn key_for(&self, c: Command) -> String {
        self.bindings.iter().find(|(_, bc, _)| *bc == c).map_or("?".into(), |(k, _, _)| k.label())
    }
}

/// A key as a popup's table matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopupKey {
    /// This key. A row without Ctrl matches whatever the modifiers: popups
    /// have always taken `j` and Ctrl-`j` alike, and typing must not depend on them.
    Is(Key),
    /// Any key no earlier row took, given to the popup's text field: typing,
    /// cursor movement, word delete, undo.
    Typed,
    /// Any key no earlier row took.
    Other,
}

impl PopupKey {
    fn matches(self, ev: &KeyEvent) -> bool {
        match self {
            PopupKey::Is(k) => ev.code == k.code && (!k.ctrl || ev.modifiers.contains(KeyModifiers::CONTROL)),
            PopupKey::Typed => true,
            PopupKey::Other => true,
        }
    }

    fn label(self, alone: bool) -> String {
        match self {
            PopupKey::Is(k) => k.label(),
            PopupKey::Typed => "text".into(),
            PopupKey::Other if alone => "any key".into(),
            PopupKey::Other => "other".into(),
        }
    }
}

/// One row of a popup's key table: the key, what the popup does with it, and
/// the help text. The popup's handler and the `?` help both read the table.
pub type PopupBinding<A> = (PopupKey, A, &'static str);

/// The action of the first row of `table` that the key press matches.
pub fn popup_action<A: Copy>(table: &[PopupBinding<A>], ev: &KeyEvent) -> Option<A> {
    table.iter().find(|(k, _, _)| k.matches(ev)).map(|(_, a, _)| *a)
}

/// Help rows of a popup's table: keys joined per action, in table order.
pub fn popup_help_rows<A: Copy + PartialEq>(table: &[PopupBinding<A>]) -> Vec<(String, &'static str)> {
    let alone = table.len() == 1;
    let mut rows: Vec<(A, Vec<String>, &'static str)> = Vec::new();
    for (k, a, d) in table {
        match rows.iter_mut().find(|(ra, _, _)| ra == a) {
            Some(row) => row.1.push(k.label(alone)),
            None => rows.push((*a, vec![k.label(alone)], d)),
        }
    }
    rows.into_iter().map(|(_, keys, d)| (keys.join("/"), d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn defaults_and_overrides() {
        let m = Keymap::default();
        assert_eq!(m.lookup(&press('r')), Some(Command::Rollback));
        assert_eq!(m.lookup(&press('R')), Some(Command::RollbackPick));
        let o: BTreeMap<String, String> = [("rollback".to_string(), "ctrl-b".to_string())].into();
        let m = Keymap::with_overrides(&o).unwrap();
        assert_eq!(m.lookup(&press('r')), None, "the old key is freed");
        assert_eq!(m.lookup(&KeyEvent::new(KeyCode::Char('b'), KeyModifiers::CONTROL)), Some(Command::Rollback));
        assert!(m.help_rows().iter().any(|(k, d)| k == "C-b" && d.starts_with("roll back to the last")));
        let bad: BTreeMap<String, String> = [("explode".to_string(), "x".to_string())].into();
        assert!(Keymap::with_overrides(&bad).unwrap_err().contains("unknown action \"explode\""));
    }

    #[test]
    fn popup_tables_match_in_order_and_join_keys_in_help() {
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum Act {
            Save,
            Type,
            Close,
        }
        let table: [PopupBinding<Act>; 4] = [
            (PopupKey::Is(Key::ctrl('s')), Act::Save, "save"),
            (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Close, "close"),
            (PopupKey::Is(Key::code(KeyCode::Enter)), Act::Close, "close"),
            (PopupKey::Typed, Act::Type, "type"),
        ];
        assert_eq!(popup_action(&table, &KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)), Some(Act::Save));
        assert_eq!(popup_action(&table, &press('s')), Some(Act::Type));
        assert_eq!(popup_action(&table, &KeyEvent::new(KeyCode::Esc, KeyModifiers::SHIFT)), Some(Act::Close));
        // The text field takes every other key: cursor keys, word delete, undo.
        assert_eq!(popup_action(&table, &KeyEvent::new(KeyCode::Left, KeyModifiers::NONE)), Some(Act::Type));
        let rows = popup_help_rows(&table);
        assert_eq!(rows[0], ("C-s".to_string(), "save"));
        assert_eq!(rows[1], ("Esc/Enter".to_string(), "close"));
    }

    #[test]
    fn help_joins_keys_of_one_command() {
        let rows = Keymap::default().help_rows();
        assert_eq!(rows[0], ("j/↓".to_string(), "move down"));
    }
}

#[cfg(test)]
mod readme_tests {
    use super::*;

    /// README's key table names every action of the keymap, with its default
    /// keys, so the documentation cannot fall behind the `?` help.
    #[test]
    fn readme_keys_table_lists_every_action_and_its_keys() {
        let readme = include_str!("../../README.md");
        let start = readme.find("### Keys").unwrap_or(0);
        let end = readme[start..].find("### Themes").map_or(readme.len(), |e| start + e);
        let table = &readme[start..end];
        let mut missing = Vec::new();
        for (key, command, _) in DEFAULTS {
            let row = table.lines().find(|l| l.contains(&format!("`{}`", command.name())));
            match row {
                None => missing.push(format!("no row for `{}`", command.name())),
                Some(row) => {
                    let label = match key.label().as_str() {
                        "S-Tab" => "Shift-Tab".to_string(),
                        "C-s" => "Ctrl-S".to_string(),
                        other => other.to_string(),
                    };
                    if !row.contains(&format!("`{label}`")) {
                        missing.push(format!("`{}` row lacks key `{label}`", command.name()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "README's keys table: {}", missing.join("; "));
    }
}
