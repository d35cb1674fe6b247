//! Closing an incident from the console: asked, never done by one stray key.
//! A validated incident closes on `y`; one whose checklist has not validated
//! needs a reason, recorded on its timeline.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::field::Field;
use super::{Outcome, Popup, show};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

/// An incident about to be closed.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseIncident {
    /// Environment.
    pub env: String,
    /// The incident.
    pub id: i64,
    /// Its checklist validated it: `y` is enough.
    pub validated: bool,
    /// Why it is closed before validation (typed).
    pub reason: Field,
}

impl From<CloseIncident> for Popup {
    fn from(p: CloseIncident) -> Popup {
        Popup::CloseIncident(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Close,
    Keep,
    Edit,
}

const KEYS: [PopupBinding<Act>; 3] = [
    (PopupKey::Is(Key::code(KeyCode::Enter)), Act::Close, "closes (a reason if unvalidated)"),
    (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Keep, "keeps it open"),
    (PopupKey::Typed, Act::Edit, "edits the reason; y if validated"),
];

/// The question's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

impl CloseIncident {
    /// Closes on Enter (or `y` when validated) once what is needed is given.
    pub fn handle_key(mut self, app: &mut App, k: KeyEvent) -> Outcome {
        let act = popup_action(&KEYS, &k);
        let yes = self.validated && k.code == KeyCode::Char('y');
        match act {
            Some(Act::Keep) => {
                app.status = format!("incident #{} stays open", self.id);
                return Outcome::close();
            }
            Some(Act::Close) | Some(Act::Edit) if self.validated && (yes || act == Some(Act::Close)) => {
                return self.close(app, None);
            }
            Some(Act::Close) if self.reason.is_blank() => {
                app.status = format!("incident #{} is not validated: say why it is closed anyway", self.id);
            }
            Some(Act::Close) => {
                let reason = self.reason.text().trim().to_string();
                return self.close(app, Some(reason));
            }
            Some(Act::Edit) if !self.validated => self.reason.key(k),
            Some(Act::Edit) | None => {
                // Validated: any key but y and Enter keeps it open, as the question says.
                app.status = format!("incident #{} stays open", self.id);
                return Outcome::close();
            }
        }
        Outcome::stay(self)
    }

    fn close(self, app: &mut App, reason: Option<String>) -> Outcome {
        app.status = format!("closing incident #{}…", self.id);
        Outcome::Closed(vec![Effect::CloseIncident { env: self.env, id: self.id, reason }])
    }

    /// Pasted text goes into the reason, on one line; it never closes.
    pub fn paste(&mut self, text: &str) {
        if !self.validated {
            self.reason.paste(text);
        }
    }

    /// Draws the question over `area`.
    pub fn render(&self, app: &App, f: &mut Frame, area: Rect) {
        let t = &app.theme;
        let lines = if self.validated {
            vec![
                Line::styled(format!("Close incident #{} on {}?", self.id, self.env), t.get("title")),
                Line::styled("Its checklist validated the recovery. Closing records `resolved`.", t.text()),
                Line::raw(""),
                Line::styled("y or Enter closes it · any other key keeps it open", t.dim()),
            ]
        } else {
            vec![
                Line::styled(format!("Close incident #{} on {}?", self.id, self.env), t.get("title")),
                Line::styled("It is NOT validated: its checklist has not held yet.", t.get("warn")),
                Line::from(
                    [
                        vec![Span::styled("Why close it anyway (recorded): ", t.text())],
                        self.reason.spans(t.get("input"), true),
                    ]
                    .concat(),
                ),
                Line::raw(""),
                Line::styled("Enter closes it once a reason is typed · Esc keeps it open", t.dim()),
            ]
        };
        show(app, f, area, "Close incident", lines, 96);
    }
}
