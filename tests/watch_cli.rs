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
