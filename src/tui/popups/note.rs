//! The multi-line note editor; Ctrl-S saves the note to the timeline.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::field::Field;
use super::{Outcome, Popup, boxed, centered};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

/// A note being written.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteEditor {
    /// The note typed so far.
    pub text: Field,
}

impl From<NoteEditor> for Popup {
    fn from(p: NoteEditor) -> Popup {
        Popup::Note(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Save,
    Discard,
    Edit,
}

// Ctrl-S comes before typing: otherwise it would type an `s`.
const KEYS: [PopupBinding<Act>; 3] = [
    (PopupKey::Is(Key::ctrl('s')), Act::Save, "saves to the timeline"),
    (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Discard, "discards the note"),
    (PopupKey::Typed, Act::Edit, "edits; Enter starts a new line"),
];

/// The editor's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

impl NoteEditor {
    /// Edits the note; Ctrl-S saves it for the selected environment.
    pub fn handle_key(mut self, app: &mut App, k: KeyEvent) -> Outcome {
        match popup_action(&KEYS, &k) {
            Some(Act::Save) => {
                let text = self.text.text().trim().to_string();
                if text.is_empty() {
                    app.status = "empty note not saved".into();
                    return Outcome::close();
                }
                let env = app.env().map(|e| e.name.clone()).unwrap_or_default();
                app.status = "saving note…".into();
                return Outcome::Closed(vec![Effect::SaveNote { env, text }]);
            }
            Some(Act::Discard) => {
                app.status = "note discarded".into();
                return Outcome::close();
            }
            Some(Act::Edit) => self.text.key(k),
            None => {}
        }
        Outcome::stay(self)
    }

    /// Pasted text is typed: its line breaks are line breaks in the note, and
    /// it never saves.
    pub fn paste(&mut self, text: &str) {
        self.text.paste(text);
    }

    /// Draws the editor over `area`.
    pub fn render(&self, app: &App, f: &mut Frame, area: Rect) {
        let t = &app.theme;
        let mut lines: Vec<Line> = self.text.render(t.get("input"), true);
        lines.push(Line::raw(""));
        lines.push(Line::styled("Enter new line · Ctrl-S saves to the timeline · Esc discards", t.dim()));
        let r = centered(area, 90, (lines.len() as u16 + 2).max(8));
        f.render_widget(Clear, r);
        f.render_widget(Paragraph::new(lines).block(boxed(app, "Note")).wrap(Wrap { trim: false }), r);
    }
}
