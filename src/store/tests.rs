use super::*;

fn new_rollback(env_id: i64) -> NewRollback {
    NewRollback {
        environment_id: env_id,
        incident_id: None,
        deployment_id: None,
        from_version: Some("1.5.0".into()),
        target_version: Some("1.4.2".into()),
        rollback_type: RollbackType::Previous,
        trigger: RollbackTrigger::Manual,
        operator: "alice".into(),
        reason: "errors".into(),
        driver: "http".into(),
        lease: chrono::Duration::seconds(60),
        automatic_cooldown: None,
        approval: None,
    }
}

#[test]
fn lock_allows_one_rollback_per_environment_until_finished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let mut a = Store::open(&path).unwrap();
    let mut b = Store::open(&path).unwrap();
    let env = a.ensure_environment("checkout", "blue-green", "http://x").unwrap();
    let other = a.ensure_environment("search", "standard", "http://y").unwrap();

    let planned = chrono::Utc::now();
    let first = a.begin_rollback(&new_rollback(env), planned).unwrap().unwrap();
    let Err(BeginRefused::LockHeld(refused)) = b.begin_rollback(&new_rollback(env), planned).unwrap() else {
        panic!("the lock is held")
    };
    assert_eq!(refused.rollback_id, first.id);
    assert!(refused.holder.starts_with("alice@"), "{}", refused.holder);
    assert!(!refused.is_stale(&host_name(), chrono::Utc::now()), "our own pid is alive");
    b.begin_rollback(&new_rollback(other), planned).unwrap().expect("another environment is free");

    let done = a.finish_rollback(first.id, RollbackStatus::Failed, Some("HTTP 500: boom"), "alice").unwrap();
    assert_eq!(done.status, RollbackStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("HTTP 500: boom"));
    assert!(done.duration_ms.is_some());
    // A plan made before that rollback ended is stale: refused, nothing recorded.
    match b.begin_rollback(&new_rollback(env), planned).unwrap() {
        Err(BeginRefused::FinishedSincePlan { rollback_id, .. }) => assert_eq!(rollback_id, first.id),
        other => panic!("a plan older than the last rollback's end must be refused: {other:?}"),
    }
    // A plan read in the same millisecond as that end is refused too (the
    // stored times have millisecond precision): plan a moment later.
    std::thread::sleep(std::time::Duration::from_millis(3));
    b.begin_rollback(&new_rollback(env), chrono::Utc::now()).unwrap().expect("lock released after finish");

    let kinds: Vec<String> = a.recent_events(Some(env), 10).unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        ["rollback_requested", "rollback_failed", "rollback_requested"]
            .iter()
            .rev()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
}

#[test]
fn lock_of_a_dead_process_is_stale() {
    let holder = LockHolder {
        rollback_id: 1,
        holder: "x".into(),
        host: host_name(),
        pid: i64::from(i32::MAX),
        acquired_at: chrono::Utc::now(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
    };
    assert!(holder.is_stale(&host_name(), chrono::Utc::now()));
    let elsewhere = LockHolder { host: "other-host".into(), ..holder };
    assert!(!elsewhere.is_stale(&host_name(), chrono::Utc::now()), "cannot see other hosts' processes; lease decides");
    assert!(elsewhere.is_stale(&host_name(), chrono::Utc::now() + chrono::Duration::hours(2)));
}

#[test]
fn newer_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Store::open(&path).err().unwrap().to_string();
    assert!(err.contains("newer backout (schema version 99"), "{err}");
}

#[test]
fn notes_and_incidents_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("b.db")).unwrap();
    let env = s.ensure_environment("checkout", "blue-green", "http://x").unwrap();
    let inc = s.open_incident(Some(env), "errors up", crate::domain::Severity::Critical, false, "alice").unwrap();
    assert_eq!(s.open_incident_for(env).unwrap().unwrap().id, inc.id);
    s.add_note(Some(inc.id), Some(env), "alice", "switched back to green").unwrap();
    let tl = s.incident_timeline(inc.id).unwrap();
    assert_eq!(tl.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["incident_opened", "note"]);
    assert!(s.close_incident(inc.id, "alice").unwrap());
    assert!(!s.close_incident(inc.id, "alice").unwrap());
    assert!(s.open_incident_for(env).unwrap().is_none());
    assert_eq!(s.notes(Some(inc.id)).unwrap()[0].body, "switched back to green");
}

