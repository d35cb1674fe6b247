//! The post-incident report: one [`Report`] built from the record, written as
//! Markdown, JSON (schema in docs/export-schema.json, `schema_version` 1) or a
//! self-contained HTML page with SVG charts.

mod html;
mod markdown;
mod tables;

use chrono::{DateTime, Utc};
use color_eyre::eyre::{Result, eyre};
use serde::Serialize;

use super::{Durations, IncidentSummary, Milestone, milestone_at, runbook};
use crate::config::Config;
use crate::domain::{IncidentStatus, RollbackStatus, RuleKind, Sample};
use crate::notify::{NotificationKind, format_duration, headline};
use crate::store::{ChecklistResultRow, NoteRow, RollbackRow, Store, TimelineEvent};

pub use html::to_html;
pub use markdown::to_markdown;

/// Version of the JSON export's shape; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// How far around the incident signals are shown.
const SIGNAL_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// The whole post-incident report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When the report was made.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub generated_at: DateTime<Utc>,
    /// The incident, its fields, milestones and durations.
    pub incident: IncidentSummary,
    /// From impact start (or detection) to mitigation (or now).
    pub impact_window: Window,
    /// The incident's rollbacks, oldest first.
    pub rollbacks: Vec<RollbackRow>,
    /// Everything that happened, in order.
    pub timeline: Vec<TimelineEntry>,
    /// Each signal around the incident.
    pub signals: Vec<SignalReport>,
    /// The checklist: the last result per item.
    pub checklist: Vec<ChecklistResultRow>,
    /// The runbook's steps with their outcomes, when the incident has one.
    pub runbook: Option<runbook::RunbookView>,
    /// Notes, oldest first.
    pub notes: Vec<NoteRow>,
    /// Notifications recorded on the timeline.
    pub notifications: Vec<NotificationSent>,
    /// Seed 001's "ROLLBACK COMPLETED" summary filled in.
    pub summary_text: String,
}

/// A span of time.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// Start.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub start: Option<DateTime<Utc>>,
    /// End; `None` while still open.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub end: Option<DateTime<Utc>>,
    /// Length in milliseconds, when both ends are known.
    pub duration_ms: Option<i64>,
}

/// One timeline line.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub at: DateTime<Utc>,
    /// A person, `rule:...` or `backout`.
    pub actor: String,
    /// Kind.
    pub kind: String,
    /// Message.
    pub message: String,
}

/// A signal's values around the incident.
#[derive(Debug, Clone, Serialize)]
pub struct SignalReport {
    /// Signal name.
    pub name: String,
    /// Unit, when configured.
    pub unit: Option<String>,
    /// Trigger thresholds on this signal.
    pub thresholds: Vec<f64>,
    /// Last value before the impact started (the baseline).
    pub baseline: Option<f64>,
    /// Last value at or before detection.
    pub at_detection: Option<f64>,
    /// Highest value between detection and rollback completion.
    pub peak_during: Option<f64>,
    /// Last value after the rollback completed.
    pub after_rollback: Option<f64>,
    /// Text sparkline of the values.
    pub sparkline: String,
    /// The samples, oldest first.
    pub points: Vec<Point>,
}

/// One sample.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub at: DateTime<Utc>,
    /// Value, if the sample had one.
    pub value: Option<f64>,
    /// The check passed.
    pub ok: bool,
}

/// A notification as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationSent {
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub at: DateTime<Utc>,
    /// Channels that accepted it.
    pub channels: Vec<String>,
    /// The text.
    pub text: String,
}

