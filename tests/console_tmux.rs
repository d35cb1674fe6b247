//! The real binary's console driven in tmux against the simulated fleet: the
//! automatic rollback appears, a note and a checklist tick land in the database,
//! and a panic leaves the terminal restored.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, wait_until};

/// A tmux session that is killed when dropped.
struct Tmux(String);

impl Tmux {
    fn start(name: &str, command: &str) -> Tmux {
        let _ = Command::new("tmux").args(["kill-session", "-t", name]).output();
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", name, "-x", "120", "-y", "40", command])
            .status()
            .expect("tmux is installed (.ci/run installs it)");
        assert!(ok.success());
        Tmux(name.to_string())
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.0]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.0];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    fn wait_for(&self, what: &str, limit: Duration) -> String {
        let mut last = String::new();
        let found = wait_until(limit, || {
            last = self.screen();
            last.contains(what)
        });
        assert!(found.is_some(), "{what:?} never appeared; screen:\n{last}");
        last
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).output();
    }
}

/// The real console on `d`'s config and database, in a tmux session named after `what`.
fn console(d: &Drill, what: &str) -> Tmux {
    let cmd = format!(
        "env USER=tester {} --config {} --db {} console",
        env!("CARGO_BIN_EXE_backout"),
        shell_quote(d.config.to_str().unwrap()),
        shell_quote(d.db.to_str().unwrap())
    );
    Tmux::start(&format!("backout-{what}-{}", std::process::id()), &cmd)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn console_shows_automatic_rollback_and_records_note_and_checklist() {
    let timings =
        Timings { deploy_after: Some(Duration::from_secs(2)), ramp: Duration::from_millis(500), ..Timings::default() };
    let d = Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], timings);
    let runbooks = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/runbooks");
    let text = std::fs::read_to_string(&d.config).unwrap().replace(
        "auto_rollback = false",
        "auto_rollback = true\nrunbook = \"emergency-procedures\"\nchecklist_stable_for = \"1s\"",
    );
    let text = format!("runbooks_dir = {:?}\n{text}", runbooks.to_str().unwrap());
    std::fs::write(&d.config, text).unwrap();
    let tmux = console(&d, "e2e");
    tmux.wait_for("Environments", Duration::from_secs(30));
    // The bad release is detected and rolled back on its own.
    let screen = tmux.wait_for("2.0.0-bad → 1.4.3", Duration::from_secs(90));
    assert!(screen.contains("LIVE"), "{screen}");
    tmux.wait_for("completed", Duration::from_secs(60));

    // A multi-line note, saved with Ctrl-S.
    tmux.keys(&["n"]);
    tmux.wait_for("Ctrl-S saves", Duration::from_secs(20));
    tmux.keys(&["-l", "rolled back by the error-rate rule"]);
    tmux.keys(&["Enter"]);
    tmux.keys(&["-l", "customers saw 500s"]);
    tmux.keys(&["C-s"]);
    // Saved the moment it is entered: the row is there (the status line may
    // already show a newer event).
    let count = |sql: &str| d.db().query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or(0);
    wait_until(Duration::from_secs(30), || count("SELECT count(*) FROM notes") == 1).expect("note not saved");

    // Automatic items tick themselves once their check has held for 1 s.
    tmux.wait_for("[x] /health", Duration::from_secs(60));
    // Tab to the checklist and tick its last item, a manual one.
    for _ in 0..4 {
        tmux.keys(&["Tab"]);
    }
    for _ in 0..6 {
        tmux.keys(&["j"]);
    }
    tmux.keys(&["Space"]);
    tmux.wait_for("[x] All metrics", Duration::from_secs(30));

    // The incident's runbook is on screen; `s` marks its first step done.
    tmux.wait_for("○ 1. Critical: immedia", Duration::from_secs(30));
    tmux.keys(&["s"]);
    // The step has an action (a rollback): it asks, and d records it done
    // elsewhere (the rule already rolled back).
    tmux.wait_for("x runs it now", Duration::from_secs(20));
    tmux.keys(&["d"]);
    wait_until(Duration::from_secs(30), || count("SELECT count(*) FROM runbook_progress") == 1)
        .expect("step not recorded");

    // Quit: an incident is open, so it asks first.
    tmux.keys(&["q"]);
    tmux.wait_for("Quit the console anyway?", Duration::from_secs(20));
    tmux.keys(&["y"]);
    wait_until(Duration::from_secs(20), || !tmux.screen().contains("Environments")).expect("console did not quit");

    let db = d.db();
    let body: String = db.query_row("SELECT body FROM notes", [], |r| r.get(0)).unwrap();
    assert_eq!(body, "rolled back by the error-rate rule\ncustomers saw 500s");
    let (passed, actor): (bool, String) = db
        .query_row(
            "SELECT passed, actor FROM checklist_results WHERE item = 'All metrics back to normal levels'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((passed, actor.as_str()), (true, "tester"));
    let auto: i64 = db
        .query_row(
            "SELECT count(*) FROM checklist_results WHERE item = '/health returns healthy' AND passed = 1 AND actor <> 'tester'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(auto, 1, "the health item ticked itself");
    let (step, state): (String, String) =
        db.query_row("SELECT step_title, state FROM runbook_progress", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((step.as_str(), state.as_str()), ("Critical: immediate rollback", "done"));
    let rollbacks: i64 = db
        .query_row("SELECT count(*) FROM rollbacks WHERE status = 'completed' AND trigger <> 'manual'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rollbacks, 1);
}

#[test]
fn a_panic_in_the_console_leaves_the_terminal_restored() {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::Steady)], Timings::default());
    let out = d.dir.path().join("stty.txt");
    let cmd = format!(
        "sh -c {}",
        shell_quote(&format!(
            "{} --config {} --db {} console; echo exit=$?; stty -a > {}; echo RESTORED; sleep 60",
            env!("CARGO_BIN_EXE_backout"),
            d.config.display(),
            d.db.display(),
            out.display()
        ))
    );
    let tmux = Tmux::start(
        &format!("backout-panic-{}", std::process::id()),
        &format!("env BACKOUT_TEST_PANIC=1 RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0 {cmd}"),
    );
    let screen = tmux.wait_for("RESTORED", Duration::from_secs(20));
    // Back on the normal screen: the panic message is readable, the panes are gone.
    assert!(screen.contains("BACKOUT_TEST_PANIC is set"), "{screen}");
    assert!(!screen.contains("Environments"), "still on the console's screen:\n{screen}");
    assert!(screen.contains("exit=101"), "{screen}");
    // Raw mode is off: the line discipline echoes and edits lines again.
    let stty = std::fs::read_to_string(&out).unwrap();
    let flags: Vec<&str> = stty.split_whitespace().collect();
    assert!(flags.contains(&"icanon") && flags.contains(&"echo"), "terminal left raw: {stty}");
}

