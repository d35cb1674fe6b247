//! Rollback requests awaiting a second operator (schema V7, seed 002's
//! rollback authority). A request records the plan its operator confirmed; it
//! runs only through [`Store::begin_rollback`] claiming it for a different
//! operator, under the same write lock that takes the rollback lock, so no two
//! approvals can both run it.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::timeline::insert_event;
use super::{NewEvent, Result, Store, opt_time_at, time_at, ts, word_at};

pub use crate::domain::RequestStatus;

/// A request to roll back, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackRequest {
    /// Row id, taken by `backout approve`.
    pub id: i64,
    /// Environment name.
    pub environment: String,
    /// Environment row id.
    #[serde(skip)]
    pub environment_id: i64,
    /// The environment's open incident when it was requested.
    pub incident_id: Option<i64>,
    /// The operator who planned it.
    pub requested_by: String,
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub requested_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// The version asked for (`--version`), if one was.
    pub version: Option<String>,
    /// The kept state asked for (`--to-state`), if one was.
    pub state_id: Option<i64>,
    /// Asked with `--force`.
    pub force: bool,
    /// Asked with `--skip-validation`.
    pub skip_validation: bool,
    /// The version serving when it was planned.
    pub from_version: Option<String>,
    /// The version the plan goes to.
    pub target_version: Option<String>,
    /// The colour serving when it was planned.
    pub colour: Option<String>,
    /// The plan as its operator confirmed it.
    pub plan: String,
    /// Where it stands.
    pub status: RequestStatus,
    /// Who approved, declined, or found it stale.
    pub decided_by: Option<String>,
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub decided_at: Option<DateTime<Utc>>,
    /// Why it was declined, or what changed.
    pub decision_note: Option<String>,
    /// The rollback it became, once approved.
    pub rollback_id: Option<i64>,
}

/// A request to record.
#[derive(Debug, Clone)]
pub struct NewRollbackRequest {
    /// Environment row id.
    pub environment_id: i64,
    /// The operator who planned it.
    pub requested_by: String,
    /// Why.
    pub reason: String,
    /// `--version`.
    pub version: Option<String>,
    /// `--to-state`.
    pub state_id: Option<i64>,
    /// `--force`.
    pub force: bool,
    /// `--skip-validation`.
    pub skip_validation: bool,
    /// Serving when planned.
    pub from_version: Option<String>,
    /// Where the plan goes.
    pub target_version: Option<String>,
    /// Colour serving when planned.
    pub colour: Option<String>,
    /// The plan as confirmed.
    pub plan: String,
}

const COLUMNS: &str = "q.id, e.name, q.environment_id, q.incident_id, q.requested_by, q.requested_at, q.reason,
     q.version, q.state_id, q.force, q.skip_validation, q.from_version, q.target_version, q.colour, q.plan,
     q.status, q.decided_by, q.decided_at, q.decision_note, q.rollback_id";

fn request_row(r: &Row<'_>) -> rusqlite::Result<RollbackRequest> {
    Ok(RollbackRequest {
        id: r.get(0)?,
        environment: r.get(1)?,
        environment_id: r.get(2)?,
        incident_id: r.get(3)?,
        requested_by: r.get(4)?,
        requested_at: time_at(r, 5, "rollback_requests")?,
        reason: r.get(6)?,
        version: r.get(7)?,
        state_id: r.get(8)?,
        force: r.get(9)?,
        skip_validation: r.get(10)?,
        from_version: r.get(11)?,
        target_version: r.get(12)?,
        colour: r.get(13)?,
        plan: r.get(14)?,
        status: word_at(r, 15, "rollback_requests")?,
        decided_by: r.get(16)?,
        decided_at: opt_time_at(r, 17, "rollback_requests")?,
        decision_note: r.get(18)?,
        rollback_id: r.get(19)?,
    })
}

/// Why a request could not be recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestRefused {
    /// Another request for the environment is still pending.
    Pending(RollbackRequest),
}

