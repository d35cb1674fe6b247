//! A text field of a popup, edited by a maintained widget (ratatui-textarea):
//! cursor movement, Home/End, word delete, undo and redo. Control letters
//! edit, they never type a letter. The popup draws it as lines with the cursor
//! shown, inside its own box.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui_textarea::TextArea;

/// How the field's editing keys are listed in the help.
pub const EDIT_HELP: &str = "edits: ←/→ Home/End C-w C-u undo";

/// Text being typed in a popup.
#[derive(Debug, Clone)]
pub struct Field {
    // Boxed: a text area is large, and popups are moved by value.
    area: Box<TextArea<'static>>,
    one_line: bool,
}

impl PartialEq for Field {
    fn eq(&self, other: &Self) -> bool {
        self.one_line == other.one_line && self.area.lines() == other.area.lines()
    }
}

impl Field {
    /// An empty one-line field (a reason, a name): Enter and Tab are the popup's.
    pub fn one_line() -> Self {
        Field { area: Box::default(), one_line: true }
    }

    /// An empty field of several lines (a note): Enter starts a new line.
    pub fn multi_line() -> Self {
        Field { area: Box::default(), one_line: false }
    }

    /// A one-line field holding `text`, the cursor at its end.
    pub fn with_text(text: &str) -> Self {
        let mut f = Field::one_line();
        f.paste(text);
        f
    }

    /// The text, lines joined by `\n`.
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }

    /// The lines typed.
    pub fn lines(&self) -> &[String] {
        self.area.lines()
    }

    /// Nothing but blanks typed.
    pub fn is_blank(&self) -> bool {
        self.area.lines().iter().all(|l| l.trim().is_empty())
    }

    /// Edits with a key. A one-line field never takes a line break or a tab.
    pub fn key(&mut self, k: KeyEvent) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let breaks_line = matches!(k.code, KeyCode::Enter | KeyCode::Tab | KeyCode::BackTab)
            || (ctrl && matches!(k.code, KeyCode::Char('m' | 'j' | 'o')));
        if self.one_line && breaks_line {
            return;
        }
        self.area.input(k);
    }

    /// Pasted text, typed at the cursor: on one line (breaks and tabs become
    /// spaces) in a one-line field, with its line breaks in a note; other
    /// control characters are dropped.
    pub fn paste(&mut self, text: &str) {
        let text = if self.one_line {
            super::one_line(text)
        } else {
            let unified = text.replace("\r\n", "\n").replace('\r', "\n");
            unified.chars().filter(|c| matches!(c, '\n' | '\t') || !c.is_control()).collect()
        };
        self.area.insert_str(text);
    }

    /// The field as lines in `style`, the cursor as a reversed cell when `focused`.
    pub fn render(&self, style: Style, focused: bool) -> Vec<Line<'static>> {
        let cursor = self.area.cursor();
        let (row, col) = (cursor.0, cursor.1);
        self.area
            .lines()
            .iter()
            .enumerate()
            .map(|(i, line)| {
                if !focused || i != row {
                    return Line::styled(line.clone(), style);
                }
                let before: String = line.chars().take(col).collect();
                let at: String = line.chars().nth(col).map_or_else(|| " ".to_string(), |c| c.to_string());
                let after: String = line.chars().skip(col + 1).collect();
                Line::from(vec![
                    Span::styled(before, style),
                    Span::styled(at, style.add_modifier(Modifier::REVERSED)),
                    Span::styled(after, style),
                ])
            })
            .collect()
    }

    /// The field's one line as spans, for a line that has a label before it.
    pub fn spans(&self, style: Style, focused: bool) -> Vec<Span<'static>> {
        self.render(style, focused).into_iter().next().map(|l| l.spans).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn typed(f: &mut Field, s: &str) {
        for c in s.chars() {
            f.key(k(KeyCode::Char(c)));
        }
    }

    /// Issue 10 item 10: cursor movement, word delete, Home/End and undo; a
    /// Ctrl letter never types a letter; a one-line field takes no line break.
    #[test]
    fn item10_fields_edit_like_a_text_widget() {
        let mut f = Field::one_line();
        typed(&mut f, "errors up");
        f.key(k(KeyCode::Home));
        typed(&mut f, "5xx ");
        assert_eq!(f.text(), "5xx errors up");
        f.key(k(KeyCode::End));
        f.key(ctrl('w'));
        assert_eq!(f.text(), "5xx errors ");
        f.key(ctrl('u'));
        assert_eq!(f.text(), "5xx errors up", "undo brings the word back");
        f.key(ctrl('s'));
        f.key(ctrl('x'));
        f.key(k(KeyCode::Enter));
        f.key(ctrl('m'));
        assert_eq!(f.text(), "5xx errors up", "no letter typed, no line broken");
        f.key(k(KeyCode::Left));
        f.key(k(KeyCode::Left));
        f.key(k(KeyCode::Backspace));
        assert_eq!(f.text(), "5xx errorsup");
        f.paste("\n a\tb\u{1b}");
        assert_eq!(f.text(), "5xx errors  a bup");

        let mut note = Field::multi_line();
        typed(&mut note, "one");
        note.key(k(KeyCode::Enter));
        note.paste("two\r\nthree");
        assert_eq!(note.lines(), ["one", "two", "three"]);
    }
}
