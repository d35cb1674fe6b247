//! The report as Markdown, for a review document or a ticket.

use std::fmt::Write as _;

use super::tables::{self, Table};
use super::{Report, duration_rows};
use crate::domain::ts;

/// Recorded text as inert Markdown on one line: no control character, no raw
/// HTML (`<script>` in a note is shown, not run by a renderer), no table break.
fn cell(s: &str) -> String {
    let one_line = s.replace('\n', " ");
    crate::text::printable_line(&one_line)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
}

/// A code span: its text is literal to a renderer, but a backtick would end it early.
fn code(s: &str) -> String {
    if s.contains('`') { cell(s) } else { format!("`{}`", crate::text::printable_line(s).replace('|', "\\|")) }
}

/// A fenced block of several lines: literal, with a fence longer than any run
/// of backticks inside so the text cannot close it.
fn fenced(s: &str) -> String {
    let text = crate::text::printable_text(s);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}\n{text}\n{fence}")
}

/// A section's table, or `empty` when it has no rows.
fn table(o: &mut String, t: &Table, empty: &str) {
    if t.rows.is_empty() {
        let _ = writeln!(o, "{empty}");
        return;
    }
    let _ = writeln!(o, "| {} |", t.headers.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(t.headers.len()));
    for row in &t.rows {
        let cells: Vec<String> =
            row.iter().enumerate().map(|(i, c)| if t.code_column == Some(i) { code(c) } else { cell(c) }).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
}

/// The report as Markdown.
pub fn to_markdown(r: &Report) -> String {
    let i = &r.incident.incident;
    let mut o = String::new();
    let drill = if i.drill { " (drill)" } else { "" };
    let _ = writeln!(o, "# Incident #{}{drill}: {}\n", i.id, cell(&i.title));
    let _ = writeln!(o, "Report generated {} (schema version {}).\n", ts::format(r.generated_at), r.schema_version);
    let _ = writeln!(o, "## Summary\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    for (k, v) in tables::summary(r) {
        let _ = writeln!(o, "| {k} | {} |", cell(&v));
    }

    let _ = writeln!(o, "\n## Milestones\n");
    table(&mut o, &tables::milestones(r), "None recorded.");

    let _ = writeln!(o, "\n## Against the objective\n\n| | duration | |\n|---|---|---|");
    for (what, value, verdict) in duration_rows(&r.incident.durations) {
        let _ = writeln!(o, "| {what} | {value} | {verdict} |");
    }

    let _ = writeln!(o, "\n## Rollbacks\n");
    table(&mut o, &tables::rollbacks(r), "None.");

    let _ = writeln!(o, "\n## Signals\n");
    table(&mut o, &tables::signals(r), "No samples were recorded around this incident.");

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
        let note = c.note.as_deref().map(|n| format!(": {}", cell(n))).unwrap_or_default();
        let waived = if c.waived { " (waived)" } else { "" };
        let _ = writeln!(o, "- [{mark}] {}{waived}, {} at {}{note}", cell(&c.item), cell(&c.actor), ts::format(c.at));
    }

    if let Some(rb) = &r.runbook {
        let _ = writeln!(o, "\n## Runbook: {} ({})\n", cell(&rb.name), cell(&rb.file));
        table(&mut o, &tables::runbook_steps(rb), "The runbook has no steps.");
    }

    let _ = writeln!(o, "\n## Lessons learned\n\n{}", cell(&tables::lessons(r)));

    let _ = writeln!(o, "\n## Follow-up actions\n");
    table(&mut o, &tables::actions(r), "None recorded.");

    let _ = writeln!(o, "\n## Timeline\n");
    table(&mut o, &tables::timeline(r), "Nothing recorded.");

    let _ = writeln!(o, "\n## Notes\n");
    if r.notes.is_empty() {
        let _ = writeln!(o, "None.");
    }
    for n in &r.notes {
        let _ = writeln!(o, "- {} {}: {}", ts::format(n.created_at), cell(&n.author), cell(&n.body));
    }

    let _ = writeln!(o, "\n## Notifications sent\n");
    if r.notifications.is_empty() {
        let _ = writeln!(o, "None recorded.");
    }
    for n in &r.notifications {
        let channels = if n.channels.is_empty() { "not delivered".to_string() } else { n.channels.join(", ") };
        let _ = writeln!(o, "{} ({}):\n\n{}\n", ts::format(n.at), cell(&channels), fenced(&n.text));
    }

    let _ = writeln!(o, "\n## Post-rollback summary\n\n{}", fenced(&r.summary_text));
    o
}
