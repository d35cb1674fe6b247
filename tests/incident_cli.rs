//! The real binary: `backout drill` against `backout simulate`, the runbook,
//! checklist and export commands, and a note saved right before `kill -9`.
//! These need the commands wired into src/cli/mod.rs.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::wait_until;

struct Fleet {
    sim: Child,
    dir: tempfile::TempDir,
    config: PathBuf,
    db: PathBuf,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.sim.kill();
        let _ = self.sim.wait();
    }
}

/// `backout simulate` on a free port, its written config made quick for a test:
/// 3 s rule windows, a 2 s checklist stability window, fixture runbooks.
fn simulate() -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("backout.toml");
    let sim = Command::new(env!("CARGO_BIN_EXE_backout"))
        .args(["simulate", "--listen", "127.0.0.1:0", "--scenario", "bad-deploy", "--ramp", "100ms", "--write-config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(60), || {
        std::fs::read_to_string(&config).is_ok_and(|t| t.contains("[[environment]]"))
    })
    .expect("backout simulate never wrote its config");
    let runbooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/runbooks");
    // A drill that is not --manual needs automatic rollback on.
    let text = std::fs::read_to_string(&config).unwrap().replace("auto_rollback = false", "auto_rollback = true");
    let text = text.replace("for = \"2m\"", "for = \"3s\"").replace(
        "recovery_time_objective = \"2m\"",
        "recovery_time_objective = \"2m\"\nchecklist_stable_for = \"2s\"\nrunbook = \"manual-rollback.toml\"",
    );
    std::fs::write(&config, format!("runbooks_dir = \"{}\"\n{text}", runbooks.display())).unwrap();
    let db = dir.path().join("backout.db");
    Fleet { sim, dir, config, db }
}

impl Fleet {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_backout"));
        c.arg("--config").arg(&self.config).arg("--db").arg(&self.db).args(args);
        c.env("USER", "tester").env_remove("BACKOUT_CONFIG").env_remove("BACKOUT_DB").stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut full = vec!["--format", "json"];
        full.extend_from_slice(args);
        let out = self.run(&full);
        let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (out.status.code().unwrap_or(-1), v)
    }
}

