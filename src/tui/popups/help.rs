//! The `?` help: every binding of the keymap and, beside them, each popup's keys.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Outcome, boxed, centered, show};
use crate::tui::app::App;
use crate::tui::keymap::{PopupBinding, PopupKey, popup_action, popup_help_rows};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Close,
}

const KEYS: [PopupBinding<Act>; 1] = [(PopupKey::Other, Act::Close, "closes the help")];

/// Width of the keymap column: its longest row fits.
const KEYMAP_WIDTH: u16 = 56;
/// Width of the popup keys column.
const POPUP_KEYS_WIDTH: u16 = 44;
/// Narrower than this, the popup keys follow the keymap in one column.
const TWO_COLUMNS: u16 = KEYMAP_WIDTH + POPUP_KEYS_WIDTH + 4;

/// The help's keys, for the help itself.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

/// Any key closes the help.
pub fn handle_key(k: KeyEvent) -> Outcome {
    match popup_action(&KEYS, &k) {
        Some(Act::Close) | None => Outcome::close(),
    }
}

/// Draws the help over `area`.
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let row = |(k, d): (String, &'static str)| {
        Line::from(vec![Span::styled(format!("{k:>10}  "), t.get("key")), Span::styled(d, t.text())])
    };
    let mut keymap: Vec<Line> = app.keymap.help_rows().into_iter().map(row).collect();
    keymap.push(Line::styled(format!("theme {}; any key closes this help", app.theme.name), t.dim()));
    let sections: Vec<Vec<Line>> = super::key_sections()
        .into_iter()
        .map(|(title, rows)| {
            let mut lines = vec![Line::styled(title, t.get("title"))];
            lines.extend(rows.into_iter().map(row));
            lines
        })
        .collect();
    if area.width < TWO_COLUMNS {
        keymap.push(Line::raw(""));
        keymap.extend(sections.into_iter().flatten());
        show(app, f, area, "Keys", keymap, 64);
        return;
    }
    // Popup sections fill the right column; those that do not fit follow the
    // keymap on the left, so every key shows on a 40-row screen.
    let room = usize::from(area.height.saturating_sub(2));
    let mut popup_keys: Vec<Line> = Vec::new();
    let mut rest = sections.into_iter().peekable();
    while let Some(next) = rest.next_if(|sec| popup_keys.len() + sec.len() <= room) {
        popup_keys.extend(next);
    }
    for sec in rest {
        keymap.push(Line::raw(""));
        keymap.extend(sec);
    }
    let height = keymap.len().max(popup_keys.len()) as u16 + 2;
    let r = centered(area, TWO_COLUMNS, height);
    let block = boxed(app, "Keys");
    let inner = block.inner(r);
    f.render_widget(Clear, r);
    f.render_widget(block, r);
    let [left, right] = Layout::horizontal([Constraint::Length(KEYMAP_WIDTH), Constraint::Length(POPUP_KEYS_WIDTH)])
        .spacing(2)
        .areas(inner);
    f.render_widget(Paragraph::new(keymap), left);
    f.render_widget(Paragraph::new(popup_keys), right);
}