/// Builds the report of incident `id`. `config` adds units, thresholds and the runbook.
pub fn build(store: &mut Store, id: i64, config: Option<(&Config, &std::path::Path)>) -> Result<Report> {
    let summary = super::show(store, id)?
        .ok_or_else(|| eyre!("there is no incident #{id}; `backout incident list` lists them"))?;
    let ms = &summary.milestones;
    let opened = summary.incident.opened_at;
    let start = milestone_at(ms, Milestone::ImpactStarted).or(milestone_at(ms, Milestone::Detected)).unwrap_or(opened);
    let mitigated = milestone_at(ms, Milestone::RollbackCompleted);
    let end = summary.incident.closed_at.unwrap_or_else(Utc::now);
    let env_id = store.incident_environment_id(id)?;

    let mut timeline: Vec<TimelineEvent> = store.incident_timeline(id)?;
    if let Some(e) = env_id {
        timeline.extend(store.environment_events_between(e, start.min(opened), end)?);
    }
    timeline.sort_by_key(|e| (e.at, e.id));
    let notifications = timeline
        .iter()
        .filter(|e| e.kind == "notification")
        .filter_map(|e| {
            let data: serde_json::Value = serde_json::from_str(e.data.as_deref()?).ok()?;
            Some(NotificationSent {
                at: e.at,
                channels: data["channels"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
                text: data["text"].as_str()?.to_string(),
            })
        })
        .collect();

    let env_cfg = config.and_then(|(c, _)| summary.incident.environment.as_deref().and_then(|n| c.environment(n)));
    let mut signals = Vec::new();
    if let Some(e) = env_id {
        let detected = milestone_at(ms, Milestone::Detected).unwrap_or(opened);
        for name in store.sampled_signals(e)? {
            let samples = store.samples_between(
                e,
                &name,
                start - SIGNAL_MARGIN,
                end.min(mitigated.unwrap_or(end) + SIGNAL_MARGIN),
            )?;
            if samples.is_empty() {
                continue;
            }
            let cfg = env_cfg.and_then(|c| c.effective_signals().into_iter().find(|s| s.name.get_ref() == &name));
            let thresholds = env_cfg
                .map(|c| {
                    c.effective_triggers()
                        .iter()
                        .filter(|t| t.signal.get_ref() == &name && matches!(t.rule, RuleKind::Above | RuleKind::Below))
                        .filter_map(|t| t.threshold)
                        .collect()
                })
                .unwrap_or_default();
            let unit = cfg.and_then(|s| s.unit);
            signals.push(signal_report(name, unit, thresholds, &samples, (start, detected), mitigated));
        }
    }

    let results = store.checklist_results(id)?;
    let mut checklist: Vec<ChecklistResultRow> = Vec::new();
    for r in results {
        checklist.retain(|c| c.item != r.item);
        checklist.push(r);
    }
    let runbook = match config {
        Some((c, path)) => match runbook::runbook_name(store, c, id)? {
            Some(file) => {
                let book = runbook::Runbook::load(&runbook::runbook_path(c, path, &file)?)?;
                Some(runbook::view(store, id, &file, &book, end)?)
            }
            None => None,
        },
        None => None,
    };
    let rollbacks = store.incident_rollbacks(id)?;
    let notes = store.notes(Some(id))?;
    let summary_text = completed_summary(&summary, &rollbacks);
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        generated_at: Utc::now(),
        impact_window: Window {
            start: Some(start),
            end: mitigated,
            duration_ms: mitigated.map(|m| (m - start).num_milliseconds()),
        },
        incident: summary,
        rollbacks,
        timeline: timeline
            .into_iter()
            .map(|e| TimelineEntry { at: e.at, actor: e.actor, kind: e.kind, message: e.message })
            .collect(),
        signals,
        checklist,
        runbook,
        notes,
        notifications,
        summary_text,
    })
}

fn signal_report(
    name: String,
    unit: Option<String>,
    thresholds: Vec<f64>,
    samples: &[Sample],
    (started, detected): (DateTime<Utc>, DateTime<Utc>),
    mitigated: Option<DateTime<Utc>>,
) -> SignalReport {
    let values: Vec<f64> = samples.iter().filter_map(|s| s.value).collect();
    let baseline = samples.iter().filter(|s| s.at < started).filter_map(|s| s.value).next_back();
    let at_detection = samples.iter().filter(|s| s.at <= detected).filter_map(|s| s.value).next_back();
    let peak_during = samples
        .iter()
        .filter(|s| s.at >= detected && mitigated.is_none_or(|m| s.at <= m))
        .filter_map(|s| s.value)
        .fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))));
    let after_rollback =
        mitigated.and_then(|m| samples.iter().filter(|s| s.at > m).filter_map(|s| s.value).next_back());
    SignalReport {
        name,
        unit,
        thresholds,
        baseline,
        at_detection,
        peak_during,
        after_rollback,
        sparkline: sparkline(&values, 60),
        points: samples.iter().map(|s| Point { at: s.at, value: s.value, ok: s.ok }).collect(),
    }
}