#[test]
fn many_processes_opening_a_new_file_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                Store::open(&path).map(|s| s.schema_version().unwrap()).map_err(|e| e.to_string())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Ok(schema::latest_version()));
    }
}

/// A finished rollback on a fresh file, and a raw connection to edit it behind the store's back.
fn finished_rollback(dir: &std::path::Path) -> (Store, rusqlite::Connection, i64) {
    let path = dir.join("b.db");
    let mut s = Store::open(&path).unwrap();
    let env = s.ensure_environment("checkout", "blue-green", "http://x").unwrap();
    let row = s.begin_rollback(&new_rollback(env), chrono::Utc::now()).unwrap().unwrap();
    s.finish_rollback(row.id, RollbackStatus::Completed, None, "alice").unwrap();
    (s, rusqlite::Connection::open(&path).unwrap(), row.id)
}

#[test]
fn a_value_the_store_cannot_read_is_an_error_naming_the_column_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (s, raw, id) = finished_rollback(dir.path());

    raw.execute("UPDATE rollbacks SET started_at = 'yesterday' WHERE id = ?1", [id]).unwrap();
    let err = s.rollbacks(None, 10).unwrap_err().to_string();
    assert!(err.contains("rollbacks.started_at holds \"yesterday\", which is not an RFC 3339 time"), "{err}");
    assert!(err.contains("correct or delete that row"), "says what to do: {err}");

    raw.execute("UPDATE rollbacks SET started_at = completed_at WHERE id = ?1", [id]).unwrap();
    assert!(s.rollbacks(None, 10).is_ok());
    // The schema's CHECK keeps unknown words out; a file edited by hand may still hold one.
    raw.pragma_update(None, "ignore_check_constraints", true).unwrap();
    raw.execute("UPDATE rollbacks SET status = 'paused' WHERE id = ?1", [id]).unwrap();
    let err = s.rollbacks(None, 10).unwrap_err().to_string();
    assert!(err.contains("rollbacks.status holds \"paused\""), "{err}");
    assert!(err.contains("one of pending, in_progress, completed, failed"), "{err}");

    let env = s.environment_id("checkout").unwrap().unwrap();
    raw.execute(
        "INSERT INTO samples (environment_id, signal, at, value, text, ok, error) VALUES (?1, 'cpu', 'soon', 1, NULL, 1, NULL)",
        [env],
    )
    .unwrap();
    let err = s.latest_sample(env, "cpu").unwrap_err().to_string();
    assert!(err.contains("samples.at holds \"soon\""), "{err}");
}

#[test]
fn an_incident_without_severity_reads_as_unknown_and_a_strange_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let mut s = Store::open(&path).unwrap();
    let inc = s.open_incident(None, "errors up", crate::domain::Severity::Critical, false, "alice").unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();

    raw.execute("UPDATE incidents SET severity = 'unknown' WHERE id = ?1", [inc.id]).unwrap();
    let row = s.incident(inc.id).unwrap().unwrap();
    assert_eq!(row.severity, None);
    assert_eq!(serde_json::to_value(&row).unwrap()["severity"], "unknown");

    raw.execute("UPDATE incidents SET severity = 'apocalyptic' WHERE id = ?1", [inc.id]).unwrap();
    let err = s.incident(inc.id).unwrap_err().to_string();
    assert!(err.contains("incidents.severity holds \"apocalyptic\""), "{err}");
    assert!(err.contains("one of critical, performance, feature, non-critical"), "{err}");
}

