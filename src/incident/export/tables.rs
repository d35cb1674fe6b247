//! The report's sections as plain-text tables, shared by the Markdown and HTML
//! renderers so both state the same facts; each renderer only escapes and marks up.

use super::{Report, dur};
use crate::domain::{Severity, ts};
use crate::incident::RunbookView;

/// One section as a table: header cells and rows of plain-text cells.
pub(crate) struct Table {
    /// Column headings.
    pub headers: &'static [&'static str],
    /// The rows, each as many cells as there are headings.
    pub rows: Vec<Vec<String>>,
    /// The column shown as code (the sparkline), if any.
    pub code_column: Option<usize>,
}

/// A number as the report shows it: four decimals at most, trailing zeros cut.
pub(crate) fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string())
}

/// The summary: (what, value) pairs.
pub(crate) fn summary(r: &Report) -> Vec<(&'static str, String)> {
    let i = &r.incident.incident;
    let f = &r.incident.fields;
    let mut rows = vec![
        ("Environment", i.environment.clone().unwrap_or_else(|| "-".into())),
        ("Severity", Severity::word_or_unknown(i.severity).to_string()),
        ("Status", i.status.to_string()),
        ("Opened", format!("{} by {}", ts::format(i.opened_at), i.opened_by)),
        ("Closed", i.closed_at.map_or_else(|| "-".into(), ts::format)),
        ("Customer impact", f.impact.clone().unwrap_or_else(|| "unknown".into())),
        ("Root cause", f.root_cause.clone().unwrap_or_else(|| "under investigation".into())),
        ("Prevention", f.prevention.clone().unwrap_or_else(|| "to be decided in review".into())),
        (
            "Impact window",
            format!(
                "{} to {} ({})",
                r.impact_window.start.map_or_else(|| "?".into(), ts::format),
                r.impact_window.end.map_or_else(|| "ongoing".into(), ts::format),
                dur(r.impact_window.duration_ms)
            ),
        ),
    ];
    if i.drill {
        rows.insert(0, ("Drill", "yes: a rollback drill, not a real incident".to_string()));
    }
    rows
}

/// The milestones, in time order.
pub(crate) fn milestones(r: &Report) -> Table {
    Table {
        headers: &["milestone", "at", "by"],
        rows: r
            .incident
            .milestones
            .iter()
            .map(|m| vec![m.milestone.as_str().replace('_', " "), ts::format(m.at), m.actor.clone()])
            .collect(),
        code_column: None,
    }
}

/// The incident's rollbacks, oldest first.
pub(crate) fn rollbacks(r: &Report) -> Table {
    Table {
        headers: &["#", "from", "to", "type", "trigger", "status", "by", "took", "reason"],
        rows: r
            .rollbacks
            .iter()
            .map(|b| {
                vec![
                    b.id.to_string(),
                    b.from_version.clone().unwrap_or_else(|| "-".into()),
                    crate::rollback::target_text(b),
                    b.rollback_type.to_string(),
                    b.trigger.to_string(),
                    b.status.to_string(),
                    crate::rollback::who(b),
                    dur(b.duration_ms),
                    b.reason.clone(),
                ]
            })
            .collect(),
        code_column: None,
    }
}

/// Each signal's values around the incident, with its trend.
pub(crate) fn signals(r: &Report) -> Table {
    Table {
        headers: &["signal", "baseline", "at detection", "peak", "after rollback", "threshold", "trend"],
        rows: r
            .signals
            .iter()
            .map(|s| {
                let unit = s.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
                let thresholds: Vec<String> = s.thresholds.iter().map(|t| num(Some(*t))).collect();
                vec![
                    format!("{}{unit}", s.name),
                    num(s.baseline),
                    num(s.at_detection),
                    num(s.peak_during),
                    num(s.after_rollback),
                    if thresholds.is_empty() { "-".into() } else { thresholds.join(", ") },
                    s.sparkline.clone(),
                ]
            })
            .collect(),
        code_column: Some(6),
    }
}

/// The runbook's steps with their outcomes.
pub(crate) fn runbook_steps(rb: &RunbookView) -> Table {
    Table {
        headers: &["step", "state", "time box", "finished", "overdue", "note"],
        rows: rb
            .steps
            .iter()
            .map(|s| {
                let note =
                    s.reason.clone().or_else(|| s.output.as_ref().and_then(|o| o.lines().next().map(str::to_string)));
                vec![
                    format!("{}. {}", s.index + 1, s.title),
                    s.state.as_str().to_string(),
                    dur(s.time_box_ms),
                    s.finished_at.map_or_else(|| "-".into(), ts::format),
                    if s.overdue { "yes" } else { "" }.to_string(),
                    note.unwrap_or_default(),
                ]
            })
            .collect(),
        code_column: None,
    }
}

/// What the review learned, or what to write while nothing is recorded.
pub(crate) fn lessons(r: &Report) -> String {
    r.incident
        .fields
        .lessons
        .clone()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| "Not recorded yet (`backout incident update N --lessons TEXT`).".into())
}

/// The follow-up actions, with owner, due date and whether they are done.
pub(crate) fn actions(r: &Report) -> Table {
    Table {
        headers: &["#", "action", "owner", "due", "state", "done"],
        rows: r
            .incident
            .actions
            .iter()
            .map(|a| {
                let done = match (&a.done_at, &a.done_by) {
                    (Some(at), by) => format!("{} by {}", ts::format(*at), by.as_deref().unwrap_or("?")),
                    (None, _) => "-".into(),
                };
                vec![a.id.to_string(), a.text.clone(), a.owner.clone(), a.due.clone(), a.state().to_string(), done]
            })
            .collect(),
        code_column: None,
    }
}

/// Everything that happened, in order.
pub(crate) fn timeline(r: &Report) -> Table {
    Table {
        headers: &["at", "by", "kind", "what"],
        rows: r
            .timeline
            .iter()
            .map(|e| vec![ts::format(e.at), e.actor.clone(), e.kind.clone(), e.message.clone()])
            .collect(),
        code_column: None,
    }
}
