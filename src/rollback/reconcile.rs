//! Rollbacks left unfinished by a process that stopped, ended from what the
//! service now shows.

use chrono::Utc;
use color_eyre::eyre::Result;
use tokio::runtime::Handle;

use super::read_service;
use crate::config::EnvironmentConfig;
use crate::playbook::Health;
use crate::store::{NewEvent, RollbackRow, RollbackStatus, Store, host_name};

/// Whether a rollback started recently enough that its driver would still be
/// waiting for the target to become healthy.
fn still_verifying(row: &RollbackRow, env: &EnvironmentConfig, now: chrono::DateTime<Utc>) -> bool {
    now < verifying_until(row.started_at, env)
}

/// Until when a rollback started at `started` may still be verifying.
pub(crate) fn verifying_until(started: chrono::DateTime<Utc>, env: &EnvironmentConfig) -> chrono::DateTime<Utc> {
    crate::domain::ts::after(started, env.driver.verify_timeout.get())
}

/// Ends rollbacks of an environment left `pending` or `in_progress` by a process
/// that died (or whose lease ran out), according to what the service now shows.
pub fn reconcile(rt: &Handle, store: &mut Store, env: &EnvironmentConfig, env_id: i64) -> Result<Vec<RollbackRow>> {
    let host = host_name();
    let now = Utc::now();
    let abandoned: Vec<_> = store
        .unfinished_rollbacks(env_id)?
        .into_iter()
        .filter(|(_, holder)| holder.as_ref().is_none_or(|h| h.is_stale(&host, now)))
        .collect();
    if abandoned.is_empty() {
        return Ok(Vec::new());
    }
    let (status, health) = read_service(rt, env);
    let mut out = Vec::new();
    for (row, holder) in abandoned {
        let who = holder.map_or_else(|| format!("pid {} on {}", row.holder_pid, row.holder_host), |h| h.holder);
        let seen = match (&status, &health) {
            (Ok(s), Ok(h)) => Ok((s.version.clone(), h.health)),
            (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
        };
        let (result, explanation) = match (row.status, &seen) {
            (RollbackStatus::Pending, _) => {
                (RollbackStatus::Failed, format!("interrupted before the rollback request was sent ({who} stopped)"))
            }
            (_, Ok((version, Health::Healthy)))
                if row
                    .target_version
                    .as_deref()
                    .map_or(Some(version) != row.from_version.as_ref(), |t| t == version) =>
            {
                (
                    RollbackStatus::Completed,
                    format!("{who} stopped mid-rollback; the service now shows {version} current and healthy"),
                )
            }
            // The dead process would still be verifying: give the service the
            // same time it would have had, and decide on a later run.
            (_, Ok(_) | Err(_)) if still_verifying(&row, env, now) => continue,
            (_, Ok((version, h))) => (
                RollbackStatus::Failed,
                format!("interrupted ({who} stopped); the service now shows version {version}, health {h}"),
            ),
            (_, Err(e)) => (
                RollbackStatus::Failed,
                format!(
                    "interrupted ({who} stopped) and the service could not be read to confirm ({e}); check it by hand"
                ),
            ),
        };
        store.append_event(&NewEvent {
            at: Utc::now(),
            incident_id: row.incident_id,
            environment_id: Some(env_id),
            rollback_id: Some(row.id),
            actor: "backout".into(),
            kind: "rollback_reconciled".into(),
            message: format!("rollback #{} reconciled: {explanation}", row.id),
            data: None,
        })?;
        // An automatic rollback whose request went out and did not get there
        // is blocked, as if its own process had seen it fail.
        out.push(match (result, row.status) {
            (RollbackStatus::Failed, RollbackStatus::InProgress) => {
                store.fail_rollback_after_request(row.id, &explanation, "backout")?
            }
            (RollbackStatus::Failed, _) => store.finish_rollback(row.id, result, Some(&explanation), "backout")?,
            _ => store.finish_rollback(row.id, result, None, "backout")?,
        });
    }
    Ok(out)
}
