//! Issue 9, item 8: a config that passes `check` never panics at run time.
//!
//! Configs are generated from a valid one whose durations, numbers, strings and
//! key bindings are replaced by generated values (huge, zero, negative, NaN,
//! empty, Esc); each that passes validation goes through the run-time
//! arithmetic the engine, the drivers, reconciliation, checklists and drills do
//! with config values. `PROPTEST_CASES` sets how many (256 by default).

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};

use super::Config;
use crate::domain::ts;
use crate::engine::{EngineOptions, Sample, SampleRing};

/// A valid config with a `@SLOT@` wherever a generated value may go.
const TEMPLATE: &str = r#"
poll_interval = @D0@

[notifications]
group_window = @D1@

[severities]
critical = @D2@
feature = @D3@

[escalation]
after = @D15@
critical = @D16@

[keys]
rollback = @K0@

[[environment]]
name = "checkout"
kind = "standard"
base_url = "http://127.0.0.1:8080"
timeout = @D4@
recovery_time_objective = @D5@
cooldown = @D6@
checklist_stable_for = @D7@

[[environment.signal]]
name = "health"
source = "health"

[[environment.signal]]
name = "errors"
source = "exposition"
derive = "gauge"
metric = @S0@
interval = @D8@

[[environment.signal]]
name = "p"
source = "prometheus"
url = "http://127.0.0.1:9090"
query = @S1@

[[environment.signal]]
name = "q"
source = "json"
url = "http://127.0.0.1:9091/q"
pointer = @S2@
interval = @D9@

[[environment.trigger]]
signal = "errors"
rule = "above"
threshold = @N0@
for = @D10@
action = "propose"
grace = @D11@

[[environment.trigger]]
signal = "health"
rule = "consecutive_failures"
count = @I0@

[[environment.trigger]]
signal = "q"
rule = "drop"
threshold = @N1@

[environment.driver]
type = "command"
argv = [@S3@, "rollout", "undo", "deployment/{env}"]
verify_timeout = @D12@

[[environment.checklist]]
title = "errors low"
check = "signal_below"
signal = "errors"
threshold = @N2@
stable_for = @D13@

[[environment]]
name = "flags"
kind = "feature-flag"
base_url = "http://127.0.0.1:8081"

[environment.driver]
type = "flag"
flag = @S4@
env_file = @S5@
restart = [@S6@]
verify_timeout = @D14@
"#;

/// The values the template holds when nothing is replaced.
fn defaults() -> Vec<(&'static str, String)> {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut v: Vec<(&'static str, String)> = vec![
        ("@K0@", q("ctrl-r")),
        ("@S0@", q("process_cpu_ratio")),
        ("@S1@", q("sum(rate(errors[5m]))")),
        ("@S2@", q("/data/q")),
        ("@S3@", q("kubectl")),
        ("@S4@", q("NEW_CHECKOUT")),
        ("@S5@", q("checkout.env")),
        ("@S6@", q("true")),
        ("@N0@", "0.05".into()),
        ("@N1@", "0.1".into()),
        ("@N2@", "0.01".into()),
        ("@I0@", "3".into()),
    ];
    let durations =
        ["5s", "5m", "2m", "15m", "2s", "15m", "10m", "60s", "5s", "10s", "2m", "2m", "60s", "30s", "60s", "1h", "15m"];
    const SLOTS: [&str; 17] = [
        "@D0@", "@D1@", "@D2@", "@D3@", "@D4@", "@D5@", "@D6@", "@D7@", "@D8@", "@D9@", "@D10@", "@D11@", "@D12@",
        "@D13@", "@D14@", "@D15@", "@D16@",
    ];
    v.extend(SLOTS.iter().zip(durations).map(|(slot, d)| (*slot, q(d))));
    v
}

fn quoted() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("-rf".to_string()),
        Just("\u{1b}".to_string()),
        "[a-z/{}]{0,8}",
        any::<String>(),
    ];
    text.prop_map(|s| toml::Value::String(s).to_string())
}

fn duration_text() -> impl Strategy<Value = String> {
    let unit = prop::sample::select(vec!["ns", "us", "ms", "s", "m", "h", "d", "w", "M", "y", ""]);
    let amount = prop_oneof![
        0u64..3,
        1u64..1000,
        Just(u64::from(u32::MAX)),
        Just(300_000),
        Just(u64::MAX / 1000),
        Just(u64::MAX),
        any::<u64>(),
    ];
    let bounds = prop::sample::select(vec!["0s", "100ms", "1s", "10s", "5m", "1h", "24h", "7d", "366d", "367d"]);
    prop_oneof![
        (amount, unit).prop_map(|(n, u)| format!("{n}{u}")),
        bounds.prop_map(str::to_string),
        Just("-1s".to_string()),
        Just("1h 30m".to_string()),
        Just("1e3s".to_string()),
        Just("".to_string()),
    ]
    .prop_map(|s| toml::Value::String(s).to_string())
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nan".to_string()),
        Just("+inf".to_string()),
        Just("-inf".to_string()),
        Just("1e308".to_string()),
        Just("-0.0".to_string()),
        any::<f64>().prop_map(|f| toml::Value::Float(f).to_string()),
    ]
}

fn integer_text() -> impl Strategy<Value = String> {
    prop_oneof![Just(0i64), Just(4_294_967_295), any::<i64>(), 1i64..5000].prop_map(|n| n.to_string())
}

