//! Deployments as the services report them.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::{Result, Store, time_at, ts, word_at};
use crate::domain::DeploymentStatus;
use crate::playbook::DeploymentRecord;

/// A stored deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentRow {
    /// Row id.
    pub id: i64,
    /// The service's id for it.
    pub external_id: String,
    /// Version deployed.
    pub version: String,
    /// Colour, for blue/green.
    pub colour: Option<String>,
    /// When it was deployed.
    #[serde(serialize_with = "crate::domain::ts::serialize")]
    pub deployed_at: DateTime<Utc>,
    /// As the service last reported it.
    pub status: DeploymentStatus,
}

impl Store {
    /// Records the service's history: new deployments are added, known ones get
    /// their current status. One transaction.
    pub fn sync_deployments(&mut self, env_id: i64, history: &[DeploymentRecord]) -> Result<()> {
        let now = ts(Utc::now());
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO deployments
                   (environment_id, external_id, version, colour, deployed_at, status, first_seen_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT(environment_id, external_id) DO UPDATE SET
                   status = excluded.status, version = excluded.version, colour = excluded.colour,
                   updated_at = excluded.updated_at
                 WHERE deployments.status <> excluded.status OR deployments.version <> excluded.version",
            )?;
            for d in history {
                // Bounded here too, whoever built the record: a stored string never breaks a reader.
                upsert.execute(params![
                    env_id,
                    super::clip(&d.id, super::MAX_NAME),
                    super::clip(&d.version, super::MAX_NAME),
                    d.environment.as_deref().map(|c| super::clip(c, super::MAX_NAME)),
                    ts(d.deployed_at),
                    d.status.as_str(),
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stored deployments of an environment, oldest first.
    pub fn deployments(&self, env_id: i64) -> Result<Vec<DeploymentRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, external_id, version, colour, deployed_at, status
             FROM deployments WHERE environment_id = ?1 ORDER BY deployed_at, id",
        )?;
        let rows = stmt.query_map([env_id], |r| {
            Ok(DeploymentRow {
                id: r.get(0)?,
                external_id: r.get(1)?,
                version: r.get(2)?,
                colour: r.get(3)?,
                deployed_at: time_at(r, 4, "deployments")?,
                status: word_at(r, 5, "deployments")?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
