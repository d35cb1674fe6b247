//! The one fold of engine events into an environment's view. The live console
//! applies each event as the engine sends it; review applies the recorded
//! events, turned back into the same typed events, up to the position shown.

use chrono::{DateTime, Utc};

use super::model::{EnvView, InFlight, SPARK_POINTS};
use crate::drivers::Phase;
use crate::engine::{Delivered, Happened};
use crate::playbook::Health;
use crate::store::{RollbackRow, TimelineEvent};

/// A sample as its sparkline keeps it: the value of a good reading, or
/// [`FAILED`] for a failed one (a failed poll, a health check that was not
/// healthy), which the sparkline draws as a mark of its own, never as a bar.
pub fn point(sample: &crate::engine::Sample) -> f64 {
    match (sample.ok, sample.value) {
        (true, Some(v)) if v.is_finite() => v,
        // Answered with nothing to read: a gap, not a failure.
        (true, None) => NO_DATA_POINT,
        _ => FAILED,
    }
}

/// A failed sample in a sparkline's values (NaN: no reading is ever NaN,
/// non-finite readings are failed samples).
pub const FAILED: f64 = f64::NAN;

/// A sample with no data (a query that matched no series) in a sparkline's
/// values: drawn as a gap mark, counted neither as a value nor a failure.
pub const NO_DATA_POINT: f64 = f64::NEG_INFINITY;

/// Applies one event that happened at `at` to `env`.
pub fn apply(env: &mut EnvView, at: DateTime<Utc>, message: &str, what: &Happened) {
    env.last_seen = Some(at);
    match what {
        Happened::Sample { signal, sample, baseline } => {
            if signal == "health" {
                env.health = health_of(sample.text.as_deref());
            }
            env.stale = false;
            if let Some(sig) = env.signals.iter_mut().find(|s| &s.name == signal) {
                if sig.values.len() == SPARK_POINTS {
                    sig.values.pop_front();
                }
                sig.values.push_back(point(sample));
                sig.latest = Some(sample.clone());
                sig.baseline = *baseline;
            }
        }
        Happened::HealthChanged(sample) => env.health = health_of(sample.text.as_deref()),
        Happened::Status { version, current_environment, .. } => {
            env.version = Some(version.clone());
            env.colour = current_environment.clone();
        }
        Happened::VersionChanged { version } => env.version = Some(version.clone()),
        Happened::SignalStale => env.stale = true,
        Happened::SignalFresh(_) => env.stale = false,
        Happened::RollbackProposed { deadline, .. } => env.proposal = Some((*deadline, message.to_string())),
        Happened::RollbackCancelled => env.proposal = None,
        Happened::RollbackStarting(_) => {
            env.proposal = None;
            env.in_flight = Some(InFlight { phase: Phase::Requested.as_str().into(), since: at });
        }
        Happened::RollbackPhase(phase) => {
            let since = env.in_flight.as_ref().map_or(at, |f| f.since);
            env.in_flight = Some(InFlight { phase: phase.as_str().into(), since });
        }
        Happened::RollbackCompleted(row) => {
            env.in_flight = None;
            if let Some(v) = &row.target_version {
                env.version = Some(v.clone());
            }
        }
        Happened::RollbackFailed(_) | Happened::RollbackBlocked => env.in_flight = None,
        Happened::AutomaticChanged { on } => env.automatic = *on,
        _ => {}
    }
}

/// A health word from a health sample; anything else (a failed read) is unknown.
fn health_of(text: Option<&str>) -> Option<Health> {
    text.and_then(|t| serde_json::from_value(t.into()).ok())
}

/// Whether the status bar repeats the event's message.
pub fn announces(what: &Happened) -> bool {
    matches!(
        what,
        Happened::RuleFired(_)
            | Happened::Alert
            | Happened::RollbackProposed { .. }
            | Happened::RollbackStarting(_)
            | Happened::RollbackCompleted(_)
            | Happened::RollbackFailed(_)
            | Happened::RollbackBlocked
            | Happened::AutomaticUnblocked
            | Happened::RollbackCancelled
            | Happened::VersionChanged { .. }
            | Happened::SignalStale
            | Happened::DryRun(_)
            | Happened::Validated
            | Happened::ChecklistError
            | Happened::Escalated
            | Happened::ObjectiveMissed
            | Happened::AlertsRefused
            | Happened::AlertsDown
            | Happened::PollingBehind
    )
}

/// A recorded timeline row as the event it records, for review. Rows of kinds
/// the fold does not follow give `None`; a rollback's end is completed from
/// its stored row (the store records it without details).
pub fn from_row(row: &TimelineEvent, rollbacks: &[RollbackRow]) -> Option<Happened> {
    let data: serde_json::Value =
        row.data.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or(serde_json::Value::Null);
    let rollback = || {
        let id = row.rollback_id.or_else(|| data["id"].as_i64())?;
        rollbacks.iter().find(|r| r.id == id).cloned().map(Box::new)
    };
    let sample = || serde_json::from_value(data.clone()).ok();
    Some(match row.kind.as_str() {
        "health_changed" => Happened::HealthChanged(sample()?),
        "signal_fresh" => Happened::SignalFresh(sample()?),
        "signal_stale" => Happened::SignalStale,
        "version_changed" => Happened::VersionChanged { version: data["version"].as_str()?.to_string() },
        "rollback_proposed" => Happened::RollbackProposed {
            deadline: data["deadline"].as_str()?.parse().ok()?,
            evidence: serde_json::from_value(data["evidence"].clone()).ok()?,
        },
        "rollback_cancelled" => Happened::RollbackCancelled,
        // Started by a rule or by hand; the store's own `rollback_requested` row
        // marks the start of rollbacks run outside an engine (the CLI).
        "rollback_starting" | "rollback_requested" => Happened::RollbackStarting(None),
        "rollback_phase" => Happened::RollbackPhase(phase_named(row.message.rsplit(": ").next()?)?),
        "rollback_completed" => Happened::RollbackCompleted(rollback()?),
        "rollback_failed" => Happened::RollbackFailed(rollback()),
        "rollback_blocked" => Happened::RollbackBlocked,
        "automatic_changed" => Happened::AutomaticChanged { on: data["on"].as_bool()? },
        "notification" => Happened::Notification(Delivered::default()),
        _ => return None,
    })
}

fn phase_named(name: &str) -> Option<Phase> {
    [Phase::Requested, Phase::Switching, Phase::VerifyingHealth].into_iter().find(|p| p.as_str() == name)
}
