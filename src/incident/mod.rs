//! Incidents end to end: severity and objective, milestones, runbooks, the
//! self-checking validation checklist, the post-incident export and drills.
//!
//! Every function here blocks (SQLite, and HTTP through a runtime handle); the
//! console calls them from a worker, never from a draw function or key handler.

pub mod checklist;
pub mod drill;
pub mod export;
pub mod runbook;

use std::time::Duration;

use chrono::{DateTime, Utc};
use color_eyre::eyre::{Result, eyre};
use serde::Serialize;

use crate::config::{EnvironmentConfig, SeverityObjectives};
use crate::store::{IncidentFields, IncidentRow, MilestoneRow, Store};

pub use crate::domain::{Milestone, Severity};
pub use checklist::{ItemState, checklist_state, evaluate_checklist, tick_item, untick_item, waive_item};
pub use runbook::{Runbook, RunbookView, StepState, StepView};

// The objectives come from the config, so they live here rather than in domain.
impl Severity {
    /// This severity's recovery-time objective.
    pub fn objective(self, o: &SeverityObjectives) -> Duration {
        match self {
            Severity::Critical => o.critical.get(),
            Severity::Performance => o.performance.get(),
            Severity::Feature => o.feature.get(),
            Severity::NonCritical => o.non_critical.get(),
        }
    }

    /// The tightest severity whose objective allows `rto` (an environment's
    /// `recovery_time_objective`); non-critical when none is that loose.
    pub fn for_objective(rto: Duration, o: &SeverityObjectives) -> Severity {
        Severity::ALL.into_iter().find(|s| rto <= s.objective(o)).unwrap_or(Severity::NonCritical)
    }
}

/// Who or what noticed the problem, and when: the first breach of the rule that
/// fired, or the moment a person said so.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// When.
    pub at: DateTime<Utc>,
    /// `rule:...` or the person.
    pub by: String,
}

impl Detection {
    /// A person noticed it now.
    pub fn now(by: &str) -> Detection {
        Detection { at: Utc::now(), by: by.to_string() }
    }
}

/// What is given when opening an incident.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    /// Title.
    pub title: String,
    /// Severity; derived from the environment's objective when `None`.
    pub severity: Option<Severity>,
    /// A drill, not a real incident.
    pub drill: bool,
    /// Who opens it.
    pub by: String,
    /// Customer impact assessment.
    pub impact: Option<String>,
    /// Runbook file name; the environment's `runbook` when `None`.
    pub runbook: Option<String>,
    /// The detection to record (drills leave it to the rule that fires).
    pub detected: Option<Detection>,
}

/// Opens an incident on `env` (or on no environment), with its severity and
/// objective (from `objectives`, the config's `[severities]`), and records its
/// detection (with the impact start it implies) when given.
pub fn open(
    store: &mut Store,
    objectives: &SeverityObjectives,
    env: Option<&EnvironmentConfig>,
    req: &OpenRequest,
) -> Result<IncidentRow> {
    let env_id = match env {
        Some(e) => Some(store.ensure_environment(e.name(), e.kind.as_str(), e.base_url.get_ref())?),
        None => None,
    };
    let (severity, objective) = match (req.severity, env) {
        (Some(s), _) => (s, s.objective(objectives)),
        (None, Some(e)) => {
            let rto = e.recovery_time_objective.get();
            (Severity::for_objective(rto, objectives), rto)
        }
        (None, None) => (Severity::Critical, Severity::Critical.objective(objectives)),
    };
    let row = store.open_incident(env_id, &req.title, severity, req.drill, &req.by)?;
    store.update_incident_fields(
        row.id,
        &IncidentFields {
            objective_ms: Some(i64::try_from(objective.as_millis()).unwrap_or(i64::MAX)),
            runbook: req.runbook.clone().or_else(|| env.and_then(|e| e.runbook.clone())),
            impact: req.impact.clone(),
            root_cause: None,
            prevention: None,
            lessons: None,
        },
    )?;
    if let Some(d) = &req.detected {
        record_detection(store, row.id, d)?;
    }
    Ok(row)
}

/// Records `detected` (once: the first detection wins) and, with it, the impact
/// start: the newest deploy of the environment at or before the detection, the
/// one the incident is about. Nothing older is ever taken.
pub fn record_detection(store: &mut Store, incident_id: i64, d: &Detection) -> Result<bool> {
    if !store.set_milestone(incident_id, Milestone::Detected, d.at, &d.by)? {
        return Ok(false);
    }
    if let Some(env_id) = store.incident_environment_id(incident_id)? {
        let newest = store
            .deployments(env_id)?
            .into_iter()
            .map(|dep| (dep.deployed_at, dep.version))
            .filter(|(at, _)| *at <= d.at)
            .max_by_key(|(at, _)| *at);
        if let Some((at, version)) = newest {
            store.set_milestone(incident_id, Milestone::ImpactStarted, at, &format!("deploy of {version}"))?;
        }
    }
    Ok(true)
}

