//! The report as Markdown, for a review document or a ticket.

use std::fmt::Write as _;

use super::{Report, duration_rows};
use crate::domain::{Severity, ts};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string())
}

/// The report as Markdown.
pub fn to_markdown(r: &Report) -> String {
    let i = &r.incident.incident;
    let f = &r.incident.fields;
    let mut o = String::new();
    let drill = if i.drill { " (drill)" } else { "" };
    let _ = writeln!(o, "# Incident #{}{drill}: {}\n", i.id, i.title);
    let _ = writeln!(o, "Report generated {} (schema version {}).\n", ts::format(r.generated_at), r.schema_version);
    let _ = writeln!(o, "## Summary\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    let rows = [
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
                super::dur(r.impact_window.duration_ms)
            ),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(o, "| {k} | {} |", cell(&v));
    }

    let _ = writeln!(o, "\n## Milestones\n\n| milestone | at | by |\n|---|---|---|");
    for m in &r.incident.milestones {
        let _ =
            writeln!(o, "| {} | {} | {} |", m.milestone.as_str().replace('_', " "), ts::format(m.at), cell(&m.actor));
    }

    let _ = writeln!(o, "\n## Against the objective\n\n| | duration | |\n|---|---|---|");
    for (what, value, verdict) in duration_rows(&r.incident.durations) {
        let _ = writeln!(o, "| {what} | {value} | {verdict} |");
    }

    let _ = writeln!(o, "\n## Rollbacks\n");
    if r.rollbacks.is_empty() {
        let _ = writeln!(o, "None.");
    } else {
        let _ = writeln!(
            o,
            "| # | from | to | type | trigger | status | by | took | reason |\n|---|---|---|---|---|---|---|---|---|"
        );
        for b in &r.rollbacks {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                b.id,
                b.from_version.as_deref().unwrap_or("-"),
                b.target_version.as_deref().unwrap_or("-"),
                b.rollback_type,
                b.trigger,
                b.status,
                cell(&b.operator),
                super::dur(b.duration_ms),
                cell(&b.reason)
            );
        }
    }

    let _ = writeln!(o, "\n## Signals\n");
    if r.signals.is_empty() {
        let _ = writeln!(o, "No samples were recorded around this incident.");
    } else {
        let _ = writeln!(
            o,
            "| signal | baseline | at detection | peak | after rollback | threshold | trend |\n|---|---|---|---|---|---|---|"
        );
        for s in &r.signals {
            let unit = s.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
            let thresholds: Vec<String> = s.thresholds.iter().map(|t| num(Some(*t))).collect();
            let _ = writeln!(
                o,
                "| {}{unit} | {} | {} | {} | {} | {} | `{}` |",
                s.name,
                num(s.baseline),
                num(s.at_detection),
                num(s.peak_during),
                num(s.after_rollback),
                if thresholds.is_empty() { "-".into() } else { thresholds.join(", ") },
                s.sparkline
            );
        }
    }

    let _ = writeln!(o, "\n## Checklist\n");
    if r.checklist.is_empty() {
        let _ = writeln!(o, "No checklist results were recorded.");
    }
    for c in &r.checklist {
        let mark = if c.waived {
            "~"
        } else if c.passed {
            "x"
        } else {
            " "
        };
        let note = c.note.as_deref().map(|n| format!(": {}", n.replace('\n', " "))).unwrap_or_default();
        let waived = if c.waived { " (waived)" } else { "" };
        let _ = writeln!(o, "- [{mark}] {}{waived}, {} at {}{note}", c.item, c.actor, ts::format(c.at));
    }

    if let Some(rb) = &r.runbook {
        let _ = writeln!(o, "\n## Runbook: {} ({})\n", rb.name, rb.file);
        let _ = writeln!(o, "| step | state | time box | finished | overdue | note |\n|---|---|---|---|---|---|");
        for s in &rb.steps {
            let note =
                s.reason.clone().or_else(|| s.output.as_ref().and_then(|o| o.lines().next().map(str::to_string)));
            let _ = writeln!(
                o,
                "| {}. {} | {} | {} | {} | {} | {} |",
                s.index + 1,
                cell(&s.title),
                s.state.as_str(),
                super::dur(s.time_box_ms),
                s.finished_at.map_or_else(|| "-".into(), ts::format),
                if s.overdue { "yes" } else { "" },
                cell(note.as_deref().unwrap_or(""))
            );
        }
    }

    let _ = writeln!(o, "\n## Timeline\n\n| at | by | kind | what |\n|---|---|---|---|");
    for e in &r.timeline {
        let _ = writeln!(o, "| {} | {} | {} | {} |", ts::format(e.at), cell(&e.actor), e.kind, cell(&e.message));
    }

    let _ = writeln!(o, "\n## Notes\n");
    if r.notes.is_empty() {
        let _ = writeln!(o, "None.");
    }
    for n in &r.notes {
        let _ = writeln!(o, "- {} {}: {}", ts::format(n.created_at), n.author, n.body.replace('\n', " "));
    }

    let _ = writeln!(o, "\n## Notifications sent\n");
    if r.notifications.is_empty() {
        let _ = writeln!(o, "None recorded.");
    }
    for n in &r.notifications {
        let channels = if n.channels.is_empty() { "not delivered".to_string() } else { n.channels.join(", ") };
        let _ = writeln!(o, "{} ({channels}):\n\n```\n{}\n```\n", ts::format(n.at), n.text);
    }

    let _ = writeln!(o, "\n## Post-rollback summary\n\n```\n{}\n```", r.summary_text);
    o
}
