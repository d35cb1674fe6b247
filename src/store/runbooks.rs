//! Runbook progress: which step of an incident's runbook is done, skipped or failed.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::timeline::insert_event;
use super::{NewEvent, Result, Store, time_at, ts, word_at};
use crate::domain::StepState;

/// A runbook step's outcome to record.
#[derive(Debug, Clone)]
pub struct NewStepOutcome {
    /// Incident.
    pub incident_id: i64,
    /// Runbook file name.
    pub runbook: String,
    /// Step index, from 0.
    pub step_index: usize,
    /// Step title.
    pub step_title: String,
    /// Done, skipped or failed (never pending).
    pub state: StepState,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    /// What its action printed or answered.
    pub output: Option<String>,
    /// Who.
    pub actor: String,
}

/// A stored runbook step outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepOutcomeRow {
    /// Runbook file name.
    pub runbook: String,
    /// Step index, from 0.
    pub step_index: usize,
    /// Step title.
    pub step_title: String,
    /// Done, skipped or failed.
    pub state: StepState,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    /// What its action printed or answered.
    pub output: Option<String>,
    /// Who.
    pub actor: String,
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub at: DateTime<Utc>,
}

impl Store {
    /// Records a step outcome and its timeline event in one transaction.
    pub fn record_step_outcome(&mut self, o: &NewStepOutcome) -> Result<StepOutcomeRow> {
        let now = Utc::now();
        let index = i64::try_from(o.step_index).unwrap_or(i64::MAX);
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO runbook_progress (incident_id, runbook, step_index, step_title, state, reason, output, actor, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![o.incident_id, o.runbook, index, o.step_title, o.state.as_str(), o.reason, o.output, o.actor, ts(now)],
        )?;
        let env_id: Option<i64> =
            tx.query_row("SELECT environment_id FROM incidents WHERE id = ?1", [o.incident_id], |r| r.get(0))?;
        let mut message = format!("runbook step {} \u{201c}{}\u{201d} {}", o.step_index + 1, o.step_title, o.state);
        if let Some(r) = &o.reason {
            message.push_str(&format!(": {r}"));
        }
        insert_event(
            &tx,
            &NewEvent {
                at: now,
                incident_id: Some(o.incident_id),
                environment_id: env_id,
                rollback_id: None,
                actor: o.actor.clone(),
                kind: "runbook_step".into(),
                message,
                data: Some(
                    serde_json::json!({
                        "runbook": o.runbook, "step": o.step_index + 1, "state": o.state.as_str(),
                        "reason": o.reason, "output": o.output,
                    })
                    .to_string(),
                ),
            },
        )?;
        tx.commit()?;
        Ok(StepOutcomeRow {
            runbook: o.runbook.clone(),
            step_index: o.step_index,
            step_title: o.step_title.clone(),
            state: o.state,
            reason: o.reason.clone(),
            output: o.output.clone(),
            actor: o.actor.clone(),
            at: now,
        })
    }

    /// Every step outcome of an incident, oldest first.
    pub fn step_outcomes(&self, incident_id: i64) -> Result<Vec<StepOutcomeRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT runbook, step_index, step_title, state, reason, output, actor, at
             FROM runbook_progress WHERE incident_id = ?1 ORDER BY at, id",
        )?;
        let rows = stmt.query_map([incident_id], |r| {
            let index: i64 = r.get(1)?;
            Ok(StepOutcomeRow {
                runbook: r.get(0)?,
                step_index: usize::try_from(index).unwrap_or(0),
                step_title: r.get(2)?,
                state: word_at(r, 3, "runbook_progress")?,
                reason: r.get(4)?,
                output: r.get(5)?,
                actor: r.get(6)?,
                at: time_at(r, 7, "runbook_progress")?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
