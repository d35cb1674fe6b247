//! Issue 9, item 19: the config loader, the metrics-page parser and the JSON
//! readers (deployment status, health, Prometheus answers, JSON signals) never
//! panic, whatever they are given.
//!
//! In CI each runs a small number of generated inputs. The long runs are
//! ignored tests, counted by `FUZZ_CASES` (default 1,000,000 each):
//!
//! ```sh
//! FUZZ_CASES=1000000 cargo test --release --test fuzz_parsers -- --ignored --nocapture
//! ```
//!
//! Inputs mix arbitrary text, text built from each format's own tokens, and
//! valid documents (the shipped fixtures, the contract's examples) with bytes
//! inserted, deleted and replaced.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Instant;

use backout::config::Config;
use backout::engine::{json_sample, parse_exposition, prometheus_value};
use backout::playbook::{DeploymentStatusReport, HealthReport};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};

/// Inputs per parser in CI.
const CI_CASES: u32 = 512;

/// Inputs per parser in a long run: `FUZZ_CASES`, else a million.
fn long_cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(1_000_000)
}

/// Runs `check` on `cases` inputs from `inputs`; a panic fails the test with
/// the (shrunk) input that caused it.
fn fuzz<S: Strategy>(what: &str, cases: u32, inputs: S, check: impl Fn(S::Value))
where
    S::Value: std::fmt::Debug,
{
    let config = RunnerConfig { cases, failure_persistence: None, max_shrink_iters: 2000, ..RunnerConfig::default() };
    let mut runner = TestRunner::new(config);
    let started = Instant::now();
    let result = runner.run(&inputs, |input| {
        check(input);
        Ok(())
    });
    let took = started.elapsed();
    if let Err(e) = result {
        panic!("{what}: {e}");
    }
    eprintln!(
        "fuzz {what}: {cases} inputs, no panic, {:.1}s ({:.1} µs each)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / f64::from(cases.max(1))
    );
}

/// `seed` with bytes inserted, deleted and replaced at generated places.
fn mutated(seeds: Vec<String>) -> impl Strategy<Value = String> {
    let edit = (any::<u16>(), 0u8..3, any::<u8>());
    (prop::sample::select(seeds), prop::collection::vec(edit, 0..8)).prop_map(|(seed, edits)| {
        let mut bytes = seed.into_bytes();
        for (at, op, byte) in edits {
            let at = usize::from(at) % (bytes.len() + 1);
            match op {
                0 => bytes.insert(at, byte),
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ if at < bytes.len() => bytes[at] = byte,
                _ => bytes.push(byte),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Text made of a format's own tokens, in any order.
fn tokens(vocabulary: Vec<&'static str>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vocabulary), 0..48).prop_map(|t| t.concat())
}

fn fixtures(dir: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut texts: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    texts.sort();
    texts
}

// ---------------------------------------------------------------- metrics page

const PAGE: &str = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
    http_requests_total{code=\"200\",route=\"/users/{id}\"} 1027 1700000000000\n\
    http_requests_total{code=\"500\",route=\"/a\\\\b \\\"q\\\"\\n\"} 3 # {trace_id=\"x\"} 1 1.5\n\
    http_request_duration_seconds_sum 12.5\nhttp_request_duration_seconds_count 100\n\
    process_cpu_ratio NaN\nprocess_memory_ratio +Inf\n# EOF\n";

fn pages() -> impl Strategy<Value = String> {
    let vocabulary = [
        "http_requests_total",
        "x",
        ":",
        "_",
        "{",
        "}",
        "\"",
        "\\",
        "\\\"",
        "\\n",
        "\\q",
        "=",
        ",",
        " ",
        "\t",
        "\n",
        "\r\n",
        "#",
        "# EOF",
        "# TYPE x gauge",
        " # ",
        "NaN",
        "+Inf",
        "-Inf",
        "1e999",
        "0.5",
        "-1",
        "1700000000",
        "code",
        "route",
        "/users/{id}",
        "é",
        "\u{0}",
        "😀",
        "le=\"+Inf\"",
    ];
    prop_oneof![any::<String>(), tokens(vocabulary.to_vec()), mutated(vec![PAGE.to_string()])]
}

fn check_page(page: String) {
    for (name, labels, _) in parse_exposition(&page) {
        let ok = |n: &str| {
            n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !n.is_empty()
                && !n.starts_with(|c: char| c.is_ascii_digit())
        };
        assert!(ok(&name), "series name {name:?} from {page:?}");
        assert!(labels.keys().all(|k| ok(k)), "label names {labels:?} from {page:?}");
    }
}

#[test]
fn item19_fuzz_metrics_page_parser() {
    fuzz("metrics page", CI_CASES, pages(), check_page);
}

#[test]
#[ignore = "long run: FUZZ_CASES=1000000 cargo test --release --test fuzz_parsers -- --ignored"]
fn item19_fuzz_metrics_page_parser_long() {
    fuzz("metrics page", long_cases(), pages(), check_page);
}

// ----------------------------------------------------------------- JSON readers

const STATUS: &str = r#"{"currentEnvironment":"blue","version":"1.4.2",
  "environments":{"blue":{"version":"1.4.2","health":"healthy"},"green":{"version":"1.4.1","health":"degraded"}},
  "deploymentHistory":[{"id":"d-17","version":"1.4.1","environment":"green","deployedAt":"2026-11-20T09:12:00Z","status":"succeeded"}]}"#;
const HEALTH: &str = r#"{"health":"healthy","environment":"blue","version":"1.4.2"}"#;
const PROMETHEUS: &str =
    r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"0.07"]}]}}"#;
