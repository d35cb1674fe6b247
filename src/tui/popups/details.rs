//! Details of the selected row: a rollback, an event, a deployment, or the
//! environment itself.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Outcome, show};
use crate::domain::ts;
use crate::tui::app::{App, Pane};
use crate::tui::keymap::{PopupBinding, PopupKey, popup_action, popup_help_rows};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Close,
}

const KEYS: [PopupBinding<Act>; 1] = [(PopupKey::Other, Act::Close, "closes the details")];

/// The details' keys, for the help.
pub fn key_help() -> Vec<(String, &'static str)> {
    popup_help_rows(&KEYS)
}

/// Any key closes the details.
pub fn handle_key(k: KeyEvent) -> Outcome {
    match popup_action(&KEYS, &k) {
        Some(Act::Close) | None => Outcome::close(),
    }
}

/// The text of the details of what is selected in the focused pane.
pub fn of(app: &App) -> String {
    let Some(e) = app.env() else { return "no environment".into() };
    // The row as the pane lists it, its filter applied.
    let row = app.shown_rows(e, app.focus).get(app.row).copied().unwrap_or(usize::MAX);
    match app.focus {
        Pane::Rollbacks => e.rollbacks.get(row).map_or("no rollback selected".into(), |r| {
            format!(
                "rollback #{}  {}\ntype {}  trigger {}  status {}\nby {}  driver {}\nstarted {}  ended {}\nreason: {}\nerror: {}",
                r.id,
                crate::rollback::from_to(r),
                r.rollback_type,
                r.trigger,
                r.status,
                crate::rollback::who(r),
                r.driver,
                ts::format(r.started_at),
                r.completed_at.map_or_else(|| "-".into(), ts::format),
                r.reason,
                r.error.as_deref().unwrap_or("-")
            ) + &rollback_record(e, r.id)
        }),
        Pane::Timeline => e.timeline.get(row).map_or("no event selected".into(), |t| {
            format!("{}  {}  {}\n{}\n{}", ts::format(t.at), t.actor, t.kind, t.message, t.data.as_deref().unwrap_or(""))
        }),
        Pane::Deployments => e.deployments.get(row).map_or("no deployment selected".into(), |d| {
            format!("{} {} on {}  {}  {}", d.external_id, d.version, d.colour.as_deref().unwrap_or("-"), ts::format(d.deployed_at), d.status)
        }),
        Pane::Checklist => e.checklist.get(app.row).map_or("no checklist item selected".into(), |c| {
            format!(
                "{}\n{}  {}  {}",
                c.title,
                if c.passed { "passed" } else { "not passed yet" },
                if c.required { "required" } else { "optional" },
                c.check
            )
        }),
        Pane::Runbook => e
            .runbook
            .get(app.row)
            .map_or("no runbook step selected".into(), |(title, state)| format!("step {}: {title}\n{state}", app.row + 1)),
        Pane::Signals => e.signals.get(app.row).map_or("no signal selected".into(), |s| {
            let latest = s.latest.as_ref().map_or_else(
                || "no sample yet".to_string(),
                |l| {
                    let what = match (l.value, &l.text, &l.error) {
                        (_, _, Some(err)) => format!("FAILED: {err}"),
                        (Some(v), _, None) => format!("{v} {}", s.unit),
                        (None, Some(text), None) => text.clone(),
                        (None, None, None) => "no value".into(),
                    };
                    format!("{}  {what}", ts::format(l.at))
                },
            );
            let rule = s.rule.as_ref().map_or_else(|| "no rule reads it".into(), |r| format!("rule: {r:?}"));
            format!("{}\nlatest: {latest}\n{rule}", s.name)
        }),
        _ => format!(
            "{} ({})  version {}  colour {}\nautomatic rollback {}  production {}",
            e.name,
            e.kind,
            e.version.as_deref().unwrap_or("?"),
            e.colour.as_deref().unwrap_or("-"),
            if e.automatic { "on" } else { "off" },
            e.production
        ),
    }
}

/// What the timeline recorded of rollback `id`: its phases and evidence,
/// oldest first, each with its data.
fn rollback_record(e: &crate::tui::app::EnvView, id: i64) -> String {
    let mut out = String::new();
    for ev in e.timeline.iter().rev().filter(|ev| ev.rollback_id == Some(id)) {
        out.push_str(&format!("\n{}  {}  {}", ts::format(ev.at), ev.kind, ev.message));
        if let Some(data) = &ev.data {
            out.push_str(&format!("\n    {data}"));
        }
    }
    if out.is_empty() { out } else { format!("\nrecorded:{out}") }
}

/// Draws `text` over `area`.
pub fn render(app: &App, f: &mut Frame, area: Rect, text: &str) {
    let lines = text.lines().map(|l| Line::styled(l.to_string(), app.theme.text())).collect();
    show(app, f, area, "Details (any key closes)", lines, 90);
}
