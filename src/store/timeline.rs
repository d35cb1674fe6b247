//! Incidents, notes and the timeline of everything that happened.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{Result, Store, opt_time_at, time_at, ts, word_at};
use crate::domain::{IncidentStatus, SEVERITY_UNKNOWN, Severity};

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Incident it belongs to.
    pub incident_id: Option<i64>,
    /// Environment it concerns.
    pub environment_id: Option<i64>,
    /// Rollback it concerns.
    pub rollback_id: Option<i64>,
    /// A person, or `rule:NAME`, or `backout`.
    pub actor: String,
    /// Machine-readable kind (`rollback_requested`, `note`, ...).
    pub kind: String,
    /// What a person reads.
    pub message: String,
    /// Evidence as JSON text.
    pub data: Option<String>,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    /// Row id.
    pub id: i64,
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub at: DateTime<Utc>,
    /// Incident.
    pub incident_id: Option<i64>,
    /// Environment name.
    pub environment: Option<String>,
    /// Rollback.
    pub rollback_id: Option<i64>,
    /// Who.
    pub actor: String,
    /// Kind.
    pub kind: String,
    /// Message.
    pub message: String,
    /// Evidence (JSON text).
    pub data: Option<String>,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRow {
    /// Row id.
    pub id: i64,
    /// Environment name.
    pub environment: Option<String>,
    /// Title.
    pub title: String,
    /// Severity; `None` for an incident opened without one (stored and shown as `unknown`).
    #[serde(serialize_with = "Severity::serialize_or_unknown")]
    pub severity: Option<Severity>,
    /// Open or closed.
    pub status: IncidentStatus,
    /// A drill, not a real incident.
    pub drill: bool,
    /// Who opened it.
    pub opened_by: String,
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub opened_at: DateTime<Utc>,
    /// When it closed.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// A stored note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoteRow {
    /// Row id.
    pub id: i64,
    /// Incident.
    pub incident_id: Option<i64>,
    /// Author.
    pub author: String,
    /// Text.
    pub body: String,
    /// When.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub created_at: DateTime<Utc>,
}

pub(super) fn insert_event(conn: &Connection, e: &NewEvent) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO timeline_events (at, incident_id, environment_id, rollback_id, actor, kind, message, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    stmt.execute(params![
        ts(e.at),
        e.incident_id,
        e.environment_id,
        e.rollback_id,
        e.actor,
        e.kind,
        e.message,
        e.data
    ])?;
    Ok(())
}

pub(super) fn event_row(r: &Row<'_>) -> rusqlite::Result<TimelineEvent> {
    Ok(TimelineEvent {
        id: r.get(0)?,
        at: time_at(r, 1, "timeline_events")?,
        incident_id: r.get(2)?,
        environment: r.get(3)?,
        rollback_id: r.get(4)?,
        actor: r.get(5)?,
        kind: r.get(6)?,
        message: r.get(7)?,
        data: r.get(8)?,
    })
}

const EVENT_COLUMNS: &str = "t.id, t.at, t.incident_id, e.name, t.rollback_id, t.actor, t.kind, t.message, t.data";

const INCIDENT_COLUMNS: &str =
    "i.id, e.name, i.title, i.severity, i.status, i.drill, i.opened_by, i.opened_at, i.closed_at";

/// An incident's severity: a known word, or `unknown` (the column's default) for none.
fn severity_at(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Severity>> {
    let text: String = r.get(idx)?;
    if text == SEVERITY_UNKNOWN {
        return Ok(None);
    }
    word_at(r, idx, "incidents").map(Some)
}

fn incident_row(r: &Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get(0)?,
        environment: r.get(1)?,
        title: r.get(2)?,
        severity: severity_at(r, 3)?,
        status: word_at(r, 4, "incidents")?,
        drill: r.get(5)?,
        opened_by: r.get(6)?,
        opened_at: time_at(r, 7, "incidents")?,
        closed_at: opt_time_at(r, 8, "incidents")?,
    })
}

impl Store {
    /// Records one event.
    pub fn append_event(&self, e: &NewEvent) -> Result<()> {
        insert_event(&self.conn, e)
    }

