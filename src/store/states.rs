//! States kept before rollbacks (seed 003's "keep the last 5 states"): the
//! newest `keep_states` of each environment can be restored; older ones are
//! pruned (their row stays, marked, without the env file's content).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{MAX_ERROR, MAX_NAME, Result, Store, clip, opt_time_at, time_at, ts};
use crate::domain::{DriverState, FlagState};

/// Most bytes of an env file's flag lines a state keeps; longer ones are noted, not kept.
pub const MAX_ENV_FILE: usize = 1024 * 1024;

/// A kept state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateRow {
    /// Row id: the `N` of `rollback --to-state N`.
    pub id: i64,
    /// Environment name.
    pub environment: String,
    /// The rollback it was taken before.
    pub rollback_id: i64,
    /// When it was taken.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub taken_at: DateTime<Utc>,
    /// The driver that was about to act (`http`, `command`, `flag`).
    pub driver: String,
    /// What it holds.
    #[serde(flatten)]
    pub state: DriverState,
    /// When it was pruned; a pruned state cannot be restored.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub pruned_at: Option<DateTime<Utc>>,
}

const STATE_COLUMNS: &str = "s.id, e.name, s.rollback_id, s.taken_at, s.driver, s.version, s.colour, s.flag_key,
     s.flag_location, s.flag_value, s.env_file, s.pruned_at";

fn state_row(r: &Row<'_>) -> rusqlite::Result<StateRow> {
    let flag = match r.get::<_, Option<String>>(7)? {
        Some(key) => Some(FlagState {
            key,
            location: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
            value: r.get(9)?,
            env_file: r.get(10)?,
        }),
        None => None,
    };
    Ok(StateRow {
        id: r.get(0)?,
        environment: r.get(1)?,
        rollback_id: r.get(2)?,
        taken_at: time_at(r, 3, "rollback_states")?,
        driver: r.get(4)?,
        state: DriverState { version: r.get(5)?, colour: r.get(6)?, flag },
        pruned_at: opt_time_at(r, 11, "rollback_states")?,
    })
}

/// What keeping a state did.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptState {
    /// The new state's id.
    pub id: i64,
    /// States of the environment pruned to make room, oldest first.
    pub pruned: Vec<i64>,
}

impl Store {
    /// Keeps `state`, taken before rollback `rollback_id` of environment
    /// `env_id`, and prunes that environment's older states beyond the newest
    /// `keep`, in one transaction. Service text is stored clipped; an env file's
    /// flag lines longer than [`MAX_ENV_FILE`] are not kept (the caller has said so).
    pub fn keep_state(
        &mut self,
        env_id: i64,
        rollback_id: i64,
        driver: &str,
        state: &DriverState,
        keep: usize,
    ) -> Result<KeptState> {
        self.durably(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let now = ts(Utc::now());
            let flag = state.flag.as_ref();
            tx.execute(
                "INSERT INTO rollback_states (environment_id, rollback_id, taken_at, driver, version, colour,
                   flag_key, flag_location, flag_value, env_file)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    env_id,
                    rollback_id,
                    now,
                    driver,
                    state.version.as_deref().map(|v| clip(v, MAX_NAME)),
                    state.colour.as_deref().map(|c| clip(c, MAX_NAME)),
                    flag.map(|f| clip(&f.key, MAX_NAME)),
                    flag.map(|f| clip(&f.location, MAX_ERROR)),
                    flag.and_then(|f| f.value.as_deref()).map(|v| clip(v, MAX_NAME)),
                    flag.and_then(|f| f.env_file.as_deref()).filter(|b| b.len() <= MAX_ENV_FILE),
                ],
            )?;
            let id = tx.last_insert_rowid();
            let keep = i64::try_from(keep.max(1)).unwrap_or(i64::MAX);
            let pruned: Vec<i64> = tx
                .prepare(
                    "SELECT id FROM rollback_states WHERE environment_id = ?1 AND pruned_at IS NULL
                     ORDER BY id DESC LIMIT -1 OFFSET ?2",
                )?
                .query_map(params![env_id, keep], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for old in &pruned {
                tx.execute(
                    "UPDATE rollback_states SET pruned_at = ?2, env_file = NULL WHERE id = ?1",
                    params![old, now],
                )?;
            }
            tx.commit()?;
            let mut pruned = pruned;
            pruned.reverse();
            Ok(KeptState { id, pruned })
        })
    }

    /// The environment's kept states (not pruned), newest first.
    pub fn states(&self, env_id: i64) -> Result<Vec<StateRow>> {
        let sql = format!(
            "SELECT {STATE_COLUMNS} FROM rollback_states s JOIN environments e ON e.id = s.environment_id
             WHERE s.environment_id = ?1 AND s.pruned_at IS NULL ORDER BY s.id DESC"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([env_id], state_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// One state by id, pruned or not, of any environment.
    pub fn state(&self, id: i64) -> Result<Option<StateRow>> {
        let sql = format!(
            "SELECT {STATE_COLUMNS} FROM rollback_states s JOIN environments e ON e.id = s.environment_id
             WHERE s.id = ?1"
        );
        Ok(self.conn.query_row(&sql, [id], state_row).optional()?)
    }
}
