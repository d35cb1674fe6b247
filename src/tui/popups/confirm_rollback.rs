//! Confirming a planned rollback: a reason is required, and a production
//! environment's name must be typed.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::field::{EDIT_HELP, Field};
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
    pub reason: Field,
    /// Name typed so far (production only).
    pub typed_name: Field,
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
    Edit,
}

const KEYS: [PopupBinding<Act>; 4] = [
    (PopupKey::Is(Key::code(KeyCode::Enter)), Act::Confirm, "rolls back (a reason is needed)"),
    (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Cancel, "cancels; nothing is done"),
    (PopupKey::Is(Key::code(KeyCode::Tab)), Act::SwitchField, "reason or name (production)"),
    (PopupKey::Typed, Act::Edit, EDIT_HELP),
];

/// The confirmation's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

impl ConfirmRollback {
    /// A confirmation of `plan` with nothing typed yet.
    pub fn new(env: String, plan: String, production: bool) -> Self {
        ConfirmRollback { env, plan, reason: Field::one_line(), typed_name: Field::one_line(), field: 0, production }
    }

    /// Pasted text goes into the field with the cursor, on one line; a newline
    /// in it is a space, never Enter.
    pub fn paste(&mut self, text: &str) {
        self.field_mut().paste(text);
    }

    fn field_mut(&mut self) -> &mut Field {
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
            Some(Act::Edit) => self.field_mut().key(k),
            Some(Act::Confirm) => {
                if self.reason.is_blank() {
                    app.status = "a reason is required: it is recorded with the rollback".into();
                } else if self.production && self.typed_name.text() != self.env {
                    app.status = format!("type {:?} in the name field to confirm a production rollback", self.env);
                    self.field = 1;
                } else {
                    app.status = format!("rolling back {}…", self.env);
                    let started = app.now;
                    if let Some(e) = app.env_mut(&self.env) {
                        e.in_flight = Some(InFlight { phase: "requested".into(), since: started });
                    }
                    let reason = self.reason.text().trim().to_string();
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
        let mut lines = vec![
            Line::styled(format!("Roll back {}", self.plan), t.get("title")),
            Line::raw(""),
            Line::from(
                [
                    vec![Span::styled("Reason (recorded): ", t.text())],
                    self.reason.spans(t.get("input"), self.field == 0),
                ]
                .concat(),
            ),
        ];
        if self.production {
            lines.push(Line::styled(
                format!("{} is PRODUCTION: type its name to confirm (Tab switches field)", self.env),
                t.get("alert"),
            ));
            lines.push(Line::from(
                [vec![Span::styled("Name: ", t.text())], self.typed_name.spans(t.get("input"), self.field == 1)]
                    .concat(),
            ));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled("Enter rolls back · Esc cancels (nothing is done)", t.dim()));
        show(app, f, area, "Confirm rollback", lines, 96);
    }
}
