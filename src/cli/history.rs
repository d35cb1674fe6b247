//! `backout history`: deployments and rollbacks, newest first.

use color_eyre::eyre::Result;
use serde::Serialize;

use super::output::{self, Exit, Format, or_dash};
use super::{Context, pick_environments, try_exit};
use crate::domain::ts;
use crate::store::{DeploymentRow, RollbackRow};

/// One environment's history as `history --format json` prints it.
#[derive(Debug, Serialize)]
struct EnvironmentHistory {
    environment: String,
    /// The service could not be read; the lists are what the store last saw.
    stale: bool,
    error: Option<String>,
    deployments: Vec<DeploymentRow>,
    rollbacks: Vec<RollbackRow>,
}

pub(super) fn run(ctx: &Context, env: Option<&str>, limit: usize) -> Result<Exit> {
    let config = try_exit!(ctx.config());
    let envs = try_exit!(pick_environments(&config, env));
    let mut store = try_exit!(ctx.store());
    let readings = super::status::read_all(ctx, &envs);
    let mut out = Vec::new();
    for (env, (status, _)) in envs.iter().zip(readings) {
        // A damaged file is only read: show what it holds, record nothing.
        let env_id = if store.damaged().is_some() {
            match store.environment_id(env.name())? {
                Some(id) => id,
                None => continue,
            }
        } else {
            let env_id = store.ensure_environment(env.name(), env.kind.as_str(), env.base_url.get_ref())?;
            if let Ok(s) = &status {
                store.sync_deployments(env_id, &s.deployment_history)?;
            }
            crate::rollback::reconcile(ctx.rt.handle(), &mut store, env, env_id)?;
            env_id
        };
        let mut deployments = store.deployments(env_id)?;
        deployments.reverse();
        deployments.truncate(limit);
        out.push(EnvironmentHistory {
            environment: env.name().to_string(),
            stale: status.is_err(),
            error: status.as_ref().err().map(|e| e.to_string()),
            deployments,
            rollbacks: store.rollbacks(Some(env_id), limit)?,
        });
    }
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({ "environments": out })),
        Format::Table => {
            for (i, h) in out.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                let stale = match &h.error {
                    Some(e) => {
                        format!(" (STALE: service unreadable, {e}; showing what was last recorded)")
                    }
                    None => String::new(),
                };
                println!("== {}{stale}", h.environment);
                println!("deployments:");
                let rows: Vec<Vec<String>> = h
                    .deployments
                    .iter()
                    .map(|d| {
                        vec![
                            ts::format(d.deployed_at),
                            d.external_id.clone(),
                            d.version.clone(),
                            or_dash(d.colour.as_deref()),
                            d.status.to_string(),
                        ]
                    })
                    .collect();
                println!("{}", output::table(&["DEPLOYED", "ID", "VERSION", "COLOUR", "STATUS"], &rows));
                println!("rollbacks:");
                let rows: Vec<Vec<String>> = h.rollbacks.iter().map(rollback_cells).collect();
                println!(
                    "{}",
                    output::table(
                        &[
                            "ID", "STARTED", "FROM", "TO", "TYPE", "TRIGGER", "STATUS", "DURATION", "WHO", "REASON",
                            "ERROR"
                        ],
                        &rows
                    )
                );
            }
        }
    }
    Ok(Exit::Ok)
}

/// A rollback as one table row.
pub(super) fn rollback_cells(r: &RollbackRow) -> Vec<String> {
    vec![
        format!("#{}", r.id),
        ts::format(r.started_at),
        or_dash(r.from_version.as_deref()),
        crate::rollback::target_text(r),
        r.rollback_type.to_string(),
        r.trigger.to_string(),
        r.status.to_string(),
        r.duration_ms.map_or("-".into(), crate::text::took),
        crate::rollback::who(r),
        r.reason.clone(),
        or_dash(r.error.as_deref()),
    ]
}
