//! `backout watch`: the engine without the console, one event per line.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::Result;

use super::output::{Exit, Format};
use super::{Context, try_exit};
use crate::engine::{EngineEvent, EngineOptions};
use crate::notify::Notifier;

/// Arguments of `backout watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Record what would be done instead of rolling back.
    #[arg(long)]
    dry_run: bool,
    /// Stop by itself after this long (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
}

pub(super) fn line(e: &EngineEvent, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string(e).unwrap_or_else(|err| format!("{{\"error\":\"{err}\"}}")),
        Format::Table => format!(
            "{} {:<16} {:<20} {}",
            e.at.with_timezone(&chrono::Local).format("%H:%M:%S"),
            e.environment,
            e.kind(),
            e.message
        ),
    }
}

pub(super) fn run(ctx: &Context, args: &WatchArgs) -> Result<Exit> {
    let config = Arc::new(try_exit!(ctx.config()));
    let db = crate::store::resolve_path(ctx.db_flag.as_deref());
    let notifier = if args.dry_run { Notifier::disabled() } else { Notifier::from_config(&config.notifications) };
    if ctx.format == Format::Table {
        eprintln!(
            "backout watch: {} environment(s); notifications: {}; Ctrl-C stops",
            config.environments.len(),
            notifier.describe()
        );
    }
    let opts = EngineOptions { dry_run: args.dry_run, check_incidents: !args.dry_run, ..EngineOptions::default() };
    let format = ctx.format;
    let duration = args.duration;
    ctx.rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(crate::engine::EVENT_QUEUE);
        let (_cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                println!("{}", line(&e, format));
            }
        });
        let shutdown = async move {
            match duration {
                Some(d) => tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = super::simulate::shutdown_signal() => {}
                },
                None => super::simulate::shutdown_signal().await,
            }
        };
        let result = crate::engine::run(config, db, notifier, opts, tx, cmd_rx, shutdown).await;
        let _ = printer.await;
        result
    })?;
    Ok(Exit::Ok)
}
