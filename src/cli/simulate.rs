//! `backout simulate`: serve the playbook API for simulated services, and write a
//! config pointing at them so a drill takes two commands.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, eyre};

use super::Context;
use super::output::Exit;
use crate::sim::{Scenario, ServiceKind, ServiceSpec, SimOptions, Timings};

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
    /// Also write the config pointing at this fleet to FILE.
    #[arg(long, value_name = "FILE")]
    write_config: Option<PathBuf>,
}

/// Parses `NAME[:KIND[:SCENARIO]]`.
fn parse_service(text: &str, default: Scenario, history: usize) -> Result<ServiceSpec> {
    let mut parts = text.split(':');
    let name = parts
        .next()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| eyre!("empty service name in {text:?}"))?;
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
            self.services
                .iter()
                .map(|s| parse_service(s, default, self.history))
                .collect::<Result<_>>()?
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
        })
    }
}

/// Settings of a generated config that are not about the services.
pub struct GeneratedConfig<'a> {
    /// How often signals are polled.
    pub poll_interval: Duration,
    /// Window of every `above`/`below` rule; `None` keeps seed 001's windows.
    pub rule_window: Option<Duration>,
    /// Whether rules may roll back on their own.
    pub auto_rollback: bool,
    /// How long a rollback may take to verify.
    pub verify_timeout: Duration,
    /// The services and their base URLs.
    pub services: &'a [(ServiceSpec, String)],
}

/// A config watching simulated services, with seed 001's triggers and checklist.
pub fn sim_config(g: &GeneratedConfig<'_>) -> String {
    let fmt = |d: Duration| humantime::format_duration(d).to_string();
    let window = |seed: u64| fmt(g.rule_window.unwrap_or(Duration::from_secs(seed)));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `backout simulate`: a config watching the simulated fleet."
    );
    let _ = writeln!(out, "poll_interval = \"{}\"\n", fmt(g.poll_interval));
    for (spec, url) in g.services {
        let _ = write!(
            out,
            r#"[[environment]]
name = "{name}"
kind = "{kind}"
base_url = "{url}"
timeout = "2s"
auto_rollback = {auto}
recovery_time_objective = "2m"

[environment.driver]
type = "http"
verify_timeout = "{verify}"

[[environment.signal]]
name = "health"
source = "health"

[[environment.signal]]
name = "error_rate"
source = "exposition"
derive = "error-rate"
metric = "http_requests_total"
unit = "ratio"

[[environment.signal]]
name = "latency"
source = "exposition"
derive = "mean-latency"
metric = "http_request_duration_seconds"
unit = "s"

[[environment.signal]]
name = "cpu"
source = "exposition"
derive = "gauge"
metric = "process_cpu_ratio"
unit = "ratio"

[[environment.signal]]
name = "memory"
source = "exposition"
derive = "gauge"
metric = "process_memory_ratio"
unit = "ratio"

[[environment.signal]]
name = "quality"
source = "exposition"
derive = "gauge"
metric = "content_quality_score"
unit = "score"

[[environment.trigger]]
signal = "health"
rule = "consecutive_failures"
count = 3
action = "rollback"

[[environment.trigger]]
signal = "error_rate"
rule = "above"
threshold = 0.05
for = "{w120}"
action = "rollback"

[[environment.trigger]]
signal = "latency"
rule = "above"
threshold = 3.0
for = "{w300}"
action = "rollback"

[[environment.trigger]]
signal = "memory"
rule = "above"
threshold = 0.9
for = "{w600}"
action = "rollback"

[[environment.trigger]]
signal = "cpu"
rule = "above"
threshold = 0.95
for = "{w300}"
action = "rollback"

[[environment.trigger]]
signal = "quality"
rule = "drop"
threshold = 0.15
action = "alert"

[[environment.checklist]]
title = "/health returns healthy"
check = "health_healthy"

[[environment.checklist]]
title = "Traffic switched to the other environment"
check = "environment_switched"

[[environment.checklist]]
title = "Version matches the expected rollback version"
check = "version_matches"

[[environment.checklist]]
title = "Core functionality: AI query endpoint answers"
check = "probe"
path = "/api/ai/query"

[[environment.checklist]]
title = "Response times under 3 seconds"
check = "signal_below"
signal = "latency"
threshold = 3.0

[[environment.checklist]]
title = "Error rate under 1%"
check = "signal_below"
signal = "error_rate"
threshold = 0.01

[[environment.checklist]]
title = "All metrics back to normal levels"
check = "manual"

"#,
            name = spec.name,
            kind = spec.kind.name(),
            auto = g.auto_rollback,
            verify = fmt(g.verify_timeout),
            w120 = window(120),
            w300 = window(300),
            w600 = window(600),
        );
    }
    out
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
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .wrap_err_with(|| {
                format!(
                    "cannot listen on {} (is the port in use? try --listen 127.0.0.1:0)",
                    args.listen
                )
            })?;
        let addr = listener.local_addr()?;
        let services: Vec<(ServiceSpec, String)> = opts
            .services
            .iter()
            .map(|s| (s.clone(), format!("http://{addr}/svc/{}", s.name)))
            .collect();
        let text = sim_config(&GeneratedConfig {
            poll_interval: Duration::from_secs(1),
            rule_window: None,
            auto_rollback: false,
            verify_timeout: Duration::from_secs(30),
            services: &services,
        });
        match &args.write_config {
            Some(path) => {
                std::fs::write(path, &text)
                    .wrap_err_with(|| format!("writing {}", path.display()))?;
                println!("config written to {}", path.display());
            }
            None => println!("{text}"),
        }
        for (spec, url) in &services {
            println!(
                "serving {} ({}, {}) at {url}",
                spec.name,
                spec.kind.name(),
                spec.scenario.name()
            );
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
    fn generated_config_passes_check() {
        let services = vec![
            (
                ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy),
                "http://127.0.0.1:1/svc/checkout".to_string(),
            ),
            (
                ServiceSpec::new("search", ServiceKind::Standard, Scenario::Steady),
                "http://127.0.0.1:1/svc/search".to_string(),
            ),
        ];
        let text = sim_config(&GeneratedConfig {
            poll_interval: Duration::from_secs(1),
            rule_window: Some(Duration::from_secs(20)),
            auto_rollback: true,
            verify_timeout: Duration::from_secs(30),
            services: &services,
        });
        let c = crate::config::Config::from_toml(&text, std::path::Path::new("gen.toml")).unwrap();
        assert_eq!(c.environments.len(), 2);
        assert_eq!(c.environments[1].kind, crate::config::EnvKind::Standard);
        assert_eq!(
            c.environments[0].triggers[1].window,
            Some(crate::config::HumanDuration::secs(20))
        );
        assert_eq!(c.environments[0].checklist.len(), 7);
    }

    #[test]
    fn service_specs_parse() {
        let s = parse_service("search:standard:slow", Scenario::Steady, 2).unwrap();
        assert_eq!(
            (s.kind, s.scenario, s.history),
            (ServiceKind::Standard, Scenario::Slow, 2)
        );
        assert!(parse_service("x:purple", Scenario::Steady, 2).is_err());
    }
}