#[test]
fn rows_serialize_times_as_stored_text_and_words_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, raw, id) = finished_rollback(dir.path());
    raw.execute(
        "UPDATE rollbacks SET started_at = '2026-01-01T00:00:30.000Z', completed_at = '2026-01-01T00:00:36.250Z' WHERE id = ?1",
        [id],
    )
    .unwrap();
    let row = s.rollbacks(None, 1).unwrap().remove(0);
    assert_eq!(row.status, RollbackStatus::Completed);
    let v = serde_json::to_value(&row).unwrap();
    assert_eq!(v["started_at"], "2026-01-01T00:00:30.000Z");
    assert_eq!(v["completed_at"], "2026-01-01T00:00:36.250Z");
    assert_eq!(v["duration_ms"], 6250);
    assert_eq!((&v["type"], &v["trigger"], &v["status"]), (&"previous".into(), &"manual".into(), &"completed".into()));

    let inc = s.open_incident(None, "t", crate::domain::Severity::NonCritical, false, "alice").unwrap();
    raw.execute("UPDATE incidents SET opened_at = '2026-01-01T00:00:00.000Z' WHERE id = ?1", [inc.id]).unwrap();
    let v = serde_json::to_value(s.incident(inc.id).unwrap().unwrap()).unwrap();
    assert_eq!(v["opened_at"], "2026-01-01T00:00:00.000Z");
    assert_eq!(v["closed_at"], serde_json::Value::Null);
    assert_eq!((&v["severity"], &v["status"]), (&"non-critical".into(), &"open".into()));
}

/// A lock held by a running process is live, one held by a process that has
/// ended is stale: asked of the process itself (kill 0), not of `/proc`.
#[test]
fn item16_lock_staleness_asks_whether_the_holder_process_runs() {
    let holder = |pid: u32| LockHolder {
        rollback_id: 1,
        holder: "x".into(),
        host: host_name(),
        pid: i64::from(pid),
        acquired_at: chrono::Utc::now(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
    };
    let mut live = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    assert!(process_alive(i64::from(live.id())));
    assert!(!holder(live.id()).is_stale(&host_name(), chrono::Utc::now()), "a running holder is never stale");
    live.kill().unwrap();
    live.wait().unwrap();
    assert!(!process_alive(i64::from(live.id())));
    assert!(holder(live.id()).is_stale(&host_name(), chrono::Utc::now()), "an ended holder is stale");
    assert!(!process_alive(0) && !process_alive(-1) && !process_alive(i64::MAX), "no such pids");
}

/// Another process holds the write lock past the busy wait: beginning a
/// rollback is a refusal (nothing recorded, nothing to send), never an error.
#[test]
fn item13_a_database_locked_past_the_wait_refuses_the_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let mut s = Store::open(&path).unwrap();
    let env = s.ensure_environment("checkout", "blue-green", "http://x").unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    s.set_busy_timeout(std::time::Duration::from_millis(100)).unwrap();
    let refused = s.begin_rollback(&new_rollback(env), chrono::Utc::now()).unwrap();
    assert_eq!(refused, Err(BeginRefused::Busy));
    other.execute_batch("COMMIT").unwrap();
    assert!(s.rollbacks(None, 10).unwrap().is_empty(), "nothing was recorded");
    let err = StoreError::from(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(5), None));
    assert!(err.is_busy() && err.to_string().contains("nothing was written; try again"), "{err}");
    s.begin_rollback(&new_rollback(env), chrono::Utc::now()).unwrap().expect("free once the other writer is done");
}

/// Notes and rollback rows are written with `synchronous=FULL` (fsynced on
/// commit), and a note written while another connection holds the write lock
/// waits for it and is on disk when `add_note` returns; other writes keep
/// `NORMAL`.
#[test]
fn item15_notes_and_rollback_rows_are_durable_on_return_while_another_writer_holds_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let mut s = Store::open(&path).unwrap();
    let level =
        |c: &mut rusqlite::Connection| -> Result<i64> { Ok(c.pragma_query_value(None, "synchronous", |r| r.get(0))?) };
    assert_eq!(s.durably(level).unwrap(), 2, "FULL inside a durable write");
    assert_eq!(level(&mut s.conn).unwrap(), 1, "NORMAL again after it");

    let env = s.ensure_environment("checkout", "blue-green", "http://x").unwrap();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let holder = {
        let path = path.clone();
        std::thread::spawn(move || {
            let other = rusqlite::Connection::open(&path).unwrap();
            other
                .execute_batch(
                    "BEGIN IMMEDIATE; INSERT INTO notes (author, body, created_at) VALUES ('other', 'x', 'y');",
                )
                .unwrap();
            held_tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(500));
            other.execute_batch("COMMIT").unwrap();
        })
    };
    held_rx.recv().unwrap();
    let started = std::time::Instant::now();
    let note = s.add_note(None, Some(env), "alice", "written under contention").unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(300), "it waited for the other writer");
    holder.join().unwrap();
    let fresh = rusqlite::Connection::open(&path).unwrap();
    let body: String = fresh.query_row("SELECT body FROM notes WHERE id = ?1", [note.id], |r| r.get(0)).unwrap();
    assert_eq!(body, "written under contention");
    let row = s.begin_rollback(&new_rollback(env), chrono::Utc::now()).unwrap().unwrap();
    let seen: String = fresh.query_row("SELECT status FROM rollbacks WHERE id = ?1", [row.id], |r| r.get(0)).unwrap();
    assert_eq!(seen, "pending");
    assert_eq!(level(&mut s.conn).unwrap(), 1, "back to NORMAL after the rollback row");
}

