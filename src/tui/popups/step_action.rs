//! `s` on a runbook step that has an action: run it now, or record that it was
//! done elsewhere. Nothing runs without `x` pressed here.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Outcome, Popup, show};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

/// A runbook step with an action, asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct StepAction {
    /// Environment.
    pub env: String,
    /// Step index, from 0.
    pub step: usize,
    /// Its title.
    pub title: String,
    /// What its action does, in one line.
    pub action: String,
}

impl From<StepAction> for Popup {
    fn from(p: StepAction) -> Popup {
        Popup::StepAction(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Run,
    DoneElsewhere,
    Cancel,
}

const KEYS: [PopupBinding<Act>; 3] = [
    (PopupKey::Is(Key::ch('x')), Act::Run, "runs the step's action now"),
    (PopupKey::Is(Key::ch('d')), Act::DoneElsewhere, "records it done elsewhere"),
    (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Cancel, "does nothing"),
];

/// The question's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

impl StepAction {
    /// `x` runs the action, `d` records the step done without running it.
    pub fn handle_key(self, app: &mut App, k: KeyEvent) -> Outcome {
        match popup_action(&KEYS, &k) {
            Some(Act::Run) => {
                app.status = format!("running step {}: {}…", self.step + 1, self.action);
                Outcome::Closed(vec![Effect::RunStep { env: self.env, step: self.step }])
            }
            Some(Act::DoneElsewhere) => Outcome::Closed(app.step_effect(self.env, "done", None)),
            Some(Act::Cancel) => {
                app.status = format!("step {} left as it was", self.step + 1);
                Outcome::close()
            }
            None => Outcome::stay(self),
        }
    }

    /// Draws the question over `area`.
    pub fn render(&self, app: &App, f: &mut Frame, area: Rect) {
        let t = &app.theme;
        let lines = vec![
            Line::styled(format!("Step {}: {}", self.step + 1, self.title), t.get("title")),
            Line::styled(format!("Its action: {}", self.action), t.text()),
            Line::raw(""),
            Line::styled("x runs it now · d records it done elsewhere · Esc does nothing", t.dim()),
        ];
        show(app, f, area, "Runbook step", lines, 90);
    }
}
