//! A one-line text prompt: the environment filter, or why a runbook step is skipped.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::field::{EDIT_HELP, Field};
use super::{Outcome, Popup, show};
use crate::tui::app::App;
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

/// What a one-line prompt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptPurpose {
    /// Reason for skipping a runbook step.
    SkipReason,
    /// Filter text for a pane: the environments, the timeline, deployments or
    /// rollbacks. Applied as it is typed.
    Filter(crate::tui::app::Pane),
}

/// A one-line prompt and the text typed so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// What it is for.
    pub purpose: PromptPurpose,
    /// Text typed so far.
    pub text: Field,
}

impl From<Prompt> for Popup {
    fn from(p: Prompt) -> Popup {
        Popup::Prompt(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Accept,
    Cancel,
    Edit,
}

const KEYS: [PopupBinding<Act>; 3] = [
    (PopupKey::Is(Key::code(KeyCode::Enter)), Act::Accept, "accepts"),
    (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Cancel, "cancels"),
    (PopupKey::Typed, Act::Edit, EDIT_HELP),
];

/// The prompt's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

impl Prompt {
    /// Edits the text; Enter applies the filter or skips the step.
    pub fn handle_key(mut self, app: &mut App, k: KeyEvent) -> Outcome {
        match popup_action(&KEYS, &k) {
            Some(Act::Cancel) => {
                // Esc on a filter clears it: the whole list is back.
                if let PromptPurpose::Filter(pane) = self.purpose {
                    app.set_filter(pane, String::new());
                }
                return Outcome::close();
            }
            Some(Act::Accept) => {
                return match self.purpose {
                    PromptPurpose::Filter(_) => Outcome::close(),
                    PromptPurpose::SkipReason if self.text.is_blank() => {
                        app.status = "skipping a step needs a reason".into();
                        Outcome::close()
                    }
                    PromptPurpose::SkipReason => {
                        let env = app.env().map(|e| e.name.clone()).unwrap_or_default();
                        Outcome::Closed(app.step_effect(env, "skipped", Some(self.text.text())))
                    }
                };
            }
            Some(Act::Edit) => {
                self.text.key(k);
                if let PromptPurpose::Filter(pane) = self.purpose {
                    app.set_filter(pane, self.text.text());
                }
            }
            None => {}
        }
        Outcome::stay(self)
    }

    /// Pasted text is typed, on one line; it never accepts.
    pub fn paste(&mut self, app: &mut App, text: &str) {
        self.text.paste(text);
        if let PromptPurpose::Filter(pane) = self.purpose {
            app.set_filter(pane, self.text.text());
        }
    }

    /// Draws the prompt over `area`.
    pub fn render(&self, app: &App, f: &mut Frame, area: Rect) {
        let t = &app.theme;
        let title = match self.purpose {
            PromptPurpose::SkipReason => "Why skip this step?",
            PromptPurpose::Filter(pane) => &format!("Filter: {}", pane.title()),
        };
        let hint = match self.purpose {
            PromptPurpose::Filter(_) => "filters as you type · Enter keeps it · Esc clears it",
            PromptPurpose::SkipReason => "Enter accepts · Esc cancels",
        };
        let lines = vec![Line::from(self.text.spans(t.get("input"), true)), Line::styled(hint, t.dim())];
        show(app, f, area, title, lines, 70);
    }
}