/// Why pending request `id` may not be claimed by `approver` now, if it may
/// not, inside a rollback's begin transaction before its row is written
/// (ending it first if it expired).
pub(super) fn unclaimable(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    approver: &str,
    now: DateTime<Utc>,
    expires_after: chrono::Duration,
) -> Result<Option<String>> {
    // Expired while it was being approved: ended here, under the lock.
    expire_in(tx, now, expires_after)?;
    let found: Option<(String, String, Option<String>)> = tx
        .query_row("SELECT status, requested_by, decided_by FROM rollback_requests WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((status, requested_by, decided_by)) = found else {
        return Ok(Some(format!("rollback request #{id} does not exist")));
    };
    if status != RequestStatus::Pending.as_str() {
        let by = decided_by.map_or_else(String::new, |b| format!(" by {b}"));
        return Ok(Some(format!("rollback request #{id} is already {status}{by}")));
    }
    if requested_by == approver {
        return Ok(Some(format!(
            "rollback request #{id} was planned by {approver}; a second, different operator must approve it"
        )));
    }
    Ok(None)
}

/// Marks request `id` approved by `approver` as rollback `rollback_id`, in
/// the transaction [`unclaimable`] cleared it in.
pub(super) fn claim(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    approver: &str,
    rollback_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "UPDATE rollback_requests SET status = 'approved', decided_by = ?2, decided_at = ?3, rollback_id = ?4
         WHERE id = ?1 AND status = 'pending'",
        params![id, super::clip(approver, super::MAX_NAME), ts(now), rollback_id],
    )?;
    Ok(())
}