/// An automatic rollback of `env` (from 2.0.0-bad to 1.4.3, deployment `deployment`).
fn automatic(env: i64, deployment: Option<i64>, cooldown_secs: i64) -> NewRollback {
    NewRollback {
        deployment_id: deployment,
        from_version: Some("2.0.0-bad".into()),
        target_version: Some("1.4.3".into()),
        rollback_type: RollbackType::Automatic,
        trigger: RollbackTrigger::HealthCheckFailed,
        operator: "rule:health".into(),
        automatic_cooldown: Some(chrono::Duration::seconds(cooldown_secs)),
        approval: None,
        ..new_rollback(env)
    }
}

/// A failed automatic rollback is blocked in the file: another engine (another
/// connection) is refused the same deployment, from and to; a new deployment
/// is not blocked; an operator's clearing lifts it; both are on the timeline.
#[test]
fn item4_a_failed_automatic_rollback_blocks_the_same_from_to_for_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let (mut a, mut b) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
    let env = a.ensure_environment("checkout", "blue-green", "http://x").unwrap();
    let failed = a.begin_rollback(&automatic(env, None, 0), chrono::Utc::now()).unwrap().unwrap();
    a.mark_rollback_in_progress(failed.id, "rule:health", "sent").unwrap();
    a.fail_rollback_after_request(failed.id, "HTTP 500: traffic switch timed out", "rule:health").unwrap();
    let block = b.automatic_block(env).unwrap().expect("blocked");
    assert_eq!((block.rollback_id, block.from_to()), (failed.id, "2.0.0-bad → 1.4.3".to_string()));

    std::thread::sleep(std::time::Duration::from_millis(3));
    match b.begin_rollback(&automatic(env, None, 0), chrono::Utc::now()).unwrap() {
        Err(BeginRefused::Blocked(b)) => assert_eq!(b.rollback_id, failed.id),
        other => panic!("the same from → to must be refused: {other:?}"),
    }
    // The same versions from a new deployment (a redeploy) are not blocked.
    let redeploy: crate::playbook::DeploymentRecord = serde_json::from_value(serde_json::json!({
        "id": "d-9", "version": "2.0.0-bad", "environment": "green",
        "deployedAt": "2026-11-22T06:00:00Z", "status": "succeeded"
    }))
    .unwrap();
    b.sync_deployments(env, &[redeploy]).unwrap();
    let new_deploy = b.deployments(env).unwrap()[0].id;
    assert_eq!(b.automatic_refusal(&automatic(env, Some(new_deploy), 0)).unwrap(), None);
    let person = NewRollback { from_version: Some("2.0.0-bad".into()), ..new_rollback(env) };
    assert_eq!(b.automatic_refusal(&person).unwrap(), None, "a person's rollback is never blocked");

    assert!(b.clear_automatic_block(env, "alice", "fixed the switch").unwrap().is_some());
    assert!(b.clear_automatic_block(env, "alice", "again").unwrap().is_none(), "nothing left to clear");
    let kinds: Vec<(String, String)> =
        a.recent_events(Some(env), 20).unwrap().into_iter().map(|e| (e.kind, e.actor)).collect();
    assert!(kinds.contains(&("automatic_blocked".into(), "backout".into())), "{kinds:?}");
    assert!(kinds.contains(&("automatic_unblocked".into(), "alice".into())), "{kinds:?}");
    let again = b.begin_rollback(&automatic(env, None, 0), chrono::Utc::now()).unwrap().expect("cleared");
    b.finish_rollback(again.id, RollbackStatus::Completed, None, "rule:health").unwrap();

    // A rollback refused before its request (still pending) blocks nothing.
    std::thread::sleep(std::time::Duration::from_millis(3));
    let refused = a.begin_rollback(&automatic(env, None, 0), chrono::Utc::now()).unwrap().unwrap();
    a.finish_rollback(refused.id, RollbackStatus::Failed, Some("service changed"), "rule:health").unwrap();
    assert_eq!(a.automatic_block(env).unwrap(), None);
}

