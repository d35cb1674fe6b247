//! What the engine tells the console, `watch` and the timeline: one typed event,
//! turned into its timeline row and its `watch --format json` line by one
//! function each, so the three never disagree.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::rules::Evidence;
use super::sample::Sample;
use crate::drivers::Phase;
use crate::playbook::ColourState;
use crate::store::{NewEvent, RollbackRow};

/// Something the engine saw or did.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Environment name; empty for events about the engine itself.
    pub environment: String,
    /// What a person reads.
    pub message: String,
    /// What happened, with its details.
    pub what: Happened,
}

/// What happened, with the facts each kind carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Happened {
    /// Watching started for an environment.
    Watching,
    /// A signal was polled (console only).
    Sample {
        /// The signal.
        signal: String,
        /// The reading.
        sample: Sample,
        /// What a `drop` rule on the signal compares with, when it has one and
        /// it is known (see `EnvState::baseline`).
        baseline: Option<f64>,
    },
    /// The deployment status was read (console only).
    Status {
        /// Serving version.
        version: String,
        /// Serving colour.
        current_environment: Option<String>,
        /// Each colour.
        environments: BTreeMap<String, ColourState>,
    },
    /// The health reading changed.
    HealthChanged(Sample),
    /// The serving version changed.
    VersionChanged {
        /// Now serving.
        version: String,
    },
    /// A signal stopped answering.
    SignalStale,
    /// A stale signal answers again.
    SignalFresh(Sample),
    /// A rule started to hold.
    RuleFired(Evidence),
    /// It stopped holding.
    RuleCleared,
    /// An alert was raised.
    Alert,
    /// A rollback was proposed; it runs at `deadline` unless cancelled.
    RollbackProposed {
        /// When it runs.
        deadline: DateTime<Utc>,
        /// Why.
        evidence: Evidence,
    },
    /// A proposal was cancelled or dropped.
    RollbackCancelled,
    /// A rollback starts: a rule's (with its evidence) or an operator's.
    RollbackStarting(Option<Evidence>),
    /// The driver reached a phase.
    RollbackPhase(Phase),
    /// A rollback completed and was verified.
    RollbackCompleted(Box<RollbackRow>),
    /// A rollback ended failed, or could not run (`None`).
    RollbackFailed(Option<Box<RollbackRow>>),
    /// A rollback was not started after all.
    RollbackBlocked,
    /// The rollback a dry run would have started.
    DryRun(Evidence),
    /// A notification went out, or did not.
    Notification(Delivered),
    /// Automatic rollback paused or resumed.
    AutomaticChanged {
        /// On or off.
        on: bool,
    },
    /// An operator asked to clear the block a failed automatic rollback left
    /// (the message says whether there was one; the store records the clearing).
    AutomaticUnblocked,
    /// Every required checklist item of an open incident holds.
    Validated,
    /// The automatic checklist checks could not run.
    ChecklistError,
    /// An open incident's decision time box ran out: escalated (recorded once).
    Escalated,
    /// An open incident is past its recovery-time objective (recorded once).
    ObjectiveMissed,
    /// The Alertmanager receiver listens (the message says where).
    AlertsListening,
    /// An Alertmanager post was taken in (how many alerts started or resolved).
    AlertsReceived,
    /// An Alertmanager post was refused (bad payload, token, size).
    AlertsRefused,
    /// The Alertmanager receiver could not start (the message says why).
    AlertsDown,
    /// More than 1% of the last minute's polls came late (the message says
    /// how many and the longest gap).
    PollingBehind,
    /// A database write failed.
    StoreError,
    /// A rollback task ended abnormally.
    RollbackTaskFailed,
    /// `c` with nothing proposed (console only).
    NothingToCancel,
    /// `C` with nothing proposed (console only).
    NothingToConfirm,
    /// The reader fell behind: this many live samples and other events were not
    /// sent to it (see `engine::sink`).
    Lagging {
        /// Samples and status readings dropped.
        samples: u64,
        /// Other events dropped (they are in the database).
        events: u64,
    },
}

/// What a notification attempt produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delivered {
    /// The text sent.
    pub text: String,
    /// Channels that took it.
    pub channels: Vec<String>,
    /// Why others did not.
    pub errors: Vec<String>,
    /// The rollback it is about (start notices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_id: Option<i64>,
    /// Environment row id (start notices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_id: Option<i64>,
}

