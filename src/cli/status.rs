//! `backout status`: what each environment is running and how it is doing.

use color_eyre::eyre::Result;
use serde::Serialize;
use tokio::task::JoinSet;

use super::output::{self, Exit, Format, or_dash};
use super::{Context, pick_environments, try_exit};
use crate::config::EnvironmentConfig;
use crate::playbook::{CallError, DeploymentStatusReport, HealthReport, PlaybookClient};

/// One environment as `status --format json` prints it.
#[derive(Debug, Serialize)]
pub struct EnvironmentStatus {
    name: String,
    kind: &'static str,
    production: bool,
    auto_rollback: bool,
    base_url: String,
    reachable: bool,
    error: Option<String>,
    health: Option<String>,
    version: Option<String>,
    active_colour: Option<String>,
    colours: serde_json::Value,
    last_deployment: Option<crate::store::DeploymentRow>,
    rollback_in_flight: Option<crate::store::LockHolder>,
    reconciled: Vec<i64>,
    /// A failed automatic rollback that is not retried on its own.
    automatic_block: Option<crate::store::AutomaticBlock>,
}

type Reading = (Result<DeploymentStatusReport, CallError>, Result<HealthReport, CallError>);

/// Reads status and health of every environment at once.
pub(super) fn read_all(ctx: &Context, envs: &[&EnvironmentConfig]) -> Vec<Reading> {
    ctx.rt.block_on(async {
        let mut set = JoinSet::new();
        for (i, env) in envs.iter().enumerate() {
            let client = PlaybookClient::new(env.endpoints(), env.timeout.get());
            set.spawn(async move { (i, tokio::join!(client.status(), client.health())) });
        }
        let mut out: Vec<Option<Reading>> = (0..envs.len()).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            if let Ok((i, reading)) = joined {
                out[i] = Some(reading);
            }
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    let e = CallError::Unreachable("status task ended unexpectedly".into());
                    (Err(e.clone()), Err(e))
                })
            })
            .collect()
    })
}

pub(super) fn run(ctx: &Context, env: Option<&str>) -> Result<Exit> {
    let config = try_exit!(ctx.config());
    let envs = try_exit!(pick_environments(&config, env));
    let mut store = try_exit!(ctx.store());
    let readings = read_all(ctx, &envs);
    let mut rows = Vec::new();
    for (env, (status, health)) in envs.iter().zip(readings) {
        // A damaged file is only read: report what it holds, record nothing.
        let (env_id, reconciled) = if store.damaged().is_some() {
            (store.environment_id(env.name())?.unwrap_or_default(), Vec::new())
        } else {
            let env_id = store.ensure_environment(env.name(), env.kind.as_str(), env.base_url.get_ref())?;
            if let Ok(s) = &status {
                store.sync_deployments(env_id, &s.deployment_history)?;
            }
            (env_id, crate::rollback::reconcile(ctx.rt.handle(), &mut store, env, env_id)?)
        };
        let error = match (&status, &health) {
            (Err(e), _) => Some(format!("status: {e}")),
            (_, Err(e)) => Some(format!("health: {e}")),
            _ => None,
        };
        let status = status.ok();
        rows.push(EnvironmentStatus {
            name: env.name().to_string(),
            kind: env.kind.as_str(),
            production: env.production,
            auto_rollback: env.auto_rollback,
            base_url: env.base_url.get_ref().clone(),
            reachable: status.is_some() || health.is_ok(),
            error,
            health: health.as_ref().ok().map(|h| h.health.to_string()),
            version: status
                .as_ref()
                .map(|s| s.version.clone())
                .or_else(|| health.as_ref().ok().and_then(|h| h.version.clone())),
            active_colour: status.as_ref().and_then(|s| s.current_environment.clone()),
            colours: status.as_ref().map_or(serde_json::Value::Null, |s| serde_json::json!(s.environments)),
            last_deployment: store.deployments(env_id)?.pop(),
            rollback_in_flight: store.rollback_lock(env_id)?,
            reconciled: reconciled.iter().map(|r| r.id).collect(),
            automatic_block: store.automatic_block(env_id)?,
        });
    }
    let all_read = rows.iter().all(|r| r.error.is_none());
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({ "environments": rows })),
        Format::Table => {
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.kind.to_string(),
                        r.health.clone().unwrap_or_else(|| "UNKNOWN".into()),
                        or_dash(r.version.as_deref()),
                        or_dash(r.active_colour.as_deref()),
                        if r.auto_rollback { "on" } else { "off" }.into(),
                        r.rollback_in_flight
                            .as_ref()
                            .map_or("-".into(), |h| format!("#{} by {}", h.rollback_id, h.holder)),
                        or_dash(r.error.as_deref()),
                    ]
                })
                .collect();
            println!(
                "{}",
                output::table(
                    &["ENVIRONMENT", "KIND", "HEALTH", "VERSION", "ACTIVE", "AUTO", "ROLLBACK", "PROBLEM"],
                    &table_rows
                )
            );
            for r in &rows {
                if let Some(b) = &r.automatic_block {
                    println!(
                        "note: automatic rollback {} of {} failed (rollback #{}) and is not retried on its own; `backout unblock --env {}` lets it run again",
                        b.from_to(),
                        r.name,
                        b.rollback_id,
                        r.name
                    );
                }
                for id in &r.reconciled {
                    println!(
                        "note: rollback #{id} of {} was left unfinished by a process that stopped; it has been reconciled (see `backout history`)",
                        r.name
                    );
                }
            }
        }
    }
    Ok(if all_read { Exit::Ok } else { Exit::Failed })
}
