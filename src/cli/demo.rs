//! `backout demo`: a simulated fleet in-process, a config written for it, a
//! throwaway database, and live status lines until the console exists.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};

use super::Context;
use super::output::Exit;
use crate::config::Config;
use crate::sim::{GeneratedConfig, Scenario, ServiceKind, ServiceSpec, SimOptions, Timings, ready_config};

/// Arguments of `backout demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seconds before the checkout service ships a bad release.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "15s")]
    bad_deploy_after: Duration,
    /// Stop by itself after this long (default: run until Ctrl-C). Lines mode only.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Print live status lines instead of opening the console (no terminal needed).
    #[arg(long)]
    lines: bool,
    /// Theme of the console.
    #[arg(long)]
    theme: Option<String>,
}

pub(super) fn run(ctx: &Context, args: &DemoArgs) -> Result<Exit> {
    let specs = vec![
        ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy),
        ServiceSpec::new("search", ServiceKind::Standard, Scenario::Steady),
        ServiceSpec::new("recommendations", ServiceKind::BlueGreen, Scenario::Flapping),
    ];
    let sim = crate::sim::spawn(SimOptions {
        services: specs.clone(),
        timings: Timings {
            deploy_after: Some(args.bad_deploy_after),
            ramp: Duration::from_secs(20),
            settle: Duration::from_secs(3),
            flap_period: Duration::from_secs(7),
            ..Timings::default()
        },
        seed: None,
    })?;
    let dir = std::env::temp_dir().join(format!("backout-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let services: Vec<(ServiceSpec, String)> = specs.iter().map(|s| (s.clone(), sim.base_url(&s.name))).collect();
    let text = ready_config(&GeneratedConfig {
        poll_interval: Duration::from_secs(1),
        rule_window: Some(Duration::from_secs(20)),
        auto_rollback: true,
        verify_timeout: Duration::from_secs(30),
        services: &services,
    });
    let config_path = dir.join("backout.toml");
    std::fs::write(&config_path, &text).wrap_err("writing the demo config")?;
    let db_path: PathBuf = ctx.db_flag.clone().unwrap_or_else(|| dir.join("demo.db"));
    let config = Config::load(&config_path).map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
    let store = crate::store::Store::open(&db_path)?;

    use std::io::IsTerminal;
    if !args.lines && std::io::stdout().is_terminal() {
        drop(store);
        let opts = crate::tui::ConsoleOptions {
            config: std::sync::Arc::new(config),
            config_path: config_path.clone(),
            db: db_path.clone(),
            mode: crate::tui::app::Mode::Live,
            theme: args.theme.clone(),
            review_incident: None,
        };
        let result = crate::tui::run_console(&ctx.rt, opts);
        sim.stop();
        // The folder holds the generated config (and the database unless --db
        // put it elsewhere): nothing in it outlives the demo.
        let _ = std::fs::remove_dir_all(&dir);
        result?;
        return Ok(Exit::Ok);
    }
    println!("backout demo: simulated fleet at http://{}", sim.addr());
    println!("config {}  database {}", config_path.display(), db_path.display());
    println!(
        "checkout ships a bad release in {}; in another terminal try:",
        humantime::format_duration(args.bad_deploy_after)
    );
    println!(
        "  backout --config {} --db {} rollback --env checkout --reason 'demo'",
        config_path.display(),
        db_path.display()
    );
    println!("(the console's engine, as lines; without --lines on a terminal the console opens; Ctrl-C stops)\n");

    // The same engine as the console runs, printing what it sees and does.
    drop(store);
    let config = std::sync::Arc::new(config);
    let notifier = crate::notify::Notifier::from_config(&config.notifications);
    let duration = args.duration;
    let result = ctx.rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel::<crate::engine::EngineEvent>(crate::engine::EVENT_QUEUE);
        let (_cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
        let (gone_tx, gone) = tokio::sync::oneshot::channel::<()>();
        // Samples and status readings are for the console's sparklines.
        let render = |e: &crate::engine::EngineEvent| {
            let live =
                matches!(e.what, crate::engine::Happened::Sample { .. } | crate::engine::Happened::Status { .. });
            (!live).then(|| super::watch::line(e, super::output::Format::Table))
        };
        let printer = tokio::spawn(super::watch::print_lines(rx, render, gone_tx));
        // `demo --lines | head` stops it like Ctrl-C, so its folder is removed.
        let shutdown = super::watch::until_stopped(duration, gone);
        let opts = crate::engine::EngineOptions::console(false);
        let result = crate::engine::run(config, db_path.clone(), notifier, opts, tx, cmd_rx, shutdown).await;
        let _ = printer.await;
        result
    });
    sim.stop();
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    Ok(Exit::Ok)
}