impl Happened {
    /// The kind's stable name (timeline rows, `watch` lines, docs/cli-json.md).
    pub fn kind(&self) -> &'static str {
        match self {
            Happened::Watching => "watching",
            Happened::Sample { .. } => "sample",
            Happened::Status { .. } => "status",
            Happened::HealthChanged(_) => "health_changed",
            Happened::VersionChanged { .. } => "version_changed",
            Happened::SignalStale => "signal_stale",
            Happened::SignalFresh(_) => "signal_fresh",
            Happened::RuleFired(_) => "rule_fired",
            Happened::RuleCleared => "rule_cleared",
            Happened::Alert => "alert",
            Happened::RollbackProposed { .. } => "rollback_proposed",
            Happened::RollbackCancelled => "rollback_cancelled",
            Happened::RollbackStarting(_) => "rollback_starting",
            Happened::RollbackPhase(_) => "rollback_phase",
            Happened::RollbackCompleted(_) => "rollback_completed",
            Happened::RollbackFailed(_) => "rollback_failed",
            Happened::RollbackBlocked => "rollback_blocked",
            Happened::DryRun(_) => "dry_run",
            Happened::Notification(_) => "notification",
            Happened::AutomaticChanged { .. } => "automatic_changed",
            Happened::AutomaticUnblocked => "automatic_unblocked",
            Happened::Validated => "validated",
            Happened::ChecklistError => "checklist_error",
            Happened::Escalated => "escalated",
            Happened::ObjectiveMissed => "objective_missed",
            Happened::AlertsListening => "alerts_listening",
            Happened::AlertsReceived => "alerts_received",
            Happened::AlertsRefused => "alerts_refused",
            Happened::AlertsDown => "alerts_down",
            Happened::PollingBehind => "polling_behind",
            Happened::StoreError => "store_error",
            Happened::RollbackTaskFailed => "rollback_task_failed",
            Happened::NothingToCancel => "nothing_to_cancel",
            Happened::NothingToConfirm => "nothing_to_confirm",
            Happened::Lagging { .. } => "lagging",
        }
    }

    /// The kind's details as documented (`null` for kinds without any).
    pub fn data(&self) -> Value {
        match self {
            Happened::Sample { signal, sample, baseline } => {
                json!({ "signal": signal, "sample": sample, "baseline": baseline })
            }
            Happened::Status { version, current_environment, environments } => {
                json!({ "version": version, "current_environment": current_environment, "environments": environments })
            }
            Happened::HealthChanged(s) | Happened::SignalFresh(s) => value(s),
            Happened::VersionChanged { version } => json!({ "version": version }),
            Happened::RuleFired(e) | Happened::DryRun(e) | Happened::RollbackStarting(Some(e)) => value(e),
            Happened::RollbackProposed { deadline, evidence } => json!({ "deadline": deadline, "evidence": evidence }),
            Happened::RollbackCompleted(row) | Happened::RollbackFailed(Some(row)) => value(row.as_ref()),
            Happened::Notification(d) => value(d),
            Happened::AutomaticChanged { on } => json!({ "on": on }),
            Happened::Lagging { samples, events } => json!({ "samples": samples, "events": events }),
            _ => Value::Null,
        }
    }

    /// Whether the timeline keeps it (console-only kinds are not recorded).
    pub fn recorded(&self) -> bool {
        !matches!(
            self,
            Happened::Sample { .. }
                | Happened::Status { .. }
                | Happened::NothingToCancel
                | Happened::NothingToConfirm
                | Happened::Watching
                | Happened::Lagging { .. }
                | Happened::AutomaticUnblocked
        )
    }
}

impl EngineEvent {
    /// An event now.
    pub fn now(environment: &str, message: impl Into<String>, what: Happened) -> EngineEvent {
        EngineEvent { at: Utc::now(), environment: environment.to_string(), message: message.into(), what }
    }

    /// The kind's stable name.
    pub fn kind(&self) -> &'static str {
        self.what.kind()
    }

    /// The event's timeline row.
    pub fn to_row(&self, environment_id: Option<i64>, actor: &str) -> NewEvent {
        let data = self.what.data();
        // A rollback's end names its rollback; the incident's own record of it
        // is the store's (written when the rollback finished), so it is not
        // filed under the incident twice.
        let row = match &self.what {
            Happened::RollbackCompleted(r) | Happened::RollbackFailed(Some(r)) => Some(r),
            _ => None,
        };
        NewEvent {
            at: self.at,
            incident_id: None,
            environment_id,
            rollback_id: row.map(|r| r.id),
            actor: actor.to_string(),
            kind: self.kind().to_string(),
            message: self.message.clone(),
            data: (!data.is_null()).then(|| data.to_string()),
        }
    }
}

/// The `watch --format json` line: `{ at, environment, kind, message, data }`.
impl Serialize for EngineEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("EngineEvent", 5)?;
        st.serialize_field("at", &self.at)?;
        st.serialize_field("environment", &self.environment)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("message", &self.message)?;
        st.serialize_field("data", &self.what.data())?;
        st.end()
    }
}

/// A value as JSON; these types always serialize.
fn value<T: Serialize + ?Sized>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_json_line_and_the_row_carry_the_same_kind_and_data() {
        let at: DateTime<Utc> = "2026-11-22T00:53:17.419Z".parse().unwrap();
        let e = EngineEvent {
            at,
            environment: "checkout".into(),
            message: "now serving 1.4.3".into(),
            what: Happened::VersionChanged { version: "1.4.3".into() },
        };
        let line: Value = serde_json::to_value(&e).unwrap();
        assert_eq!(
            line,
            json!({ "at": "2026-11-22T00:53:17.419Z", "environment": "checkout", "kind": "version_changed",
                    "message": "now serving 1.4.3", "data": { "version": "1.4.3" } })
        );
        let row = e.to_row(Some(7), "backout");
        assert_eq!((row.kind.as_str(), row.environment_id), ("version_changed", Some(7)));
        assert_eq!(serde_json::from_str::<Value>(row.data.as_deref().unwrap()).unwrap(), line["data"]);
        let phase = EngineEvent { what: Happened::RollbackPhase(Phase::Requested), ..e };
        assert_eq!(serde_json::to_value(&phase).unwrap()["data"], Value::Null);
        assert!(phase.to_row(None, "x").data.is_none());
    }
}
