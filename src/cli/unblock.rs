//! `backout unblock`: let automatic rollback try again what it failed at.

use color_eyre::eyre::Result;

use super::output::{self, Exit, Format};
use super::{Context, try_exit};

pub(super) fn run(ctx: &Context, env: &str) -> Result<Exit> {
    let mut store = try_exit!(ctx.store());
    let Some(env_id) = store.environment_id(env)? else {
        eprintln!("backout: no environment named {env:?} has been recorded in {}", store.path().display());
        return Ok(Exit::Usage);
    };
    // Like a note, clearing must not depend on a readable config: it only names the operator.
    let config_path = crate::config::resolve_path(ctx.config_flag.as_deref());
    let actor = match crate::config::Config::load(&config_path) {
        Ok(c) => c.operator(),
        Err(_) => std::env::var("USER").unwrap_or_else(|_| "operator".into()),
    };
    let cleared = store.clear_automatic_block(env_id, &actor, &format!("cleared by {actor} (backout unblock)"))?;
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({ "environment": env, "cleared": cleared })),
        Format::Table => match &cleared {
            Some(b) => println!(
                "{env}: automatic rollback {} may run again (it was blocked since rollback #{} failed)",
                b.from_to(),
                b.rollback_id
            ),
            None => println!("{env}: no automatic rollback is blocked; nothing to clear"),
        },
    }
    Ok(Exit::Ok)
}
