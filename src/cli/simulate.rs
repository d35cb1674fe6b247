//! `backout simulate`: serve the playbook API for simulated services, and write a
//! config pointing at them so a drill takes two commands.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, eyre};

use super::Context;
use super::output::Exit;
use crate::sim::{
    GeneratedConfig, Scenario, ServiceKind, ServiceSpec, SimOptions, Timings, ready_config, seed_from_clock,
};

/// Arguments of `backout simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on (loopback; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Scenario of services given without one: steady, bad-deploy, flapping, slow,
    /// garbage, rollback-fails.
    #[arg(long, default_value = "steady")]
    scenario: String,
    /// A service as NAME[:KIND[:SCENARIO]] (KIND blue-green or standard); repeatable.
    /// Default: one blue-green service named checkout.
    #[arg(long = "service", value_name = "NAME[:KIND[:SCENARIO]]")]
    services: Vec<String>,
    /// Past deployments per service, the current one included (1 leaves nothing to roll back to).
    #[arg(long, default_value_t = ServiceSpec::DEFAULT_HISTORY)]
    history: usize,
    /// bad-deploy / rollback-fails: deploy a bad version on its own after this long.
    #[arg(long, value_parser = humantime::parse_duration)]
    deploy_after: Option<Duration>,
    /// How long a bad deploy takes to degrade fully.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "20s")]
    ramp: Duration,
    /// After a rollback, health stays degraded this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    settle: Duration,
    /// slow: every answer is delayed this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    slow_delay: Duration,
    /// flapping: health flips this often.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
    flap_period: Duration,
    /// Seed of the healthy metrics' noise; the same seed gives the same values
    /// second by second (default: drawn from the clock and printed).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Also write the config pointing at this fleet to FILE.
    #[arg(long, value_name = "FILE")]
    write_config: Option<PathBuf>,
    /// Write `auto_rollback = true` in that config, so `watch`, `console` and
    /// `drill` roll back on their own (default: false, roll back by hand).
    #[arg(long, requires = "write_config")]
    auto_rollback: bool,
}

/// Parses `NAME[:KIND[:SCENARIO]]`.
fn parse_service(text: &str, default: Scenario, history: usize) -> Result<ServiceSpec> {
    let mut parts = text.split(':');
    let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(|| eyre!("empty service name in {text:?}"))?;
    let kind = match parts.next() {
        Some(k) => k.parse::<ServiceKind>()?,
        None => ServiceKind::BlueGreen,
    };
    let scenario = match parts.next() {
        Some(s) => s.parse::<Scenario>()?,
        None => default,
    };
    let mut spec = ServiceSpec::new(name, kind, scenario);
    spec.history = history;
    Ok(spec)
}

impl SimulateArgs {
    fn options(&self) -> Result<SimOptions> {
        let default: Scenario = self.scenario.parse()?;
        let services = if self.services.is_empty() {
            vec![parse_service("checkout", default, self.history)?]
        } else {
            self.services.iter().map(|s| parse_service(s, default, self.history)).collect::<Result<_>>()?
        };
        Ok(SimOptions {
            services,
            timings: Timings {
                deploy_after: self.deploy_after,
                ramp: self.ramp,
                settle: self.settle,
                slow_delay: self.slow_delay,
                flap_period: self.flap_period,
            },
            // Settled here, not in the fleet, so it can be printed for a rerun.
            seed: Some(self.seed.unwrap_or_else(seed_from_clock)),
        })
    }
}

pub(super) fn run(ctx: &Context, args: &SimulateArgs) -> Result<Exit> {
    let opts = match args.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("backout: {e}");
            return Ok(Exit::Usage);
        }
    };
    ctx.rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen).await.wrap_err_with(|| {
            format!("cannot listen on {} (is the port in use? try --listen 127.0.0.1:0)", args.listen)
        })?;
        let addr = listener.local_addr()?;
        let services: Vec<(ServiceSpec, String)> =
            opts.services.iter().map(|s| (s.clone(), format!("http://{addr}/svc/{}", s.name))).collect();
        let text = ready_config(&GeneratedConfig {
            poll_interval: Duration::from_secs(1),
            rule_window: None,
            auto_rollback: args.auto_rollback,
            verify_timeout: Duration::from_secs(30),
            services: &services,
        });
        match &args.write_config {
            Some(path) => {
                // Written whole or not at all: a drill script may be waiting to read it.
                let tmp = path.with_extension("toml.tmp");
                std::fs::write(&tmp, &text).wrap_err_with(|| format!("writing {}", tmp.display()))?;
                std::fs::rename(&tmp, path).wrap_err_with(|| format!("writing {}", path.display()))?;
                println!("config written to {}", path.display());
            }
            None => println!("{text}"),
        }
        for (spec, url) in &services {
            println!("serving {} ({}, {}) at {url}", spec.name, spec.kind.name(), spec.scenario.name());
        }
        if let Some(seed) = opts.seed {
            println!("noise seed {seed} (--seed {seed} repeats it)");
        }
        println!("listening on http://{addr}; Ctrl-C stops");
        crate::sim::serve(listener, opts, shutdown_signal()).await
    })?;
    Ok(Exit::Ok)
}

/// Completes on Ctrl-C or SIGTERM.
pub(super) async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_specs_parse() {
        let s = parse_service("search:standard:slow", Scenario::Steady, 2).unwrap();
        assert_eq!((s.kind, s.scenario, s.history), (ServiceKind::Standard, Scenario::Slow, 2));
        assert!(parse_service("x:purple", Scenario::Steady, 2).is_err());
    }
}
