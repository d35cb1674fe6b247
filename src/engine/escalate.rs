//! Seed 002's decision time box: an incident still open and not validated
//! when its time box from detection runs out (1 hour by default, per severity
//! in `[escalation]`) is escalated once: recorded on its timeline, then the
//! escalation target is told.

use std::time::Duration;

use chrono::{DateTime, Utc};
use color_eyre::eyre::Result;
use tokio::runtime::Handle;

use crate::config::Config;
use crate::domain::{Milestone, Severity, ts};
use crate::notify::{Notification, NotificationKind, Notifier};
use crate::store::{IncidentRow, MilestoneRow, NewEvent, Store};

/// An incident escalated, or found past its objective, this round: its
/// environment (empty when it has none), what happened, and the line said.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalated {
    /// Environment name, or empty.
    pub environment: String,
    /// `escalated` or `objective_missed`.
    pub kind: &'static str,
    /// What was recorded.
    pub message: String,
}

/// Escalates every open, unvalidated incident whose time box ran out by
/// `now`, and tells of every one past its recovery-time objective, each once
/// (no process did it before). Each is recorded before it is sent, so a
/// failing channel never makes it happen twice; what the channel did is
/// recorded after.
pub fn escalate_overdue(
    rt: &Handle,
    config: &Config,
    store: &mut Store,
    notifier: &Notifier,
    now: DateTime<Utc>,
) -> Result<Vec<Escalated>> {
    let mut done = Vec::new();
    for incident in store.open_incidents()? {
        let milestones = store.milestones(incident.id)?;
        let env_id = match incident.environment.as_deref() {
            Some(name) => store.environment_id(name)?,
            None => None,
        };
        let at_env = incident.environment.as_deref().map_or_else(String::new, |e| format!(" ({e})"));
        let status = standing(&milestones);
        let event = |kind: &str, message: String, data: serde_json::Value| NewEvent {
            at: now,
            incident_id: Some(incident.id),
            environment_id: env_id,
            rollback_id: None,
            actor: "backout".into(),
            kind: kind.into(),
            message,
            data: Some(data.to_string()),
        };
        if config.escalation.enabled
            && let Some(due) = overdue(config.escalation.time_box(incident.severity), &incident, &milestones, now)
        {
            let target = config.escalation.target();
            let message = format!(
                "incident #{}{at_env} escalated to {target}: its decision time box of {} from detection at {} ran \
                 out at {}; {status}",
                incident.id,
                crate::text::format_duration(due.time_box),
                ts::format(due.detected_at),
                ts::format(due.at),
            );
            let data = serde_json::json!({
                "target": target,
                "time_box_secs": due.time_box.as_secs(),
                "detected_at": ts::format(due.detected_at),
                "due_at": ts::format(due.at),
                "severity": Severity::word_or_unknown(incident.severity),
            });
            let n = notification(&incident, &due, status, (NotificationKind::Escalation, Some(target)));
            if record_and_tell(rt, store, notifier, event("escalated", message.clone(), data), &n)? {
                let environment = incident.environment.clone().unwrap_or_default();
                done.push(Escalated { environment, kind: "escalated", message });
            }
        }
        let objective = store.incident_fields(incident.id)?.and_then(|f| f.objective_ms);
        if let Some(ms) = objective
            && let Some(due) = overdue(Duration::from_millis(ms.max(0).unsigned_abs()), &incident, &milestones, now)
        {
            let message = format!(
                "incident #{}{at_env} missed its recovery-time objective of {} from detection at {} (at {}); {status}",
                incident.id,
                crate::text::format_duration(due.time_box),
                ts::format(due.detected_at),
                ts::format(due.at),
            );
            let data = serde_json::json!({ "objective_ms": ms, "detected_at": ts::format(due.detected_at) });
            let n = notification(&incident, &due, status, (NotificationKind::ObjectiveMissed, None));
            if record_and_tell(rt, store, notifier, event("objective_missed", message.clone(), data), &n)? {
                let environment = incident.environment.clone().unwrap_or_default();
                done.push(Escalated { environment, kind: "objective_missed", message });
            }
        }
    }
    Ok(done)
}

/// Records `event` once per incident and kind, then sends `n` and records
/// what went out; `Ok(false)` when another process recorded it first (then
/// it tells).
fn record_and_tell(
    rt: &Handle,
    store: &mut Store,
    notifier: &Notifier,
    event: NewEvent,
    n: &Notification,
) -> Result<bool> {
    if !store.record_once(&event)? {
        return Ok(false);
    }
    let delivery = rt.block_on(notifier.send(n));
    store.append_event(&NewEvent {
        at: Utc::now(),
        kind: "notification".into(),
        message: delivery.summary(),
        data: Some(
            serde_json::json!({ event.kind.clone(): true, "channels": delivery.channels, "errors": delivery.errors })
                .to_string(),
        ),
        ..event
    })?;
    Ok(true)
}

/// When an incident's time box ran out.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Due {
    detected_at: DateTime<Utc>,
    time_box: std::time::Duration,
    at: DateTime<Utc>,
}

