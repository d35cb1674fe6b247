//! Incident milestones and post-incident fields (schema V2).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::timeline::insert_event;
use super::{NewEvent, Result, RollbackRow, Store, TimelineEvent, time_at, ts, word_at};
use crate::domain::{Milestone, Severity};

/// A recorded milestone of an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MilestoneRow {
    /// Which.
    pub milestone: Milestone,
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub at: DateTime<Utc>,
    /// Who or what set it.
    pub actor: String,
}

/// The V2 fields of an incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IncidentFields {
    /// Recovery-time objective in milliseconds.
    pub objective_ms: Option<i64>,
    /// Runbook file name used for this incident.
    pub runbook: Option<String>,
    /// Customer impact assessment.
    pub impact: Option<String>,
    /// Root cause, once known.
    pub root_cause: Option<String>,
    /// Prevention measures.
    pub prevention: Option<String>,
    /// Lessons learned (schema V6): what went well, what could improve.
    pub lessons: Option<String>,
}

impl Store {
    /// Records a milestone unless it is already set (the first time wins), with
    /// its timeline event. `Ok(true)` when it was recorded now.
    pub fn set_milestone(
        &mut self,
        incident_id: i64,
        milestone: Milestone,
        at: DateTime<Utc>,
        actor: &str,
    ) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let changed = tx.execute(
            "INSERT OR IGNORE INTO incident_milestones (incident_id, milestone, at, actor) VALUES (?1, ?2, ?3, ?4)",
            params![incident_id, milestone.as_str(), ts(at), actor],
        )?;
        if changed == 1 {
            let env_id: Option<i64> =
                tx.query_row("SELECT environment_id FROM incidents WHERE id = ?1", [incident_id], |r| r.get(0))?;
            insert_event(
                &tx,
                &NewEvent {
                    at,
                    incident_id: Some(incident_id),
                    environment_id: env_id,
                    rollback_id: None,
                    actor: actor.to_string(),
                    kind: "milestone".into(),
                    message: format!("incident #{incident_id}: {}", milestone.as_str().replace('_', " ")),
                    data: Some(serde_json::json!({ "milestone": milestone.as_str() }).to_string()),
                },
            )?;
        }
        tx.commit()?;
        Ok(changed == 1)
    }

    /// The milestones of an incident, in time order.
    pub fn milestones(&self, incident_id: i64) -> Result<Vec<MilestoneRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT milestone, at, actor FROM incident_milestones WHERE incident_id = ?1 ORDER BY at, milestone",
        )?;
        let rows = stmt.query_map([incident_id], |r| {
            Ok(MilestoneRow {
                milestone: word_at(r, 0, "incident_milestones")?,
                at: time_at(r, 1, "incident_milestones")?,
                actor: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The V2 fields of an incident, `None` when there is no such incident.
    pub fn incident_fields(&self, incident_id: i64) -> Result<Option<IncidentFields>> {
        Ok(self
            .conn
            .query_row(
                "SELECT objective_ms, runbook, impact, root_cause, prevention, lessons FROM incidents WHERE id = ?1",
                [incident_id],
                |r| {
                    Ok(IncidentFields {
                        objective_ms: r.get(0)?,
                        runbook: r.get(1)?,
                        impact: r.get(2)?,
                        root_cause: r.get(3)?,
                        prevention: r.get(4)?,
                        lessons: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// Sets the given V2 fields of an incident; `None` leaves a field as it is.
    pub fn update_incident_fields(&self, incident_id: i64, f: &IncidentFields) -> Result<()> {
        self.conn.execute(
            "UPDATE incidents SET objective_ms = COALESCE(?2, objective_ms), runbook = COALESCE(?3, runbook),
                 impact = COALESCE(?4, impact), root_cause = COALESCE(?5, root_cause),
                 prevention = COALESCE(?6, prevention), lessons = COALESCE(?7, lessons)
             WHERE id = ?1",
            params![incident_id, f.objective_ms, f.runbook, f.impact, f.root_cause, f.prevention, f.lessons],
        )?;
        Ok(())
    }

    /// Sets an incident's severity.
    pub fn set_incident_severity(&self, incident_id: i64, severity: Severity) -> Result<()> {
        self.conn
            .execute("UPDATE incidents SET severity = ?2 WHERE id = ?1", params![incident_id, severity.as_str()])?;
        Ok(())
    }

    /// Events of an environment that belong to no incident, between two times,
    /// in order: what the watch engine saw around an incident.
    pub fn environment_events_between(
        &self,
        env_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<TimelineEvent>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id, t.at, t.incident_id, e.name, t.rollback_id, t.actor, t.kind, t.message, t.data
             FROM timeline_events t LEFT JOIN environments e ON e.id = t.environment_id
             WHERE t.environment_id = ?1 AND t.incident_id IS NULL AND t.at >= ?2 AND t.at <= ?3
             ORDER BY t.at, t.id",
        )?;
        let rows = stmt.query_map(params![env_id, ts(from), ts(to)], super::timeline::event_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The rollbacks of an incident, oldest first.
    pub fn incident_rollbacks(&self, incident_id: i64) -> Result<Vec<RollbackRow>> {
        let env_id: Option<i64> = self
            .conn
            .query_row("SELECT environment_id FROM incidents WHERE id = ?1", [incident_id], |r| r.get(0))
            .optional()?
            .flatten();
        let mut rows: Vec<RollbackRow> =
            self.rollbacks(env_id, usize::MAX)?.into_iter().filter(|r| r.incident_id == Some(incident_id)).collect();
        rows.reverse();
        Ok(rows)
    }

    /// Signal names with stored samples for an environment, sorted.
    pub fn sampled_signals(&self, env_id: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT signal FROM samples WHERE environment_id = ?1 ORDER BY signal")?;
        let rows = stmt.query_map([env_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest stored sample of a signal, if any.
    pub fn latest_sample(&self, env_id: i64, signal: &str) -> Result<Option<crate::domain::Sample>> {
        Ok(self
            .conn
            .query_row(
                "SELECT at, value, text, ok, error FROM samples WHERE environment_id = ?1 AND signal = ?2
                 ORDER BY at DESC, id DESC LIMIT 1",
                params![env_id, signal],
                |r| {
                    Ok(crate::domain::Sample {
                        at: time_at(r, 0, "samples")?,
                        value: r.get(1)?,
                        text: r.get(2)?,
                        ok: r.get(3)?,
                        error: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// The id of the environment an incident concerns.
    pub fn incident_environment_id(&self, incident_id: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT environment_id FROM incidents WHERE id = ?1", [incident_id], |r| r.get(0))
            .optional()?
            .flatten())
    }
}