/// Two engines on one file keep one cooldown: after A's rollback ends, B's
/// automatic rollback is refused until the cooldown has passed; a person's is not.
#[test]
fn item4_cooldown_is_shared_by_every_engine_on_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let (mut a, mut b) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
    let env = a.ensure_environment("checkout", "blue-green", "http://x").unwrap();
    let first = a.begin_rollback(&automatic(env, None, 600), chrono::Utc::now()).unwrap().unwrap();
    let done = a.finish_rollback(first.id, RollbackStatus::Completed, None, "rule:health").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3));
    let other_deploy = automatic(env, None, 600);
    match b.begin_rollback(&other_deploy, chrono::Utc::now()).unwrap() {
        Err(BeginRefused::Cooldown { rollback_id, until }) => {
            assert_eq!(rollback_id, first.id);
            assert_eq!(until, done.completed_at.unwrap() + chrono::Duration::seconds(600));
        }
        other => panic!("B must respect A's cooldown: {other:?}"),
    }
    assert!(b.automatic_refusal(&automatic(env, None, 0)).unwrap().is_none(), "a zero cooldown has passed");
    b.begin_rollback(&new_rollback(env), chrono::Utc::now()).unwrap().expect("a person may roll back in cooldown");
}

/// A file that is not a database at all cannot be read even read-only: the
/// error names the file and how to recover what it holds.
#[test]
fn item17_a_file_sqlite_cannot_read_is_refused_with_the_way_to_recover() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    std::fs::write(&path, vec![0x5Au8; 8192]).unwrap();
    let err = Store::open(&path).err().unwrap().to_string();
    assert!(err.contains(&format!("{} cannot be read as a SQLite database", path.display())), "{err}");
    assert!(err.contains(".recover | sqlite3 recovered.db"), "{err}");
}

/// Issue 9 item 7: whatever a caller hands the store, a version or an error
/// is kept bounded, its full length noted.
#[test]
fn item7_stored_versions_and_errors_are_bounded() {
    let long = "9".repeat(100_000);
    assert_eq!(super::clip("1.4.2", super::MAX_NAME), "1.4.2");
    let kept = super::clip(&long, super::MAX_NAME);
    assert_eq!(kept.chars().count(), super::MAX_NAME + "…[100000 chars]".chars().count());
    assert!(kept.ends_with("…[100000 chars]"));
    assert!(super::clip(&long, super::MAX_ERROR).starts_with(&"9".repeat(super::MAX_ERROR)));
}

#[test]
fn states_keep_the_newest_n_per_environment_and_prune_the_rest() {
    use crate::domain::{DriverState, FlagState};
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("b.db")).unwrap();
    let env = store.ensure_environment("checkout", "feature-flag", "http://x").unwrap();
    let other = store.ensure_environment("search", "standard", "http://y").unwrap();
    let rollback = store.begin_rollback(&new_rollback(env), chrono::Utc::now()).unwrap().unwrap().id;
    let flag = |n: usize| DriverState {
        version: Some("1.4.3".into()),
        colour: None,
        flag: Some(FlagState {
            key: "USE_X".into(),
            location: "env file flags.env".into(),
            value: Some("true".into()),
            env_file: Some(format!("# {n}\r\nexport USE_X=true\r\n").into_bytes()),
        }),
    };
    let search = DriverState { version: Some("9".repeat(100_000)), colour: Some("blue".into()), flag: None };
    let kept_other = store.keep_state(other, rollback, "http", &search, 5).unwrap();
    let mut ids = Vec::new();
    for n in 0..6 {
        let kept = store.keep_state(env, rollback, "flag", &flag(n), 3).unwrap();
        assert_eq!(kept.pruned, if n < 3 { vec![] } else { vec![ids[n - 3]] }, "the oldest beyond 3 goes");
        ids.push(kept.id);
    }
    let listed: Vec<i64> = store.states(env).unwrap().iter().map(|s| s.id).collect();
    assert_eq!(listed, [ids[5], ids[4], ids[3]], "newest first, only the kept ones");
    let newest = store.state(ids[5]).unwrap().unwrap();
    assert_eq!(newest.state, flag(5), "the env file comes back byte for byte");
    let pruned = store.state(ids[0]).unwrap().unwrap();
    assert!(pruned.pruned_at.is_some());
    assert_eq!(pruned.state.flag.unwrap().env_file, None, "a pruned state's file content is deleted");
    // Pruning one environment leaves the other's states alone; its text is clipped.
    let searched = store.states(other).unwrap();
    assert_eq!(searched.iter().map(|s| s.id).collect::<Vec<_>>(), [kept_other.id]);
    assert!(searched[0].state.version.as_ref().unwrap().chars().count() <= MAX_NAME + 20);
    assert_eq!(store.state(9999).unwrap(), None);
}

