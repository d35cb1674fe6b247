//! The report as one self-contained HTML page: inline CSS, an inline SVG chart
//! per signal with the milestones and rule thresholds marked. No network needed.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::tables::{self, Table};
use super::{Report, SignalReport, duration_rows};
use crate::domain::{Milestone, ts};

/// Text made safe for HTML element content and quoted attribute values, its
/// control characters and bidi overrides shown escaped.
fn esc(s: &str) -> String {
    crate::text::printable_text(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A section's table, or `empty` as a paragraph when it has no rows.
fn table(o: &mut String, t: &Table, empty: &str) {
    if t.rows.is_empty() {
        let _ = write!(o, "<p>{}</p>", esc(empty));
        return;
    }
    let _ = write!(o, "<table><tr>");
    for h in t.headers {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    let _ = write!(o, "</tr>");
    for row in &t.rows {
        let _ = write!(o, "<tr>");
        for (i, c) in row.iter().enumerate() {
            if t.code_column == Some(i) {
                let _ = write!(o, "<td><code>{}</code></td>", esc(c));
            } else {
                let _ = write!(o, "<td>{}</td>", esc(c));
            }
        }
        let _ = write!(o, "</tr>");
    }
    let _ = write!(o, "</table>");
}

const W: f64 = 720.0;
const H: f64 = 160.0;
const PAD: f64 = 30.0;

fn chart(s: &SignalReport, milestones: &[(Milestone, DateTime<Utc>)]) -> String {
    let pts: Vec<(DateTime<Utc>, f64)> =
        s.points.iter().filter_map(|p| Some((p.at, p.value?))).filter(|(_, v)| v.is_finite()).collect();
    let Some(t0) = pts.iter().map(|p| p.0).chain(milestones.iter().map(|m| m.1)).min() else {
        return String::new();
    };
    let t1 = pts.iter().map(|p| p.0).chain(milestones.iter().map(|m| m.1)).max().unwrap_or(t0);
    let span = ((t1 - t0).num_milliseconds().max(1)) as f64;
    let vals = pts.iter().map(|p| p.1).chain(s.thresholds.iter().copied());
    let (lo, hi) = vals.fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    let (lo, hi) = if (hi - lo).abs() < f64::EPSILON { (lo - 1.0, hi + 1.0) } else { (lo, hi) };
    let x = |t: DateTime<Utc>| PAD + (t - t0).num_milliseconds() as f64 / span * (W - 2.0 * PAD);
    let y = |v: f64| H - PAD - (v - lo) / (hi - lo) * (H - 2.0 * PAD);
    let mut o = String::new();
    let _ =
        write!(o, r##"<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"##, esc(&s.name));
    let _ = write!(o, r##"<rect x="0" y="0" width="{W}" height="{H}" fill="#fff" stroke="#ccc"/>"##);
    for t in &s.thresholds {
        let _ = write!(
            o,
            r##"<line x1="{PAD}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#c00" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" font-size="10" fill="#c00">threshold {t}</text>"##,
            W - PAD,
            W - PAD - 80.0,
            y(*t) - 3.0,
            y = y(*t)
        );
    }
    for (name, at) in milestones {
        let mx = x(*at);
        let _ = write!(
            o,
            r##"<line x1="{mx:.1}" x2="{mx:.1}" y1="{PAD}" y2="{}" stroke="#06c" stroke-width="1"/><text x="{:.1}" y="{}" font-size="9" fill="#06c" transform="rotate(-30 {mx:.1} {})">{}</text>"##,
            H - PAD,
            mx + 2.0,
            PAD - 4.0,
            PAD - 4.0,
            esc(&name.as_str().replace('_', " "))
        );
    }
    let line: Vec<String> = pts.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect();
    let _ = write!(o, r##"<polyline fill="none" stroke="#333" stroke-width="1.5" points="{}"/>"##, line.join(" "));
    let _ = write!(
        o,
        r##"<text x="4" y="{PAD}" font-size="10">{hi:.3}</text><text x="4" y="{}" font-size="10">{lo:.3}</text></svg>"##,
        H - PAD
    );
    o
}

/// The report as one HTML page.
pub fn to_html(r: &Report) -> String {
    let i = &r.incident.incident;
    let mut o = String::new();
    let title = format!("Incident #{}{}: {}", i.id, if i.drill { " (drill)" } else { "" }, i.title);
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}}\
         table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}}\
         pre{{background:#f4f4f4;padding:.5rem;white-space:pre-wrap}}.over{{color:#c00;font-weight:bold}}</style></head><body>",
        esc(&title)
    );
    let _ = write!(
        o,
        "<h1>{}</h1><p>Generated {} · schema version {}</p>",
        esc(&title),
        esc(&ts::format(r.generated_at)),
        r.schema_version
    );
    let _ = write!(o, "<h2>Summary</h2><table>");
    for (k, v) in tables::summary(r) {
        let _ = write!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    let _ = write!(o, "</table><h2>Milestones</h2>");
    table(&mut o, &tables::milestones(r), "None recorded.");
    let _ = write!(o, "<h2>Against the objective</h2><table>");
    for (what, value, verdict) in duration_rows(&r.incident.durations) {
        let class = if verdict.starts_with("OVER") { " class=\"over\"" } else { "" };
        let _ = write!(o, "<tr><th>{}</th><td>{}</td><td{class}>{}</td></tr>", esc(what), esc(&value), esc(verdict));
    }
    let _ = write!(o, "</table><h2>Rollbacks</h2>");
    table(&mut o, &tables::rollbacks(r), "None.");
    let _ = write!(o, "<h2>Signals</h2>");
    table(&mut o, &tables::signals(r), "No samples were recorded around this incident.");
    let milestones: Vec<(Milestone, DateTime<Utc>)> =
        r.incident.milestones.iter().map(|m| (m.milestone, m.at)).collect();
    for s in &r.signals {
        let _ = write!(o, "<h3>{}</h3>{}", esc(&s.name), chart(s, &milestones));
    }
    let _ = write!(o, "<h2>Checklist</h2>");
    if r.checklist.is_empty() {
        let _ = write!(o, "<p>No checklist results were recorded.</p>");
    } else {
        let _ = write!(o, "<ul>");
        for c in &r.checklist {
            let mark = if c.waived {
                "~"
            } else if c.passed {
                "✔"
            } else {
                "✘"
            };
            let waived = if c.waived { " (waived)" } else { "" };
            let note = c.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default();
            let line = format!("{}{waived}, {} at {}{note}", c.item, c.actor, ts::format(c.at));
            let _ = write!(o, "<li>{mark} {}</li>", esc(&line));
        }
        let _ = write!(o, "</ul>");
    }
    if let Some(rb) = &r.runbook {
        let _ = write!(o, "<h2>Runbook: {} ({})</h2>", esc(&rb.name), esc(&rb.file));
        table(&mut o, &tables::runbook_steps(rb), "The runbook has no steps.");
    }
    let _ = write!(o, "<h2>Lessons learned</h2><p>{}</p>", esc(&tables::lessons(r)));
    let _ = write!(o, "<h2>Follow-up actions</h2>");
    table(&mut o, &tables::actions(r), "None recorded.");
    let _ = write!(o, "<h2>Timeline</h2>");
    table(&mut o, &tables::timeline(r), "Nothing recorded.");
    let _ = write!(o, "<h2>Notes</h2>");
    if r.notes.is_empty() {
        let _ = write!(o, "<p>None.</p>");
    } else {
        let _ = write!(o, "<ul>");
        for n in &r.notes {
            let _ = write!(o, "<li>{} {}: {}</li>", esc(&ts::format(n.created_at)), esc(&n.author), esc(&n.body));
        }
        let _ = write!(o, "</ul>");
    }
    let _ = write!(o, "<h2>Notifications sent</h2>");
    if r.notifications.is_empty() {
        let _ = write!(o, "<p>None recorded.</p>");
    }
    for n in &r.notifications {
        let channels = if n.channels.is_empty() { "not delivered".to_string() } else { n.channels.join(", ") };
        let _ = write!(o, "<p>{} ({}):</p><pre>{}</pre>", esc(&ts::format(n.at)), esc(&channels), esc(&n.text));
    }
    let _ = writeln!(o, "<h2>Post-rollback summary</h2><pre>{}</pre></body></html>", esc(&r.summary_text));
    o
}