#[test]
fn review_steps_through_a_recorded_incident_read_only() {
    let timings =
        Timings { deploy_after: Some(Duration::ZERO), ramp: Duration::from_millis(100), ..Timings::default() };
    let d = Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], timings);
    d.wait_health("checkout", "unhealthy");
    let out = d.run(&["rollback", "--env", "checkout", "--yes", "--reason", "errors up"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = d.run(&["note", "--env", "checkout", "customers saw errors"]);
    assert!(out.status.success());
    let events: i64 =
        d.db().query_row("SELECT count(*) FROM timeline_events WHERE incident_id = 1", [], |r| r.get(0)).unwrap();

    let cmd = format!(
        "{} --config {} --db {} review 1",
        env!("CARGO_BIN_EXE_backout"),
        shell_quote(d.config.to_str().unwrap()),
        shell_quote(d.db.to_str().unwrap())
    );
    let tmux = Tmux::start(&format!("backout-review-{}", std::process::id()), &cmd);
    // It opens on the last event: the note.
    let screen = tmux.wait_for(&format!("{events} / {events}"), Duration::from_secs(30));
    assert!(screen.contains("REVIEW"), "{screen}");
    assert!(screen.contains("customers saw errors"), "{screen}");
    // Back to the start: the rollback has not happened yet at the first event.
    for _ in 0..events {
        tmux.keys(&["Left"]);
    }
    let screen = tmux.wait_for(&format!("1 / {events}"), Duration::from_secs(30));
    // The rollback had not completed yet at the first event (it may have been
    // requested in the same millisecond the incident opened).
    assert!(!screen.contains("✔ #"), "{screen}");
    // Nothing can be changed.
    tmux.keys(&["r"]);
    tmux.wait_for("not possible in REVIEW mode", Duration::from_secs(20));
    tmux.keys(&["q"]);
}

impl Tmux {
    /// Pastes `text` as a terminal does (bracketed, when the program asked for it).
    fn paste(&self, text: &str) {
        let buffer = format!("{}-paste", self.0);
        assert!(Command::new("tmux").args(["set-buffer", "-b", &buffer, text]).status().unwrap().success());
        assert!(
            Command::new("tmux")
                .args(["paste-buffer", "-p", "-d", "-b", &buffer, "-t", &self.0])
                .status()
                .unwrap()
                .success()
        );
    }
}

/// Issue 10: `r` on a healthy environment needs FORCE typed, and a pasted
/// text ending in a newline confirms nothing: not the force step, not the
/// rollback's reason.
#[test]
fn item7_item9_a_healthy_rollback_needs_force_and_a_pasted_newline_confirms_nothing() {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::Steady)], Timings::default());
    let tmux = console(&d, "force");
    tmux.wait_for("✔ healthy", Duration::from_secs(30));
    tmux.keys(&["r"]);
    let screen = tmux.wait_for("Type FORCE to roll back anyway", Duration::from_secs(30));
    assert!(screen.contains("is healthy"), "the step says why it is refused:\n{screen}");
    assert!(!screen.contains("--force"), "the console's way is FORCE typed, not a flag:\n{screen}");
    tmux.paste("FORCE\n");
    std::thread::sleep(Duration::from_millis(500));
    let screen = tmux.wait_for("> FORCE", Duration::from_secs(10));
    assert!(screen.contains("Force a rollback?"), "the pasted newline pressed Enter:\n{screen}");
    tmux.keys(&["BSpace", "Enter"]);
    tmux.wait_for("Reason (recorded)", Duration::from_secs(30));
    tmux.paste("practising the force step\n");
    tmux.wait_for("practising the force step", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    let screen = tmux.screen();
    assert!(screen.contains("Confirm rollback"), "the pasted newline confirmed:\n{screen}");
    let rollbacks = || d.db().query_row("SELECT count(*) FROM rollbacks", [], |r| r.get::<_, i64>(0)).unwrap_or(0);
    assert_eq!(rollbacks(), 0, "nothing was rolled back");
    tmux.keys(&["Escape"]);
    wait_until(Duration::from_secs(10), || !tmux.screen().contains("Confirm rollback")).expect("Esc closed nothing");
    assert_eq!(rollbacks(), 0);
}

