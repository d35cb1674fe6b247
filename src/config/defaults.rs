//! Default values, including seed 001's rollback triggers.

use toml::Spanned;

use super::{Derivation, HumanDuration, RuleAction, RuleKind, SignalConfig, SignalSource, TriggerConfig};

/// States kept per environment before rollbacks (seed 003's "last 5 states").
pub(super) const KEEP_STATES: usize = 5;

pub(super) fn poll_interval() -> HumanDuration {
    HumanDuration::secs(5)
}
pub(super) fn theme() -> String {
    "dark".to_string()
}
pub(super) fn yes() -> bool {
    true
}
/// Seed 002: "Decision to rollback within 1 hour of detecting critical issue".
pub(super) fn escalate_after() -> HumanDuration {
    HumanDuration::secs(3600)
}

pub(super) fn group_window() -> HumanDuration {
    HumanDuration::secs(300)
}
pub(super) fn health_path() -> Spanned<String> {
    spanned("/health")
}
pub(super) fn status_path() -> Spanned<String> {
    spanned("/deployment/status")
}
pub(super) fn rollback_path() -> Spanned<String> {
    spanned("/deployment/rollback")
}
pub(super) fn request_timeout() -> HumanDuration {
    HumanDuration::secs(2)
}
pub(super) fn recovery_time_objective() -> HumanDuration {
    HumanDuration::secs(15 * 60)
}
pub(super) fn cooldown() -> HumanDuration {
    HumanDuration::secs(10 * 60)
}
pub(super) fn verify_timeout() -> HumanDuration {
    HumanDuration::secs(60)
}

fn spanned(s: &str) -> Spanned<String> {
    Spanned::new(0..0, s.to_string())
}

fn exposition(name: &str, derive: Derivation, metric: &str, unit: &str) -> SignalConfig {
    SignalConfig {
        name: spanned(name),
        source: SignalSource::Exposition,
        url: None,
        pointer: None,
        query: None,
        derive: Some(derive),
        metric: Some(metric.to_string()),
        unit: Some(unit.to_string()),
        interval: None,
        matchers: Vec::new(),
    }
}

/// Health, error rate, latency, CPU and memory, read from the service itself;
/// for content, its quality score too (seed 000).
pub(super) fn signals(kind: super::EnvKind) -> Vec<SignalConfig> {
    let mut health = exposition("health", Derivation::Gauge, "", "");
    health.source = SignalSource::Health;
    health.derive = None;
    health.metric = None;
    health.unit = None;
    let mut all = vec![
        health,
        exposition("error_rate", Derivation::ErrorRate, "http_requests_total", "ratio"),
        exposition("latency", Derivation::MeanLatency, "http_request_duration_seconds", "s"),
        exposition("cpu", Derivation::Gauge, "process_cpu_ratio", "ratio"),
        exposition("memory", Derivation::Gauge, "process_memory_ratio", "ratio"),
    ];
    if kind == super::EnvKind::Content {
        all.push(exposition("quality", Derivation::Gauge, "content_quality_score", "score"));
    }
    all
}

/// How far the quality score may fall below its baseline (scores are 0 to 1).
pub(crate) const QUALITY_DROP: f64 = 0.1;

fn rule(signal: &str, rule: RuleKind, threshold: Option<f64>, window: u64) -> TriggerConfig {
    TriggerConfig {
        signal: spanned(signal),
        rule,
        threshold,
        window: (window > 0).then(|| HumanDuration::secs(window)),
        count: (rule == RuleKind::ConsecutiveFailures).then_some(3),
        action: RuleAction::Rollback,
        grace: None,
    }
}

/// Seed 001's rollback triggers: 3 failed health checks in a row; error rate over
/// 5% for 2 minutes; mean response over 3 s for 5 minutes; memory over 90% for 10
/// minutes; CPU over 95% for 5 minutes. Seed 000's for content: the quality
/// score 0.1 below its baseline for a minute rolls back.
pub(super) fn triggers() -> Vec<TriggerConfig> {
    vec![
        rule("quality", RuleKind::Drop, Some(QUALITY_DROP), 60),
        rule("health", RuleKind::ConsecutiveFailures, None, 0),
        rule("error_rate", RuleKind::Above, Some(0.05), 120),
        rule("latency", RuleKind::Above, Some(3.0), 300),
        rule("memory", RuleKind::Above, Some(0.90), 600),
        rule("cpu", RuleKind::Above, Some(0.95), 300),
    ]
}
pub(super) fn rto_critical() -> HumanDuration {
    HumanDuration::secs(2 * 60)
}
pub(super) fn rto_performance() -> HumanDuration {
    HumanDuration::secs(5 * 60)
}
pub(super) fn rto_feature() -> HumanDuration {
    HumanDuration::secs(15 * 60)
}
pub(super) fn rto_non_critical() -> HumanDuration {
    HumanDuration::secs(30 * 60)
}