/// What a person records when closing an incident.
#[derive(Debug, Clone, Default)]
pub struct CloseDetails {
    /// Customer impact assessment.
    pub impact: Option<String>,
    /// Root cause.
    pub root_cause: Option<String>,
    /// Prevention measures.
    pub prevention: Option<String>,
    /// Lessons learned.
    pub lessons: Option<String>,
}

/// Closes an open incident and records `resolved`. `Ok(false)` when it was not open.
pub fn close(store: &mut Store, id: i64, by: &str, details: &CloseDetails) -> Result<bool> {
    if store.incident(id)?.is_none() {
        return Err(eyre!("there is no incident #{id}; `backout incident list` lists them"));
    }
    store.update_incident_fields(
        id,
        &IncidentFields {
            objective_ms: None,
            runbook: None,
            impact: details.impact.clone(),
            root_cause: details.root_cause.clone(),
            prevention: details.prevention.clone(),
            lessons: details.lessons.clone(),
        },
    )?;
    if !store.close_incident(id, by)? {
        return Ok(false);
    }
    store.set_milestone(id, Milestone::Resolved, Utc::now(), by)?;
    Ok(true)
}

/// Records post-incident fields of an incident, open or closed, without
/// closing it (a root cause known before the incident ends, lessons learned
/// after it), with a timeline event naming what was set. A field not given is
/// left as it is. `Ok(false)` when nothing was given.
pub fn update(store: &mut Store, id: i64, by: &str, details: &CloseDetails) -> Result<bool> {
    if store.incident(id)?.is_none() {
        return Err(eyre!("there is no incident #{id}; `backout incident list` lists them"));
    }
    let given: Vec<(&str, &str)> = [
        ("impact", &details.impact),
        ("root cause", &details.root_cause),
        ("prevention", &details.prevention),
        ("lessons learned", &details.lessons),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    .collect();
    if given.is_empty() {
        return Ok(false);
    }
    store.update_incident_fields(
        id,
        &IncidentFields {
            impact: details.impact.clone(),
            root_cause: details.root_cause.clone(),
            prevention: details.prevention.clone(),
            lessons: details.lessons.clone(),
            ..IncidentFields::default()
        },
    )?;
    let what: Vec<String> = given.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    store.append_event(&crate::store::NewEvent {
        at: Utc::now(),
        incident_id: Some(id),
        environment_id: store.incident_environment_id(id)?,
        rollback_id: None,
        actor: by.to_string(),
        kind: "incident_updated".into(),
        message: format!("incident #{id} recorded {}", what.join("; ")),
        data: None,
    })?;
    Ok(true)
}

/// Times between milestones, and how they compare with the objective.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Durations {
    /// Impact started to detected.
    pub time_to_detect_ms: Option<i64>,
    /// Detected to rollback completed.
    pub time_to_mitigate_ms: Option<i64>,
    /// Rollback completed to validated.
    pub time_to_validate_ms: Option<i64>,
    /// Detected to validated: the recovery the objective is about.
    pub time_to_recover_ms: Option<i64>,
    /// The recovery-time objective.
    pub objective_ms: Option<i64>,
    /// Mitigated within the objective (`None` until both are known).
    pub mitigated_within_objective: Option<bool>,
    /// Recovered (validated) within the objective.
    pub recovered_within_objective: Option<bool>,
}

/// The time of a milestone, if recorded.
pub fn milestone_at(rows: &[MilestoneRow], m: Milestone) -> Option<DateTime<Utc>> {
    rows.iter().find(|r| r.milestone == m).map(|r| r.at)
}

/// The durations the milestones give.
pub fn durations(rows: &[MilestoneRow], objective_ms: Option<i64>) -> Durations {
    let at = |m| milestone_at(rows, m);
    // A span whose end was recorded before its start is unknown, never negative.
    let between = |a, b| match (at(a), at(b)) {
        (Some(a), Some(b)) if b >= a => Some((b - a).num_milliseconds()),
        _ => None,
    };
    let mitigate = between(Milestone::Detected, Milestone::RollbackCompleted);
    let recover = between(Milestone::Detected, Milestone::Validated);
    let within = |d: Option<i64>| Some(d? <= objective_ms?);
    Durations {
        time_to_detect_ms: between(Milestone::ImpactStarted, Milestone::Detected),
        time_to_mitigate_ms: mitigate,
        time_to_validate_ms: between(Milestone::RollbackCompleted, Milestone::Validated),
        time_to_recover_ms: recover,
        objective_ms,
        mitigated_within_objective: within(mitigate),
        recovered_within_objective: within(recover),
    }
}

/// One incident as `incident show` and the console present it.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentSummary {
    /// The incident.
    #[serde(flatten)]
    pub incident: IncidentRow,
    /// Objective, runbook and post-incident fields.
    #[serde(flatten)]
    pub fields: IncidentFields,
    /// Milestones, in time order.
    pub milestones: Vec<MilestoneRow>,
    /// Times between them.
    pub durations: Durations,
    /// Follow-up actions, oldest first.
    pub actions: Vec<crate::store::FollowUpAction>,
}

