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

/// Runs `backout watch` until one of its JSON lines satisfies `done` (bounded),
/// then stops it as Ctrl-C would, and returns the lines seen.
fn watch_until(d: &Drill, done: impl Fn(&serde_json::Value) -> bool) -> Vec<serde_json::Value> {
    use std::io::BufRead;
    let mut child = d.cmd(&["--format", "json", "watch"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(serde_json::from_str(&line).unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    while std::time::Instant::now() < deadline && !seen.last().is_some_and(&done) {
        if let Ok(v) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(v);
        }
    }
    let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    common::wait_until(Duration::from_secs(30), || child.try_wait().unwrap().is_some()).expect("watch did not stop");
    assert!(seen.last().is_some_and(&done), "watch never got there: {seen:#?}");
    seen
}

/// A failed automatic rollback stays failed across restarts: three `watch`
/// runs against a service whose rollbacks fail send one rollback request, the
/// later runs say why they do not retry, `backout unblock` clears it (both on
/// the timeline), and only then does a fourth run try again.
#[test]
fn item4_failed_automatic_rollback_is_not_retried_after_restart() {
    let d = Drill::start(
        vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::RollbackFails)],
        bad_at_once(),
    );
    let text = std::fs::read_to_string(&d.config)
        .unwrap()
        .replace("auto_rollback = false", "auto_rollback = true\ncooldown = \"1s\"");
    std::fs::write(&d.config, text).unwrap();

    watch_until(&d, |e| e["kind"] == "rollback_failed");
    assert_eq!(d.sim.rollback_requests("checkout"), 1);
    for run in 2..=3 {
        let lines = watch_until(&d, |e| e["kind"] == "rollback_blocked");
        let why = lines.last().unwrap()["message"].as_str().unwrap().to_string();
        assert!(why.contains("2.0.0-bad → 1.4.3 already failed (rollback #1"), "run {run}: {why}");
        assert!(why.contains("backout unblock --env checkout"), "run {run}: {why}");
        assert_eq!(d.sim.rollback_requests("checkout"), 1, "run {run} sent no request");
    }

    let (_, s) = d.json(&["status", "--env", "checkout"]);
    assert_eq!(s["environments"][0]["automatic_block"]["rollback_id"], 1, "status shows the block: {s}");

    let out = d.run(&["unblock", "--env", "checkout"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("may run again"));
    let events: Vec<(String, String)> = d
        .db()
        .prepare("SELECT kind, actor FROM timeline_events WHERE kind LIKE 'automatic_%' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        events,
        [("automatic_blocked".into(), "backout".into()), ("automatic_unblocked".into(), "tester".into())]
    );

    watch_until(&d, |e| e["kind"] == "rollback_failed");
    assert_eq!(d.sim.rollback_requests("checkout"), 2, "cleared: tried once more, and blocked again");
}

/// The disk fills up after the rollback request went out (every database
/// write fails from then on): the command says what the driver reported and
/// that the next start reconciles it; the next start records the real outcome
/// from the service without sending anything again.
#[test]
fn item14_an_outcome_the_disk_could_not_take_is_reconciled_on_the_next_start() {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], bad_at_once());
    d.wait_health("checkout", "unhealthy");
    let out = d
        .cmd(&["rollback", "checkout", "--yes", "--reason", "disk fills up"])
        .env(backout::rollback::FAULT_ENV, backout::rollback::FAULT_DB_AFTER_REQUEST)
        .output()
        .unwrap();
    let err = stderr(&out);
    println!("item14: the failing command said:\n{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rollback #1 of checkout was sent and the http driver reported it completed"), "{err}");
    assert!(err.contains("the next backout start (status, history or rollback) reconciles it"), "{err}");
    assert!(err.contains("nothing was written: the database is open read-only"), "the cause is named: {err}");
    assert_eq!(d.sim.rollback_requests("checkout"), 1);
    let status: String = d.db().query_row("SELECT status FROM rollbacks WHERE id = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(status, "in_progress", "the write that would have ended it failed");

    let (code, v) = d.json(&["history", "--env", "checkout"]);
    assert_eq!(code, 0, "{v}");
    let r = &v["environments"][0]["rollbacks"][0];
    assert_eq!((r["status"].as_str(), r["target_version"].as_str()), (Some("completed"), Some("1.4.3")), "{r}");
    let reconciled: String = d
        .db()
        .query_row("SELECT message FROM timeline_events WHERE kind = 'rollback_reconciled'", [], |r| r.get(0))
        .unwrap();
    assert!(reconciled.contains("now shows 1.4.3 current and healthy"), "{reconciled}");
    assert_eq!(d.sim.rollback_requests("checkout"), 1, "reconciling sends nothing");
}

