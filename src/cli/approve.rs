//! `backout approve`: the second operator of seed 002's rollback authority.
//! Lists pending rollback requests, approves one (planned again now, refused
//! if the service moved since it was requested), or declines one.

use std::io::IsTerminal;

use clap::Args;
use color_eyre::eyre::Result;

use super::output::{self, Exit, Format};
use super::rollback::{confirmed, refuse, run_prepared};
use super::{Context, pick_environments, try_exit};
use crate::domain::ts;
use crate::rollback::Refusal;
use crate::rollback::approval::{REQUEST_EXPIRES, options_for, stale};
use crate::store::{RequestStatus, RollbackRequest, Store};

/// Arguments of `backout approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The rollback request to approve, as `backout rollback` printed it
    /// [default: list the pending requests].
    #[arg(value_name = "REQUEST")]
    request: Option<i64>,
    /// Decline it instead: nothing runs (the operator who asked may withdraw
    /// their own request this way).
    #[arg(long, requires = "request")]
    decline: bool,
    /// Why it is declined (recorded).
    #[arg(long, requires = "decline")]
    reason: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

pub(super) fn run(ctx: &Context, args: &ApproveArgs) -> Result<Exit> {
    let config = try_exit!(ctx.config());
    let mut store = try_exit!(ctx.store());
    let Some(id) = args.request else { return list(ctx, &mut store) };
    let operator = config.operator();
    let Some(request) = store.rollback_request(id, REQUEST_EXPIRES)? else {
        eprintln!("backout: no rollback request #{id}; `backout approve` lists the pending ones");
        return Ok(Exit::Usage);
    };
    if request.status != RequestStatus::Pending {
        eprintln!("backout: refused: {}", decided(&request));
        return Ok(Exit::Refused);
    }
    if args.decline {
        let why = args.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).unwrap_or("no reason given");
        let ended = store.end_request(id, RequestStatus::Declined, &operator, why)?;
        if !ended {
            eprintln!("backout: refused: rollback request #{id} was decided by someone else meanwhile");
            return Ok(Exit::Refused);
        }
        tracing::info!(request = id, "rollback request #{id} declined by {operator}: {why}");
        println!("rollback request #{id} declined by {operator}: {why}; nothing was sent");
        return Ok(Exit::Ok);
    }
    if request.requested_by == operator {
        eprintln!(
            "backout: refused: rollback request #{id} was planned by {operator}; a second, different operator must \
             approve it (decline it with `backout approve {id} --decline` to withdraw it)"
        );
        return Ok(Exit::Refused);
    }
    let env = try_exit!(pick_environments(&config, Some(&request.environment)))[0];
    if store.damaged().is_some() {
        eprintln!("backout: refused: no rollback starts while the database cannot record it; nothing was sent");
        return Ok(Exit::Refused);
    }
    let opts = options_for(&request, &operator, config.severities.clone());
    let handle = ctx.rt.handle();
    // The request's plan is a guess made earlier: plan again now and compare.
    let prepared = match crate::rollback::prepare(handle, &mut store, env, &opts) {
        Ok(Ok(p)) => p,
        Ok(Err(r)) => {
            eprintln!(
                "backout: rollback request #{id} stays pending (decline it with `backout approve {id} --decline` if \
                 it is no longer wanted)"
            );
            return Ok(refuse(ctx, &r));
        }
        Err(e) if crate::rollback::is_busy(&e) => return Ok(refuse(ctx, &Refusal::Busy)),
        Err(e) => return Err(e),
    };
    if let Some(changed) = stale(&request, &prepared) {
        store.end_request(id, RequestStatus::Stale, &operator, &changed)?;
        tracing::warn!(request = id, "rollback request #{id} refused as stale at approval by {operator}: {changed}");
        eprintln!(
            "backout: refused: rollback request #{id} is stale: {changed}; nothing was sent. Plan it again with \
             `backout rollback {}` if it is still needed",
            request.environment
        );
        return Ok(Exit::Refused);
    }
    let plan = prepared.describe(opts.trigger);
    let question = format!("Approve rollback request #{id} by {} ({}): {plan}?", request.requested_by, request.reason);
    if !confirmed(env, &question, &plan, args.yes, std::io::stdin().is_terminal()) {
        return Ok(Exit::Refused);
    }
    if ctx.format == Format::Table {
        println!("rolling back {plan} (requested by {}, approved by {operator})", request.requested_by);
    }
    run_prepared(ctx, &config, &mut store, prepared, &opts)
}

/// Why a decided request cannot be approved, and what became of it.
fn decided(r: &RollbackRequest) -> String {
    let by = r.decided_by.as_deref().map_or_else(String::new, |b| format!(" by {b}"));
    let at = r.decided_at.map_or_else(String::new, |t| format!(" at {}", ts::format(t)));
    let rollback = r.rollback_id.map_or_else(String::new, |id| format!(" (rollback #{id})"));
    let note = r.decision_note.as_deref().map_or_else(String::new, |n| format!(": {n}"));
    format!("rollback request #{} is already {}{by}{at}{rollback}{note}", r.id, r.status)
}

fn list(ctx: &Context, store: &mut Store) -> Result<Exit> {
    let pending = store.pending_requests(REQUEST_EXPIRES)?;
    match ctx.format {
        Format::Json => output::json(&pending),
        Format::Table if pending.is_empty() => println!("no rollback request is awaiting approval"),
        Format::Table => {
            let rows: Vec<Vec<String>> = pending
                .iter()
                .map(|r| {
                    vec![
                        format!("#{}", r.id),
                        r.environment.clone(),
                        ts::format(r.requested_at),
                        r.requested_by.clone(),
                        r.plan.clone(),
                        r.reason.clone(),
                    ]
                })
                .collect();
            println!("{}", output::table(&["REQUEST", "ENV", "REQUESTED", "BY", "PLAN", "REASON"], &rows));
        }
    }
    Ok(Exit::Ok)
}