/// A text sparkline of at most `width` characters (values averaged into buckets).
pub fn sparkline(values: &[f64], width: usize) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() || width == 0 {
        return String::new();
    }
    let buckets = finite.len().min(width);
    let per = finite.len() as f64 / buckets as f64;
    let avg: Vec<f64> = (0..buckets)
        .map(|b| {
            let from = (b as f64 * per) as usize;
            let to = (((b + 1) as f64 * per) as usize).max(from + 1).min(finite.len());
            finite[from..to].iter().sum::<f64>() / (to - from) as f64
        })
        .collect();
    let (lo, hi) = avg.iter().fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    crate::text::bars(&avg, lo, hi)
}

/// Seed 001's post-rollback summary, filled in from the record.
fn completed_summary(s: &IncidentSummary, rollbacks: &[RollbackRow]) -> String {
    let done = rollbacks.iter().find(|r| r.status == RollbackStatus::Completed);
    let mut out = String::new();
    if s.incident.drill {
        out.push_str("[DRILL] ");
    }
    out.push_str(headline(NotificationKind::RollbackCompleted));
    out.push_str("\n\n");
    let took = done
        .and_then(|r| r.duration_ms)
        .map(|ms| format_duration(std::time::Duration::from_millis(ms.max(0).unsigned_abs())))
        .unwrap_or_else(|| "no completed rollback".into());
    let unknown =
        |v: &Option<String>, d: &str| v.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| d.to_string());
    let env = s.incident.environment.clone().unwrap_or_else(|| "unknown".into());
    let versions = done.map(crate::rollback::from_to);
    let status = if s.incident.status == IncidentStatus::Closed { "Resolved" } else { "Stable and monitoring" };
    let lines = [
        ("Environment", env),
        ("Versions", versions.unwrap_or_else(|| "unknown".into())),
        ("Duration", took),
        ("Customer Impact", unknown(&s.fields.impact, "unknown")),
        ("Root Cause", unknown(&s.fields.root_cause, "under investigation")),
        ("Prevention", unknown(&s.fields.prevention, "to be decided in review")),
        ("Status", status.to_string()),
    ];
    let body: Vec<String> = lines.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    out.push_str(&body.join("\n"));
    out
}

/// A duration field as people read it, or a dash.
pub(crate) fn dur(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".to_string(), super::human_ms)
}

/// Whether a duration met the objective, in words.
pub(crate) fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "within objective",
        Some(false) => "OVER objective",
        None => "-",
    }
}

/// The durations as rows (what, value, against the objective), for any front end.
pub fn duration_rows_public(d: &Durations) -> Vec<(&'static str, String, &'static str)> {
    duration_rows(d)
}

/// The durations as table rows: (what, value, against the objective).
pub(crate) fn duration_rows(d: &Durations) -> Vec<(&'static str, String, &'static str)> {
    vec![
        ("Time to detect", dur(d.time_to_detect_ms), ""),
        (
            "Time to mitigate (detect to rollback completed)",
            dur(d.time_to_mitigate_ms),
            verdict(d.mitigated_within_objective),
        ),
        ("Time to validate (rollback to checklist complete)", dur(d.time_to_validate_ms), ""),
        ("Time to recover (detect to validated)", dur(d.time_to_recover_ms), verdict(d.recovered_within_objective)),
        ("Recovery-time objective", dur(d.objective_ms), ""),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_between_min_and_max() {
        assert_eq!(sparkline(&[0.0, 1.0], 10), "▁█");
        assert_eq!(sparkline(&[2.0, 2.0, 2.0], 10), "▁▁▁");
        assert_eq!(sparkline(&[0.0, 0.0, 1.0, 1.0], 2), "▁█");
        assert_eq!(sparkline(&[], 10), "");
    }
}
