//! `backout rollback`: roll one environment back, with every attempt recorded.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use color_eyre::eyre::Result;

use super::output::{self, Exit, Format};
use super::{Context, pick_environments, try_exit};
use crate::rollback::{Refusal, RollbackOptions};
use crate::store::{RollbackStatus, RollbackTrigger};

/// Arguments of `backout rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Environment to roll back (also accepted as `--env NAME`).
    #[arg(value_name = "ENV", required_unless_present = "env_flag", conflicts_with = "env_flag")]
    env: Option<String>,
    /// Environment to roll back.
    #[arg(long = "env", id = "env_flag", value_name = "ENV")]
    env_flag: Option<String>,
    /// Version to go back to [default: the last known-good version]. Seed 003
    /// calls it `--to-version`; both work.
    #[arg(long, visible_alias = "to-version", conflicts_with = "to_state")]
    version: Option<String>,
    /// Restore a kept state instead: its id as `backout states --env NAME`
    /// lists it (the version and colour it kept, or a flag driver's env file
    /// byte for byte or flag value).
    #[arg(long, value_name = "N")]
    to_state: Option<i64>,
    /// Roll back even though the current deployment is healthy.
    #[arg(long)]
    force: bool,
    /// Skip pre-rollback validation (target in history, driver reachable).
    #[arg(long)]
    skip_validation: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Why; recorded and sent to the service. Asked for when missing on a terminal.
    #[arg(long)]
    reason: Option<String>,
}

pub(super) fn ask(prompt: &str) -> Option<String> {
    eprint!("{prompt}");
    std::io::stderr().flush().ok()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_string())
}

pub(super) fn refuse(ctx: &Context, r: &Refusal) -> Exit {
    eprintln!("backout: refused: {r}");
    if ctx.format == Format::Json {
        output::json(&serde_json::json!({
            "refused": true,
            "reason": r.to_string(),
            "known_versions": r.known_versions(),
            "lock_holder": match r { Refusal::LockHeld(h) => Some(h), _ => None },
        }));
    }
    Exit::Refused
}

pub(super) fn run(ctx: &Context, args: &RollbackArgs) -> Result<Exit> {
    let config = try_exit!(ctx.config());
    // Never "the first environment" by default: a rollback names its target.
    let Some(name) = args.env.as_deref().or(args.env_flag.as_deref()) else {
        eprintln!("backout: name the environment to roll back: `backout rollback NAME` or `--env NAME`");
        return Ok(Exit::Usage);
    };
    let env = try_exit!(pick_environments(&config, Some(name)))[0];
    let interactive = std::io::stdin().is_terminal();
    let reason = match (&args.reason, interactive) {
        (Some(r), _) if !r.trim().is_empty() => r.trim().to_string(),
        (_, true) => match ask("Reason for the rollback (recorded): ") {
            Some(r) if !r.is_empty() => r,
            _ => {
                eprintln!("backout: a rollback needs a reason; nothing was done");
                return Ok(Exit::Usage);
            }
        },
        (_, false) => {
            eprintln!("backout: --reason is required: it is recorded with the rollback and sent to the service");
            return Ok(Exit::Usage);
        }
    };
    let opts = RollbackOptions {
        version: args.version.clone(),
        state: args.to_state,
        force: args.force,
        skip_validation: args.skip_validation,
        reason,
        operator: config.operator(),
        trigger: RollbackTrigger::Manual,
        evidence: None,
        detected: None,
        objectives: config.severities.clone(),
        approval: None,
    };
    let mut store = try_exit!(ctx.store());
    // A rollback that cannot be recorded is not started (the notice above says why).
    if store.damaged().is_some() {
        eprintln!("backout: refused: no rollback starts while the database cannot record it; nothing was sent");
        return Ok(Exit::Refused);
    }
    let handle = ctx.rt.handle();
    let prepared = match crate::rollback::prepare(handle, &mut store, env, &opts) {
        Ok(Ok(p)) => p,
        Ok(Err(r)) => return Ok(refuse(ctx, &r)),
        // Planning sends nothing: a database locked past the wait is a refusal.
        Err(e) if crate::rollback::is_busy(&e) => return Ok(refuse(ctx, &Refusal::Busy)),
        Err(e) => return Err(e),
    };
    let plan = prepared.describe(opts.trigger);
    if !confirmed(env, &format!("Roll back {plan}?"), &plan, args.yes, interactive) {
        return Ok(Exit::Refused);
    }
    // Two operators: this one's confirmed plan is recorded and waits for the other.
    if crate::rollback::needs_request(env, &opts) {
        return requested(ctx, &mut store, &config, &prepared, &opts);
    }
    if ctx.format == Format::Table {
        println!("rolling back {plan}");
    }
    run_prepared(ctx, &config, &mut store, prepared, &opts)
}

