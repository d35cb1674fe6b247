//! A hostile service on loopback, driven through the real binary: escape
//! sequences in what it says never reach the terminal, a huge version is kept
//! bounded and never breaks a table, and an answer that never ends is a failed
//! read, not a process that eats memory (issue 9 items 6, 7 and 11).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use serde_json::json;

/// A version that tries everything: a window title, a screen clear, a C1 CSI,
/// a bidi override, a line break forging a row, and 100,000 more characters.
fn evil_version() -> String {
    format!("2.0\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}\n1.0  forged-row {}", "9".repeat(100_000))
}

/// Serves `app` on 127.0.0.1 from a runtime of its own; gives its base URL.
fn serve(rt: &tokio::runtime::Runtime, app: axum::Router) -> String {
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A one-colour service that deployed [`evil_version`] over `1.0`, is unhealthy
/// on it, and goes back to `1.0` when asked.
fn evil_service(rt: &tokio::runtime::Runtime) -> String {
    let serving = Arc::new(Mutex::new(evil_version()));
    let status = {
        let serving = Arc::clone(&serving);
        move || {
            let v = serving.lock().unwrap().clone();
            async move {
                axum::Json(json!({
                    "version": v,
                    "deploymentHistory": [
                        { "id": "d-1", "version": "1.0", "deployedAt": "2026-11-20T10:00:00Z", "status": "succeeded" },
                        { "id": "d-2\u{1b}[2J", "version": evil_version(), "deployedAt": "2026-11-21T10:00:00Z", "status": "succeeded" }
                    ]
                }))
            }
        }
    };
    let health = {
        let serving = Arc::clone(&serving);
        move || {
            let v = serving.lock().unwrap().clone();
            let h = if v == "1.0" { "healthy" } else { "unhealthy" };
            async move { axum::Json(json!({ "health": h, "version": v })) }
        }
    };
    let rollback = move || {
        let before = std::mem::replace(&mut *serving.lock().unwrap(), "1.0".to_string());
        async move { axum::Json(json!({ "success": true, "version": "1.0", "previousVersion": before })) }
    };
    let app = axum::Router::new()
        .route("/deployment/status", get(status))
        .route("/health", get(health))
        .route("/deployment/rollback", post(rollback));
    serve(rt, app)
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(config: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("backout.toml"), config).unwrap();
        Setup { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_backout"))
            .arg("--config")
            .arg(self.dir.path().join("backout.toml"))
            .arg("--db")
            .arg(self.dir.path().join("backout.db"))
            .args(args)
            .env("USER", "tester")
            .env_remove("BACKOUT_CONFIG")
            .env_remove("BACKOUT_DB")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }
}

/// Bytes that act on a terminal: ESC, BEL, a C1 CSI (UTF-8 `C2 9B`), and RLO (`E2 80 AE`).
fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(!bytes.contains(&0x1b) && !bytes.contains(&0x07), "{what} carries ESC or BEL: {text:?}");
    assert!(!bytes.windows(2).any(|w| w == [0xc2, 0x9b]), "{what} carries a C1 CSI");
    assert!(!bytes.windows(3).any(|w| w == [0xe2, 0x80, 0xae]), "{what} carries a bidi override");
}

fn both(o: &Output) -> Vec<u8> {
    [o.stdout.as_slice(), o.stderr.as_slice()].concat()
}

#[test]
fn item11_escape_sequences_from_a_service_never_reach_the_terminal() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = evil_service(&rt);
    let s = Setup::new(&format!("[[environment]]\nname = \"evil\"\nkind = \"standard\"\nbase_url = \"{url}\"\n"));

    let status = s.run(&["status", "--env", "evil"]);
    assert_inert("status", &both(&status));
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("2.0\\u{1b}]0;pwned\\u{7}"), "the sequence is shown, escaped: {text}");
    assert!(!text.lines().any(|l| l.starts_with("1.0  forged-row")), "a line break forged a row: {text}");
    let json = s.run(&["--format", "json", "status", "--env", "evil"]);
    assert_inert("status --format json", &both(&json));

    let rollback = s.run(&["rollback", "--env", "evil", "--yes", "--reason", "bad release"]);
    assert_eq!(rollback.status.code(), Some(0), "{}", String::from_utf8_lossy(&both(&rollback)));
    assert_inert("rollback", &both(&rollback));
    let history = s.run(&["history", "--env", "evil"]);
    assert_eq!(history.status.code(), Some(0), "{}", String::from_utf8_lossy(&both(&history)));
    assert_inert("history", &both(&history));
}