impl Store {
    /// Records a rollback request, with its timeline event, unless another
    /// request for the environment is pending.
    pub fn request_rollback(
        &mut self,
        new: &NewRollbackRequest,
        expires_after: chrono::Duration,
    ) -> Result<std::result::Result<RollbackRequest, RequestRefused>> {
        self.durably(|conn| {
            let now = Utc::now();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            expire_in(&tx, now, expires_after)?;
            let pending = tx
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM rollback_requests q JOIN environments e ON e.id = q.environment_id
                         WHERE q.environment_id = ?1 AND q.status = 'pending' ORDER BY q.id LIMIT 1"
                    ),
                    [new.environment_id],
                    request_row,
                )
                .optional()?;
            if let Some(p) = pending {
                return Ok(Err(RequestRefused::Pending(p)));
            }
            let incident_id: Option<i64> = tx
                .query_row(
                    "SELECT id FROM incidents WHERE environment_id = ?1 AND status = 'open' ORDER BY id DESC LIMIT 1",
                    [new.environment_id],
                    |r| r.get(0),
                )
                .optional()?;
            let clip = |v: &Option<String>| v.as_deref().map(|v| super::clip(v, super::MAX_NAME).into_owned());
            tx.execute(
                "INSERT INTO rollback_requests (environment_id, incident_id, requested_by, requested_at, reason,
                   version, state_id, force, skip_validation, from_version, target_version, colour, plan)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    new.environment_id,
                    incident_id,
                    super::clip(&new.requested_by, super::MAX_NAME),
                    ts(now),
                    super::clip(&new.reason, super::MAX_ERROR),
                    clip(&new.version),
                    new.state_id,
                    new.force,
                    new.skip_validation,
                    clip(&new.from_version),
                    clip(&new.target_version),
                    clip(&new.colour),
                    super::clip(&new.plan, super::MAX_ERROR),
                ],
            )?;
            let id = tx.last_insert_rowid();
            insert_event(
                &tx,
                &NewEvent {
                    at: now,
                    incident_id,
                    environment_id: Some(new.environment_id),
                    rollback_id: None,
                    actor: new.requested_by.clone(),
                    kind: "rollback_approval_requested".into(),
                    message: format!(
                        "rollback request #{id} by {}, awaiting a second operator's approval: {}; reason: {}",
                        new.requested_by, new.plan, new.reason
                    ),
                    data: Some(serde_json::json!({ "request_id": id }).to_string()),
                },
            )?;
            let row = tx.query_row(
                &format!(
                    "SELECT {COLUMNS} FROM rollback_requests q JOIN environments e ON e.id = q.environment_id WHERE q.id = ?1"
                ),
                [id],
                request_row,
            )?;
            tx.commit()?;
            Ok(Ok(row))
        })
    }

    /// One request, after marking requests older than `expires_after` expired.
    pub fn rollback_request(&mut self, id: i64, expires_after: chrono::Duration) -> Result<Option<RollbackRequest>> {
        self.expire_requests(expires_after)?;
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM rollback_requests q JOIN environments e ON e.id = q.environment_id WHERE q.id = ?1"
                ),
                [id],
                request_row,
            )
            .optional()?)
    }

    /// Requests still pending, oldest first, after marking old ones expired.
    pub fn pending_requests(&mut self, expires_after: chrono::Duration) -> Result<Vec<RollbackRequest>> {
        self.expire_requests(expires_after)?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM rollback_requests q JOIN environments e ON e.id = q.environment_id
             WHERE q.status = 'pending' ORDER BY q.id"
        ))?;
        Ok(stmt.query_map([], request_row)?.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Ends pending request `id` without running it (`declined` or `stale`),
    /// with its timeline event; `false` when it was no longer pending.
    pub fn end_request(&mut self, id: i64, status: RequestStatus, by: &str, note: &str) -> Result<bool> {
        self.durably(|conn| {
            let now = Utc::now();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE rollback_requests SET status = ?2, decided_by = ?3, decided_at = ?4, decision_note = ?5
                 WHERE id = ?1 AND status = 'pending'",
                params![
                    id,
                    status.as_str(),
                    super::clip(by, super::MAX_NAME),
                    ts(now),
                    super::clip(note, super::MAX_ERROR)
                ],
            )?;
            if changed == 1 {
                let (incident_id, environment_id): (Option<i64>, i64) = tx.query_row(
                    "SELECT incident_id, environment_id FROM rollback_requests WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                insert_event(
                    &tx,
                    &NewEvent {
                        at: now,
                        incident_id,
                        environment_id: Some(environment_id),
                        rollback_id: None,
                        actor: by.to_string(),
                        kind: format!("rollback_request_{status}"),
                        message: format!("rollback request #{id} {status} by {by}: {note}; nothing was sent"),
                        data: Some(serde_json::json!({ "request_id": id }).to_string()),
                    },
                )?;
            }
            tx.commit()?;
            Ok(changed == 1)
        })
    }

    fn expire_requests(&mut self, expires_after: chrono::Duration) -> Result<()> {
        self.durably(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            expire_in(&tx, Utc::now(), expires_after)?;
            tx.commit()?;
            Ok(())
        })
    }
}

/// Marks pending requests older than `expires_after` expired, each with its
/// timeline event, recorded once by whichever process sees it first.
fn expire_in(tx: &rusqlite::Transaction<'_>, now: DateTime<Utc>, expires_after: chrono::Duration) -> Result<()> {
    let cutoff = ts(now - expires_after);
    let mut stmt = tx.prepare(
        "SELECT id, incident_id, environment_id FROM rollback_requests WHERE status = 'pending' AND requested_at < ?1",
    )?;
    let old = stmt
        .query_map([&cutoff], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, i64>(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    drop(stmt);
    let minutes = expires_after.num_minutes();
    for (id, incident_id, environment_id) in old {
        tx.execute(
            "UPDATE rollback_requests SET status = 'expired', decided_at = ?2,
               decision_note = ?3 WHERE id = ?1 AND status = 'pending'",
            params![id, ts(now), format!("not approved within {minutes} minutes")],
        )?;
        insert_event(
            tx,
            &NewEvent {
                at: now,
                incident_id,
                environment_id: Some(environment_id),
                rollback_id: None,
                actor: "backout".into(),
                kind: "rollback_request_expired".into(),
                message: format!(
                    "rollback request #{id} expired: not approved within {minutes} minutes; nothing was sent \
                     (plan and request again if it is still needed)"
                ),
                data: Some(serde_json::json!({ "request_id": id }).to_string()),
            },
        )?;
    }
    Ok(())
}