/// Whether the operator confirmed `plan`: `--yes`, or on a terminal `y` (the
/// environment's name for production). Says why not when not.
pub(super) fn confirmed(
    env: &crate::config::EnvironmentConfig,
    question: &str,
    plan: &str,
    yes: bool,
    interactive: bool,
) -> bool {
    if yes {
        return true;
    }
    if !interactive {
        eprintln!("backout: refused: confirmation needed for {plan}; pass --yes to confirm from a script");
        return false;
    }
    let answer = if env.production {
        ask(&format!("PRODUCTION: {question}\nType the environment name to confirm: "))
    } else {
        ask(&format!("{question} [y/N] "))
    };
    let confirmed = match answer.as_deref() {
        Some(a) if env.production => a == env.name(),
        Some(a) => a.eq_ignore_ascii_case("y") || a.eq_ignore_ascii_case("yes"),
        None => false,
    };
    if !confirmed {
        eprintln!("backout: not confirmed; nothing was done");
    }
    confirmed
}

/// Records the confirmed plan as a request for a second operator and says how
/// they approve it.
fn requested(
    ctx: &Context,
    store: &mut crate::store::Store,
    config: &crate::config::Config,
    prepared: &crate::rollback::Prepared,
    opts: &RollbackOptions,
) -> Result<Exit> {
    let request = match crate::rollback::approval::request(store, prepared, opts)? {
        Ok(r) => r,
        Err(crate::store::RequestRefused::Pending(p)) => {
            eprintln!(
                "backout: refused: rollback request #{} of {} by {} is still awaiting approval ({}); approve or \
                 decline it first (`backout approve {}` or `backout approve {} --decline --reason TEXT`)",
                p.id, p.environment, p.requested_by, p.plan, p.id, p.id
            );
            return Ok(Exit::Refused);
        }
    };
    let notifier = crate::notify::Notifier::from_config(&config.notifications);
    if let Err(e) = crate::rollback::approval::announce_request(ctx.rt.handle(), store, &notifier, &request) {
        eprintln!(
            "backout: rollback request #{} is recorded, but recording its notification failed: {e:#}",
            request.id
        );
    }
    match ctx.format {
        Format::Json => output::json(&request),
        Format::Table => println!(
            "rollback request #{id} recorded: {plan}\n{env} needs a second operator: nothing runs until someone \
             other than {by} approves it with `backout approve {id}` (within {mins} minutes; it is planned again \
             then, and refused if the service has changed)",
            id = request.id,
            plan = request.plan,
            env = request.environment,
            by = request.requested_by,
            mins = crate::rollback::approval::REQUEST_EXPIRES.num_minutes()
        ),
    }
    Ok(Exit::Ok)
}

/// Runs a confirmed plan through the rollback service, announces it and
/// prints the record: what `rollback` and `approve` end with.
pub(super) fn run_prepared(
    ctx: &Context,
    config: &crate::config::Config,
    store: &mut crate::store::Store,
    prepared: crate::rollback::Prepared,
    opts: &RollbackOptions,
) -> Result<Exit> {
    let handle = ctx.rt.handle();
    let prepared_env_id = prepared.environment_id;
    let (serving_colour, target_colour) =
        (prepared.colour.clone(), prepared.target.as_ref().and_then(|t| t.colour.clone()));
    let row = match crate::rollback::execute(handle, store, prepared, opts) {
        Ok(Ok(row)) => row,
        Ok(Err(r)) => return Ok(refuse(ctx, &r)),
        // The error says what happened and what to do (a write after the
        // request failed: the next start reconciles it): a sentence, not a trace.
        Err(e) => {
            eprintln!("backout: {e:#}");
            return Ok(Exit::Failed);
        }
    };
    let notifier = crate::notify::Notifier::from_config(&config.notifications);
    let completed = row.status == RollbackStatus::Completed;
    let colour = crate::rollback::notice_colour(completed, serving_colour.as_deref(), target_colour.as_deref());
    if let Err(e) = crate::rollback::announce(handle, store, &notifier, &row, colour) {
        eprintln!("backout: rollback #{} is recorded, but recording its notification failed: {e:#}", row.id);
    }
    let row = store.rollbacks(Some(prepared_env_id), 1)?.into_iter().find(|r| r.id == row.id).unwrap_or(row);
    let completed = row.status == RollbackStatus::Completed;
    match ctx.format {
        Format::Json => output::json(&row),
        Format::Table => {
            let cells = super::history::rollback_cells(&row);
            println!(
                "{}",
                output::table(
                    &["ID", "STARTED", "FROM", "TO", "TYPE", "TRIGGER", "STATUS", "DURATION", "WHO", "REASON", "ERROR"],
                    &[cells]
                )
            );
        }
    }
    if !completed {
        eprintln!("backout: rollback #{} failed: {}", row.id, row.error.as_deref().unwrap_or("unknown error"));
    }
    Ok(if completed { Exit::Ok } else { Exit::Failed })
}