/// Issue 10 item 1, end to end: a service whose health flaps shows its failed
/// checks in the health sparkline of the real console, even while healthy.
#[test]
fn item1_a_flapping_health_check_shows_its_failures_in_the_sparkline() {
    let timings = Timings { flap_period: Duration::from_secs(2), ..Timings::default() };
    let d = Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::Standard, Scenario::Flapping)], timings);
    let tmux = console(&d, "flap");
    tmux.wait_for("Environments", Duration::from_secs(30));
    let mut last = String::new();
    let seen = wait_until(Duration::from_secs(40), || {
        last = tmux.screen();
        last.lines().find(|l| l.contains("│health ")).is_some_and(|row| {
            let marks = row.matches('✖').count();
            let bars = row.chars().filter(|c| ('▁'..='█').contains(c)).count();
            marks >= 3 && bars >= 3
        })
    });
    assert!(seen.is_some(), "the health row never showed both failures and good checks:\n{last}");
}

/// Issue 10 item 13, end to end: the timeline of a flapping service grows past
/// its pane; G (the last row) brings its first event into view, with the
/// position in the pane's title.
#[test]
fn item13_scrolling_the_timeline_reaches_its_first_event() {
    let timings = Timings { flap_period: Duration::from_secs(1), ..Timings::default() };
    let d = Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::Standard, Scenario::Flapping)], timings);
    let tmux = console(&d, "scroll");
    tmux.wait_for("Environments", Duration::from_secs(30));
    let count = || d.db().query_row("SELECT count(*) FROM timeline_events", [], |r| r.get::<_, i64>(0)).unwrap_or(0);
    wait_until(Duration::from_secs(60), || count() >= 30).expect("the timeline never grew past 30 events");
    let oldest: String =
        d.db().query_row("SELECT at FROM timeline_events ORDER BY at, id LIMIT 1", [], |r| r.get(0)).unwrap();
    let oldest_time = &oldest[11..19];
    // Let the console's periodic reload pick up at least 30 rows.
    std::thread::sleep(Duration::from_secs(6));
    for _ in 0..6 {
        tmux.keys(&["Tab"]);
    }
    tmux.keys(&["G"]);
    let screen = tmux.wait_for(&format!("{oldest_time} backout"), Duration::from_secs(10));
    let title = screen.lines().find(|l| l.contains("Notes & timeline ")).unwrap_or_default().to_string();
    let position =
        title.split("Notes & timeline ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or_default();
    let (at, of) = position.split_once('/').unwrap_or_else(|| panic!("no position in {title:?}"));
    assert_eq!(at, of, "the last row is selected: {title}");
}