fn ms(v: &serde_json::Value, name: &str) -> chrono::DateTime<chrono::Utc> {
    let at = v["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["milestone"] == name)
        .unwrap_or_else(|| panic!("{name}: {v}"));
    backout::store::parse_ts(at["at"].as_str().unwrap()).unwrap()
}

#[test]
fn drill_against_backout_simulate_then_drills_and_export_agree() {
    let f = simulate();
    let (code, v) = f.json(&["drill", "--env", "checkout", "--timeout", "90s"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["completed"], true, "{v}");
    let id = v["incident"]["id"].as_i64().unwrap();
    let names = ["impact_started", "detected", "rollback_started", "rollback_completed", "validated", "resolved"];
    let times: Vec<_> = names.iter().map(|n| ms(&v["incident"], n)).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{v}");

    let (code, report) = f.json(&["export", &id.to_string()]);
    assert_eq!(code, 0);
    assert_eq!(report["schema_version"], 1);
    let d = &report["incident"]["durations"];
    assert_eq!(d["time_to_mitigate_ms"].as_i64(), Some((times[3] - times[1]).num_milliseconds()));
    assert_eq!(d["time_to_validate_ms"].as_i64(), Some((times[4] - times[3]).num_milliseconds()));
    for item in report["checklist"].as_array().unwrap().iter().filter(|c| c["actor"] == "backout") {
        assert!(
            item["note"].as_str().unwrap().starts_with("held for 2s")
                || item["note"].as_str().unwrap().starts_with("held for 3s"),
            "{item}"
        );
    }

    let (code, drills) = f.json(&["drills"]);
    assert_eq!(code, 0);
    assert_eq!(drills["drills"][0]["id"].as_i64(), Some(id));
    assert_eq!(drills["drills"][0]["drill"], true);

    let html = f.dir.path().join("report.html");
    let out = f.run(&["export", &id.to_string(), "--as", "html", "-o", html.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
}

#[test]
fn runbook_run_needs_confirmation_and_records_the_answer() {
    let f = simulate();
    let (code, v) = f.json(&["incident", "open", "--env", "checkout", "--severity", "performance", "checkout slow"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["severity"], "performance");
    assert_eq!(v["objective_ms"], 300_000);
    let id = v["id"].as_i64().unwrap().to_string();

    // Step 1 of the manual runbook reads /deployment/status: refused without --yes.
    let out = f.run(&["runbook", "--incident", &id, "run"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, view) = f.json(&["runbook", "--incident", &id, "show"]);
    assert_eq!(view["steps"][0]["state"], "pending");

    let (code, outcome) = f.json(&["runbook", "--incident", &id, "run", "--yes"]);
    assert_eq!(code, 0, "{outcome}");
    assert!(outcome["output"].as_str().unwrap().contains("deploymentHistory"), "{outcome}");
    let (_, view) = f.json(&["runbook", "--incident", &id, "show"]);
    assert_eq!(view["steps"][0]["state"], "done");
    assert_eq!(view["current"], 1);

    let out = f.run(&["runbook", "--incident", &id, "skip", "--reason", "target is the last known-good"]);
    assert!(out.status.success());
    let out = f.run(&["runbook", "--incident", &id, "skip"]);
    assert_eq!(out.status.code(), Some(2), "a skip needs a reason");

    // Checklist: a manual item ticked by a person, a waiver needs a note.
    let out = f.run(&["checklist", "--incident", &id, "waive", "7"]);
    assert_eq!(out.status.code(), Some(2));
    let (code, c) = f.json(&["checklist", "--incident", &id, "tick", "7"]);
    assert_eq!(code, 0, "{c}");
    assert_eq!(c["items"][6]["passed"], true);
    assert_eq!(c["validated"], false);

    let (code, _) = f.json(&["incident", "close", &id, "--root-cause", "bad pool size"]);
    assert_eq!(code, 0);
    let (code, _) = f.json(&["incident", "close", &id]);
    assert_eq!(code, 3, "closing twice is refused");
    let out = f.run(&["export", &id, "--as", "md"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("Root Cause: bad pool size") && !md.contains("deploymentHistory"), "{md}");
    assert!(md.contains("| 1. Check deployment history | done |"), "{md}");
}

#[test]
fn a_note_saved_right_before_kill_9_is_in_the_db_and_the_export() {
    let f = simulate();
    // A long-running drill holds the database open and writes to it all along.
    let log = std::fs::File::create(f.dir.path().join("drill.log")).unwrap();
    let mut drill = f
        .cmd(&["drill", "--env", "checkout", "--manual", "--timeout", "60s"])
        .stderr(log)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(60), || {
        f.json(&["incidents"]).1["incidents"].as_array().is_some_and(|a| !a.is_empty())
    })
    .unwrap_or_else(|| {
        let log = std::fs::read_to_string(f.dir.path().join("drill.log")).unwrap_or_default();
        panic!("the drill never opened its incident; its output:\n{log}")
    });
    let (_, list) = f.json(&["incidents"]);
    let id = list["incidents"][0]["id"].as_i64().unwrap().to_string();
    let out = f.run(&["note", "--incident", &id, "edge", "errors", "stopped", "at", "14:05"]);
    assert!(out.status.success());
    drill.kill().unwrap(); // SIGKILL
    drill.wait().unwrap();

    let conn = rusqlite::Connection::open(&f.db).unwrap();
    let body: String = conn.query_row("SELECT body FROM notes WHERE incident_id = ?1", [&id], |r| r.get(0)).unwrap();
    assert_eq!(body, "edge errors stopped at 14:05");
    let out = f.run(&["export", &id]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("edge errors stopped at 14:05"));
}
