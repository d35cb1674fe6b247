//! Checklist results and how long each automatic item has been passing.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::timeline::insert_event;
use super::{NewEvent, Result, Store, opt_time_at, time_at, ts};

/// A checklist result to record: a tick, an untick, a waiver or an automatic verdict.
#[derive(Debug, Clone)]
pub struct NewChecklistResult {
    /// Incident.
    pub incident_id: i64,
    /// Environment.
    pub environment_id: i64,
    /// The item's title.
    pub item: String,
    /// Whether it now counts as passed.
    pub passed: bool,
    /// Waived with a note instead of passed.
    pub waived: bool,
    /// A person, or `backout` for automatic checks.
    pub actor: String,
    /// Why (a waiver's note, or what an automatic check saw).
    pub note: Option<String>,
}

/// A stored checklist result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChecklistResultRow {
    /// The item's title.
    pub item: String,
    /// Passed.
    pub passed: bool,
    /// Waived.
    pub waived: bool,
    /// Who.
    pub actor: String,
    /// Note.
    pub note: Option<String>,
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub at: DateTime<Utc>,
}

/// How long an automatic item has been passing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreakRow {
    /// Since when it has passed without a break; `None` when it fails now.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub passing_since: Option<DateTime<Utc>>,
    /// When it was last checked.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub checked_at: DateTime<Utc>,
    /// What the last check saw.
    pub detail: Option<String>,
}

impl Store {
    /// Records a checklist result and its timeline event in one transaction.
    pub fn record_checklist_result(&mut self, r: &NewChecklistResult) -> Result<ChecklistResultRow> {
        let now = Utc::now();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO checklist_results (incident_id, environment_id, item, passed, waived, actor, note, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![r.incident_id, r.environment_id, r.item, r.passed, r.waived, r.actor, r.note, ts(now)],
        )?;
        let verdict = match (r.passed, r.waived) {
            (_, true) => "waived",
            (true, false) => "passed",
            (false, false) => "not passed",
        };
        let mut message = format!("checklist: {} {verdict}", r.item);
        if let Some(n) = &r.note {
            message.push_str(&format!(" ({n})"));
        }
        insert_event(
            &tx,
            &NewEvent {
                at: now,
                incident_id: Some(r.incident_id),
                environment_id: Some(r.environment_id),
                rollback_id: None,
                actor: r.actor.clone(),
                kind: "checklist".into(),
                message,
                data: Some(
                    serde_json::json!({ "item": r.item, "passed": r.passed, "waived": r.waived, "note": r.note })
                        .to_string(),
                ),
            },
        )?;
        tx.commit()?;
        Ok(ChecklistResultRow {
            item: r.item.clone(),
            passed: r.passed,
            waived: r.waived,
            actor: r.actor.clone(),
            note: r.note.clone(),
            at: now,
        })
    }

    /// Every checklist result of an incident, oldest first; the last one per item counts.
    pub fn checklist_results(&self, incident_id: i64) -> Result<Vec<ChecklistResultRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT item, passed, waived, actor, note, at FROM checklist_results WHERE incident_id = ?1 ORDER BY at, id",
        )?;
        let rows = stmt.query_map([incident_id], |r| {
            Ok(ChecklistResultRow {
                item: r.get(0)?,
                passed: r.get(1)?,
                waived: r.get(2)?,
                actor: r.get(3)?,
                note: r.get(4)?,
                at: time_at(r, 5, "checklist_results")?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records one automatic check: a pass keeps (or starts) the streak, a fail ends it.
    pub fn observe_checklist_item(
        &self,
        incident_id: i64,
        item: &str,
        passing: bool,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<StreakRow> {
        self.conn.execute(
            "INSERT INTO checklist_streaks (incident_id, item, passing_since, checked_at, detail)
             VALUES (?1, ?2, CASE WHEN ?3 THEN ?4 END, ?4, ?5)
             ON CONFLICT(incident_id, item) DO UPDATE SET
                 passing_since = CASE WHEN ?3 THEN COALESCE(passing_since, ?4) END,
                 checked_at = ?4, detail = ?5",
            params![incident_id, item, passing, ts(at), detail],
        )?;
        self.checklist_streak(incident_id, item)?
            .ok_or_else(|| super::StoreError::Migration("checklist streak vanished after it was written".into()))
    }

    /// The current streak of an automatic item.
    pub fn checklist_streak(&self, incident_id: i64, item: &str) -> Result<Option<StreakRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT passing_since, checked_at, detail FROM checklist_streaks WHERE incident_id = ?1 AND item = ?2",
                params![incident_id, item],
                |r| {
                    Ok(StreakRow {
                        passing_since: opt_time_at(r, 0, "checklist_streaks")?,
                        checked_at: time_at(r, 1, "checklist_streaks")?,
                        detail: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }
}
