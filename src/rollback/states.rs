//! Keep the last N states (seed 003): the state kept before every rollback,
//! and the checks a kept state passes before `--to-state` may restore it.

use chrono::Utc;
use color_eyre::eyre::Result;
use tokio::runtime::Handle;

use super::Prepared;
use crate::config::EnvironmentConfig;
use crate::drivers::Driver;
use crate::store::{NewEvent, StateRow, Store};
use crate::text::service_text;

/// `#4, #5`, or `none`.
fn ids(ids: impl IntoIterator<Item = i64>) -> String {
    let list: Vec<String> = ids.into_iter().map(|id| format!("#{id}")).collect();
    if list.is_empty() { "none".to_string() } else { list.join(", ") }
}

/// The states `env` keeps now, for a refusal's fix.
fn kept_now(store: &Store, env: &EnvironmentConfig, env_id: i64) -> Result<String> {
    let mut kept = store.states(env_id)?;
    kept.truncate(env.keep_states());
    let name = env.name();
    Ok(if kept.is_empty() {
        format!("{name} keeps no states yet (one is kept before each rollback)")
    } else {
        format!("{name} keeps {} (`backout states --env {name}`)", ids(kept.iter().map(|s| s.id)))
    })
}

/// The state `id` if `env`, rolled back through `driver`, can restore it;
/// else why not, with what to do instead.
pub(super) fn restorable(
    store: &Store,
    env: &EnvironmentConfig,
    env_id: i64,
    driver: &Driver,
    id: i64,
) -> Result<std::result::Result<StateRow, String>> {
    let name = env.name();
    let Some(state) = store.state(id)? else {
        return Ok(Err(format!("there is no state #{id}; {}", kept_now(store, env, env_id)?)));
    };
    if state.environment != name {
        let other = service_text(&state.environment);
        return Ok(Err(format!(
            "state #{id} was kept for environment {other}, not {name}; restore it with `backout rollback {other} \
             --to-state {id}`, or pick one of {name}'s: {}",
            kept_now(store, env, env_id)?
        )));
    }
    if let Some(at) = state.pruned_at {
        return Ok(Err(format!(
            "state #{id} was pruned at {} (keep_states = {} keeps the newest {}); {}",
            crate::domain::ts::format(at),
            env.keep_states(),
            env.keep_states(),
            kept_now(store, env, env_id)?
        )));
    }
    // A lowered keep_states holds at once, before the next rollback prunes.
    let keep = env.keep_states();
    if store.states(env_id)?.iter().take(keep).all(|s| s.id != id) {
        return Ok(Err(format!(
            "state #{id} is older than the newest {keep} (keep_states = {keep}) and is pruned at the next              rollback; {}",
            kept_now(store, env, env_id)?
        )));
    }
    if state.driver != driver.name() {
        return Ok(Err(format!(
            "state #{id} was kept for the {} driver, but {name} now rolls back through the {} driver; \
             roll back with --version instead",
            service_text(&state.driver),
            driver.name()
        )));
    }
    let unusable = match (driver, &state.state.flag) {
        (Driver::Flag(d), Some(flag)) if flag.location != d.location() => Some(format!(
            "state #{id} was kept from {}, but {name}'s flag driver now writes {}",
            service_text(&flag.location),
            service_text(&d.location())
        )),
        (Driver::Flag(_), Some(flag)) if flag.location.starts_with("env file ") && flag.env_file.is_none() => {
            Some(format!(
                "state #{id} did not keep the flag's line of {} (it could not be read, or was longer than {} bytes); \
                 edit the file by hand",
                service_text(&flag.location),
                crate::store::MAX_ENV_FILE
            ))
        }
        (Driver::Flag(_), Some(flag))
            if !flag.location.starts_with("env file ") && !matches!(flag.value.as_deref(), Some("true" | "false")) =>
        {
            Some(format!(
                "state #{id} does not know the flag's value at {} (its GET did not say); set it there by hand",
                service_text(&flag.location)
            ))
        }
        (Driver::Flag(_), None) => Some(format!("state #{id} holds no flag; roll back without --to-state")),
        (_, _) if state.state.version.is_none() => Some(format!(
            "state #{id} holds no version (the service could not be read when it was kept); \
             roll back with --version instead"
        )),
        _ => None,
    };
    Ok(unusable.map_or(Ok(state), Err))
}

/// Keeps what the driver of `prepared` is about to change, before rollback
/// `rollback_id` acts, prunes the environment's states past `keep_states`,
/// and records both on the timeline; for a restore, says which state it puts
/// back. Runs under the rollback lock, after the plan was checked again, so
/// the version and colour kept are the ones just confirmed serving.
pub(super) fn keep(
    rt: &Handle,
    store: &mut Store,
    prepared: &Prepared,
    rollback_id: i64,
    incident_id: i64,
) -> Result<()> {
    let (state, note) =
        rt.block_on(prepared.driver.capture_state(prepared.from_version.clone(), prepared.colour.clone()));
    let keep = prepared.env.keep_states();
    let kept = store.keep_state(prepared.environment_id, rollback_id, prepared.driver.name(), &state, keep)?;
    let mut message =
        format!("state #{} kept before rollback #{rollback_id}: {}", kept.id, service_text(&state.describe()));
    if let Some(note) = note {
        message.push_str(&format!(" ({})", service_text(&note)));
    }
    if !kept.pruned.is_empty() {
        message.push_str(&format!("; pruned {} (keep_states = {keep})", ids(kept.pruned.iter().copied())));
    }
    let event = |kind: &str, message: String, data: serde_json::Value| NewEvent {
        at: Utc::now(),
        incident_id: Some(incident_id),
        environment_id: Some(prepared.environment_id),
        rollback_id: Some(rollback_id),
        actor: "backout".into(),
        kind: kind.into(),
        message,
        data: Some(data.to_string()),
    };
    store.append_event(&event(
        "state_kept",
        message,
        serde_json::json!({ "state_id": kept.id, "pruned": kept.pruned, "keep_states": keep }),
    ))?;
    if let Some(restored) = &prepared.restore {
        store.append_event(&event(
            "state_restore",
            format!(
                "rollback #{rollback_id} restores state #{}, kept before rollback #{}: {}",
                restored.id,
                restored.rollback_id,
                service_text(&restored.state.describe())
            ),
            serde_json::json!({ "state_id": restored.id }),
        ))?;
    }
    Ok(())
}
