//! The real binary against the simulated fleet on loopback: status, history and
//! every rollback path, with the database checked afterwards.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, bad_at_once, stderr};

fn service(name: &str, kind: ServiceKind, scenario: Scenario) -> ServiceSpec {
    ServiceSpec::new(name, kind, scenario)
}

#[test]
fn status_and_history_show_what_the_service_reports() {
    let d = Drill::start(
        vec![
            service("checkout", ServiceKind::BlueGreen, Scenario::Steady),
            service("search", ServiceKind::Standard, Scenario::Steady),
        ],
        Timings::default(),
    );
    let (code, v) = d.json(&["status"]);
    assert_eq!(code, 0, "{v}");
    let envs = v["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 2);
    assert_eq!(envs[0]["name"], "checkout");
    assert_eq!(envs[0]["health"], "healthy");
    assert_eq!(envs[0]["version"], "1.4.3");
    assert_eq!(envs[0]["active_colour"], "blue");
    assert_eq!(envs[1]["kind"], "standard");

    let table = d.run(&["status"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().next().unwrap().starts_with("ENVIRONMENT"), "{text}");
    assert!(text.contains("checkout") && text.contains("1.4.3"), "{text}");

    let (code, v) = d.json(&["history", "--env", "checkout", "--limit", "3"]);
    assert_eq!(code, 0);
    let deps = v["environments"][0]["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 3, "limit applies");
    assert_eq!(deps[0]["version"], "1.4.3", "newest first");
    assert_eq!(deps[1]["status"], "failed");
    assert_eq!(v["environments"][0]["stale"], false);
}

#[test]
fn rollback_goes_to_last_known_good_and_is_recorded() {
    let d = Drill::start(vec![service("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], bad_at_once());
    d.wait_health("checkout", "unhealthy");
    let (code, v) = d.json(&["rollback", "--env", "checkout", "--yes", "--reason", "error rate 12%"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["from_version"], "2.0.0-bad");
    assert_eq!(v["target_version"], "1.4.3", "the failed 1.4.3-rc1 and the bad release are skipped");
    assert_eq!(v["type"], "blue_green_switch");
    assert_eq!(v["trigger"], "manual");
    assert_eq!(v["operator"], "tester");
    assert_eq!(v["reason"], "error rate 12%");
    assert_eq!(d.sim.rollback_requests("checkout"), 1);
    let (_, s) = d.json(&["status", "--env", "checkout"]);
    assert_eq!(s["environments"][0]["version"], "1.4.3");
    assert_eq!(s["environments"][0]["health"], "healthy");

    let kinds: Vec<String> = d
        .db()
        .prepare("SELECT kind FROM timeline_events WHERE rollback_id = ?1 ORDER BY id")
        .unwrap()
        .query_map([v["id"].as_i64().unwrap()], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("rollback_requested"));
    // The lifecycle ends completed; then the announcement (sent or not) is recorded.
    assert_eq!(kinds[kinds.len() - 2..], ["rollback_completed", "notification"], "{kinds:?}");
    assert!(kinds.contains(&"rollback_verified".to_string()), "{kinds:?}");

    // The bad release is now rolled back: a second rollback must not pick it.
    let (code, v) = d.json(&["rollback", "--env", "checkout", "--yes", "--force", "--reason", "again"]);
    assert_eq!(code, 0, "{v}");
    assert_ne!(v["target_version"], "2.0.0-bad");
}

#[test]
fn rollback_to_a_given_version() {
    let d = Drill::start(vec![service("search", ServiceKind::Standard, Scenario::BadDeploy)], bad_at_once());
    d.wait_health("search", "unhealthy");
    // Without an environment, or with two, nothing is rolled back: usage error.
    let out = d.run(&["rollback", "--yes", "--reason", "which one?"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    let out = d.run(&["rollback", "search", "--env", "search", "--yes", "--reason", "both"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert_eq!(d.sim.rollback_requests("search"), 0);
    // Seed 003's form: the environment as a positional argument.
    // Seed 003's flag name works too.
    let (code, v) = d.json(&["rollback", "search", "--to-version", "1.4.1", "--yes", "--reason", "go back further"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!((v["type"].as_str(), v["target_version"].as_str()), (Some("specific"), Some("1.4.1")));
    let (_, s) = d.json(&["status", "--env", "search"]);
    assert_eq!(s["environments"][0]["version"], "1.4.1");
}

#[test]
fn healthy_environment_needs_force_and_unknown_version_is_refused() {
    let d = Drill::start(vec![service("checkout", ServiceKind::BlueGreen, Scenario::Steady)], Timings::default());
    let out = d.run(&["rollback", "--env", "checkout", "--yes", "--reason", "just because"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("healthy") && stderr(&out).contains("--force"), "{}", stderr(&out));

    let (code, v) =
        d.json(&["rollback", "--env", "checkout", "--force", "--version", "9.9.9", "--yes", "--reason", "x"]);
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["refused"], true);
    let known: Vec<&str> = v["known_versions"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(known, ["1.4.0", "1.4.1", "1.4.2", "1.4.3-rc1", "1.4.3"]);
    assert!(v["reason"].as_str().unwrap().contains("9.9.9 is not in the deployment history"), "{v}");

    let out = d.run(&["rollback", "--env", "checkout", "--force", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(3), "no --yes and no terminal: refused");
    let out = d.run(&["rollback", "--env", "checkout", "--force", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "a reason is required");

    assert_eq!(d.sim.rollback_requests("checkout"), 0, "nothing reached the service");
    let rows: i64 = d.db().query_row("SELECT count(*) FROM rollbacks", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 0, "refusals before the lock record no rollback");
}

fn failed_with(d: &Drill, env: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["rollback", "--env", env, "--force", "--skip-validation", "--yes", "--reason", "drill"];
    args.extend_from_slice(extra);
    let (code, v) = d.json(&args);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], "failed");
    v
}

#[test]
fn server_errors_give_recorded_failed_rollbacks() {
    let mut lonely = service("lonely", ServiceKind::Standard, Scenario::Steady);
    lonely.history = 1;
    let d = Drill::start(
        vec![
            service("checkout", ServiceKind::BlueGreen, Scenario::Steady),
            lonely,
            service("broken", ServiceKind::BlueGreen, Scenario::RollbackFails),
        ],
        Timings::default(),
    );
    let v = failed_with(&d, "checkout", &["--version", "9.9.9"]);
    assert_eq!(v["error"], "service refused the rollback: HTTP 404: unknown version 9.9.9");
    let v = failed_with(&d, "lonely", &[]);
    assert_eq!(v["error"], "service refused the rollback: HTTP 409: nothing to roll back to");
    let v = failed_with(&d, "broken", &[]);
    assert_eq!(v["error"], "service refused the rollback: HTTP 500: rollback failed: traffic switch timed out");
    assert_eq!(d.sim.rollback_requests("broken"), 1, "a 5xx is not retried");

    let db = d.db();
    let rows: Vec<(String, String, String)> = db
        .prepare("SELECT e.name, r.status, r.error FROM rollbacks r JOIN environments e ON e.id = r.environment_id ORDER BY r.id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|(_, s, _)| s == "failed"));
    assert!(rows[2].2.contains("HTTP 500"));
    let locks: i64 = db.query_row("SELECT count(*) FROM rollback_locks", [], |r| r.get(0)).unwrap();
    assert_eq!(locks, 0, "failed rollbacks release their lock");
}

#[test]
fn two_concurrent_rollbacks_give_one_rollback_and_one_refusal() {
    // Health stays degraded 2 s after the switch, so the first rollback is still
    // verifying (holding the lock) when the second one asks.
    let timings = Timings { settle: Duration::from_secs(2), ..bad_at_once() };
    let d = Drill::start(vec![service("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], timings);
    d.wait_health("checkout", "unhealthy");
    let args = ["--format", "json", "rollback", "--env", "checkout", "--yes", "--force", "--reason", "race"];
    let a = d.cmd(&args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let b = d.cmd(&args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut codes = [a.status.code().unwrap(), b.status.code().unwrap()];
    codes.sort();
    assert_eq!(codes, [0, 3], "a: {} b: {}", stderr(&a), stderr(&b));
    let refused = if a.status.code() == Some(3) { &a } else { &b };
    assert!(stderr(refused).contains("held by tester@"), "{}", stderr(refused));
    assert_eq!(d.sim.rollback_requests("checkout"), 1);
    let rows: i64 = d.db().query_row("SELECT count(*) FROM rollbacks", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 1);
}

#[test]
fn command_driver_whose_program_is_missing_is_refused_by_validation() {
    let d = Drill::start(vec![service("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], bad_at_once());
    let text = std::fs::read_to_string(&d.config).unwrap().replace(
        "type = \"http\"",
        "type = \"command\"\nargv = [\"/nonexistent/kubectl\", \"rollout\", \"undo\", \"deployment/{env}\"]",
    );
    std::fs::write(&d.config, text).unwrap();
    d.wait_health("checkout", "unhealthy");
    let out = d.run(&["rollback", "--env", "checkout", "--yes", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("the command driver cannot run"), "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent/kubectl"), "{}", stderr(&out));
    let rows: i64 = d.db().query_row("SELECT count(*) FROM rollbacks", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 0);
}

#[test]
fn notes_join_the_open_incident_and_closing_it_starts_a_new_one() {
    let d = Drill::start(vec![service("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], bad_at_once());
    d.wait_health("checkout", "unhealthy");
    let (code, r) = d.json(&["rollback", "--env", "checkout", "--yes", "--reason", "errors"]);
    assert_eq!(code, 0, "{r}");
    let incident = r["incident_id"].as_i64().unwrap();
    let (code, n) = d.json(&["note", "--env", "checkout", "customers", "saw", "500s", "for", "3", "minutes"]);
    assert_eq!(code, 0, "{n}");
    assert_eq!(n["incident_id"].as_i64(), Some(incident));
    let body: String =
        d.db().query_row("SELECT body FROM notes WHERE incident_id = ?1", [incident], |r| r.get(0)).unwrap();
    assert_eq!(body, "customers saw 500s for 3 minutes");

    let (_, list) = d.json(&["incidents"]);
    assert_eq!(list["incidents"][0]["status"], "open");
    assert_eq!(list["incidents"][0]["severity"], "critical", "from the 2m recovery-time objective");
    assert_eq!(d.run(&["incident", "close", &incident.to_string()]).status.code(), Some(0));
    assert_eq!(d.run(&["incident", "close", &incident.to_string()]).status.code(), Some(3), "already closed");
    let (_, list) = d.json(&["incidents"]);
    assert_eq!(list["incidents"][0]["status"], "closed");
    let (code, r2) = d.json(&["rollback", "--env", "checkout", "--force", "--yes", "--reason", "again"]);
    assert_eq!(code, 0, "{r2}");
    assert_ne!(r2["incident_id"].as_i64(), Some(incident), "a closed incident is not reused");

    // The spelling of the report forms works: `export N --format md|html`.
    let md = d.run(&["export", &incident.to_string(), "--format", "md"]);
    assert!(md.status.success(), "{}", stderr(&md));
    assert!(String::from_utf8_lossy(&md.stdout).contains("customers saw 500s for 3 minutes"));
    let html = d.run(&["export", &incident.to_string(), "--format", "html"]);
    let page = String::from_utf8_lossy(&html.stdout).to_lowercase();
    assert!(page.starts_with("<!doctype html") && page.contains("customers saw 500s"), "{page}");
    let wrong = d.run(&["status", "--format", "md"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains("report form for `export`"), "{}", stderr(&wrong));
}

/// A webhook receiver on loopback: answers 200 to each POST and keeps the bodies.
fn webhook_receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (url, rx)
}

#[test]
fn manual_rollback_is_announced_on_the_webhook_and_recorded() {
    let d = Drill::start(vec![service("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], bad_at_once());
    let text = std::fs::read_to_string(&d.config).unwrap();
    let text = format!("{text}\n[notifications]\ndesktop = false\nwebhook_url_env = \"BACKOUT_TEST_HOOK\"\n");
    std::fs::write(&d.config, text).unwrap();
    let (url, bodies) = webhook_receiver();
    d.wait_health("checkout", "unhealthy");
    let out = d
        .cmd(&["--format", "json", "rollback", "--env", "checkout", "--yes", "--reason", "errors up"])
        .env("BACKOUT_TEST_HOOK", &url)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "completed", "{}", stderr(&out));
    assert_eq!(v["notification_sent"], true, "{v}");
    let body = bodies.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    let hook: serde_json::Value = serde_json::from_str(&body).unwrap();
    let text = hook["text"].as_str().unwrap();
    assert!(text.contains("ROLLBACK COMPLETED") && text.contains("checkout"), "{text}");
    let recorded: String =
        d.db().query_row("SELECT message FROM timeline_events WHERE kind = 'notification'", [], |r| r.get(0)).unwrap();
    assert!(recorded.starts_with("notified webhook"), "{recorded}");
    assert!(!recorded.contains(&url), "the webhook URL is a secret and is never recorded");
}
