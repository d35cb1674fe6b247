//! The explicit force step: the CLI refuses to roll back a healthy environment
//! (or to switch to a colour reported down) without `--force`; the console asks
//! for FORCE typed, so a stray `r` or a paste cannot roll back a healthy service.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::field::{EDIT_HELP, Field};
use super::{Outcome, Popup, Preparing, show};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

/// The word that must be typed.
pub const FORCE: &str = "FORCE";

/// A refused plan that the operator may force.
#[derive(Debug, Clone, PartialEq)]
pub struct ForceRollback {
    /// Environment.
    pub env: String,
    /// The version asked for, if one was picked.
    pub version: Option<String>,
    /// Why the plan was refused.
    pub why: String,
    /// Typed so far.
    pub typed: Field,
}

impl From<ForceRollback> for Popup {
    fn from(p: ForceRollback) -> Popup {
        Popup::Force(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Go,
    Cancel,
    Edit,
}

const KEYS: [PopupBinding<Act>; 3] = [
    (PopupKey::Is(Key::code(KeyCode::Enter)), Act::Go, "goes on once FORCE is typed"),
    (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Cancel, "cancels; nothing is done"),
    (PopupKey::Typed, Act::Edit, EDIT_HELP),
];

/// The force step's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

impl ForceRollback {
    /// Enter with FORCE typed plans again with force; the plan is then
    /// confirmed like any other (reason, production name).
    pub fn handle_key(mut self, app: &mut App, k: KeyEvent) -> Outcome {
        match popup_action(&KEYS, &k) {
            Some(Act::Cancel) => {
                app.status = format!("rollback of {} not forced; nothing was done", self.env);
                return Outcome::close();
            }
            Some(Act::Go) if self.typed.text() == FORCE => {
                app.status = format!("planning a forced rollback of {}…", self.env);
                let effect = Effect::PrepareRollback { env: self.env.clone(), version: self.version, force: true };
                return Outcome::Open(Preparing { env: self.env }.into(), vec![effect]);
            }
            Some(Act::Go) => app.status = format!("type {FORCE} (capitals) to roll back anyway, or Esc"),
            Some(Act::Edit) => self.typed.key(k),
            None => {}
        }
        Outcome::stay(self)
    }

    /// Pasted text is typed, on one line; it never presses Enter.
    pub fn paste(&mut self, text: &str) {
        self.typed.paste(text);
    }

    /// Draws the step over `area`.
    pub fn render(&self, app: &App, f: &mut Frame, area: Rect) {
        let t = &app.theme;
        let lines = vec![
            Line::styled(format!("Rollback of {} refused:", self.env), t.get("title")),
            Line::styled(self.why.clone(), t.get("warn")),
            Line::raw(""),
            Line::styled(format!("Type {FORCE} to roll back anyway."), t.get("alert")),
            Line::from([vec![Span::styled("> ", t.text())], self.typed.spans(t.get("input"), true)].concat()),
            Line::raw(""),
            Line::styled("Enter goes on once FORCE is typed · Esc cancels (nothing is done)", t.dim()),
        ];
        show(app, f, area, "Force a rollback?", lines, 96);
    }
}
