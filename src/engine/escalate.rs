//! Seed 002's decision time box: an incident still open and not validated
//! when its time box from detection runs out (1 hour by default, per severity
//! in `[escalation]`) is escalated once: recorded on its timeline, then the
//! escalation target is told.

use chrono::{DateTime, Utc};
use color_eyre::eyre::Result;
use tokio::runtime::Handle;

use crate::config::Config;
use crate::domain::{Milestone, Severity, ts};
use crate::notify::{Notification, NotificationKind, Notifier};
use crate::store::{IncidentRow, MilestoneRow, NewEvent, Store};

/// An incident escalated this round: its environment (empty when it has
/// none) and the line said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalated {
    /// Environment name, or empty.
    pub environment: String,
    /// What was recorded.
    pub message: String,
}

/// Escalates every open, unvalidated incident whose time box ran out by
/// `now` and that no process has escalated yet. Each is recorded before it is
/// sent, so a failing channel never makes it escalate twice; what the channel
/// did is recorded after.
pub fn escalate_overdue(
    rt: &Handle,
    config: &Config,
    store: &mut Store,
    notifier: &Notifier,
    now: DateTime<Utc>,
) -> Result<Vec<Escalated>> {
    if !config.escalation.enabled {
        return Ok(Vec::new());
    }
    let mut done = Vec::new();
    for incident in store.open_incidents()? {
        let milestones = store.milestones(incident.id)?;
        let Some(due) = overdue(config, &incident, &milestones, now) else { continue };
        let env_id = match incident.environment.as_deref() {
            Some(name) => store.environment_id(name)?,
            None => None,
        };
        let target = config.escalation.target();
        let status = standing(&milestones);
        let message = format!(
            "incident #{}{} escalated to {target}: its decision time box of {} from detection at {} ran out at {}; {status}",
            incident.id,
            incident.environment.as_deref().map_or_else(String::new, |e| format!(" ({e})")),
            crate::text::format_duration(due.time_box),
            ts::format(due.detected_at),
            ts::format(due.at),
        );
        let event = NewEvent {
            at: now,
            incident_id: Some(incident.id),
            environment_id: env_id,
            rollback_id: None,
            actor: "backout".into(),
            kind: "escalated".into(),
            message: message.clone(),
            data: Some(
                serde_json::json!({
                    "target": target,
                    "time_box_secs": due.time_box.as_secs(),
                    "detected_at": ts::format(due.detected_at),
                    "due_at": ts::format(due.at),
                    "severity": Severity::word_or_unknown(incident.severity),
                })
                .to_string(),
            ),
        };
        // Another process on the same file may have been first: then it tells.
        if !store.record_escalation(&event)? {
            continue;
        }
        let n = notification(&incident, &due, target, status);
        let delivery = rt.block_on(notifier.send(&n));
        store.append_event(&NewEvent {
            at: Utc::now(),
            kind: "notification".into(),
            message: delivery.summary(),
            data: Some(
                serde_json::json!({ "escalation": true, "channels": delivery.channels, "errors": delivery.errors })
                    .to_string(),
            ),
            ..event
        })?;
        done.push(Escalated { environment: incident.environment.clone().unwrap_or_default(), message });
    }
    Ok(done)
}

/// When an incident's time box ran out.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Due {
    detected_at: DateTime<Utc>,
    time_box: std::time::Duration,
    at: DateTime<Utc>,
}

/// When `incident`'s time box ran out, if it has by `now` and the incident is
/// not validated yet. The time box runs from detection, or from opening when
/// nothing recorded a detection.
fn overdue(config: &Config, incident: &IncidentRow, milestones: &[MilestoneRow], now: DateTime<Utc>) -> Option<Due> {
    let reached = |m: Milestone| milestones.iter().find(|r| r.milestone == m).map(|r| r.at);
    if reached(Milestone::Validated).is_some() || reached(Milestone::Resolved).is_some() {
        return None;
    }
    let detected_at = reached(Milestone::Detected).unwrap_or(incident.opened_at);
    let time_box = config.escalation.time_box(incident.severity);
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

fn notification(incident: &IncidentRow, due: &Due, target: &str, status: &str) -> Notification {
    Notification {
        kind: NotificationKind::Escalation,
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
        group_key: format!("escalation:{}", incident.id),
        flag: None,
        detail: vec![
            ("Detected".into(), ts::format(due.detected_at)),
            ("Decision time box".into(), crate::text::format_duration(due.time_box)),
            ("Status".into(), status.to_string()),
            ("Escalated to".into(), target.to_string()),
        ],
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
        let detected = [milestone(Milestone::Detected, "2026-11-22T09:50:00.000Z")];
        // Critical: 15 minutes from detection (09:50), not from opening (10:00).
        let i = incident(Some(Severity::Critical));
        assert_eq!(overdue(&c, &i, &detected, at("2026-11-22T10:04:59.999Z")), None);
        let due = overdue(&c, &i, &detected, at("2026-11-22T10:05:00.000Z")).unwrap();
        assert_eq!(due.at, at("2026-11-22T10:05:00.000Z"));
        // Other severities keep the hour.
        let i = incident(Some(Severity::Feature));
        assert_eq!(overdue(&c, &i, &detected, at("2026-11-22T10:49:00.000Z")), None);
        assert!(overdue(&c, &i, &detected, at("2026-11-22T10:50:00.000Z")).is_some());
        // No detection recorded: from opening.
        assert!(overdue(&c, &i, &[], at("2026-11-22T10:59:00.000Z")).is_none());
        assert!(overdue(&c, &i, &[], at("2026-11-22T11:00:00.000Z")).is_some());
        // Validated in time: never escalated.
        let validated = [detected[0].clone(), milestone(Milestone::Validated, "2026-11-22T10:01:00.000Z")];
        assert_eq!(overdue(&c, &incident(Some(Severity::Critical)), &validated, at("2026-11-22T12:00:00.000Z")), None);
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
