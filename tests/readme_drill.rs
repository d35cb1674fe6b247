//! The README's two drill commands, taken from README.md and run as written
//! (only `backout` is this build's binary, and the simulator listens on a free
//! port rather than 8080): the drill completes with exit 0 within two minutes,
//! and the incident it writes has every milestone and a verdict.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The README line that starts with `prefix`, split into words (the drill's
/// lines use no quotes).
fn readme_command(prefix: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("README.md has no line starting {prefix:?}"));
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    assert_eq!(words[0], "backout");
    words[1..].to_vec()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_drill_commands_complete_with_every_milestone_and_a_verdict() {
    let bin = env!("CARGO_BIN_EXE_backout");
    let dir = tempfile::tempdir().unwrap();
    let sim_args = readme_command("backout simulate --auto-rollback");
    let drill_args = readme_command("backout --config drill.toml --db drill.db drill ");

    let mut sim = Command::new(bin)
        .args(&sim_args)
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(sim.stdout.take().unwrap());
    let sim = Killed(sim);
    let mut listening = false;
    for line in out.lines().take(50) {
        if line.unwrap().starts_with("listening on") {
            listening = true;
            break;
        }
    }
    assert!(listening, "the simulator did not start");
    assert!(dir.path().join("drill.toml").exists(), "the simulator wrote no drill.toml");

    let started = Instant::now();
    let drill = Command::new(bin)
        .args(&drill_args)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut drill = Killed(drill);
    let code = loop {
        if let Some(status) = drill.0.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > Duration::from_secs(120) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut said = String::new();
    if code.is_some() {
        use std::io::Read;
        let _ = drill.0.stderr.take().unwrap().read_to_string(&mut said);
        let _ = drill.0.stdout.take().unwrap().read_to_string(&mut said);
    }
    assert_eq!(code, Some(0), "the drill did not complete with exit 0 within 2 minutes:\n{said}");
    assert!(said.contains("verdict: MET"), "{said}");

    let list = Command::new(bin)
        .args(["--config", "drill.toml", "--db", "drill.db", "drills", "--format", "json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let d = &v["drills"][0];
    assert_eq!(d["drill"], true, "{v}");
    assert_eq!(d["verdict"]["verdict"], "MET", "{v}");
    let got: Vec<&str> = d["milestones"].as_array().unwrap().iter().map(|m| m["milestone"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        ["impact_started", "detected", "rollback_started", "rollback_completed", "validated", "resolved"],
        "{v}"
    );
    // Seed 001's template names the colour now serving, the drill's summary too.
    let db = rusqlite::Connection::open(dir.path().join("drill.db")).unwrap();
    let summary: String = db
        .query_row(
            "SELECT data FROM timeline_events WHERE kind = 'notification' AND message LIKE 'drill summary%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let text = summary["text"].as_str().unwrap();
    assert!(text.contains("Environment: checkout (BLUE)\n"), "{text}");
    drop(sim);
}
