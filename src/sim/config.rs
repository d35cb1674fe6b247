//! A ready config pointing at a simulated fleet, so a drill takes two commands.

use std::fmt::Write as _;
use std::time::Duration;

use super::{ServiceKind, ServiceSpec};

/// Seed 001's "Environment Switch" item: only a blue/green service has another
/// colour to switch to (a standard one redeploys where it stands).
const ENVIRONMENT_SWITCHED: &str = r#"[[environment.checklist]]
title = "Traffic switched to the other environment"
check = "environment_switched"

"#;

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
pub fn ready_config(g: &GeneratedConfig<'_>) -> String {
    let fmt = |d: Duration| humantime::format_duration(d).to_string();
    let window = |seed: u64| fmt(g.rule_window.unwrap_or(Duration::from_secs(seed)));
    let mut out = String::new();
    let _ = writeln!(out, "# Written by `backout simulate`: a config watching the simulated fleet.");
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

{switched}[[environment.checklist]]
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
            switched = if spec.kind == ServiceKind::BlueGreen { ENVIRONMENT_SWITCHED } else { "" },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Scenario;

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
        let text = ready_config(&GeneratedConfig {
            poll_interval: Duration::from_secs(1),
            rule_window: Some(Duration::from_secs(20)),
            auto_rollback: true,
            verify_timeout: Duration::from_secs(30),
            services: &services,
        });
        let c = crate::config::Config::from_toml(&text, std::path::Path::new("gen.toml")).unwrap();
        assert_eq!(c.environments.len(), 2);
        assert_eq!(c.environments[1].kind, crate::config::EnvKind::Standard);
        assert_eq!(c.environments[0].triggers[1].window, Some(crate::config::HumanDuration::secs(20)));
        assert_eq!(c.environments[0].checklist.len(), 7);
        let switched = |e: &crate::config::EnvironmentConfig| {
            e.checklist.iter().any(|i| i.check == crate::config::CheckKind::EnvironmentSwitched)
        };
        assert!(switched(&c.environments[0]), "blue/green checks the switch");
        assert!(!switched(&c.environments[1]), "a standard environment has no colour to switch");
        assert_eq!(c.environments[1].checklist.len(), 6);
    }
}