fn key_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec!["esc", "ESC", "ctrl-[", "\u{1b}", "r", "ctrl-r", "enter", "", "space"]);
    prop_oneof![key.prop_map(str::to_string), any::<String>()].prop_map(|s| toml::Value::String(s).to_string())
}

/// A value for `slot`: most often the default, else a generated one of its kind.
fn slot_value(slot: &'static str, default: String) -> BoxedStrategy<String> {
    let generated = match &slot[1..2] {
        "D" => duration_text().boxed(),
        "N" => number_text().boxed(),
        "I" => integer_text().boxed(),
        "K" => key_text().boxed(),
        _ => quoted().boxed(),
    };
    // Rarely replaced, so that a good share of configs pass and carry the
    // unusual values that do pass (bounds, zero where allowed) to run time.
    prop_oneof![12 => Just(default), 1 => generated].boxed()
}

/// Generated config texts.
fn configs() -> impl Strategy<Value = String> {
    let slots: Vec<BoxedStrategy<(&'static str, String)>> =
        defaults().into_iter().map(|(slot, d)| slot_value(slot, d).prop_map(move |v| (slot, v)).boxed()).collect();
    slots.prop_map(|values| values.into_iter().fold(TEMPLATE.to_string(), |text, (slot, v)| text.replace(slot, &v)))
}

/// Everything run time does with a config's durations and numbers.
pub(crate) fn exercise(config: &Config) {
    let now = Utc::now();
    let opts = EngineOptions { min_interval: config.poll_interval.get(), ..EngineOptions::default() };
    for env in &config.environments {
        let signals = env.effective_signals();
        let triggers = env.effective_triggers();
        let mut rings = Vec::new();
        for sig in &signals {
            let capacity = crate::engine::state::ring_capacity(sig, &triggers, &opts);
            let every = sig.interval.unwrap_or(config.poll_interval).get();
            assert!(!every.is_zero(), "a poll loop without pause");
            let _ = (every / 2, every.mul_f64(0.05), every.mul_f64(1.5), crate::engine::state::stale_after(every));
            let mut ring = SampleRing::new(capacity.min(64));
            for i in 0..8u32 {
                ring.push(Sample::value(ts::before(now, Duration::from_secs(60 * u64::from(8 - i))), f64::from(i)));
            }
            rings.push((sig.name.get_ref().clone(), ring));
        }
        for t in &triggers {
            if let Some((_, ring)) = rings.iter().find(|(n, _)| n == t.signal.get_ref()) {
                let _ = crate::engine::evaluate(t, ring, ts::before(now, Duration::from_secs(3600)), Some(1.0));
                let _ = crate::engine::evaluate(t, ring, now, None);
            }
            let grace = t.grace.map_or(Duration::from_secs(120), |g| g.get());
            let _ = crate::engine::state::proposal_deadline(now, grace);
        }
        let _ = crate::rollback::reconcile::verifying_until(now, env);
        // What each driver's `lease()` computes, without building its HTTP client.
        let lease = crate::drivers::lease_for(env.driver.kind, env.timeout.get(), env.driver.verify_timeout.get());
        let _ = now + crate::rollback::capped_lease(lease);
        let started = tokio::time::Instant::now();
        let _ = crate::drivers::verify_deadline(started, env.driver.verify_timeout.get());
        let _ = (env.driver.verify_timeout.get() / 20).clamp(Duration::from_millis(100), Duration::from_secs(2));
        for item in &env.checklist {
            let _ = ts::before(now, crate::incident::checklist::stable_for(item, env));
        }
        let _ = crate::incident::drill::detection_budget(env, config.poll_interval.get());
        let _ = config.poll_interval.get().min(Duration::from_secs(6)).mul_f64(2.5);
        let _ = crate::incident::Severity::for_objective(env.recovery_time_objective.get(), &config.severities);
        let _ = ts::after(now, env.cooldown.get());
        let _ = ts::after(now, env.recovery_time_objective.get());
    }
    for severity in crate::domain::Severity::ALL.into_iter().map(Some).chain([None]) {
        let _ = crate::text::format_duration(config.escalation.time_box(severity));
        let _ = ts::after(now, config.escalation.time_box(severity));
    }
}

/// How many generated configs passed validation and were exercised.
fn run(cases: u32) -> (u32, u32) {
    let mut runner = TestRunner::new(RunnerConfig { cases, failure_persistence: None, ..RunnerConfig::default() });
    let passed = std::cell::Cell::new(0u32);
    let total = std::cell::Cell::new(0u32);
    let result = runner.run(&configs(), |text| {
        total.set(total.get() + 1);
        if let Ok(config) = Config::from_toml(&text, Path::new("generated.toml")) {
            passed.set(passed.get() + 1);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exercise(&config))).map_err(|_| {
                TestCaseError::fail(format!("a config that passes check panicked at run time:\n{text}"))
            })?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    (total.get(), passed.get())
}

#[test]
fn item8_the_template_is_valid_and_exercised() {
    let text = defaults().into_iter().fold(TEMPLATE.to_string(), |t, (slot, v)| t.replace(slot, &v));
    let config = Config::from_toml(&text, Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
    exercise(&config);
}

#[test]
fn item8_a_config_that_passes_check_never_panics_at_run_time() {
    let cases = RunnerConfig::default().cases;
    let (total, passed) = run(cases);
    // Both sides must be reached: some generated configs pass, some do not.
    assert!(passed > 0 && passed < total, "{passed} of {total} passed check");
    eprintln!("item 8: {total} configs generated, {passed} passed check and ran through the run-time arithmetic");
}
