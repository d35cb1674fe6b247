//! Picking an earlier version from the deployment history to roll back to.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Outcome, Popup, Preparing, show};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Key, PopupBinding, PopupKey, popup_action, popup_help_rows};

/// The versions an environment can be rolled back to, one selected.
#[derive(Debug, Clone, PartialEq)]
pub struct PickVersion {
    /// Environment.
    pub env: String,
    /// Versions, newest first, with what they are.
    pub choices: Vec<Choice>,
    /// Selected row.
    pub selected: usize,
}

/// One version in the picker.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The version.
    pub version: String,
    /// `serving`, `rolled back`, `failed` or `succeeded`.
    pub status: &'static str,
    /// A version one may go back to without a second thought: it succeeded, is
    /// not serving, and no rollback went away from it.
    pub good: bool,
}

/// Every version of the environment's history, newest first, once each, with
/// its status as the record tells it (the serving row by [`serving_row`]).
///
/// [`serving_row`]: crate::tui::panes::serving_row
pub fn choices(env: &crate::tui::app::EnvView) -> Vec<Choice> {
    use crate::domain::{DeploymentStatus, RollbackStatus};
    let serving = env.version.as_deref();
    let rolled_back_from = |v: &str| {
        env.rollbacks
            .iter()
            .any(|r| r.status == RollbackStatus::Completed && r.flag.is_none() && r.from_version.as_deref() == Some(v))
    };
    let mut out: Vec<Choice> = Vec::new();
    for d in &env.deployments {
        if out.iter().any(|c| c.version == d.version) {
            continue;
        }
        let status = if Some(d.version.as_str()) == serving {
            "serving"
        } else if d.status == DeploymentStatus::RolledBack || rolled_back_from(&d.version) {
            "rolled back"
        } else if d.status == DeploymentStatus::Failed {
            "failed"
        } else if d.status == DeploymentStatus::InProgress {
            "in progress"
        } else {
            "succeeded"
        };
        out.push(Choice { version: d.version.clone(), status, good: status == "succeeded" });
    }
    out
}

impl From<PickVersion> for Popup {
    fn from(p: PickVersion) -> Popup {
        Popup::PickVersion(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Down,
    Up,
    Pick,
    Cancel,
}

const KEYS: [PopupBinding<Act>; 6] = [
    (PopupKey::Is(Key::ch('j')), Act::Down, "move down"),
    (PopupKey::Is(Key::code(KeyCode::Down)), Act::Down, "move down"),
    (PopupKey::Is(Key::ch('k')), Act::Up, "move up"),
    (PopupKey::Is(Key::code(KeyCode::Up)), Act::Up, "move up"),
    (PopupKey::Is(Key::code(KeyCode::Enter)), Act::Pick, "plans the rollback to it"),
    (PopupKey::Is(Key::code(KeyCode::Esc)), Act::Cancel, "cancels"),
];

/// The picker's keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

impl PickVersion {
    /// Moves the selection; Enter asks for a plan to roll back to it.
    pub fn handle_key(mut self, k: KeyEvent) -> Outcome {
        match popup_action(&KEYS, &k) {
            Some(Act::Cancel) => return Outcome::close(),
            Some(Act::Down) => self.selected = (self.selected + 1).min(self.choices.len().saturating_sub(1)),
            Some(Act::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Act::Pick) => {
                let version = self.choices.get(self.selected).map(|c| c.version.clone());
                let preparing = Preparing { env: self.env.clone() };
                return Outcome::Open(
                    preparing.into(),
                    vec![Effect::PrepareRollback { env: self.env, version, force: false }],
                );
            }
            None => {}
        }
        Outcome::stay(self)
    }

    /// Draws the picker over `area`.
    pub fn render(&self, app: &App, f: &mut Frame, area: Rect) {
        let t = &app.theme;
        let mut lines = vec![Line::styled(
            format!("Roll {} back to which version? (Enter picks, Esc cancels)", self.env),
            t.text(),
        )];
        for (i, c) in self.choices.iter().enumerate() {
            let base = if c.good { t.text() } else { t.get("warn") };
            let style = if i == self.selected { base.patch(t.get("selected")) } else { base };
            let warn = match c.status {
                "rolled back" | "failed" | "in progress" => " ⚠ not a known-good version",
                _ => "",
            };
            // The selection is marked, not shown by colour alone.
            let mark = if i == self.selected { "▶ " } else { "  " };
            lines.push(Line::styled(format!("{mark}{:<16} {:<12}{warn}", c.version, c.status), style));
        }
        show(app, f, area, "Pick a version", lines, 70);
    }
}
