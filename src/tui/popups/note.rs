//! The multi-line note editor; Ctrl-S saves the note to the timeline.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{Outcome, Popup, boxed, centered};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

/// A note being written.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteEditor {
    /// Lines typed; the last one has the cursor.
    pub lines: Vec<String>,
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
    NewLine,
    Erase,
    Type,
}

// Ctrl-S comes before typing: otherwise it would type an `s`.
const KEYS: [PopupBinding<Act>; 5] = [
    (PopupKey::Is(Key::ctrl('s')), Act::Save, "saves to the timeline"),
    (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Discard, "discards the note"),
    (PopupKey::Is(Key::code(KeyCode::Enter)), Act::NewLine, "starts a new line"),
    (PopupKey::Is(Key::code(KeyCode::Backspace)), Act::Erase, "deletes a character"),
    (PopupKey::Typed, Act::Type, "types into the note"),
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
                let text = self.lines.join("\n").trim().to_string();
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
            Some(Act::NewLine) => self.lines.push(String::new()),
            Some(Act::Erase) => {
                let empty_line = self.lines.last().is_some_and(String::is_empty);
                if empty_line && self.lines.len() > 1 {
                    self.lines.pop();
                } else if let Some(l) = self.lines.last_mut() {
                    l.pop();
                }
            }
            Some(Act::Type) => {
                if let (KeyCode::Char(c), Some(l)) = (k.code, self.lines.last_mut()) {
                    l.push(c);
                }
            }
            None => {}
        }
        Outcome::stay(self)
    }

    /// Pasted text is typed: its line breaks are line breaks in the note, and
    /// it never saves.
    pub fn paste(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 {
                self.lines.push(String::new());
            }
            if let Some(l) = self.lines.last_mut() {
                l.extend(piece.chars().filter(|c| *c == '\t' || !c.is_control()));
            }
        }
    }

    /// Draws the editor over `area`.
    pub fn render(&self, app: &App, f: &mut Frame, area: Rect) {
        let t = &app.theme;
        let mut lines: Vec<Line> = self.lines.iter().map(|l| Line::styled(l.clone(), t.get("input"))).collect();
        if let Some(last) = lines.last_mut() {
            last.push_span(Span::styled("▏", t.get("key")));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled("Enter new line · Ctrl-S saves to the timeline · Esc discards", t.dim()));
        let r = centered(area, 90, (lines.len() as u16 + 2).max(8));
        f.render_widget(Clear, r);
        f.render_widget(Paragraph::new(lines).block(boxed(app, "Note")).wrap(Wrap { trim: false }), r);
    }
}