    /// Records many events in one transaction.
    pub fn append_events(&mut self, events: &[NewEvent]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for e in events {
            insert_event(&tx, e)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// An incident's timeline, in order.
    pub fn incident_timeline(&self, incident_id: i64) -> Result<Vec<TimelineEvent>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM timeline_events t LEFT JOIN environments e ON e.id = t.environment_id
             WHERE t.incident_id = ?1 ORDER BY t.at, t.id"
        ))?;
        let rows = stmt.query_map([incident_id], event_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The latest events, newest first, optionally of one environment.
    pub fn recent_events(&self, env_id: Option<i64>, limit: usize) -> Result<Vec<TimelineEvent>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM timeline_events t LEFT JOIN environments e ON e.id = t.environment_id
             WHERE ?1 IS NULL OR t.environment_id = ?1 ORDER BY t.at DESC, t.id DESC LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![env_id, limit], event_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Opens an incident and records that it opened.
    pub fn open_incident(
        &mut self,
        env_id: Option<i64>,
        title: &str,
        severity: Severity,
        drill: bool,
        by: &str,
    ) -> Result<IncidentRow> {
        let now = Utc::now();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO incidents (environment_id, title, severity, drill, opened_by, opened_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![env_id, title, severity.as_str(), drill, by, ts(now)],
        )?;
        let id = tx.last_insert_rowid();
        insert_event(
            &tx,
            &NewEvent {
                at: now,
                incident_id: Some(id),
                environment_id: env_id,
                rollback_id: None,
                actor: by.to_string(),
                kind: "incident_opened".into(),
                message: format!("incident #{id} opened: {title}"),
                data: None,
            },
        )?;
        let row = tx.query_row(
            &format!("SELECT {INCIDENT_COLUMNS} FROM incidents i LEFT JOIN environments e ON e.id = i.environment_id WHERE i.id = ?1"),
            [id],
            incident_row,
        )?;
        tx.commit()?;
        Ok(row)
    }

    /// The newest open incident of an environment.
    pub fn open_incident_for(&self, env_id: i64) -> Result<Option<IncidentRow>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents i LEFT JOIN environments e ON e.id = i.environment_id
                          WHERE i.environment_id = ?1 AND i.status = 'open' ORDER BY i.id DESC LIMIT 1"
                ),
                [env_id],
                incident_row,
            )
            .optional()?)
    }

    /// Every open incident, oldest first.
    pub fn open_incidents(&self) -> Result<Vec<IncidentRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i LEFT JOIN environments e ON e.id = i.environment_id
             WHERE i.status = 'open' ORDER BY i.id"
        ))?;
        let rows = stmt.query_map([], incident_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records `event` for its incident unless one of the same kind is
    /// already recorded, in one statement, so two processes watching the same
    /// file record it once (`escalated`, `objective_missed`). `Ok(true)` when
    /// recorded now.
    pub fn record_once(&mut self, event: &NewEvent) -> Result<bool> {
        self.durably(|conn| {
            let changed = conn.execute(
                "INSERT INTO timeline_events (at, incident_id, environment_id, rollback_id, actor, kind, message, data)
                 SELECT ?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7
                 WHERE NOT EXISTS (SELECT 1 FROM timeline_events WHERE incident_id = ?2 AND kind = ?5)",
                params![
                    ts(event.at),
                    event.incident_id,
                    event.environment_id,
                    event.actor,
                    event.kind,
                    event.message,
                    event.data
                ],
            )?;
            Ok(changed == 1)
        })
    }

    /// One incident.
    pub fn incident(&self, id: i64) -> Result<Option<IncidentRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {INCIDENT_COLUMNS} FROM incidents i LEFT JOIN environments e ON e.id = i.environment_id WHERE i.id = ?1"),
                [id],
                incident_row,
            )
            .optional()?)
    }

    /// Incidents, newest first.
    pub fn incidents(&self, limit: usize) -> Result<Vec<IncidentRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i LEFT JOIN environments e ON e.id = i.environment_id ORDER BY i.id DESC LIMIT ?1"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map([limit], incident_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Closes an incident. `Ok(false)` when it was not open.
    pub fn close_incident(&mut self, id: i64, by: &str) -> Result<bool> {
        let now = Utc::now();
        let tx = self.conn.transaction()?;
        let changed = tx.execute(
            "UPDATE incidents SET status = 'closed', closed_at = ?2 WHERE id = ?1 AND status = 'open'",
            params![id, ts(now)],
        )?;
        if changed == 1 {
            let env_id: Option<i64> =
                tx.query_row("SELECT environment_id FROM incidents WHERE id = ?1", [id], |r| r.get(0))?;
            insert_event(
                &tx,
                &NewEvent {
                    at: now,
                    incident_id: Some(id),
                    environment_id: env_id,
                    rollback_id: None,
                    actor: by.to_string(),
                    kind: "incident_closed".into(),
                    message: format!("incident #{id} closed"),
                    data: None,
                },
            )?;
        }
        tx.commit()?;
        Ok(changed == 1)
    }

    /// Saves a note and its timeline event in one transaction; when this returns
    /// the note is on disk.
    pub fn add_note(
        &mut self,
        incident_id: Option<i64>,
        env_id: Option<i64>,
        author: &str,
        body: &str,
    ) -> Result<NoteRow> {
        self.durably(|conn| {
            let now = Utc::now();
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO notes (incident_id, environment_id, author, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![incident_id, env_id, author, body, ts(now)],
            )?;
            let id = tx.last_insert_rowid();
            insert_event(
                &tx,
                &NewEvent {
                    at: now,
                    incident_id,
                    environment_id: env_id,
                    rollback_id: None,
                    actor: author.to_string(),
                    kind: "note".into(),
                    message: body.to_string(),
                    data: Some(serde_json::json!({ "note_id": id }).to_string()),
                },
            )?;
            tx.commit()?;
            Ok(NoteRow { id, incident_id, author: author.to_string(), body: body.to_string(), created_at: now })
        })
    }

    /// Notes of an incident (or all notes with no incident when `None`), oldest first.
    pub fn notes(&self, incident_id: Option<i64>) -> Result<Vec<NoteRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, incident_id, author, body, created_at FROM notes WHERE incident_id IS ?1 ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([incident_id], |r| {
            Ok(NoteRow {
                id: r.get(0)?,
                incident_id: r.get(1)?,
                author: r.get(2)?,
                body: r.get(3)?,
                created_at: time_at(r, 4, "notes")?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Store {
    /// Stores samples of many signals in one transaction.
    pub fn append_sample_batch(&mut self, samples: &[(i64, String, crate::domain::Sample)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO samples (environment_id, signal, at, value, text, ok, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (env_id, signal, s) in samples {
                stmt.execute(params![env_id, signal, ts(s.at), s.value, s.text, s.ok, s.error])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stored samples of one signal between two times, oldest first.
    pub fn samples_between(
        &self,
        env_id: i64,
        signal: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<crate::domain::Sample>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, value, text, ok, error FROM samples
             WHERE environment_id = ?1 AND signal = ?2 AND at >= ?3 AND at <= ?4 ORDER BY at",
        )?;
        let rows = stmt.query_map(params![env_id, signal, ts(from), ts(to)], |r| {
            Ok(crate::domain::Sample {
                at: time_at(r, 0, "samples")?,
                value: r.get(1)?,
                text: r.get(2)?,
                ok: r.get(3)?,
                error: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Store {
    /// Checklist items whose latest result (up to `until`) passed.
    pub fn checklist_passed(
        &self,
        incident_id: Option<i64>,
        env_id: i64,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<String>> {
        let until = until.map_or_else(|| "9999".to_string(), ts);
        let mut stmt = self.conn.prepare_cached(
            "SELECT item, passed FROM checklist_results
             WHERE environment_id = ?1 AND incident_id IS ?2 AND at <= ?3 ORDER BY at, id",
        )?;
        let mut latest: Vec<(String, bool)> = Vec::new();
        for row in
            stmt.query_map(params![env_id, incident_id, until], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?
        {
            let (item, passed) = row?;
            latest.retain(|(i, _)| *i != item);
            latest.push((item, passed));
        }
        Ok(latest.into_iter().filter(|(_, p)| *p).map(|(i, _)| i).collect())
    }
}