/// When `time_box` from `incident`'s detection ran out, if it has by `now`
/// and the incident is not validated yet. It runs from detection, or from
/// opening when nothing recorded a detection.
fn overdue(time_box: Duration, incident: &IncidentRow, milestones: &[MilestoneRow], now: DateTime<Utc>) -> Option<Due> {
    let reached = |m: Milestone| milestones.iter().find(|r| r.milestone == m).map(|r| r.at);
    if reached(Milestone::Validated).is_some() || reached(Milestone::Resolved).is_some() {
        return None;
    }
    let detected_at = reached(Milestone::Detected).unwrap_or(incident.opened_at);
    let at = ts::after(detected_at, time_box);
    (now >= at).then_some(Due { detected_at, time_box, at })
}

/// Where the incident stands, from its milestones.
fn standing(milestones: &[MilestoneRow]) -> &'static str {
    let reached = |m: Milestone| milestones.iter().any(|r| r.milestone == m);
    if reached(Milestone::RollbackCompleted) {
        "rolled back, but the service is not validated as restored"
    } else if reached(Milestone::RollbackStarted) {
        "a rollback started but has not completed"
    } else {
        "no rollback has been decided"
    }
}

fn notification(
    incident: &IncidentRow,
    due: &Due,
    status: &str,
    (kind, target): (NotificationKind, Option<&str>),
) -> Notification {
    let mut detail = vec![
        ("Detected".into(), ts::format(due.detected_at)),
        (
            if kind == NotificationKind::Escalation { "Decision time box" } else { "Recovery objective" }.into(),
            crate::text::format_duration(due.time_box),
        ),
        ("Status".into(), status.to_string()),
    ];
    if let Some(target) = target {
        detail.push(("Escalated to".into(), target.to_string()));
    }
    Notification {
        kind,
        environment: incident.environment.clone().unwrap_or_else(|| "-".into()),
        colour: None,
        from_version: None,
        target_version: None,
        reason: format!(
            "incident #{} ({}, {}) is still open {} after detection",
            incident.id,
            crate::text::service_text(&incident.title),
            Severity::word_or_unknown(incident.severity),
            crate::text::format_duration(due.time_box)
        ),
        impact: "unknown".into(),
        duration: None,
        error: None,
        actor: "backout".into(),
        drill: incident.drill,
        group_key: format!("{}:{}", kind.as_str(), incident.id),
        flag: None,
        severity: incident.severity,
        incident_id: Some(incident.id),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IncidentStatus;

    fn config(extra: &str) -> Config {
        let text = format!(
            "{extra}\n[[environment]]\nname = \"checkout\"\nkind = \"standard\"\nbase_url = \"http://127.0.0.1:1\"\n"
        );
        Config::from_toml(&text, std::path::Path::new("t.toml")).unwrap()
    }

    fn incident(severity: Option<Severity>) -> IncidentRow {
        IncidentRow {
            id: 1,
            environment: Some("checkout".into()),
            title: "t".into(),
            severity,
            status: IncidentStatus::Open,
            drill: false,
            opened_by: "alice".into(),
            opened_at: ts::parse("2026-11-22T10:00:00.000Z").unwrap(),
            closed_at: None,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        ts::parse(text).unwrap()
    }

    fn milestone(m: Milestone, t: &str) -> MilestoneRow {
        MilestoneRow { milestone: m, at: at(t), actor: "x".into() }
    }

    #[test]
    fn the_time_box_runs_from_detection_per_severity_and_stops_at_validation() {
        let c = config("[escalation]\ncritical = \"15m\"\n");
        let overdue = |i: &IncidentRow, m: &[MilestoneRow], now| overdue(c.escalation.time_box(i.severity), i, m, now);
        let detected = [milestone(Milestone::Detected, "2026-11-22T09:50:00.000Z")];
        // Critical: 15 minutes from detection (09:50), not from opening (10:00).
        let i = incident(Some(Severity::Critical));
        assert_eq!(overdue(&i, &detected, at("2026-11-22T10:04:59.999Z")), None);
        let due = overdue(&i, &detected, at("2026-11-22T10:05:00.000Z")).unwrap();
        assert_eq!(due.at, at("2026-11-22T10:05:00.000Z"));
        // Other severities keep the hour.
        let i = incident(Some(Severity::Feature));
        assert_eq!(overdue(&i, &detected, at("2026-11-22T10:49:00.000Z")), None);
        assert!(overdue(&i, &detected, at("2026-11-22T10:50:00.000Z")).is_some());
        // No detection recorded: from opening.
        assert!(overdue(&i, &[], at("2026-11-22T10:59:00.000Z")).is_none());
        assert!(overdue(&i, &[], at("2026-11-22T11:00:00.000Z")).is_some());
        // Validated in time: never escalated.
        let validated = [detected[0].clone(), milestone(Milestone::Validated, "2026-11-22T10:01:00.000Z")];
        assert_eq!(overdue(&incident(Some(Severity::Critical)), &validated, at("2026-11-22T12:00:00.000Z")), None);
    }

    #[test]
    fn the_status_says_how_far_the_incident_got() {
        assert_eq!(standing(&[]), "no rollback has been decided");
        let started = milestone(Milestone::RollbackStarted, "2026-11-22T10:00:00.000Z");
        assert!(standing(std::slice::from_ref(&started)).contains("has not completed"));
        let done = milestone(Milestone::RollbackCompleted, "2026-11-22T10:01:00.000Z");
        assert!(standing(&[started, done]).contains("not validated"));
    }
}
