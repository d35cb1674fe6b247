//! Rollback records and the per-environment lock that keeps one in flight.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use super::{Result, Store, opt_time_at, process_alive, time_at, ts, word_at};
use crate::domain::{FlagChange, RollbackStatus, RollbackTrigger, RollbackType};

/// What is known when a rollback is asked for.
#[derive(Debug, Clone)]
pub struct NewRollback {
    /// Environment row id.
    pub environment_id: i64,
    /// Incident it belongs to.
    pub incident_id: Option<i64>,
    /// The deployment being rolled back, when known.
    pub deployment_id: Option<i64>,
    /// Version serving when the rollback was asked for.
    pub from_version: Option<String>,
    /// Version it should end on.
    pub target_version: Option<String>,
    /// How the target was chosen.
    pub rollback_type: RollbackType,
    /// What started it.
    pub trigger: RollbackTrigger,
    /// Person, or the rule's name for automatic ones.
    pub operator: String,
    /// Why.
    pub reason: String,
    /// Driver name (`http`, `command`, `flag`).
    pub driver: String,
    /// How long the lock holds before another process may assume this one died.
    pub lease: chrono::Duration,
    /// For an automatic rollback, its environment's cooldown: it is refused
    /// while another rollback of the environment ended less than this ago, or
    /// while a failed automatic rollback of the same deployment, from and to
    /// is blocked. `None` for a person's rollback.
    pub automatic_cooldown: Option<chrono::Duration>,
    /// The pending request this rollback carries out and the different
    /// operator approving it (`approvals = 2`); claimed in the same
    /// transaction that takes the lock.
    pub approval: Option<(i64, String)>,
}

/// A stored rollback.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackRow {
    /// Row id.
    pub id: i64,
    /// Environment name.
    pub environment: String,
    /// Incident id.
    pub incident_id: Option<i64>,
    /// Version rolled back from.
    pub from_version: Option<String>,
    /// Version rolled back to.
    pub target_version: Option<String>,
    /// Type.
    #[serde(rename = "type")]
    pub rollback_type: RollbackType,
    /// Trigger.
    pub trigger: RollbackTrigger,
    /// Status.
    pub status: RollbackStatus,
    /// Who.
    pub operator: String,
    /// Why.
    pub reason: String,
    /// Driver.
    pub driver: String,
    /// What went wrong.
    pub error: Option<String>,
    /// When it started.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub started_at: DateTime<Utc>,
    /// When it ended.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Duration in milliseconds, once ended.
    pub duration_ms: Option<i64>,
    /// Whether a notification went out.
    pub notification_sent: bool,
    /// Host of the process that ran it.
    pub holder_host: String,
    /// Pid of the process that ran it.
    pub holder_pid: i64,
    /// The feature flag it changed, for a flag rollback (the serving version
    /// then stays as it was: `target_version` equals `from_version`).
    pub flag: Option<FlagChange>,
    /// The second operator who approved it (`approvals = 2`).
    pub approved_by: Option<String>,
}

/// Why a rollback could not be begun.
#[derive(Debug, Clone, PartialEq)]
pub enum BeginRefused {
    /// Another rollback of the environment holds the lock.
    LockHeld(LockHolder),
    /// Another rollback of the environment ended after the plan was made.
    FinishedSincePlan {
        /// That rollback.
        rollback_id: i64,
        /// When it ended.
        completed_at: DateTime<Utc>,
    },
    /// Another process held the database's write lock for the whole busy
    /// timeout: nothing was recorded and nothing may be sent.
    Busy,
    /// An automatic rollback of the same `from → to` already failed.
    Blocked(super::AutomaticBlock),
    /// The request it carries out may not run (already decided, or the
    /// approver planned it): why.
    Approval(String),
    /// An automatic rollback within the cooldown after another rollback.
    Cooldown {
        /// The rollback that ended last.
        rollback_id: i64,
        /// When the cooldown ends.
        until: DateTime<Utc>,
    },
}

/// Who holds an environment's rollback lock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockHolder {
    /// The rollback in flight.
    pub rollback_id: i64,
    /// `operator@host pid N`.
    pub holder: String,
    /// Host.
    pub host: String,
    /// Pid.
    pub pid: i64,
    /// Since when.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub acquired_at: DateTime<Utc>,
    /// Lease end.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub expires_at: DateTime<Utc>,
}

impl LockHolder {
    /// The holder is gone: its process died on this host, or its lease ran out.
    pub fn is_stale(&self, this_host: &str, now: DateTime<Utc>) -> bool {
        let expired = self.expires_at < now;
        let dead = self.host == this_host && !process_alive(self.pid);
        expired || dead
    }
}

