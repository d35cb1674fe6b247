//! `backout watch` as a real process: JSON lines out, and a SIGTERM mid-rollback
//! waits for the rollback to be fully recorded before exiting.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, bad_at_once, wait_until};

#[test]
fn sigterm_mid_rollback_leaves_it_fully_recorded() {
    // Health stays degraded 3 s after the switch, so the rollback is still
    // verifying when the signal arrives.
    let timings = Timings { settle: Duration::from_secs(3), ..bad_at_once() };
    let d = Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], timings);
    let text = std::fs::read_to_string(&d.config).unwrap().replace("auto_rollback = false", "auto_rollback = true");
    std::fs::write(&d.config, text).unwrap();

    let mut child = d.cmd(&["--format", "json", "watch"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines =
        std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<String>>());

    let in_flight = || {
        d.db()
            .query_row("SELECT status FROM rollbacks WHERE id = 1", [], |r| r.get::<_, String>(0))
            .is_ok_and(|s| s == "in_progress")
    };
    wait_until(Duration::from_secs(20), in_flight).expect("automatic rollback never started");
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let mut exited = None;
    wait_until(Duration::from_secs(30), || {
        exited = child.try_wait().unwrap();
        exited.is_some()
    })
    .expect("watch did not stop after SIGTERM");
    assert_eq!(exited.unwrap().code(), Some(0));

    let (status, trigger): (String, String) = d
        .db()
        .query_row("SELECT status, trigger FROM rollbacks WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(status, "completed", "the in-flight rollback was seen through before exit");
    assert_eq!(trigger, "health_check_failed");
    let locks: i64 = d.db().query_row("SELECT count(*) FROM rollback_locks", [], |r| r.get(0)).unwrap();
    assert_eq!(locks, 0);

    let lines = lines.join().unwrap();
    let events: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(events.iter().any(|e| e["kind"] == "rollback_completed"), "{lines:?}");
    assert!(events.iter().all(|e| e["at"].is_string() && e["environment"].is_string()));
}

/// `demo --lines` runs the console's engine: the demo fleet's bad release is
/// detected and rolled back on its own, and the lines say so.
#[test]
fn demo_lines_runs_the_engine_and_rolls_the_bad_release_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_backout"))
        .args(["--db", db.to_str().unwrap(), "demo", "--lines", "--bad-deploy-after", "1s", "--duration", "120s"])
        .env_remove("BACKOUT_CONFIG")
        .env_remove("BACKOUT_DB")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(110);
    let mut done = false;
    while std::time::Instant::now() < deadline && !done {
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
            done = line.contains("checkout") && line.contains("rollback_completed");
            seen.push(line);
        }
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    wait_until(Duration::from_secs(30), || child.try_wait().unwrap().is_some()).expect("demo did not stop");
    assert!(done, "no automatic rollback of checkout in the demo's lines:\n{}", seen.join("\n"));
    assert!(seen.iter().any(|l| l.contains("rule_fired")), "{}", seen.join("\n"));
}

/// `history | head -1` and `watch | head -1`: the reader leaves early. No panic
/// report, and `watch` stops as on Ctrl-C instead of running on without output.
/// (`history`'s output here fits the pipe's buffer, so only `watch` is sure to
/// meet the broken pipe; `main`'s hook covers the one-shot commands.)
#[test]
fn a_reader_that_leaves_early_is_not_a_crash() {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::Steady)], Timings::default());
    for args in [vec!["history"], vec!["watch"]] {
        let mut child = d.cmd(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        let _ = std::io::Read::read(&mut stdout, &mut first);
        drop(stdout);
        let mut exited = None;
        wait_until(Duration::from_secs(30), || {
            exited = child.try_wait().unwrap();
            exited.is_some()
        })
        .unwrap_or_else(|| panic!("{args:?} kept running after its reader left"));
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    }
}