/// Reads one incident with its milestones, as recorded when they happened.
pub fn show(store: &Store, id: i64) -> Result<Option<IncidentSummary>> {
    let Some(incident) = store.incident(id)? else { return Ok(None) };
    let milestones = store.milestones(id)?;
    let fields = store.incident_fields(id)?.unwrap_or_default();
    let durations = durations(&milestones, fields.objective_ms);
    let actions = store.actions(Some(id))?;
    Ok(Some(IncidentSummary { incident, fields, milestones, durations, actions }))
}

pub use crate::text::human_ms;

/// The notice of a validated incident: it resolves the incident's page.
fn validated_notice(incident: &crate::store::IncidentRow, reason: String) -> crate::notify::Notification {
    crate::notify::Notification {
        kind: crate::notify::NotificationKind::Validated,
        environment: incident.environment.clone().unwrap_or_default(),
        colour: None,
        from_version: None,
        target_version: None,
        reason,
        impact: "unknown".into(),
        duration: None,
        error: None,
        actor: "backout".into(),
        drill: incident.drill,
        group_key: format!("validated:{}", incident.id),
        flag: None,
        severity: incident.severity,
        incident_id: Some(incident.id),
        detail: Vec::new(),
    }
}

/// Tells the channels an incident validated (PagerDuty resolves its page;
/// the others are not told) and records where it went, when anywhere. Called
/// by whatever validated it: the engine's checks, a tick or waiver by hand.
pub fn announce_validated(
    rt: &tokio::runtime::Handle,
    store: &mut Store,
    notifier: &crate::notify::Notifier,
    incident_id: i64,
    reason: &str,
) -> Result<()> {
    let Some(incident) = store.incident(incident_id)? else { return Ok(()) };
    let delivery = rt.block_on(notifier.send(&validated_notice(&incident, reason.to_string())));
    if delivery.channels.is_empty() && delivery.errors.is_empty() {
        return Ok(());
    }
    let env_id = store.incident_environment_id(incident_id)?;
    store.append_event(&crate::store::NewEvent {
        at: Utc::now(),
        incident_id: Some(incident_id),
        environment_id: env_id,
        rollback_id: None,
        actor: "backout".into(),
        kind: "notification".into(),
        message: delivery.summary(),
        data: Some(
            serde_json::json!({ "validated": true, "channels": delivery.channels, "errors": delivery.errors })
                .to_string(),
        ),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_seed_objectives() {
        let o = SeverityObjectives::default();
        assert_eq!(Severity::Critical.objective(&o), Duration::from_secs(120));
        assert_eq!(Severity::NonCritical.objective(&o), Duration::from_secs(1800));
        assert_eq!(Severity::for_objective(Duration::from_secs(120), &o), Severity::Critical);
        assert_eq!(Severity::for_objective(Duration::from_secs(121), &o), Severity::Performance);
        assert_eq!(Severity::for_objective(Duration::from_secs(15 * 60), &o), Severity::Feature);
        assert_eq!(Severity::for_objective(Duration::from_secs(3600), &o), Severity::NonCritical);
        assert_eq!(Severity::parse("non-critical"), Some(Severity::NonCritical));
    }

    #[test]
    fn severity_objectives_are_configurable() {
        let text = "[severities]\ncritical = \"1m\"\nnon-critical = \"1h\"\n";
        let c =
            crate::config::Config::from_toml(text, std::path::Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Severity::Critical.objective(&c.severities), Duration::from_secs(60));
        assert_eq!(Severity::Performance.objective(&c.severities), Duration::from_secs(300));
        assert_eq!(Severity::NonCritical.objective(&c.severities), Duration::from_secs(3600));
    }

    #[test]
    fn durations_compare_with_the_objective() {
        let row = |m: Milestone, at: &str| MilestoneRow {
            milestone: m,
            at: crate::domain::ts::parse(at).unwrap(),
            actor: "t".into(),
        };
        let rows = vec![
            row(Milestone::ImpactStarted, "2026-01-01T00:00:00.000Z"),
            row(Milestone::Detected, "2026-01-01T00:00:30.000Z"),
            row(Milestone::RollbackCompleted, "2026-01-01T00:01:00.000Z"),
            row(Milestone::Validated, "2026-01-01T00:03:00.000Z"),
        ];
        let d = durations(&rows, Some(120_000));
        assert_eq!(d.time_to_detect_ms, Some(30_000));
        assert_eq!(d.time_to_mitigate_ms, Some(30_000));
        assert_eq!(d.time_to_validate_ms, Some(120_000));
        assert_eq!(d.time_to_recover_ms, Some(150_000));
        assert_eq!(d.mitigated_within_objective, Some(true));
        assert_eq!(d.recovered_within_objective, Some(false));
    }
}
