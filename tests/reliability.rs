//! Issue 9, "Never the wrong rollback": the real binary against the simulator
//! on loopback, under contention, a failing disk and a damaged file.
//!
//! `RELIABILITY_TRIALS=100 cargo test --release --test reliability item13 -- --nocapture`
//! runs the concurrency trials 100 times and prints the figure RELIABILITY.md quotes.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, bad_at_once, stderr};

/// Trials of a repeated test: `$RELIABILITY_TRIALS`, else `default`.
fn trials(default: usize) -> usize {
    std::env::var("RELIABILITY_TRIALS").ok().and_then(|t| t.parse().ok()).unwrap_or(default)
}

/// Processes started at once per concurrency trial.
const CONCURRENT: usize = 10;

/// Many `backout rollback --yes` processes against one simulated service: per
/// trial exactly one request reaches the service, one process succeeds, every
/// other one is refused (exit 3) and none fails (exit 1, "database is locked").
#[test]
fn item13_concurrent_rollbacks_send_one_request_and_the_rest_are_refused() {
    let n = trials(3);
    let mut good = 0;
    let mut bad = Vec::new();
    for trial in 0..n {
        // Health stays degraded 2 s after the switch: the winner still holds the
        // lock while the slowest of the others plans.
        let timings = Timings { settle: Duration::from_secs(2), ..bad_at_once() };
        let d = Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], timings);
        d.wait_health("checkout", "unhealthy");
        // Every other trial starts from no database at all: the processes also
        // race to create and migrate the file.
        if trial % 2 == 1 {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", d.db.display()));
            }
        }
        let children: Vec<_> = (0..CONCURRENT)
            .map(|i| {
                let reason = format!("operator {i}");
                let mut c = d.cmd(&["rollback", "checkout", "--yes", "--reason", &reason]);
                c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
            })
            .collect();
        let outs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
        let requests = d.sim.rollback_requests("checkout");
        let winners = codes.iter().filter(|c| **c == Some(0)).count();
        let all_known = codes.iter().all(|c| matches!(c, Some(0) | Some(3)));
        if requests == 1 && winners == 1 && all_known {
            good += 1;
        } else {
            let errors: Vec<String> =
                outs.iter().filter(|o| o.status.code() != Some(3)).map(|o| stderr(o).trim().to_string()).collect();
            bad.push(format!("trial {trial}: {requests} requests, exits {codes:?}, stderr {errors:?}"));
        }
    }
    println!("item13: exactly one request per trial in {good} of {n} ({CONCURRENT} processes each)");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
