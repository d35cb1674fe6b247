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
    /// Receive Alertmanager's webhook on this address (such as
    /// 127.0.0.1:9095), over `[alertmanager] listen`; `alertmanager` signals
    /// read the alerts it receives.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
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
    let opts = EngineOptions {
        dry_run: args.dry_run,
        check_incidents: !args.dry_run,
        // Given or configured, `watch` does not start without its receiver.
        listen: args
            .listen
            .map(|a| a.to_string())
            .or_else(|| config.alertmanager.listen.as_ref().map(|l| l.get_ref().clone())),
        ..EngineOptions::default()
    };
    let format = ctx.format;
    let duration = args.duration;
    ctx.rt.block_on(async move {
        let (tx, rx) = tokio::sync::mpsc::channel(crate::engine::EVENT_QUEUE);
        let (_cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
        let (gone_tx, gone) = tokio::sync::oneshot::channel::<()>();
        let printer = tokio::spawn(print_lines(rx, move |e| Some(line(e, format)), gone_tx));
        // The reader leaving (`watch | head`) stops the engine like Ctrl-C: a
        // rollback in flight is still seen through and recorded.
        let shutdown = until_stopped(duration, gone);
        let result = crate::engine::run(config, db, notifier, opts, tx, cmd_rx, shutdown).await;
        let _ = printer.await;
        result
    })?;
    Ok(Exit::Ok)
}

/// Prints each event as a line until the events end or stdout's reader is gone
/// (a broken pipe), which `gone` then tells.
pub(super) async fn print_lines(
    mut rx: tokio::sync::mpsc::Receiver<EngineEvent>,
    render: impl Fn(&EngineEvent) -> Option<String> + Send,
    gone: tokio::sync::oneshot::Sender<()>,
) {
    use std::io::Write;
    while let Some(e) = rx.recv().await {
        let Some(text) = render(&e) else { continue };
        let written = {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}").and_then(|()| out.flush())
        };
        if written.is_err() {
            let _ = gone.send(());
            // Keep draining so the engine never waits on this reader.
            while rx.recv().await.is_some() {}
            return;
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, when `duration` has passed, or when the
/// output's reader is gone (`gone`), whichever comes first.
pub(super) async fn until_stopped(duration: Option<Duration>, gone: tokio::sync::oneshot::Receiver<()>) {
    let elapsed = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = elapsed => {}
        _ = super::simulate::shutdown_signal() => {}
        _ = gone => {}
    }
}
