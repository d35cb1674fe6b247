//! Popups over the screen. Each popup is its own module holding its state, its
//! key table, its key handling and its drawing; this module only dispatches.

pub mod close_incident;
pub mod confirm_quit;
pub mod confirm_rollback;
pub mod details;
pub mod field;
pub mod force;
pub mod help;
pub mod note;
pub mod pick_version;
pub mod preparing;
pub mod prompt;
pub mod step_action;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Effect};

pub use close_incident::CloseIncident;
pub use confirm_rollback::ConfirmRollback;
pub use force::ForceRollback;
pub use note::NoteEditor;
pub use pick_version::PickVersion;
pub use preparing::Preparing;
pub use prompt::{Prompt, PromptPurpose};
pub use step_action::StepAction;

/// A popup over the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    /// The generated key help.
    Help,
    /// Asking whether to quit with an incident open.
    ConfirmQuit,
    /// Asking before an incident is closed.
    CloseIncident(CloseIncident),
    /// Waiting for the worker to read the service before confirming.
    Preparing(Preparing),
    /// Rollback confirmation.
    ConfirmRollback(ConfirmRollback),
    /// A refused rollback the operator may force by typing FORCE.
    Force(ForceRollback),
    /// Picking a version from history.
    PickVersion(PickVersion),
    /// Multi-line note editor.
    Note(NoteEditor),
    /// A one-line text prompt (skip reason, filter).
    Prompt(Prompt),
    /// Details of the selected item.
    Details(String),
    /// A runbook step with an action: run it, or record it done elsewhere.
    StepAction(StepAction),
}

/// What a key did to the open popup.
#[derive(Debug)]
pub enum Outcome {
    /// A popup is open after the key: the same one, changed or not, or the one
    /// it led to; the effects go to the workers.
    Open(Popup, Vec<Effect>),
    /// The popup is closed; the effects go to the workers.
    Closed(Vec<Effect>),
}

impl Outcome {
    /// The popup stays open and asks nothing of the workers.
    pub fn stay(popup: impl Into<Popup>) -> Outcome {
        Outcome::Open(popup.into(), Vec::new())
    }

    /// The popup closes and asks nothing of the workers.
    pub fn close() -> Outcome {
        Outcome::Closed(Vec::new())
    }
}

/// Hands a key to the popup it was pressed in. The popup is out of `app`
/// while its handler runs, so the handler may change the rest of the app.
pub fn handle_key(popup: Popup, app: &mut App, k: KeyEvent) -> Outcome {
    match popup {
        Popup::Help => help::handle_key(k),
        Popup::Details(_) => details::handle_key(k),
        Popup::ConfirmQuit => confirm_quit::handle_key(app, k),
        Popup::CloseIncident(p) => p.handle_key(app, k),
        Popup::Preparing(p) => p.handle_key(app, k),
        Popup::ConfirmRollback(p) => p.handle_key(app, k),
        Popup::Force(p) => p.handle_key(app, k),
        Popup::PickVersion(p) => p.handle_key(k),
        Popup::Note(p) => p.handle_key(app, k),
        Popup::Prompt(p) => p.handle_key(app, k),
        Popup::StepAction(p) => p.handle_key(app, k),
    }
}

/// Draws the open popup, if any.
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let Some(p) = &app.popup else { return };
    match p {
        Popup::Help => help::render(app, f, area),
        Popup::Details(text) => details::render(app, f, area, text),
        Popup::ConfirmQuit => confirm_quit::render(app, f, area),
        Popup::CloseIncident(p) => p.render(app, f, area),
        Popup::Preparing(p) => p.render(app, f, area),
        Popup::ConfirmRollback(p) => p.render(app, f, area),
        Popup::Force(p) => p.render(app, f, area),
        Popup::PickVersion(p) => p.render(app, f, area),
        Popup::Note(p) => p.render(app, f, area),
        Popup::Prompt(p) => p.render(app, f, area),
        Popup::StepAction(p) => p.render(app, f, area),
    }
}

/// Each popup's keys for the `?` help, read from the tables its handler uses.
pub fn key_sections() -> Vec<(&'static str, Vec<(String, &'static str)>)> {
    vec![
        ("Help", help::key_help()),
        ("Details", details::key_help()),
        ("Pick a version", pick_version::key_help()),
        ("Planning a rollback", preparing::key_help()),
        ("Force a refused rollback", force::key_help()),
        ("Confirm rollback", confirm_rollback::key_help()),
        ("Note", note::key_help()),
        ("Filter or skip reason", prompt::key_help()),
        ("Runbook step with an action", step_action::key_help()),
        ("Close incident", close_incident::key_help()),
        ("Quit?", confirm_quit::key_help()),
    ]
}

/// Pasted text into the open popup's text field; `false` when it has none.
/// A paste is only ever text: it never presses a key, so it confirms nothing.
pub fn paste(popup: &mut Popup, app: &mut App, text: &str) -> bool {
    match popup {
        Popup::ConfirmRollback(p) => p.paste(text),
        Popup::Force(p) => p.paste(text),
        Popup::Note(p) => p.paste(text),
        Popup::Prompt(p) => p.paste(app, text),
        Popup::CloseIncident(p) => p.paste(text),
        Popup::Help
        | Popup::Details(_)
        | Popup::ConfirmQuit
        | Popup::Preparing(_)
        | Popup::PickVersion(_)
        | Popup::StepAction(_) => {
            return false;
        }
    }
    true
}

/// Pasted text for a one-line field: line breaks and tabs become spaces, other
/// control characters are dropped.
pub fn one_line(text: &str) -> String {
    let spaced = text.replace("\r\n", " ").replace(['\n', '\r', '\t'], " ");
    spaced.chars().filter(|c| !c.is_control()).collect()
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))]).flex(Flex::Center).areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))]).flex(Flex::Center).areas(v);
    h
}

fn boxed<'a>(app: &App, title: &str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border(true))
        .title(Span::styled(format!(" {title} "), app.theme.get("title")))
}

fn show(app: &App, f: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'static>>, width: u16) {
    // Tall enough for the lines as wrapped, so a long text is read whole.
    let inner = usize::from(width.min(area.width).saturating_sub(2).max(1));
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX).max(5);
    let r = centered(area, width, height);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(boxed(app, title)).wrap(Wrap { trim: false }), r);
}
