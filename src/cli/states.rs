//! `backout states`: the states kept before an environment's rollbacks.

use color_eyre::eyre::Result;

use super::output::{self, Exit, Format, or_dash};
use super::{Context, pick_environments, try_exit};
use crate::domain::ts;
use crate::store::StateRow;

pub(super) fn run(ctx: &Context, env: &str) -> Result<Exit> {
    let config = try_exit!(ctx.config());
    let env = try_exit!(pick_environments(&config, Some(env)))[0];
    let store = try_exit!(ctx.store());
    let mut states = match store.environment_id(env.name())? {
        Some(id) => store.states(id)?,
        None => Vec::new(),
    };
    // A lowered keep_states holds at once; the next rollback prunes the rest.
    states.truncate(env.keep_states());
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({
            "environment": env.name(),
            "keep_states": env.keep_states(),
            "states": states,
        })),
        Format::Table => {
            if states.is_empty() {
                println!("{}: no states kept yet (one is kept before each rollback)", env.name());
            } else {
                let rows: Vec<Vec<String>> = states.iter().map(state_cells).collect();
                println!(
                    "{}",
                    output::table(&["STATE", "TAKEN", "BEFORE", "DRIVER", "VERSION", "COLOUR", "FLAG", "KEPT"], &rows)
                );
                println!(
                    "keeping the newest {} (keep_states); restore one with `backout rollback {} --to-state N`",
                    env.keep_states(),
                    env.name()
                );
            }
        }
    }
    Ok(Exit::Ok)
}

/// A state as one table row; `output::table` makes every cell printable.
fn state_cells(s: &StateRow) -> Vec<String> {
    let flag = s.state.flag.as_ref();
    vec![
        format!("#{}", s.id),
        ts::format(s.taken_at),
        format!("rollback #{}", s.rollback_id),
        s.driver.clone(),
        or_dash(s.state.version.as_deref()),
        or_dash(s.state.colour.as_deref()),
        flag.map_or_else(|| "-".to_string(), crate::domain::FlagState::describe),
        match flag.and_then(|f| f.env_file.as_ref()) {
            Some(bytes) => format!("its env file line, {} bytes", bytes.len()),
            None if flag.is_some_and(|f| f.value.is_some()) => "flag value".to_string(),
            None if flag.is_some() => "nothing to restore".to_string(),
            None => "version and colour".to_string(),
        },
    ]
}
