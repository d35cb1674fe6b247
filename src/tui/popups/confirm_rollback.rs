//! Confirming a planned rollback: a reason is required, and a production
//! environment's name must be typed.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Outcome, Popup, show};
use crate::tui::app::{App, Effect, InFlight};
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

/// A planned rollback awaiting confirmation.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmRollback {
    /// Environment.
    pub env: String,
    /// What will happen, as a sentence.
    pub plan: String,
    /// Reason typed so far.
    pub reason: String,
    /// Name typed so far (production only).
    pub typed_name: String,
    /// Which field has the cursor: 0 reason, 1 name.
    pub field: usize,
    /// Production: the name must be typed.
    pub production: bool,
}

impl From<ConfirmRollback> for Popup {
    fn from(p: ConfirmRollback) -> Popup {
        Popup::ConfirmRollback(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Confirm,
    Cancel,
    SwitchField,
    Erase,
    Type,
}

const KEYS: [PopupBinding<Act>; 5] = [
    (PopupKey::Is(Key::code(KeyCode::Enter)), Act::Confirm, "rolls back (a reason is needed)"),
    (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Cancel, "cancels; nothing is done"),
    (PopupKey::Is(Key::code(KeyCode::Tab)), Act::SwitchField, "reason or name (production)"),
    (PopupKey::Is(Key::code(KeyCode::Backspace)), Act::Erase, "deletes a character"),
    (PopupKey::Typed, Act::Type, "types into the field"),
];

/// The confirmation's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

impl ConfirmRollback {
    /// A confirmation of `plan` with nothing typed yet.
    pub fn new(env: String, plan: String, production: bool) -> Self {
        ConfirmRollback { env, plan, reason: String::new(), typed_name: String::new(), field: 0, production }
    }

    /// Pasted text goes into the field with the cursor, on one line; a newline
    /// in it is a space, never Enter.
    pub fn paste(&mut self, text: &str) {
        self.field_mut().push_str(&super::one_line(text));
    }

    fn field_mut(&mut self) -> &mut String {
        if self.field == 0 { &mut self.reason } else { &mut self.typed_name }
    }

    /// Types into the fields; Enter rolls back once a reason (and, in
    /// production, the name) is given.
    pub fn handle_key(mut self, app: &mut App, k: KeyEvent) -> Outcome {
        match popup_action(&KEYS, &k) {
            Some(Act::Cancel) => {
                app.status = format!("rollback of {} cancelled; nothing was done", self.env);
                return Outcome::Closed(vec![Effect::DropPrepared { env: self.env }]);
            }
            Some(Act::SwitchField) if self.production => self.field = 1 - self.field,
            Some(Act::Erase) => {
                self.field_mut().pop();
            }
            Some(Act::Type) => {
                if let KeyCode::Char(c) = k.code {
                    self.field_mut().push(c);
                }
            }
            Some(Act::Confirm) => {
                if self.reason.trim().is_empty() {
                    app.status = "a reason is required: it is recorded with the rollback".into();
                } else if self.production && self.typed_name != self.env {
                    app.status = format!("type {:?} in the name field to confirm a production rollback", self.env);
                    self.field = 1;
                } else {
                    app.status = format!("rolling back {}…", self.env);
                    let started = app.now;
                    if let Some(e) = app.env_mut(&self.env) {
                        e.in_flight = Some(InFlight { phase: "requested".into(), since: started });
                    }
                    let reason = self.reason.trim().to_string();
                    return Outcome::Closed(vec![Effect::Rollback { env: self.env, reason }]);
                }
            }
            Some(Act::SwitchField) | None => {}
        }
        Outcome::stay(self)
    }

    /// Draws the confirmation over `area`.
    pub fn render(&self, app: &App, f: &mut Frame, area: Rect) {
        let t = &app.theme;
        let cursor = |on: bool| if on { "▏" } else { "" };
        let mut lines = vec![
            Line::styled(format!("Roll back {}", self.plan), t.get("title")),
            Line::raw(""),
            Line::from(vec![
                Span::styled("Reason (recorded): ", t.text()),
                Span::styled(format!("{}{}", self.reason, cursor(self.field == 0)), t.get("input")),
            ]),
        ];
        if self.production {
            lines.push(Line::styled(
                format!("{} is PRODUCTION: type its name to confirm (Tab switches field)", self.env),
                t.get("alert"),
            ));
            lines.push(Line::from(vec![
                Span::styled("Name: ", t.text()),
                Span::styled(format!("{}{}", self.typed_name, cursor(self.field == 1)), t.get("input")),
            ]));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled("Enter rolls back · Esc cancels (nothing is done)", t.dim()));
        show(app, f, area, "Confirm rollback", lines, 96);
    }
}
