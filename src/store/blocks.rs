//! What automatic rollback may not do on its own, kept in the file so every
//! engine (and every restart of one) sees it: the same `from → to` again after
//! it failed, or anything during the cooldown after a rollback.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::rollbacks::{BeginRefused, NewRollback};
use super::{NewEvent, Result, Store, time_at, ts};

/// An automatic rollback that failed, and so is not tried again on its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutomaticBlock {
    /// Environment row id.
    pub environment_id: i64,
    /// The rollback that failed.
    pub rollback_id: i64,
    /// The deployment it tried to leave; a new deployment lifts the block.
    pub deployment_id: Option<i64>,
    /// Version it tried to leave.
    pub from_version: Option<String>,
    /// Version it tried to reach.
    pub target_version: Option<String>,
    /// Why it failed.
    pub reason: String,
    /// When the block was recorded.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub blocked_at: DateTime<Utc>,
}

impl AutomaticBlock {
    /// `2.0.0-bad → 1.4.3`.
    pub fn from_to(&self) -> String {
        format!(
            "{} → {}",
            self.from_version.as_deref().unwrap_or("?"),
            self.target_version.as_deref().unwrap_or("the previous version")
        )
    }

    /// Whether this block forbids `new`: the same deployment, from and to.
    fn covers(&self, new: &NewRollback) -> bool {
        self.deployment_id == new.deployment_id
            && self.from_version == new.from_version
            && self.target_version == new.target_version
    }
}

fn block_row(r: &Row<'_>) -> rusqlite::Result<AutomaticBlock> {
    Ok(AutomaticBlock {
        environment_id: r.get(0)?,
        rollback_id: r.get(1)?,
        deployment_id: r.get(2)?,
        from_version: r.get(3)?,
        target_version: r.get(4)?,
        reason: r.get(5)?,
        blocked_at: time_at(r, 6, "automatic_blocks")?,
    })
}

fn block_of(conn: &Connection, env_id: i64) -> Result<Option<AutomaticBlock>> {
    Ok(conn
        .query_row(
            "SELECT environment_id, rollback_id, deployment_id, from_version, target_version, reason, blocked_at
             FROM automatic_blocks WHERE environment_id = ?1",
            [env_id],
            block_row,
        )
        .optional()?)
}

/// Why `new` may not begin, if it is automatic and may not: a block covers it,
/// or another rollback of the environment ended within its cooldown.
pub(super) fn automatic_refusal(conn: &Connection, new: &NewRollback) -> Result<Option<BeginRefused>> {
    let Some(cooldown) = new.automatic_cooldown else { return Ok(None) };
    if let Some(block) = block_of(conn, new.environment_id)?.filter(|b| b.covers(new)) {
        return Ok(Some(BeginRefused::Blocked(block)));
    }
    let last: Option<(i64, DateTime<Utc>)> = conn
        .query_row(
            "SELECT id, completed_at FROM rollbacks WHERE environment_id = ?1 AND completed_at IS NOT NULL
             ORDER BY completed_at DESC LIMIT 1",
            [new.environment_id],
            |r| Ok((r.get(0)?, time_at(r, 1, "rollbacks")?)),
        )
        .optional()?;
    if let Some((rollback_id, ended)) = last
        && Utc::now() < ended + cooldown
    {
        return Ok(Some(BeginRefused::Cooldown { rollback_id, until: ended + cooldown }));
    }
    Ok(None)
}

/// Records that the automatic rollback `id` failed: the block and its
/// timeline event, inside the caller's transaction.
pub(super) fn block_in(conn: &Connection, id: i64, reason: &str, at: DateTime<Utc>) -> Result<()> {
    let (env_id, incident_id, env_name, automatic): (i64, Option<i64>, String, bool) = conn.query_row(
        "SELECT r.environment_id, r.incident_id, e.name, r.trigger <> 'manual'
         FROM rollbacks r JOIN environments e ON e.id = r.environment_id WHERE r.id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    if !automatic {
        return Ok(());
    }
    conn.execute(
        "INSERT OR REPLACE INTO automatic_blocks
           (environment_id, rollback_id, deployment_id, from_version, target_version, reason, blocked_at)
         SELECT environment_id, id, deployment_id, from_version, target_version, ?2, ?3 FROM rollbacks WHERE id = ?1",
        params![id, reason, ts(at)],
    )?;
    let block = block_of(conn, env_id)?;
    let from_to = block.as_ref().map_or_else(String::new, AutomaticBlock::from_to);
    super::timeline::insert_event(
        conn,
        &NewEvent {
            at,
            incident_id,
            environment_id: Some(env_id),
            rollback_id: Some(id),
            actor: "backout".into(),
            kind: "automatic_blocked".into(),
            message: format!(
                "automatic rollback {from_to} blocked after rollback #{id} failed: no engine tries it again on its \
                 own until a new deployment, or until an operator clears it (`backout unblock --env {env_name}`, \
                 or u in the console)"
            ),
            data: block.as_ref().and_then(|b| serde_json::to_string(b).ok()),
        },
    )
}

impl Store {
    /// The environment's automatic-rollback block, if one is recorded.
    pub fn automatic_block(&self, env_id: i64) -> Result<Option<AutomaticBlock>> {
        block_of(&self.conn, env_id)
    }

    /// Why an automatic rollback like `new` may not begin now, if it may not
    /// (`None` for a person's rollback). `begin_rollback` asks the same under
    /// its write lock; this is for saying so before anything is announced.
    pub fn automatic_refusal(&self, new: &NewRollback) -> Result<Option<BeginRefused>> {
        automatic_refusal(&self.conn, new)
    }

    /// Clears the environment's block and records who cleared it and why, in
    /// one transaction. `None` when nothing was blocked.
    pub fn clear_automatic_block(&mut self, env_id: i64, actor: &str, why: &str) -> Result<Option<AutomaticBlock>> {
        self.durably(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some(block) = block_of(&tx, env_id)? else { return Ok(None) };
            tx.execute("DELETE FROM automatic_blocks WHERE environment_id = ?1", [env_id])?;
            super::timeline::insert_event(
                &tx,
                &NewEvent {
                    at: Utc::now(),
                    incident_id: None,
                    environment_id: Some(env_id),
                    rollback_id: Some(block.rollback_id),
                    actor: actor.to_string(),
                    kind: "automatic_unblocked".into(),
                    message: format!(
                        "automatic rollback {} may run again (blocked since rollback #{} failed): {why}",
                        block.from_to(),
                        block.rollback_id
                    ),
                    data: serde_json::to_string(&block).ok(),
                },
            )?;
            tx.commit()?;
            Ok(Some(block))
        })
    }

    /// Lifts the environment's block when `serving` is not the version it was
    /// about (a new deployment, or a rollback by hand), and records that.
    pub fn lift_replaced_block(&mut self, env_id: i64, serving: &str) -> Result<Option<AutomaticBlock>> {
        match self.automatic_block(env_id)? {
            Some(b) if b.from_version.as_deref() != Some(serving) => {
                self.clear_automatic_block(env_id, "backout", &format!("now serving {serving}"))
            }
            _ => Ok(None),
        }
    }
}
