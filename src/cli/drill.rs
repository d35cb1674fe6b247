//! `backout drill` and `backout drills`.

use std::time::Duration;

use clap::Args;
use color_eyre::eyre::Result;

use super::output::{self, Exit, Format, or_dash};
use super::{Context, try_exit};
use crate::domain::ts;
use crate::incident::{self, drill};

/// `backout drill`: practise a bad release end to end.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Environment to drill; its service must offer `POST /deployment/deploy`.
    #[arg(long)]
    env: String,
    /// What goes wrong.
    #[arg(long, default_value = "bad-deploy")]
    scenario: String,
    /// Wait for a person to roll back (and tick manual items) instead of the engine.
    #[arg(long)]
    manual: bool,
    /// Give up after this long.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Version to deploy [default: drill-<time>-bad].
    #[arg(long)]
    version: Option<String>,
}

/// Runs `backout drill`.
pub(super) fn run(ctx: &Context, args: &DrillArgs) -> Result<Exit> {
    let config = try_exit!(ctx.config());
    try_exit!(super::pick_environments(&config, Some(&args.env)));
    let db_path = crate::store::resolve_path(ctx.db_flag.as_deref());
    let opts = drill::DrillOptions {
        env: args.env.clone(),
        scenario: args.scenario.clone(),
        manual: args.manual,
        timeout: args.timeout,
        version: args.version.clone(),
    };
    let table = ctx.format == Format::Table;
    let outcome = match drill::run(ctx.rt.handle(), &config, &db_path, &opts, |line| {
        if table {
            eprintln!("drill: {line}");
        }
    }) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("backout: drill not run: {e:#}");
            return Ok(Exit::Refused);
        }
    };
    match ctx.format {
        Format::Json => output::json(&outcome),
        Format::Table => {
            let s = &outcome.incident;
            println!(
                "drill incident #{}: {}",
                s.incident.id,
                if outcome.completed { "completed" } else { "NOT completed" }
            );
            for (what, value, verdict) in incident::export::duration_rows_public(&s.durations) {
                println!("  {what}: {value} {verdict}");
            }
            for p in &outcome.problems {
                println!("  problem: {p}");
            }
            println!("  verdict: {}", outcome.verdict.verdict);
        }
    }
    Ok(if outcome.completed { Exit::Ok } else { Exit::Failed })
}

/// Runs `backout drills`: past drills with their times against the objective.
pub(super) fn list(ctx: &Context, limit: usize) -> Result<Exit> {
    let mut store = try_exit!(ctx.store());
    let rows = drill::drills(&mut store, limit)?;
    let trends = drill::trends(&rows);
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({ "drills": rows, "trends": trends })),
        Format::Table => {
            let d = |ms: Option<i64>| ms.map_or_else(|| "-".to_string(), incident::human_ms);
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let s = &r.incident;
                    vec![
                        format!("#{}", s.incident.id),
                        or_dash(s.incident.environment.as_deref()),
                        ts::format(s.incident.opened_at),
                        d(s.durations.time_to_detect_ms),
                        d(s.durations.time_to_mitigate_ms),
                        d(s.durations.time_to_validate_ms),
                        d(s.durations.objective_ms),
                        r.verdict.verdict.clone(),
                    ]
                })
                .collect();
            let headers =
                ["DRILL", "ENVIRONMENT", "STARTED", "DETECT", "ROLL BACK", "VALIDATE", "OBJECTIVE", "VERDICT"];
            println!("{}", output::table(&headers, &cells));
            for t in &trends {
                println!(
                    "{}: {} drill(s), {} MET; time to recover median {}, best {}; time to roll back median {}",
                    t.environment,
                    t.drills,
                    t.met,
                    d(t.median_recover_ms),
                    d(t.best_recover_ms),
                    d(t.median_mitigate_ms)
                );
            }
        }
    }
    Ok(Exit::Ok)
}
