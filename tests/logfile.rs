//! Issue 12, item 8: the log file for post-mortems, through the real binary
//! against the simulated fleet: one line per decision, request and outcome,
//! the day's file in the log folder, secrets redacted, levels and `off`.
#![allow(clippy::unwrap_used)]

mod common;

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, stderr};

const SECRET: &str = "https://hooks.example/services/T0/B0/l0g-s3cret";

fn fleet() -> Drill {
    let d = Drill::start(vec![ServiceSpec::new("search", ServiceKind::Standard, Scenario::Steady)], Timings::default());
    let mut text = std::fs::read_to_string(&d.config).unwrap();
    text.push_str("\n[notifications]\ndesktop = false\nwebhook_url_env = \"TEST_LOG_WEBHOOK\"\n");
    std::fs::write(&d.config, text).unwrap();
    d
}

/// Every log file in `dir`, concatenated, and their names.
fn logs(dir: &std::path::Path) -> (Vec<String>, String) {
    let mut names = Vec::new();
    let mut text = String::new();
    for e in std::fs::read_dir(dir).into_iter().flatten() {
        let path = e.unwrap().path();
        names.push(path.file_name().unwrap().to_string_lossy().into_owned());
        text.push_str(&std::fs::read_to_string(&path).unwrap());
    }
    (names, text)
}

#[test]
fn a_rollback_leaves_its_request_and_outcome_in_the_days_log_with_secrets_redacted() {
    let d = fleet();
    let logdir = d.dir.path().join("logs");
    let out = d
        .cmd(&["rollback", "search", "--version", "1.4.1", "--force", "--yes", "--reason", "search errors"])
        .env("BACKOUT_LOG_DIR", &logdir)
        .env("TEST_LOG_WEBHOOK", SECRET)
        .env_remove("BACKOUT_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (names, text) = logs(&logdir);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(names, [format!("backout.log.{today}")], "one file, the day's");
    assert!(text.contains("backout --config"), "the command line: {text}");
    assert!(text.contains("rollback #1 begun: search: ") && text.contains("reason: search errors"), "{text}");
    assert!(text.contains("rollback #1 ended completed"), "{text}");
    assert!(text.contains("notification not sent") || text.contains("notified"), "the delivery: {text}");
    assert!(text.contains(" INFO "), "{text}");
    assert!(!text.contains("l0g-s3cret"), "the webhook URL never reaches the log: {text}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("INFO"), "nothing of the log on the terminal");

    // A refusal is a warning; at --log-level warn only it is kept.
    let warn_dir = d.dir.path().join("warn-logs");
    let out = d
        .cmd(&["--log-level", "warn", "rollback", "search", "--yes", "--reason", "healthy: refused"])
        .env("BACKOUT_LOG_DIR", &warn_dir)
        .env_remove("BACKOUT_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let (_, text) = logs(&warn_dir);
    assert!(!text.contains(" INFO "), "{text}");
    assert!(text.contains(" WARN ") && text.contains("rollback refused at planning: the current deployment"), "{text}");

    // BACKOUT_LOG=off keeps none.
    let off_dir = d.dir.path().join("off-logs");
    let out = d.cmd(&["status"]).env("BACKOUT_LOG_DIR", &off_dir).env("BACKOUT_LOG", "off").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(logs(&off_dir).0.is_empty(), "no file with logging off");
}
