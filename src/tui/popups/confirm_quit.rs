//! Asking before quitting while an incident is open.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Outcome, show};
use crate::tui::app::App;
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Quit,
    Stay,
}

const KEYS: [PopupBinding<Act>; 3] = [
    (PopupKey::Is(Key::ch('y')), Act::Quit, "quits the console"),
    (PopupKey::Is(Key::ch('Y')), Act::Quit, "quits the console"),
    (PopupKey::Other, Act::Stay, "stays in the console"),
];

/// The question's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

/// `y` quits; any other key closes the question and stays.
pub fn handle_key(app: &mut App, k: KeyEvent) -> Outcome {
    if popup_action(&KEYS, &k) == Some(Act::Quit) {
        app.quit = true;
    }
    Outcome::close()
}

/// Draws the question over `area`.
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let lines = vec![
        Line::styled("An incident is open. Quit the console anyway?", t.get("warn")),
        Line::styled("Nothing is lost: everything is saved. y quits, any other key stays.", t.text()),
    ];
    show(app, f, area, "Quit?", lines, 70);
}
