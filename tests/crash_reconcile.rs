//! A `kill -9` mid-rollback leaves a consistent database, and the next run
//! reconciles the abandoned rollback with what the service shows.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, bad_at_once, wait_until};

#[test]
fn killed_rollback_is_reconciled_by_the_next_run() {
    // Health stays degraded 3 s after the switch: the rollback sits in its
    // verification loop long enough to be killed there.
    let timings = Timings { settle: Duration::from_secs(3), ..bad_at_once() };
    let d = Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], timings);
    d.wait_health("checkout", "unhealthy");

    let mut child = d
        .cmd(&["rollback", "--env", "checkout", "--yes", "--reason", "crash test"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let in_flight = || {
        d.db()
            .query_row("SELECT status FROM rollbacks WHERE id = 1", [], |r| r.get::<_, String>(0))
            .is_ok_and(|s| s == "in_progress")
            && d.sim.rollback_requests("checkout") == 1
    };
    wait_until(Duration::from_secs(10), in_flight).expect("rollback never got in flight");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let db = d.db();
    let ok: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let (status, holder): (String, i64) = db
        .query_row("SELECT r.status, l.pid FROM rollbacks r JOIN rollback_locks l ON l.rollback_id = r.id", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "in_progress", "the kill left it mid-flight, lock held by the dead pid {holder}");

    // Once the service has settled on the target, the next run finds the dead
    // holder and closes the record from the service's own status.
    d.wait_health("checkout", "healthy");
    let (code, v) = d.json(&["history", "--env", "checkout"]);
    assert_eq!(code, 0);
    let r = &v["environments"][0]["rollbacks"][0];
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["target_version"], "1.4.3");
    let reconciled: String = db
        .query_row("SELECT message FROM timeline_events WHERE kind = 'rollback_reconciled'", [], |r| r.get(0))
        .unwrap();
    assert!(reconciled.contains("now shows 1.4.3 current and healthy"), "{reconciled}");
    let locks: i64 = db.query_row("SELECT count(*) FROM rollback_locks", [], |r| r.get(0)).unwrap();
    assert_eq!(locks, 0);
    assert_eq!(d.sim.rollback_requests("checkout"), 1, "reconciling never re-sends the rollback");

    // And the environment can be rolled back again.
    let (code, v) = d.json(&["rollback", "--env", "checkout", "--force", "--yes", "--reason", "after crash"]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn rollback_abandoned_before_its_request_is_closed_as_failed() {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::Steady)], Timings::default());
    {
        let mut store = backout::store::Store::open(&d.db).unwrap();
        let env = store.ensure_environment("checkout", "blue-green", &d.sim.base_url("checkout")).unwrap();
        let new = backout::store::NewRollback {
            environment_id: env,
            incident_id: None,
            deployment_id: None,
            from_version: Some("1.4.3".into()),
            target_version: Some("1.4.2".into()),
            rollback_type: backout::store::RollbackType::Previous,
            trigger: backout::store::RollbackTrigger::Manual,
            operator: "ghost".into(),
            reason: "crashed before sending".into(),
            driver: "http".into(),
            lease: chrono::Duration::minutes(5),
            automatic_cooldown: None,
            approval: None,
        };
        store.begin_rollback(&new, chrono::Utc::now()).unwrap().unwrap();
    }
    // Make the holder a process that does not exist, as after a crash.
    d.db().execute("UPDATE rollback_locks SET pid = 2147483646", []).unwrap();
    let out = d.run(&["rollback", "--env", "checkout", "--force", "--yes", "--reason", "next"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let (status, error): (String, String) = d
        .db()
        .query_row("SELECT status, error FROM rollbacks WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains("interrupted before the rollback request was sent"), "{error}");
}