const SCALAR: &str = r#"{"status":"success","data":{"resultType":"scalar","result":[1.0,"+Inf"]}}"#;
const ERROR: &str = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
const DOCUMENT: &str = r#"{"data":{"quality":"0.93","n":1e308,"list":[1,"NaN",null,true]}}"#;

fn json_documents() -> impl Strategy<Value = String> {
    let vocabulary = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\"status\"",
        "\"success\"",
        "\"data\"",
        "\"resultType\"",
        "\"vector\"",
        "\"scalar\"",
        "\"result\"",
        "\"value\"",
        "\"health\"",
        "\"healthy\"",
        "\"version\"",
        "\"1.4.2\"",
        "\"environments\"",
        "\"deploymentHistory\"",
        "\"deployedAt\"",
        "\"2026-11-20T09:12:00Z\"",
        "\"NaN\"",
        "\"+Inf\"",
        "1e999",
        "-0",
        "1.5",
        "null",
        "true",
        "\"\\u0000\"",
        "\"\\ud800\"",
        " ",
        "9223372036854775808",
    ];
    let seeds = [STATUS, HEALTH, PROMETHEUS, SCALAR, ERROR, DOCUMENT].map(str::to_string).to_vec();
    prop_oneof![any::<String>(), tokens(vocabulary.to_vec()), mutated(seeds)]
}

fn pointers() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec!["", "/", "/data/quality", "/data/list/1", "/data/list/9", "/a~1b", "/~2"]);
    prop_oneof![known.prop_map(str::to_string), any::<String>()]
}

fn check_json((body, pointer): (String, String)) {
    let _ = serde_json::from_str::<DeploymentStatusReport>(&body);
    let _ = serde_json::from_str::<HealthReport>(&body);
    if let Ok(v) = prometheus_value(&body) {
        assert!(v.is_finite(), "{v} from {body:?}");
    }
    let sample = json_sample(&body, &pointer, chrono::Utc::now());
    assert!(sample.value.is_none_or(f64::is_finite), "{sample:?} from {body:?}");
    assert_eq!(sample.ok, sample.error.is_none(), "{sample:?}");
}

#[test]
fn item19_fuzz_json_readers() {
    fuzz("JSON readers", CI_CASES, (json_documents(), pointers()), check_json);
}

#[test]
#[ignore = "long run: FUZZ_CASES=1000000 cargo test --release --test fuzz_parsers -- --ignored"]
fn item19_fuzz_json_readers_long() {
    fuzz("JSON readers", long_cases(), (json_documents(), pointers()), check_json);
}

// ---------------------------------------------------------------- config loader

fn config_texts() -> impl Strategy<Value = String> {
    let mut seeds = fixtures("fixtures");
    seeds.extend(fixtures("tests/fixtures/bad"));
    let vocabulary = [
        "[[environment]]\n",
        "[environment.driver]\n",
        "[[environment.signal]]\n",
        "[[environment.trigger]]\n",
        "[[environment.checklist]]\n",
        "[keys]\n",
        "[severities]\n",
        "[notifications]\n",
        "name = \"a\"\n",
        "kind = \"standard\"\n",
        "base_url = \"http://127.0.0.1:1\"\n",
        "poll_interval = ",
        "interval = ",
        "timeout = ",
        "verify_timeout = ",
        "for = ",
        "grace = ",
        "cooldown = ",
        "threshold = ",
        "count = ",
        "\"0s\"",
        "\"300000y\"",
        "\"1h 30m\"",
        "nan",
        "inf",
        "-0.0",
        "1e308",
        "4294967296",
        "\"esc\"",
        "\"\"",
        "source = \"exposition\"\n",
        "derive = \"gauge\"\n",
        "rule = \"above\"\n",
        "signal = \"health\"\n",
        "type = \"command\"\n",
        "argv = [\"{reason}\", \"{x\"]\n",
        "\n",
        "=",
        "[",
        "]",
        "\"",
        "'",
        "#",
    ];
    prop_oneof![1 => any::<String>(), 2 => tokens(vocabulary.to_vec()), 4 => mutated(seeds)]
}

/// Generated config texts that passed `check`, for the run's report.
static CONFIGS_PASSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn check_config(text: String) {
    match Config::from_toml(&text, Path::new("fuzz.toml")) {
        Ok(_) => {
            CONFIGS_PASSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Err(errors) => {
            for e in &errors.0 {
                assert!(e.line >= 1 && e.column >= 1, "{e}");
            }
        }
    }
}

#[test]
fn item19_fuzz_config_loader() {
    fuzz("config loader", CI_CASES, config_texts(), check_config);
}

#[test]
#[ignore = "long run: FUZZ_CASES=1000000 cargo test --release --test fuzz_parsers -- --ignored"]
fn item19_fuzz_config_loader_long() {
    fuzz("config loader", long_cases(), config_texts(), check_config);
    eprintln!("fuzz config loader: {} inputs passed check", CONFIGS_PASSED.load(std::sync::atomic::Ordering::Relaxed));
}