/// A deliberately damaged file (one table's pages overwritten): every command
/// that opens it names the file and how to recover it; history, incidents and
/// export still work; a note is not saved and a rollback is refused (exit 3,
/// nothing sent); the file is not written to at all.
#[test]
fn item17_a_damaged_database_is_read_only_and_says_how_to_recover() {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], bad_at_once());
    d.wait_health("checkout", "unhealthy");
    let (code, v) = d.json(&["rollback", "checkout", "--yes", "--reason", "before the damage"]);
    assert_eq!(code, 0, "{v}");
    let incident = v["incident_id"].as_i64().unwrap().to_string();
    // Enough samples for their own pages, then everything into the main file.
    let db = d.db();
    db.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
         INSERT INTO samples (environment_id, signal, at, value, ok) SELECT 1, 'cpu', printf('t%06d', i), i, 1 FROM n;
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .unwrap();
    let (root, page_size): (i64, i64) = db
        .query_row(
            "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master WHERE name = 'samples'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(db);
    let mut bytes = std::fs::read(&d.db).unwrap();
    let at = usize::try_from((root - 1) * page_size).unwrap();
    bytes[at..at + 64].fill(0xA5);
    std::fs::write(&d.db, &bytes).unwrap();

    let out = d.run(&["--format", "json", "history", "--env", "checkout"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let path = d.db.display().to_string();
    assert!(err.contains(&format!("{path} is damaged (SQLite's quick_check:")), "{err}");
    assert!(err.contains(&format!("sqlite3 {path} .recover | sqlite3 {path}.recovered")), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["environments"][0]["rollbacks"][0]["reason"], "before the damage", "history still reads");
    for args in [vec!["incidents"], vec!["incident", "show", &incident], vec!["export", &incident, "--format", "md"]] {
        let out = d.run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }

    let out = d.run(&["note", "--env", "checkout", "lost?"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("the note was not saved: nothing was written"), "{}", stderr(&out));
    let out = d.run(&["rollback", "checkout", "--force", "--yes", "--reason", "on a damaged file"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no rollback starts while the database cannot record it"), "{}", stderr(&out));
    assert_eq!(d.sim.rollback_requests("checkout"), 1, "nothing was sent");
    assert_eq!(std::fs::read(&d.db).unwrap(), bytes, "the damaged file was not written to");
}

/// `kill -9` of a `backout rollback` at a different moment in each trial
/// (before the lock, pending, mid-request, verifying, done), then the next
/// start (`history`) reconciles: a correct record is one completed rollback
/// to 1.4.3 when the request reached the service, else no rollback or only
/// failed ones, and never a lock or an unfinished row left behind.
/// `RELIABILITY_TRIALS=100 cargo test --test reliability kill9 -- --nocapture`
/// prints the figure RELIABILITY.md quotes.
#[test]
fn kill9_mid_rollback_then_the_next_start_leaves_a_correct_record() {
    let n = trials(2);
    let mut good = 0;
    let mut reached = 0;
    let mut reconciled = 0;
    let mut bad = Vec::new();
    for trial in 0..n {
        let timings = Timings { settle: Duration::from_secs(1), ..bad_at_once() };
        let d = Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], timings);
        d.wait_health("checkout", "unhealthy");
        // Spread the kills over the first 1.5 s: a rollback here takes about that.
        let delay = Duration::from_millis(((trial * 137) % 1500) as u64);
        let mut child = d
            .cmd(&["rollback", "checkout", "--yes", "--reason", "kill -9 trial"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let sent = d.sim.rollback_requests("checkout");
        reached += sent;
        if sent == 1 {
            d.wait_health("checkout", "healthy");
        }
        let (code, v) = d.json(&["history", "--env", "checkout"]);
        let rows = v["environments"][0]["rollbacks"].as_array().cloned().unwrap_or_default();
        let locks: i64 = d.db().query_row("SELECT count(*) FROM rollback_locks", [], |r| r.get(0)).unwrap();
        let ended_by_next_start: i64 = d
            .db()
            .query_row("SELECT count(*) FROM timeline_events WHERE kind = 'rollback_reconciled'", [], |r| r.get(0))
            .unwrap();
        reconciled += usize::from(ended_by_next_start > 0);
        let ok = code == 0
            && locks == 0
            && match sent {
                0 => rows.iter().all(|r| r["status"] == "failed"),
                1 => rows.len() == 1 && rows[0]["status"] == "completed" && rows[0]["target_version"] == "1.4.3",
                _ => false,
            };
        if ok {
            good += 1;
        } else {
            bad.push(format!("trial {trial} (kill after {delay:?}): {sent} requests, {locks} locks, rows {rows:?}"));
        }
    }
    println!(
        "kill9: a correct record after the next start in {good} of {n} (the request had reached the service in \
         {reached}; the next start reconciled an unfinished rollback in {reconciled})"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
