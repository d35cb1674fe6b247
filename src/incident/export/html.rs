//! The report as one self-contained HTML page: inline CSS, an inline SVG chart
//! per signal with the milestones and rule thresholds marked. No network needed.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Report, SignalReport, duration_rows};
use crate::domain::{Milestone, Severity, ts};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
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
    let rows = [
        ("Environment", i.environment.clone().unwrap_or_default()),
        ("Severity", Severity::word_or_unknown(i.severity).to_string()),
        ("Status", i.status.to_string()),
        ("Opened", format!("{} by {}", ts::format(i.opened_at), i.opened_by)),
        (
            "Impact window",
            format!(
                "{} to {}",
                r.impact_window.start.map_or_else(|| "?".into(), ts::format),
                r.impact_window.end.map_or_else(|| "ongoing".into(), ts::format)
            ),
        ),
    ];
    for (k, v) in rows {
        let _ = write!(o, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    let _ = write!(o, "</table><h2>Against the objective</h2><table>");
    for (what, value, verdict) in duration_rows(&r.incident.durations) {
        let class = if verdict.starts_with("OVER") { " class=\"over\"" } else { "" };
        let _ = write!(o, "<tr><th>{what}</th><td>{value}</td><td{class}>{verdict}</td></tr>");
    }
    let _ = write!(o, "</table><h2>Signals</h2>");
    let milestones: Vec<(Milestone, DateTime<Utc>)> =
        r.incident.milestones.iter().map(|m| (m.milestone, m.at)).collect();
    for s in &r.signals {
        let _ = write!(o, "<h3>{}</h3>{}", esc(&s.name), chart(s, &milestones));
    }
    let _ = write!(o, "<h2>Checklist</h2><ul>");
    for c in &r.checklist {
        let mark = if c.waived {
            "waived"
        } else if c.passed {
            "✔"
        } else {
            "✘"
        };
        let _ = write!(
            o,
            "<li>{mark} {} ({}, {}) {}</li>",
            esc(&c.item),
            esc(&c.actor),
            esc(&ts::format(c.at)),
            esc(c.note.as_deref().unwrap_or(""))
        );
    }
    let _ = write!(o, "</ul><h2>Timeline</h2><table><tr><th>at</th><th>by</th><th>kind</th><th>what</th></tr>");
    for e in &r.timeline {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&ts::format(e.at)),
            esc(&e.actor),
            esc(&e.kind),
            esc(&e.message)
        );
    }
    let _ = write!(o, "</table><h2>Notes</h2><ul>");
    for n in &r.notes {
        let _ = write!(o, "<li>{} {}: {}</li>", esc(&ts::format(n.created_at)), esc(&n.author), esc(&n.body));
    }
    let _ = writeln!(o, "</ul><h2>Post-rollback summary</h2><pre>{}</pre></body></html>", esc(&r.summary_text));
    o
}