const ROLLBACK_COLUMNS: &str = "r.id, e.name, r.incident_id, r.from_version, r.target_version, r.rollback_type,
     r.trigger, r.status, r.operator, r.reason, r.driver, r.error, r.started_at, r.completed_at,
     r.notification_sent, r.holder_host, r.holder_pid, r.flag_key, r.flag_before, r.flag_after, r.flag_location, r.approved_by";

fn rollback_row(r: &Row<'_>) -> rusqlite::Result<RollbackRow> {
    let started_at = time_at(r, 12, "rollbacks")?;
    let completed_at = opt_time_at(r, 13, "rollbacks")?;
    let duration_ms = completed_at.map(|end| (end - started_at).num_milliseconds());
    Ok(RollbackRow {
        id: r.get(0)?,
        environment: r.get(1)?,
        incident_id: r.get(2)?,
        from_version: r.get(3)?,
        target_version: r.get(4)?,
        rollback_type: word_at(r, 5, "rollbacks")?,
        trigger: word_at(r, 6, "rollbacks")?,
        status: word_at(r, 7, "rollbacks")?,
        operator: r.get(8)?,
        reason: r.get(9)?,
        driver: r.get(10)?,
        error: r.get(11)?,
        started_at,
        completed_at,
        duration_ms,
        notification_sent: r.get(14)?,
        holder_host: r.get(15)?,
        holder_pid: r.get(16)?,
        flag: match r.get::<_, Option<String>>(17)? {
            Some(key) => Some(FlagChange {
                key,
                before: r.get(18)?,
                after: r.get::<_, Option<String>>(19)?.unwrap_or_default(),
                location: r.get::<_, Option<String>>(20)?.unwrap_or_default(),
            }),
            None => None,
        },
        approved_by: r.get(21)?,
    })
}

