//! Picking an earlier version from the deployment history to roll back to.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Outcome, Popup, Preparing, show};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

/// The versions an environment can be rolled back to, one selected.
#[derive(Debug, Clone, PartialEq)]
pub struct PickVersion {
    /// Environment.
    pub env: String,
    /// Versions, newest first.
    pub versions: Vec<String>,
    /// Selected row.
    pub selected: usize,
}

impl From<PickVersion> for Popup {
    fn from(p: PickVersion) -> Popup {
        Popup::PickVersion(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Down,
    Up,
    Pick,
    Cancel,
}

const KEYS: [PopupBinding<Act>; 6] = [
    (PopupKey::Is(Key::ch('j')), Act::Down, "move down"),
    (PopupKey::Is(Key::code(KeyCode::Down)), Act::Down, "move down"),
    (PopupKey::Is(Key::ch('k')), Act::Up, "move up"),
    (PopupKey::Is(Key::code(KeyCode::Up)), Act::Up, "move up"),
    (PopupKey::Is(Key::code(KeyCode::Enter)), Act::Pick, "plans the rollback to it"),
    (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Cancel, "cancels"),
];

/// The picker's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

impl PickVersion {
    /// Moves the selection; Enter asks for a plan to roll back to it.
    pub fn handle_key(mut self, k: KeyEvent) -> Outcome {
        match popup_action(&KEYS, &k) {
            Some(Act::Cancel) => return Outcome::close(),
            Some(Act::Down) => self.selected = (self.selected + 1).min(self.versions.len().saturating_sub(1)),
            Some(Act::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Act::Pick) => {
                let version = self.versions.get(self.selected).cloned();
                let preparing = Preparing { env: self.env.clone() };
                return Outcome::Open(preparing.into(), vec![Effect::PrepareRollback { env: self.env, version }]);
            }
            None => {}
        }
        Outcome::stay(self)
    }

    /// Draws the picker over `area`.
    pub fn render(&self, app: &App, f: &mut Frame, area: Rect) {
        let t = &app.theme;
        let mut lines = vec![Line::styled(
            format!("Roll {} back to which version? (Enter picks, Esc cancels)", self.env),
            t.text(),
        )];
        for (i, v) in self.versions.iter().enumerate() {
            let style = if i == self.selected { t.get("selected") } else { t.text() };
            lines.push(Line::styled(format!("  {v}"), style));
        }
        show(app, f, area, "Pick a version", lines, 70);
    }
}
