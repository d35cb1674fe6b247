//! Follow-up actions of an incident (schema V6): what someone must do after
//! it, by when, and whether it is done.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::timeline::insert_event;
use super::{NewEvent, Result, Store, opt_time_at, time_at, ts};

/// A follow-up action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUpAction {
    /// Row id, taken by `backout action done`.
    pub id: i64,
    /// The incident it follows up.
    pub incident_id: i64,
    /// What is to be done.
    pub text: String,
    /// Who owns it.
    pub owner: String,
    /// Due date, `YYYY-MM-DD`.
    pub due: String,
    /// Who recorded it.
    pub created_by: String,
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub created_at: DateTime<Utc>,
    /// Who marked it done.
    pub done_by: Option<String>,
    /// When it was marked done; `None` while open.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub done_at: Option<DateTime<Utc>>,
}

impl FollowUpAction {
    /// `open`, or `done`.
    pub fn state(&self) -> &'static str {
        if self.done_at.is_some() { "done" } else { "open" }
    }
}

const COLUMNS: &str = "id, incident_id, text, owner, due, created_by, created_at, done_by, done_at";

fn action_row(r: &Row<'_>) -> rusqlite::Result<FollowUpAction> {
    Ok(FollowUpAction {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        text: r.get(2)?,
        owner: r.get(3)?,
        due: r.get(4)?,
        created_by: r.get(5)?,
        created_at: time_at(r, 6, "follow_up_actions")?,
        done_by: r.get(7)?,
        done_at: opt_time_at(r, 8, "follow_up_actions")?,
    })
}

impl Store {
    /// Records a follow-up action of an incident, with its timeline event.
    pub fn add_action(
        &mut self,
        incident_id: i64,
        text: &str,
        owner: &str,
        due: &str,
        by: &str,
    ) -> Result<FollowUpAction> {
        self.durably(|conn| {
            let now = Utc::now();
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO follow_up_actions (incident_id, text, owner, due, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    incident_id,
                    super::clip(text, super::MAX_ERROR),
                    super::clip(owner, super::MAX_NAME),
                    super::clip(due, super::MAX_NAME),
                    super::clip(by, super::MAX_NAME),
                    ts(now)
                ],
            )?;
            let id = tx.last_insert_rowid();
            let env_id: Option<i64> =
                tx.query_row("SELECT environment_id FROM incidents WHERE id = ?1", [incident_id], |r| r.get(0))?;
            insert_event(
                &tx,
                &NewEvent {
                    at: now,
                    incident_id: Some(incident_id),
                    environment_id: env_id,
                    rollback_id: None,
                    actor: by.to_string(),
                    kind: "action_added".into(),
                    message: format!("follow-up action #{id} for {owner}, due {due}: {text}"),
                    data: Some(serde_json::json!({ "action": id }).to_string()),
                },
            )?;
            let row =
                tx.query_row(&format!("SELECT {COLUMNS} FROM follow_up_actions WHERE id = ?1"), [id], action_row)?;
            tx.commit()?;
            Ok(row)
        })
    }

    /// Marks an action done (the first time wins), with its timeline event.
    /// `Ok(None)` when there is no such action; an action already done is
    /// returned as it was.
    pub fn finish_action(&mut self, id: i64, by: &str) -> Result<Option<(FollowUpAction, bool)>> {
        self.durably(|conn| {
            let now = Utc::now();
            let tx = conn.transaction()?;
            let changed = tx.execute(
                "UPDATE follow_up_actions SET done_by = ?2, done_at = ?3 WHERE id = ?1 AND done_at IS NULL",
                params![id, by, ts(now)],
            )?;
            let Some(row) = tx
                .query_row(&format!("SELECT {COLUMNS} FROM follow_up_actions WHERE id = ?1"), [id], action_row)
                .optional()?
            else {
                return Ok(None);
            };
            if changed == 1 {
                let env_id: Option<i64> =
                    tx.query_row("SELECT environment_id FROM incidents WHERE id = ?1", [row.incident_id], |r| {
                        r.get(0)
                    })?;
                insert_event(
                    &tx,
                    &NewEvent {
                        at: now,
                        incident_id: Some(row.incident_id),
                        environment_id: env_id,
                        rollback_id: None,
                        actor: by.to_string(),
                        kind: "action_done".into(),
                        message: format!("follow-up action #{id} done: {}", row.text),
                        data: Some(serde_json::json!({ "action": id }).to_string()),
                    },
                )?;
            }
            tx.commit()?;
            Ok(Some((row, changed == 1)))
        })
    }

    /// Follow-up actions, of one incident or of all, oldest first.
    pub fn actions(&self, incident_id: Option<i64>) -> Result<Vec<FollowUpAction>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM follow_up_actions WHERE ?1 IS NULL OR incident_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([incident_id], action_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
