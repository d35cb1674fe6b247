//! Desktop notifications through a real D-Bus session bus: a private
//! `dbus-daemon`, a notification server on it that records what it is sent,
//! and backout's notifier in a child process pointed at that bus.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backout::notify::{DESKTOP_TIMEOUT, Notification, NotificationKind, Notifier};

/// Marker telling the child test that it was started on purpose, with a bus address set.
const CHILD_MARKER: &str = "BACKOUT_NOTIFY_BUS_CHILD";

/// A `dbus-daemon` of our own on a socket in a temporary directory; stopped when dropped.
struct SessionBus {
    daemon: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl SessionBus {
    fn start() -> SessionBus {
        let dir = tempfile::tempdir().unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", dir.path().join("bus").display()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon runs (./test.sh installs it)");
        // It prints its address once it listens.
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().unwrap()).read_line(&mut address).unwrap();
        SessionBus { daemon, address: address.trim().to_string(), _dir: dir }
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The desktop's notification service, as far as `Notify` goes: it keeps
/// (app name, summary, body) of each call, and answers unless it hangs.
struct NotificationServer {
    got: Arc<Mutex<Vec<(String, String, String)>>>,
    hangs: bool,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationServer {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let id = {
            let mut got = self.got.lock().unwrap();
            got.push((app_name, summary, body));
            u32::try_from(got.len()).unwrap()
        };
        if self.hangs {
            std::future::pending::<()>().await;
        }
        id
    }
}

/// Serves a notification server on a private bus, runs the child test `child`
/// against it, and returns what the server was sent.
async fn run_child_against_a_server(child: &str, hangs: bool) -> Vec<(String, String, String)> {
    let bus = SessionBus::start();
    let got = Arc::new(Mutex::new(Vec::new()));
    let _server = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at("/org/freedesktop/Notifications", NotificationServer { got: got.clone(), hangs })
        .unwrap()
        .build()
        .await
        .unwrap();

    let run = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([child, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env(CHILD_MARKER, "1")
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "child did not run:\n{stdout}\n{stderr}");
    got.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_notification_reaches_the_session_bus() {
    let got = run_child_against_a_server("desktop_child_with_a_bus", false).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let (app, summary, body) = &got[0];
    assert_eq!(app, "backout");
    assert_eq!(summary, "✅ ROLLBACK COMPLETED");
    assert!(body.contains("checkout") && body.contains("error rate 7.2% > 5% for 2m"), "{body:?}");
}

/// backout's own runtime shape (a multi-thread runtime with one worker, as the console's).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "run by a_desktop_notification_reaches_the_session_bus in a child process"]
async fn desktop_child_with_a_bus() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        return;
    }
    let n = Notifier::with_webhooks(None, None, true, Duration::ZERO);
    let delivery = n.send(&notification()).await;
    assert_eq!(delivery.channels, ["desktop"], "{delivery:?}");
    assert!(delivery.errors.is_empty(), "{delivery:?}");

    // D-Bus was spoken on this runtime: no other runtime's threads were started for it.
    // (A thread that ends meanwhile has no `comm` left to read.)
    let threads: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect();
    println!("threads: {threads:?}");
    let foreign = ["async-io", "blocking-", "zbus"];
    assert!(threads.iter().all(|t| !foreign.iter().any(|f| t.starts_with(f))), "{threads:?}");
}

/// A service that takes the call and never answers costs the timeout, then the call is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_never_answers_costs_the_timeout() {
    let got = run_child_against_a_server("desktop_child_with_a_hanging_service", true).await;
    assert_eq!(got.len(), 1, "the call reached the service: {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "run by a_service_that_never_answers_costs_the_timeout in a child process"]
async fn desktop_child_with_a_hanging_service() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        return;
    }
    let n = Notifier::with_webhooks(None, None, true, Duration::ZERO);
    let started = std::time::Instant::now();
    let delivery = n.send(&notification()).await;
    let took = started.elapsed();
    assert!(took >= DESKTOP_TIMEOUT && took < DESKTOP_TIMEOUT + Duration::from_secs(2), "took {took:?}");
    assert!(delivery.channels.is_empty(), "{delivery:?}");
    assert!(delivery.errors[0].contains("no answer from the notification service within 2s"), "{delivery:?}");
}

fn notification() -> Notification {
    Notification {
        kind: NotificationKind::RollbackCompleted,
        environment: "checkout".into(),
        colour: Some("blue".into()),
        from_version: Some("v2.4.1".into()),
        target_version: Some("v2.4.0".into()),
        reason: "error rate 7.2% > 5% for 2m".into(),
        impact: "checkout failing for ~7% of customers".into(),
        duration: Some(Duration::from_secs(95)),
        error: None,
        actor: "rule:error-rate".into(),
        drill: false,
        group_key: "checkout:rollback".into(),
        flag: None,
        severity: None,
        incident_id: None,
        detail: Vec::new(),
    }
}
