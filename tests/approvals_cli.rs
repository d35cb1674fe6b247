//! Seed 002's rollback authority through the real binary: on an environment
//! with `approvals = 2` a rollback one operator plans runs only when a second,
//! different operator approves it, against the simulated fleet on loopback.
#![allow(clippy::unwrap_used)]

mod common;

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, stderr};

/// `checkout` needs two operators; `search` does not.
fn fleet() -> Drill {
    let d = Drill::start(
        vec![
            ServiceSpec::new("checkout", ServiceKind::Standard, Scenario::Steady),
            ServiceSpec::new("search", ServiceKind::Standard, Scenario::Steady),
        ],
        Timings::default(),
    );
    let text = std::fs::read_to_string(&d.config).unwrap();
    // checkout is the first environment: only it gets the line.
    std::fs::write(&d.config, text.replacen("timeout = \"2s\"\n", "timeout = \"2s\"\napprovals = 2\n", 1)).unwrap();
    d
}

/// Runs the binary as `user` with JSON output.
fn as_user(d: &Drill, user: &str, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut full = vec!["--format", "json"];
    full.extend_from_slice(args);
    let out = d.cmd(&full).env("USER", user).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), v, stderr(&out))
}

fn rollbacks(d: &Drill) -> i64 {
    d.db().query_row("SELECT count(*) FROM rollbacks", [], |r| r.get(0)).unwrap()
}

fn serving(d: &Drill, env: &str) -> String {
    let (code, v) = d.json(&["status", "--env", env]);
    assert_eq!(code, 0, "{v}");
    v[0]["version"].as_str().or(v["environments"][0]["version"].as_str()).unwrap_or_default().to_string()
}

#[test]
fn a_rollback_runs_only_when_a_second_different_operator_approves_it() {
    let d = fleet();
    let before = serving(&d, "checkout");
    let args = ["rollback", "checkout", "--version", "1.4.1", "--force", "--yes", "--reason", "checkout errors"];
    let (code, req, err) = as_user(&d, "alice", &args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(req["status"], "pending", "{req}");
    assert_eq!(req["requested_by"], "alice");
    assert_eq!(req["target_version"], "1.4.1");
    let id = req["id"].as_i64().unwrap().to_string();
    assert_eq!(rollbacks(&d), 0, "a request starts no rollback");
    assert_eq!(d.sim.rollback_requests("checkout"), 0, "nothing was sent to the service");
    assert_eq!(serving(&d, "checkout"), before);

    // One request at a time per environment.
    let (code, _, err) = as_user(&d, "alice", &args);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&format!("rollback request #{id}")) && err.contains("still awaiting approval"), "{err}");

    // The operator who planned it cannot approve it.
    let (code, _, err) = as_user(&d, "alice", &["approve", &id, "--yes"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("a second, different operator must approve it"), "{err}");
    assert_eq!(rollbacks(&d), 0);

    // Pending requests are listed for the second operator.
    let (code, list, _) = as_user(&d, "bob", &["approve"]);
    assert_eq!(code, 0);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert!(list[0]["plan"].as_str().unwrap().contains("→ 1.4.1"), "{list}");

    // A different operator runs it; the record names both.
    let (code, row, err) = as_user(&d, "bob", &["approve", &id, "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(row["status"], "completed", "{row}");
    assert_eq!(row["operator"], "alice", "{row}");
    assert_eq!(row["approved_by"], "bob", "{row}");
    assert_eq!(row["target_version"], "1.4.1");
    assert_eq!(serving(&d, "checkout"), "1.4.1");
    assert_eq!(d.sim.rollback_requests("checkout"), 1);
    let rollback_id = row["id"].as_i64().unwrap();
    let (status, decided_by, linked): (String, String, i64) = d
        .db()
        .query_row("SELECT status, decided_by, rollback_id FROM rollback_requests WHERE id = ?1", [&id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((status.as_str(), decided_by.as_str(), linked), ("approved", "bob", rollback_id));
    let out = d.run(&["history", "--env", "checkout"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("alice, approved by bob"), "{table}");
    // The incident's detection is when alice asked, not when bob approved.
    let (incident, events): (i64, String) = d
        .db()
        .query_row(
            "SELECT r.incident_id, group_concat(t.kind, ' ') FROM rollbacks r
             JOIN timeline_events t ON t.environment_id = r.environment_id WHERE r.id = ?1",
            [rollback_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(events.contains("rollback_approval_requested") && events.contains("rollback_completed"), "{events}");
    let detected_by: String = d
        .db()
        .query_row(
            "SELECT actor FROM incident_milestones WHERE incident_id = ?1 AND milestone = 'detected'",
            [incident],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(detected_by, "alice");

    // Approved once: a second approval runs nothing.
    let (code, _, err) = as_user(&d, "carol", &["approve", &id, "--yes"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("already approved by bob") && err.contains(&format!("rollback #{rollback_id}")), "{err}");
    assert_eq!(rollbacks(&d), 1);

    // An environment without approvals runs at once, as before.
    let (code, row, err) = as_user(&d, "alice", &["rollback", "search", "--force", "--yes", "--reason", "x"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(row["approved_by"], serde_json::Value::Null, "{row}");
}

#[test]
fn a_request_the_service_moved_past_is_refused_as_stale_and_a_declined_one_never_runs() {
    let d = fleet();
    let args = ["rollback", "checkout", "--version", "1.4.1", "--force", "--yes", "--reason", "checkout errors"];
    let (code, req, err) = as_user(&d, "alice", &args);
    assert_eq!(code, 0, "{err}");
    let id = req["id"].as_i64().unwrap().to_string();

    // A deploy behind the request's back: its plan no longer holds.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let base = d.sim.base_url("checkout");
    rt.block_on(async {
        let body = serde_json::json!({ "version": "1.9.9" });
        reqwest::Client::new().post(format!("{base}/deployment/deploy")).json(&body).send().await.unwrap();
    });
    let (code, _, err) = as_user(&d, "bob", &["approve", &id, "--yes"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("is stale") && err.contains("now serves 1.9.9"), "{err}");
    assert_eq!(rollbacks(&d), 0, "a stale request starts no rollback");
    assert_eq!(d.sim.rollback_requests("checkout"), 0);
    let status: String =
        d.db().query_row("SELECT status FROM rollback_requests WHERE id = ?1", [&id], |r| r.get(0)).unwrap();
    assert_eq!(status, "stale");

    // A new request may be made now; declined, it never runs.
    let (code, req, err) = as_user(&d, "alice", &args);
    assert_eq!(code, 0, "{err}");
    let id = req["id"].as_i64().unwrap().to_string();
    let out = d.cmd(&["approve", &id, "--decline", "--reason", "not the release at fault"]).env("USER", "bob").output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (code, _, err) = as_user(&d, "carol", &["approve", &id, "--yes"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("already declined by bob") && err.contains("not the release at fault"), "{err}");
    assert_eq!(rollbacks(&d), 0);
    assert_eq!(serving(&d, "checkout"), "1.9.9");
}