/// Issue 10 item 6, end to end: after the bad release was rolled back on its
/// own, `R` opens the picker on a known-good version, never the bad one.
#[test]
fn item6_the_picker_starts_on_a_good_version_after_an_automatic_rollback() {
    let timings =
        Timings { deploy_after: Some(Duration::from_secs(2)), ramp: Duration::from_millis(500), ..Timings::default() };
    let d = Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::Standard, Scenario::BadDeploy)], timings);
    let text = std::fs::read_to_string(&d.config).unwrap().replace("auto_rollback = false", "auto_rollback = true");
    std::fs::write(&d.config, text).unwrap();
    let tmux = console(&d, "pick");
    tmux.wait_for("Environments", Duration::from_secs(30));
    let completed = || {
        d.db()
            .query_row("SELECT count(*) FROM rollbacks WHERE status = 'completed'", [], |r| r.get::<_, i64>(0))
            .unwrap_or(0)
    };
    wait_until(Duration::from_secs(120), || completed() == 1).expect("the bad release was never rolled back");
    // The console reloads the history every 5 s.
    std::thread::sleep(Duration::from_secs(6));
    tmux.keys(&["R"]);
    let screen = tmux.wait_for("back to which version?", Duration::from_secs(20));
    let chosen = screen.lines().find(|l| l.contains("▶ ") && !l.contains("│▶ checkout")).unwrap_or_default();
    assert!(!chosen.is_empty(), "no version is selected:\n{screen}");
    assert!(!chosen.contains("bad") && !chosen.contains("serving"), "the picker starts on {chosen:?}:\n{screen}");
    tmux.keys(&["Escape"]);
}

/// Issue 11 item 8, in the real console: on an environment with
/// `approvals = 2`, `r` records a request and runs nothing; `A` by the same
/// operator is refused; `A` by a second operator runs it, and the record
/// names both.
#[test]
fn item8_a_second_operator_approves_a_request_with_a() {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::Steady)], Timings::default());
    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(&d.config, text.replacen("timeout = \"2s\"\n", "timeout = \"2s\"\napprovals = 2\n", 1)).unwrap();
    let as_user = |user: &str, what: &str| {
        let cmd = format!(
            "env USER={user} {} --config {} --db {} console",
            env!("CARGO_BIN_EXE_backout"),
            shell_quote(d.config.to_str().unwrap()),
            shell_quote(d.db.to_str().unwrap())
        );
        Tmux::start(&format!("backout-{what}-{}", std::process::id()), &cmd)
    };
    let rollbacks = || d.db().query_row("SELECT count(*) FROM rollbacks", [], |r| r.get::<_, i64>(0)).unwrap_or(0);

    let alice = as_user("alice", "approve-alice");
    alice.wait_for("✔ healthy", Duration::from_secs(30));
    alice.keys(&["r"]);
    alice.wait_for("Type FORCE to roll back anyway", Duration::from_secs(30));
    alice.keys(&["F", "O", "R", "C", "E", "Enter"]);
    alice.wait_for("Reason (recorded)", Duration::from_secs(30));
    alice.keys(&["-l", "checkout 5xx"]);
    alice.keys(&["Enter"]);
    alice.wait_for("rollback request #1 recorded", Duration::from_secs(30));
    assert_eq!(rollbacks(), 0, "a request runs nothing");
    alice.keys(&["A"]);
    alice.wait_for("request #1 is yours", Duration::from_secs(30));
    assert!(!alice.screen().contains("ROLLBACK IN PROGRESS"), "a request is not a rollback in flight");
    drop(alice);

    let bob = as_user("bob", "approve-bob");
    bob.wait_for("✔ healthy", Duration::from_secs(30));
    bob.keys(&["A"]);
    let screen = bob.wait_for("request #1 by alice, approved by bob", Duration::from_secs(30));
    assert!(screen.contains("checkout 5xx"), "the request's reason is shown:\n{screen}");
    bob.keys(&["Enter"]);
    let done = wait_until(Duration::from_secs(30), || {
        d.db()
            .query_row("SELECT count(*) FROM rollbacks WHERE status = 'completed' AND approved_by = 'bob'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0)
            == 1
    });
    assert!(done.is_some(), "bob's approval did not run the rollback; screen:\n{}", bob.screen());
    let (operator, reason): (String, String) =
        d.db().query_row("SELECT operator, reason FROM rollbacks", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((operator.as_str(), reason.as_str()), ("alice", "checkout 5xx"));
    assert_eq!(rollbacks(), 1);
}
