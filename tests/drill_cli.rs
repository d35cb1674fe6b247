//! `backout drill` as a real process against the simulated fleet: refusals
//! before anything is done, and a release that never breaks a rule ends
//! "not detected" within the detection budget instead of waiting out --timeout.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, stderr};

fn fleet(scenario: Scenario) -> Drill {
    Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, scenario)], Timings::default())
}

fn edit_config(d: &Drill, from: &str, to: &str) {
    let text = std::fs::read_to_string(&d.config).unwrap();
    assert!(text.contains(from), "{from:?} not in the config");
    std::fs::write(&d.config, text.replace(from, to)).unwrap();
}

/// Runs the drill and returns (exit code, what it printed, how long it took).
fn drill(d: &Drill, extra: &[&str]) -> (Option<i32>, String, Duration) {
    let mut args = vec!["drill", "--env", "checkout", "--timeout", "5m"];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = d.run(&args);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    (out.status.code(), text, started.elapsed())
}

// The preflight is bounded at 1.5 s of waiting for the service; the bound
// asserted here leaves room for a loaded machine starting the binary.
const QUICK: Duration = Duration::from_secs(5);

#[test]
fn a_drill_with_automatic_rollback_off_is_refused_at_once_with_the_fix() {
    let d = fleet(Scenario::Steady);
    let (code, err, took) = drill(&d, &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("automatic rollback is off") && err.contains("--manual"), "{err}");
    assert!(took < QUICK, "took {took:?}");
    assert_eq!(d.sim.requests("checkout").unwrap().deploy_requests, 0, "nothing was deployed");
}

#[test]
fn a_service_without_a_deploy_endpoint_is_refused_at_once() {
    let d = fleet(Scenario::Steady);
    edit_config(&d, "auto_rollback = false", "auto_rollback = true");
    // A path under which the simulator serves nothing: every endpoint is a 404.
    edit_config(&d, "/svc/checkout\"", "/svc/nothing-here\"");
    let (code, err, took) = drill(&d, &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("has no POST /deployment/deploy"), "{err}");
    assert!(took < QUICK, "took {took:?}");
}

#[test]
fn a_drill_on_an_environment_with_an_open_incident_is_refused_at_once() {
    let d = fleet(Scenario::Steady);
    edit_config(&d, "auto_rollback = false", "auto_rollback = true");
    let out = d.run(&["incident", "open", "--env", "checkout", "real", "trouble"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (code, err, took) = drill(&d, &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("already has open incident #1"), "{err}");
    assert!(took < QUICK, "took {took:?}");
}

/// The deployed version does not degrade (its name has no `bad`): the drill ends
/// "not detected" with the signals' values once the budget (longest rule window
/// plus 30 s) is spent, exit 1, long before --timeout, with a MISSED verdict.
#[test]
fn a_release_that_never_degrades_ends_not_detected_within_the_budget() {
    let d = fleet(Scenario::Steady);
    edit_config(&d, "auto_rollback = false", "auto_rollback = true");
    // Short rule windows, so the budget is about 30 s.
    let text = std::fs::read_to_string(&d.config).unwrap();
    let text = ["for = \"2m\"", "for = \"5m\"", "for = \"10m\""].iter().fold(text, |t, w| t.replace(w, "for = \"2s\""));
    std::fs::write(&d.config, text).unwrap();
    let (code, err, took) = drill(&d, &["--version", "2.1.0-fine"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not detected") && err.contains("error_rate"), "{err}");
    assert!(err.contains("waiting for detection"), "progress is said while waiting:\n{err}");
    assert!(took < Duration::from_secs(90), "took {took:?}; the budget is about 35 s");
    let (_, v) = d.json(&["drills"]);
    assert_eq!(v["drills"][0]["verdict"]["verdict"], "MISSED", "{v}");
}