fn request(env_id: i64, by: &str) -> NewRollbackRequest {
    NewRollbackRequest {
        environment_id: env_id,
        requested_by: by.into(),
        reason: "errors".into(),
        version: None,
        state_id: None,
        force: false,
        skip_validation: false,
        from_version: Some("1.5.0".into()),
        target_version: Some("1.4.2".into()),
        colour: None,
        plan: "checkout: 1.5.0 → 1.4.2".into(),
    }
}

#[test]
fn a_request_is_claimed_once_by_a_different_operator_under_the_lock_and_never_after_it_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("b.db")).unwrap();
    let env = s.ensure_environment("checkout", "standard", "http://x").unwrap();
    let req = s.request_rollback(&request(env, "alice"), REQUEST_EXPIRES).unwrap().unwrap();
    let Err(RequestRefused::Pending(p)) = s.request_rollback(&request(env, "bob"), REQUEST_EXPIRES).unwrap() else {
        panic!("one pending request per environment")
    };
    assert_eq!(p.id, req.id);

    // The operator who planned it cannot claim it; nothing is left behind.
    let by = |who: &str| NewRollback { approval: Some((req.id, who.to_string())), ..new_rollback(env) };
    let Err(BeginRefused::Approval(why)) = s.begin_rollback(&by("alice"), Utc::now()).unwrap() else {
        panic!("the same operator must be refused")
    };
    assert!(why.contains("a second, different operator"), "{why}");
    assert!(s.rollbacks(Some(env), 10).unwrap().is_empty(), "the refused row is rolled back with its transaction");
    assert!(s.rollback_lock(env).unwrap().is_none());

    let row = s.begin_rollback(&by("bob"), Utc::now()).unwrap().unwrap();
    assert_eq!((row.operator.as_str(), row.approved_by.as_deref()), ("alice", Some("bob")));
    let claimed = s.rollback_request(req.id, REQUEST_EXPIRES).unwrap().unwrap();
    assert_eq!((claimed.status, claimed.rollback_id), (RequestStatus::Approved, Some(row.id)));
    s.finish_rollback(row.id, RollbackStatus::Completed, None, "alice").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3));
    let Err(BeginRefused::Approval(why)) = s.begin_rollback(&by("carol"), Utc::now()).unwrap() else {
        panic!("an approved request runs once")
    };
    assert!(why.contains("already approved by bob"), "{why}");

    // A request older than the expiry is ended, with its event, when claimed.
    let old = s.request_rollback(&request(env, "alice"), REQUEST_EXPIRES).unwrap().unwrap();
    let past = ts(Utc::now() - REQUEST_EXPIRES - chrono::Duration::seconds(1));
    s.conn.execute("UPDATE rollback_requests SET requested_at = ?2 WHERE id = ?1", params![old.id, past]).unwrap();
    let late = NewRollback { approval: Some((old.id, "bob".into())), ..new_rollback(env) };
    let Err(BeginRefused::Approval(why)) = s.begin_rollback(&late, Utc::now()).unwrap() else {
        panic!("an expired request must not run")
    };
    assert!(why.contains("already expired"), "{why}");
    let kinds: Vec<String> = s.recent_events(Some(env), 3).unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&"rollback_request_expired".to_string()), "{kinds:?}");
    assert_eq!(s.rollbacks(Some(env), 10).unwrap().len(), 1);
}