#[test]
fn item7_a_100000_character_version_is_stored_bounded_and_history_never_panics() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = evil_service(&rt);
    let s = Setup::new(&format!("[[environment]]\nname = \"evil\"\nkind = \"standard\"\nbase_url = \"{url}\"\n"));
    let rollback = s.run(&["rollback", "--env", "evil", "--yes", "--reason", "bad release"]);
    assert_eq!(rollback.status.code(), Some(0), "{}", String::from_utf8_lossy(&both(&rollback)));

    let db = rusqlite::Connection::open(s.dir.path().join("backout.db")).unwrap();
    let from: String = db.query_row("SELECT from_version FROM rollbacks", [], |r| r.get(0)).unwrap();
    assert!(from.chars().count() < 300, "stored bounded, not {} characters", from.chars().count());
    assert!(from.ends_with(&format!("…[{} chars]", evil_version().chars().count())), "{from}");

    // Even a value stored whole (by an older version, or by hand) prints.
    db.execute("UPDATE rollbacks SET from_version = ?1", [evil_version()]).unwrap();
    drop(db);
    for format in ["table", "json"] {
        let history = s.run(&["--format", format, "history", "--env", "evil"]);
        assert_eq!(history.status.code(), Some(0), "{format}: {}", String::from_utf8_lossy(&history.stderr));
        assert!(!String::from_utf8_lossy(&history.stderr).contains("panicked"));
    }
    let table = s.run(&["history", "--env", "evil"]);
    assert!(String::from_utf8_lossy(&table.stdout).lines().all(|l| l.chars().count() < 400), "cells are cut");
}

/// An answer that never ends: 64 KiB chunks for as long as anyone reads.
fn endless() -> axum::body::Body {
    let chunk = vec![b' '; 64 * 1024];
    axum::body::Body::from_stream(futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone())))
}

#[test]
fn item6_an_answer_that_never_ends_is_a_failed_read_within_the_cap() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let big = format!("{{\"version\": \"1.0\", \"padding\": \"{}\"}}", "x".repeat(4096));
    let app = axum::Router::new()
        .route("/deployment/status", get(|| async { endless() }))
        .route("/health", get(|| async { endless() }))
        .route("/metrics", get(|| async { endless() }))
        .route("/small/deployment/status", get(move || async move { big }));
    let url = serve(&rt, app);
    let s = Setup::new(&format!(
        "[[environment]]\nname = \"stream\"\nkind = \"standard\"\nbase_url = \"{url}\"\ntimeout = \"20s\"\n\n\
         [[environment]]\nname = \"capped\"\nkind = \"standard\"\nbase_url = \"{url}/small\"\nmax_body = 2048\n"
    ));
    let start = Instant::now();
    let status = s.run(&["--format", "json", "status"]);
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("larger than 1 MiB (max_body)"), "{text}\n{}", String::from_utf8_lossy(&status.stderr));
    assert!(text.contains("larger than 2 KiB (max_body)"), "{text}");
    assert!(took < Duration::from_secs(15), "it stopped at the cap, not at the 20 s timeout ({took:?})");

    // The engine's pollers are capped the same way: a metrics page without end.
    let config = backout::config::Config::from_toml(
        &format!(
            "[[environment]]\nname = \"stream\"\nkind = \"standard\"\nbase_url = \"{url}\"\n\n[[environment.signal]]\nname = \"cpu\"\n\
             source = \"exposition\"\nderive = \"gauge\"\nmetric = \"cpu\"\n"
        ),
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    let env = config.environment("stream").unwrap();
    let signal = env.effective_signals().into_iter().next().unwrap();
    let mut poller = backout::engine::SignalPoller::new(env, &signal, reqwest::Client::new());
    let sample = rt.block_on(poller.poll()).sample.unwrap();
    assert!(!sample.ok && sample.error.as_deref().unwrap_or("").contains("larger than 1 MiB"), "{sample:?}");
}
