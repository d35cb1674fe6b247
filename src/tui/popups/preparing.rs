//! Waiting while a worker reads the service and plans the rollback to confirm.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Outcome, Popup, show};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

/// A rollback being planned for an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Preparing {
    /// Environment.
    pub env: String,
}

impl From<Preparing> for Popup {
    fn from(p: Preparing) -> Popup {
        Popup::Preparing(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Cancel,
}

const KEYS: [PopupBinding<Act>; 1] = [(PopupKey::Is(Key::code(KeyCode::Esc)), Act::Cancel, "cancels the rollback")];

/// The wait's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

impl Preparing {
    /// Esc cancels; other keys wait with the popup for the plan.
    pub fn handle_key(self, app: &mut App, k: KeyEvent) -> Outcome {
        match popup_action(&KEYS, &k) {
            Some(Act::Cancel) => {
                app.status = "rollback cancelled".into();
                Outcome::Closed(vec![Effect::DropPrepared { env: self.env }])
            }
            None => Outcome::stay(self),
        }
    }

    /// Draws the wait over `area`.
    pub fn render(&self, app: &App, f: &mut Frame, area: Rect) {
        let lines = vec![Line::styled(
            format!("Reading {}'s status and history to plan the rollback… (Esc cancels)", self.env),
            app.theme.text(),
        )];
        show(app, f, area, "Rollback", lines, 80);
    }
}