impl Store {
    /// When the newest completed rollback of environment `env_id` that changed
    /// flag `key` turned it off, and its incident has no root cause recorded:
    /// that rollback's id and its incident's (seed 002: a flag a rollback
    /// turned off stays off through backout until the cause is known).
    pub fn flag_off_awaiting_root_cause(&self, env_id: i64, key: &str) -> Result<Option<(i64, i64)>> {
        // The rollback, its incident, the flag's value after it, the incident's root cause.
        type Found = (i64, Option<i64>, Option<String>, Option<String>);
        let row: Option<Found> = self
            .conn
            .query_row(
                "SELECT r.id, r.incident_id, r.flag_after, i.root_cause
                 FROM rollbacks r LEFT JOIN incidents i ON i.id = r.incident_id
                 WHERE r.environment_id = ?1 AND r.flag_key = ?2 AND r.status = 'completed'
                 ORDER BY r.id DESC LIMIT 1",
                params![env_id, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        Ok(match row {
            Some((rollback, Some(incident), after, cause))
                if !after.as_deref().is_some_and(crate::domain::flag_is_on)
                    && cause.as_deref().is_none_or(|c| c.trim().is_empty()) =>
            {
                Some((rollback, incident))
            }
            _ => None,
        })
    }

    /// Records a new rollback and takes the environment's lock, in one immediate
    /// transaction, so two processes on one file cannot both start one.
    /// `Ok(Err(holder))` when someone else holds it.
    pub fn begin_rollback(
        &mut self,
        new: &NewRollback,
        planned_at: DateTime<Utc>,
    ) -> Result<std::result::Result<RollbackRow, BeginRefused>> {
        self.durably(|conn| {
            let now = Utc::now();
            let host = super::host_name();
            let pid = i64::from(std::process::id());
            // Waiting out another writer is the busy timeout's job; past it, the
            // rollback is refused (it never started), not failed.
            let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
                Ok(tx) => tx,
                Err(e) if super::is_busy(&e) => return Ok(Err(BeginRefused::Busy)),
                Err(e) => return Err(e.into()),
            };
            if let Some(holder) = lock_holder(&tx, new.environment_id)? {
                return Ok(Err(BeginRefused::LockHeld(holder)));
            }
            // Under the same write lock, so two engines on one file cannot both
            // slip past a block or a cooldown.
            if let Some(refused) = super::blocks::automatic_refusal(&tx, new)? {
                return Ok(Err(refused));
            }
            // A plan made before another rollback of this environment ended is a guess
            // about a service that has since changed; checked under the same write
            // lock that takes the rollback lock, so no rollback can slip in between.
            let since: Option<(i64, DateTime<Utc>)> = tx
                .query_row(
                    "SELECT id, completed_at FROM rollbacks WHERE environment_id = ?1 AND completed_at >= ?2
                     ORDER BY completed_at DESC LIMIT 1",
                    params![new.environment_id, ts(planned_at)],
                    |r| Ok((r.get(0)?, time_at(r, 1, "rollbacks")?)),
                )
                .optional()?;
            if let Some((rollback_id, completed_at)) = since {
                return Ok(Err(BeginRefused::FinishedSincePlan { rollback_id, completed_at }));
            }
            // The request it carries out, checked under the same write lock:
            // what the check ended (an expired request) is kept.
            if let Some((request, approver)) = &new.approval
                && let Some(why) =
                    super::requests::unclaimable(&tx, *request, approver, now, super::REQUEST_EXPIRES)?
            {
                tx.commit()?;
                return Ok(Err(BeginRefused::Approval(why)));
            }
            tx.execute(
                "INSERT INTO rollbacks (environment_id, incident_id, deployment_id, from_version, target_version,
                   rollback_type, trigger, status, operator, reason, driver, started_at, holder_host, holder_pid, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?10, ?11, ?12, ?13, ?11)",
                params![
                    new.environment_id,
                    new.incident_id,
                    new.deployment_id,
                    new.from_version.as_deref().map(|v| super::clip(v, super::MAX_NAME)),
                    new.target_version.as_deref().map(|v| super::clip(v, super::MAX_NAME)),
                    new.rollback_type.as_str(),
                    new.trigger.as_str(),
                    new.operator,
                    new.reason,
                    new.driver,
                    ts(now),
                    host,
                    pid
                ],
            )?;
            let id = tx.last_insert_rowid();
            if let Some((request, approver)) = &new.approval {
                super::requests::claim(&tx, *request, approver, id, now)?;
                tx.execute(
                    "UPDATE rollbacks SET approved_by = ?2 WHERE id = ?1",
                    params![id, super::clip(approver, super::MAX_NAME)],
                )?;
            }
            tx.execute(
                "INSERT INTO rollback_locks (environment_id, rollback_id, holder, host, pid, acquired_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    new.environment_id,
                    id,
                    format!("{}@{host} pid {pid}", new.operator),
                    host,
                    pid,
                    ts(now),
                    ts(now + new.lease)
                ],
            )?;
            let approved = new.approval.as_ref().map_or_else(String::new, |(request, approver)| {
                format!(", approved by {approver} (request #{request})")
            });
            let message = format!(
                "rollback #{id} requested by {}{approved}: {} -> {} ({}, {}): {}",
                new.operator,
                new.from_version.as_deref().unwrap_or("?"),
                new.target_version.as_deref().unwrap_or("previous"),
                new.rollback_type,
                new.driver,
                new.reason
            );
            super::timeline::insert_event(
                &tx,
                &super::NewEvent {
                    at: now,
                    incident_id: new.incident_id,
                    environment_id: Some(new.environment_id),
                    rollback_id: Some(id),
                    actor: new.operator.clone(),
                    kind: "rollback_requested".into(),
                    message,
                    data: None,
                },
            )?;
            let row = tx.query_row(
                &format!("SELECT {ROLLBACK_COLUMNS} FROM rollbacks r JOIN environments e ON e.id = r.environment_id WHERE r.id = ?1"),
                [id],
                rollback_row,
            )?;
            tx.commit()?;
            Ok(Ok(row))
        })
    }

    /// Records the flag a rollback changed.
    pub fn record_flag_change(&mut self, id: i64, flag: &FlagChange) -> Result<()> {
        self.durably(|conn| {
            conn.execute(
                "UPDATE rollbacks SET flag_key = ?2, flag_before = ?3, flag_after = ?4, flag_location = ?5 WHERE id = ?1",
                params![id, flag.key, flag.before, flag.after, flag.location],
            )?;
            Ok(())
        })
    }

    /// Moves a rollback to `in_progress` and records the step.
    pub fn mark_rollback_in_progress(&mut self, id: i64, actor: &str, message: &str) -> Result<()> {
        self.durably(|conn| {
            let now = Utc::now();
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE rollbacks SET status = 'in_progress', updated_at = ?2 WHERE id = ?1 AND status = 'pending'",
                params![id, ts(now)],
            )?;
            insert_rollback_event(&tx, id, now, actor, "rollback_in_progress", message)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Ends a rollback (completed or failed), releases its lock and records the
    /// outcome, in one transaction.
    pub fn finish_rollback(
        &mut self,
        id: i64,
        status: RollbackStatus,
        error: Option<&str>,
        actor: &str,
    ) -> Result<RollbackRow> {
        self.finish(id, status, error, actor, false)
    }

    /// Ends a rollback whose request reached the driver as `failed`, like
    /// [`Store::finish_rollback`]; an automatic one is also blocked from being
    /// tried again on its own, in the same transaction, so no restart and no
    /// other engine retries it.
    pub fn fail_rollback_after_request(&mut self, id: i64, error: &str, actor: &str) -> Result<RollbackRow> {
        self.finish(id, RollbackStatus::Failed, Some(error), actor, true)
    }

    fn finish(
        &mut self,
        id: i64,
        status: RollbackStatus,
        error: Option<&str>,
        actor: &str,
        block: bool,
    ) -> Result<RollbackRow> {
        let error = error.map(|e| super::clip(e, super::MAX_ERROR));
        let error = error.as_deref();
        self.durably(|conn| {
            let now = Utc::now();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE rollbacks SET status = ?2, error = ?3, completed_at = ?4, updated_at = ?4 WHERE id = ?1",
                params![id, status.as_str(), error, ts(now)],
            )?;
            tx.execute("DELETE FROM rollback_locks WHERE rollback_id = ?1", [id])?;
            let (kind, message) = match (status, error) {
                (RollbackStatus::Completed, _) => ("rollback_completed", format!("rollback #{id} completed")),
                (_, Some(e)) => ("rollback_failed", format!("rollback #{id} failed: {e}")),
                (s, None) => ("rollback_failed", format!("rollback #{id} ended {s}")),
            };
            insert_rollback_event(&tx, id, now, actor, kind, &message)?;
            if block && status == RollbackStatus::Failed {
                super::blocks::block_in(&tx, id, error.unwrap_or("failed"), now)?;
            }
            let row = tx.query_row(
                &format!("SELECT {ROLLBACK_COLUMNS} FROM rollbacks r JOIN environments e ON e.id = r.environment_id WHERE r.id = ?1"),
                [id],
                rollback_row,
            )?;
            tx.commit()?;
            Ok(row)
        })
    }

    /// Records that a notification about this rollback went out.
    /// Files a rollback (and the events recorded about it so far) under an incident.
    pub fn attach_rollback_to_incident(&mut self, rollback_id: i64, incident_id: i64) -> Result<()> {
        self.durably(|conn| {
            let tx = conn.transaction()?;
            tx.execute("UPDATE rollbacks SET incident_id = ?2 WHERE id = ?1", params![rollback_id, incident_id])?;
            tx.execute(
                "UPDATE timeline_events SET incident_id = ?2 WHERE rollback_id = ?1 AND incident_id IS NULL",
                params![rollback_id, incident_id],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn mark_notification_sent(&self, id: i64) -> Result<()> {
        self.conn.execute("UPDATE rollbacks SET notification_sent = 1 WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Rollbacks, newest first, optionally of one environment.
    pub fn rollbacks(&self, env_id: Option<i64>, limit: usize) -> Result<Vec<RollbackRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROLLBACK_COLUMNS} FROM rollbacks r JOIN environments e ON e.id = r.environment_id
             WHERE ?1 IS NULL OR r.environment_id = ?1 ORDER BY r.started_at DESC, r.id DESC LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![env_id, limit], rollback_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Rollbacks of an environment still `pending` or `in_progress`, with their lock holder.
    pub fn unfinished_rollbacks(&self, env_id: i64) -> Result<Vec<(RollbackRow, Option<LockHolder>)>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROLLBACK_COLUMNS} FROM rollbacks r JOIN environments e ON e.id = r.environment_id
             WHERE r.environment_id = ?1 AND r.status IN ('pending', 'in_progress') ORDER BY r.id"
        ))?;
        let rows: Vec<RollbackRow> = stmt.query_map([env_id], rollback_row)?.collect::<rusqlite::Result<_>>()?;
        let holder = lock_holder(&self.conn, env_id)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let h = holder.clone().filter(|h| h.rollback_id == r.id);
                (r, h)
            })
            .collect())
    }

    /// Who holds an environment's rollback lock, if anyone.
    pub fn rollback_lock(&self, env_id: i64) -> Result<Option<LockHolder>> {
        lock_holder(&self.conn, env_id)
    }
}

fn lock_holder(conn: &rusqlite::Connection, env_id: i64) -> Result<Option<LockHolder>> {
    Ok(conn
        .query_row(
            "SELECT rollback_id, holder, host, pid, acquired_at, expires_at FROM rollback_locks WHERE environment_id = ?1",
            [env_id],
            |r| {
                Ok(LockHolder {
                    rollback_id: r.get(0)?,
                    holder: r.get(1)?,
                    host: r.get(2)?,
                    pid: r.get(3)?,
                    acquired_at: time_at(r, 4, "rollback_locks")?,
                    expires_at: time_at(r, 5, "rollback_locks")?,
                })
            },
        )
        .optional()?)
}

fn insert_rollback_event(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    at: DateTime<Utc>,
    actor: &str,
    kind: &str,
    message: &str,
) -> Result<()> {
    let (incident_id, environment_id): (Option<i64>, i64) =
        tx.query_row("SELECT incident_id, environment_id FROM rollbacks WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    super::timeline::insert_event(
        tx,
        &super::NewEvent {
            at,
            incident_id,
            environment_id: Some(environment_id),
            rollback_id: Some(id),
            actor: actor.to_string(),
            kind: kind.to_string(),
            message: message.to_string(),
            data: None,
        },
    )
}
