//! The engine in-process against the simulated fleet on loopback: detection,
//! automatic rollback with its evidence, guardrails, proposals, and bad answers.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backout::config::Config;
use backout::engine::{EngineCommand, EngineEvent, EngineOptions, Happened};
use backout::notify::Notifier;
use backout::sim::{GeneratedConfig, Scenario, ServiceKind, ServiceSpec, SimHandle, SimOptions, Timings, ready_config};
use tokio::sync::mpsc;

struct Setup {
    sim: SimHandle,
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    config: Arc<Config>,
}

fn setup(scenario: Scenario, timings: Timings, edit: impl Fn(String) -> String) -> Setup {
    let spec = ServiceSpec::new("checkout", ServiceKind::BlueGreen, scenario);
    let sim = backout::sim::spawn(SimOptions { services: vec![spec.clone()], timings, seed: None }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = ready_config(&GeneratedConfig {
        poll_interval: Duration::from_millis(200),
        rule_window: Some(Duration::from_secs(1)),
        auto_rollback: true,
        verify_timeout: Duration::from_secs(10),
        services: &[(spec, sim.base_url("checkout"))],
    });
    let text =
        edit(text.replace("recovery_time_objective = \"2m\"", "recovery_time_objective = \"2m\"\ncooldown = \"1s\""));
    let path = dir.path().join("c.toml");
    std::fs::write(&path, &text).unwrap();
    let config = Arc::new(Config::from_toml(&text, &path).unwrap());
    let db = dir.path().join("d.db");
    Setup { sim, _dir: dir, db, config }
}

type Events = Arc<Mutex<Vec<EngineEvent>>>;

/// Runs the engine until `until` holds on the events seen (bounded by `limit`),
/// sending `commands` as events arrive. Returns every event.
async fn run_engine(
    s: &Setup,
    notifier: Notifier,
    opts: EngineOptions,
    limit: Duration,
    on_event: impl Fn(&EngineEvent, &mpsc::UnboundedSender<EngineCommand>) + Send + 'static,
    until: impl Fn(&[EngineEvent]) -> bool + Send + 'static,
) -> Vec<EngineEvent> {
    let (tx, mut rx) = mpsc::channel::<EngineEvent>(backout::engine::EVENT_QUEUE);
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let events: Events = Arc::default();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let seen = Arc::clone(&events);
    let collector = tokio::spawn(async move {
        let mut done = Some(done_tx);
        while let Some(e) = rx.recv().await {
            on_event(&e, &cmd_tx);
            let mut all = seen.lock().unwrap();
            all.push(e);
            if until(&all)
                && let Some(d) = done.take()
            {
                let _ = d.send(());
            }
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = done_rx => {}
            _ = tokio::time::sleep(limit) => {}
        }
    };
    backout::engine::run(Arc::clone(&s.config), s.db.clone(), notifier, opts, tx, cmd_rx, shutdown).await.unwrap();
    collector.await.unwrap();
    Arc::try_unwrap(events).unwrap().into_inner().unwrap()
}

fn kinds(events: &[EngineEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind()).collect()
}

fn count(events: &[EngineEvent], kind: &str) -> usize {
    events.iter().filter(|e| e.kind() == kind).count()
}

/// A Slack-style webhook receiver on loopback that keeps what it gets.
async fn webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let store = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let store = Arc::clone(&store);
            async move {
                store.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

fn db(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_deploy_gives_exactly_one_automatic_rollback_then_alerts_only() {
    let timings =
        Timings { deploy_after: Some(Duration::from_millis(1500)), ramp: Duration::from_secs(1), ..Timings::default() };
    let s = setup(Scenario::BadDeploy, timings, |t| t);
    let (url, hook) = webhook().await;
    let notifier = Notifier::with_webhooks(Some(url), None, false, Duration::from_secs(60));
    let base = s.sim.base_url("checkout");
    let redeployed = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&redeployed);
    let events = run_engine(
        &s,
        notifier,
        EngineOptions::default(),
        Duration::from_secs(30),
        move |e, _| {
            // Once the rollback is done, the version it went back to goes bad too.
            if e.kind() == "rollback_completed" && !*flag.lock().unwrap() {
                *flag.lock().unwrap() = true;
                let base = base.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let body = serde_json::json!({ "version": "1.4.3" });
                    reqwest::Client::new().post(format!("{base}/deployment/deploy")).json(&body).send().await.unwrap();
                });
            }
        },
        |all| {
            let done = all.iter().position(|e| e.kind() == "rollback_completed");
            done.is_some_and(|i| {
                all[i..].iter().any(|e| e.kind() == "alert" && e.message.contains("will not roll back past it"))
            })
        },
    )
    .await;
    assert_eq!(count(&events, "rollback_completed"), 1, "{:?}", kinds(&events));
    assert_eq!(count(&events, "rollback_starting"), 1, "no second rollback: {:?}", kinds(&events));
    assert_eq!(s.sim.rollback_requests("checkout"), 1);

    let conn = db(&s.db);
    let (status, trigger, operator, reason, target, sent): (String, String, String, String, String, bool) = conn
        .query_row(
            "SELECT status, trigger, operator, reason, target_version, notification_sent FROM rollbacks",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), target.as_str()), ("completed", "1.4.3"));
    assert!(["health_check_failed", "error_rate", "latency"].contains(&trigger.as_str()), "{trigger}");
    assert!(operator.starts_with("rule:"), "{operator}");
    assert!(!reason.is_empty());
    let evidence: String =
        conn.query_row("SELECT data FROM timeline_events WHERE kind = 'rollback_evidence'", [], |r| r.get(0)).unwrap();
    let evidence: serde_json::Value = serde_json::from_str(&evidence).unwrap();
    assert!(!evidence["samples"].as_array().unwrap().is_empty(), "{evidence}");
    assert!(evidence["rule"].as_str().is_some());

    // Notifications: the webhook got the completion text and the record says so.
    let got = hook.lock().unwrap().clone();
    let texts: Vec<String> = got.iter().map(|v| v["text"].as_str().unwrap_or("").to_string()).collect();
    // Seed 001's template names the colour: the bad release went to green, blue held 1.4.3.
    assert!(
        texts.iter().any(|t| t.contains("ROLLBACK COMPLETED") && t.contains("Environment: checkout (BLUE)\n")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("DEPLOYMENT ROLLBACK EXECUTED")), "{texts:?}");
    // The completion notice may land just after the engine stops; allow for it.
    assert!(sent || texts.len() >= 2);
    let samples: i64 = conn.query_row("SELECT count(*) FROM samples", [], |r| r.get(0)).unwrap();
    assert!(samples > 0, "samples are written, downsampled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposal_runs_after_grace_or_is_cancelled() {
    let propose = |t: String| t.replace("action = \"rollback\"", "action = \"propose\"\ngrace = \"1s\"");
    let timings = || Timings {
        deploy_after: Some(Duration::from_millis(500)),
        ramp: Duration::from_millis(500),
        ..Timings::default()
    };

    let s = setup(Scenario::BadDeploy, timings(), propose);
    let events = run_engine(
        &s,
        Notifier::disabled(),
        EngineOptions::default(),
        Duration::from_secs(20),
        |_, _| {},
        |all| all.iter().any(|e| e.kind() == "rollback_completed"),
    )
    .await;
    let k = kinds(&events);
    let proposed = k.iter().position(|k| *k == "rollback_proposed").expect("proposed");
    let started = k.iter().position(|k| *k == "rollback_starting").expect("ran after the grace period");
    assert!(proposed < started);
    let gap = events[started].at - events[proposed].at;
    assert!(gap >= chrono::Duration::milliseconds(900), "waited out the grace period: {gap}");

    let s = setup(Scenario::BadDeploy, timings(), propose);
    let events = run_engine(
        &s,
        Notifier::disabled(),
        EngineOptions::default(),
        Duration::from_secs(4),
        |e, cmds| {
            if e.kind() == "rollback_proposed" {
                let _ = cmds.send(EngineCommand::Cancel { environment: e.environment.clone() });
            }
        },
        |_| false,
    )
    .await;
    assert!(count(&events, "rollback_cancelled") >= 1, "{:?}", kinds(&events));
    assert_eq!(count(&events, "rollback_starting"), 0, "{:?}", kinds(&events));
    assert_eq!(s.sim.rollback_requests("checkout"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_rollback_alerts_once_and_is_not_retried() {
    let timings = Timings {
        deploy_after: Some(Duration::from_millis(300)),
        ramp: Duration::from_millis(300),
        ..Timings::default()
    };
    let s = setup(Scenario::RollbackFails, timings, |t| t);
    let events =
        run_engine(&s, Notifier::disabled(), EngineOptions::default(), Duration::from_secs(6), |_, _| {}, |_| false)
            .await;
    let failed: Vec<&EngineEvent> = events.iter().filter(|e| e.kind() == "rollback_failed").collect();
    assert_eq!(failed.len(), 1, "{:?}", kinds(&events));
    assert!(failed[0].message.contains("HTTP 500: rollback failed: traffic switch timed out"), "{}", failed[0].message);
    assert!(events.iter().any(|e| e.kind() == "alert" && e.message.contains("failed")));
    assert_eq!(s.sim.rollback_requests("checkout"), 1, "no retry storm");
    let status: String = db(&s.db).query_row("SELECT status FROM rollbacks", [], |r| r.get(0)).unwrap();
    assert_eq!(status, "failed");
    // The failure notice names the colour still serving: the bad release went to green.
    let notices: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.what {
            Happened::Notification(d) => Some(d.text.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        notices.iter().any(|t| t.contains("ROLLBACK FAILED") && t.contains("Environment: checkout (GREEN)\n")),
        "{notices:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_slow_answers_are_failed_samples_not_panics() {
    let s = setup(Scenario::Garbage, Timings::default(), |t| t);
    let events =
        run_engine(&s, Notifier::disabled(), EngineOptions::default(), Duration::from_secs(3), |_, _| {}, |_| false)
            .await;
    let conn = db(&s.db);
    let (failed, ok): (i64, i64) =
        conn.query_row("SELECT sum(ok = 0), sum(ok = 1) FROM samples", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert!(failed > 0 && ok == 0, "failed {failed} ok {ok}");
    let error: String =
        conn.query_row("SELECT error FROM samples WHERE signal = 'health' LIMIT 1", [], |r| r.get(0)).unwrap();
    assert!(error.contains("does not follow the playbook API"), "{error}");
    // Three unparsable health answers are three failed checks (seed 001), so the
    // rule fires; but pre-rollback validation cannot read the status either, and
    // nothing is sent to a service that answers garbage.
    let blocked = events.iter().find(|e| e.kind() == "rollback_blocked").expect("rollback blocked");
    assert!(blocked.message.contains("cannot read deployment status"), "{}", blocked.message);
    assert_eq!(s.sim.rollback_requests("checkout"), 0);
    let rollbacks: i64 = conn.query_row("SELECT count(*) FROM rollbacks", [], |r| r.get(0)).unwrap();
    assert_eq!(rollbacks, 0);

    let timings = Timings { slow_delay: Duration::from_secs(3), ..Timings::default() };
    let s = setup(Scenario::Slow, timings, |t| t.replace("timeout = \"2s\"", "timeout = \"300ms\""));
    let events =
        run_engine(&s, Notifier::disabled(), EngineOptions::default(), Duration::from_secs(3), |_, _| {}, |_| false)
            .await;
    let error: String = db(&s.db)
        .query_row("SELECT error FROM samples WHERE ok = 0 AND signal = 'latency' LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert!(error.contains("no answer within 300ms"), "{error}");
    assert!(events.iter().all(|e| e.kind() != "rollback_completed"), "{:?}", kinds(&events));
    assert_eq!(s.sim.rollback_requests("checkout"), 0, "a service that never answers in time is not sent a rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_and_irreversible_versions_never_touch_the_service() {
    let timings = || Timings {
        deploy_after: Some(Duration::from_millis(300)),
        ramp: Duration::from_millis(300),
        ..Timings::default()
    };
    let s = setup(Scenario::BadDeploy, timings(), |t| t);
    let opts = EngineOptions { dry_run: true, ..EngineOptions::default() };
    let events = run_engine(
        &s,
        Notifier::disabled(),
        opts,
        Duration::from_secs(10),
        |_, _| {},
        |all| all.iter().any(|e| e.kind() == "dry_run"),
    )
    .await;
    let dry = events.iter().find(|e| e.kind() == "dry_run").expect("dry run recorded");
    assert!(dry.message.starts_with("dry run: would roll back checkout now"), "{}", dry.message);
    assert!(matches!(&dry.what, backout::engine::Happened::DryRun(ev) if !ev.samples.is_empty()), "with its evidence");
    assert_eq!(s.sim.rollback_requests("checkout"), 0);
    let recorded: i64 =
        db(&s.db).query_row("SELECT count(*) FROM timeline_events WHERE kind = 'dry_run'", [], |r| r.get(0)).unwrap();
    assert!(recorded >= 1);

    let irreversible =
        |t: String| t.replace("cooldown = \"1s\"", "cooldown = \"1s\"\nirreversible_versions = [\"2.0.0-bad\"]");
    let s = setup(Scenario::BadDeploy, timings(), irreversible);
    let events = run_engine(
        &s,
        Notifier::disabled(),
        EngineOptions::default(),
        Duration::from_secs(10),
        |_, _| {},
        |all| all.iter().any(|e| e.kind() == "alert" && e.message.contains("irreversible")),
    )
    .await;
    assert!(
        events.iter().any(|e| e.kind() == "alert" && e.message.contains("2.0.0-bad is marked irreversible")),
        "{:?}",
        kinds(&events)
    );
    assert_eq!(count(&events, "rollback_starting"), 0);
    assert_eq!(s.sim.rollback_requests("checkout"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_that_stops_answering_is_marked_stale() {
    // Answers take 3 s; the timeout is 5 s, so each poll waits and no answer
    // arrives for more than 3 intervals of 200 ms.
    let timings = Timings { slow_delay: Duration::from_secs(3), ..Timings::default() };
    let s = setup(Scenario::Slow, timings, |t| t.replace("timeout = \"2s\"", "timeout = \"5s\""));
    let events = run_engine(
        &s,
        Notifier::disabled(),
        EngineOptions::default(),
        Duration::from_secs(6),
        |_, _| {},
        |all| all.iter().any(|e| e.kind() == "signal_stale"),
    )
    .await;
    let stale = events.iter().find(|e| e.kind() == "signal_stale").expect("stale");
    assert!(stale.message.contains("is stale: no answer for"), "{}", stale.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_incident_checklist_ticks_itself_after_its_window() {
    let timings = Timings {
        deploy_after: Some(Duration::from_millis(300)),
        ramp: Duration::from_millis(300),
        ..Timings::default()
    };
    let s = setup(Scenario::BadDeploy, timings, |t| {
        t.replace("cooldown = \"1s\"", "cooldown = \"1s\"\nchecklist_stable_for = \"1s\"")
    });
    let opts = EngineOptions { check_incidents: true, ..EngineOptions::default() };
    let db_path = s.db.clone();
    let ticked = move || {
        rusqlite::Connection::open(&db_path)
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM checklist_results WHERE item = '/health returns healthy' AND passed = 1",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            })
            .unwrap_or(0)
            > 0
    };
    let events =
        run_engine(&s, Notifier::disabled(), opts, Duration::from_secs(25), |_, _| {}, move |_| ticked()).await;
    assert_eq!(count(&events, "rollback_completed"), 1, "{:?}", kinds(&events));
    let conn = db(&s.db);
    let (actor, at): (String, String) = conn
        .query_row(
            "SELECT actor, at FROM checklist_results WHERE item = '/health returns healthy' AND passed = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_ne!(actor, "tester", "ticked by the check, not a person");
    let completed: String =
        conn.query_row("SELECT completed_at FROM rollbacks WHERE status = 'completed'", [], |r| r.get(0)).unwrap();
    assert!(at > completed, "ticked after the rollback: {at} vs {completed}");
    // Manual items are never ticked by the engine.
    let manual: i64 = conn
        .query_row("SELECT count(*) FROM checklist_results WHERE item = 'All metrics back to normal levels'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(manual, 0);
}

/// The incident an automatic rollback opens carries its facts as they happened:
/// detected at the first breach of the rule that fired, impact from the bad
/// deploy (not an older one), and a time to detect under the rule's window plus
/// two poll intervals. Read straight from the file: nothing computes them later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_rollback_records_detection_at_the_first_breach() {
    let timings = Timings {
        deploy_after: Some(Duration::from_millis(1500)),
        ramp: Duration::from_millis(100),
        ..Timings::default()
    };
    let s = setup(Scenario::BadDeploy, timings, |t| t);
    let events = run_engine(
        &s,
        Notifier::disabled(),
        EngineOptions::default(),
        Duration::from_secs(30),
        |_, _| {},
        |all| all.iter().any(|e| e.kind() == "rollback_completed"),
    )
    .await;
    assert_eq!(count(&events, "rollback_completed"), 1, "{:?}", kinds(&events));
    let conn = db(&s.db);
    let at = |m: &str| -> chrono::DateTime<chrono::Utc> {
        let text: String = conn
            .query_row("SELECT at FROM incident_milestones WHERE milestone = ?1", [m], |r| r.get(0))
            .unwrap_or_else(|e| panic!("milestone {m} not recorded: {e}"));
        text.parse().unwrap()
    };
    let (impact, detected, started, mitigated) =
        (at("impact_started"), at("detected"), at("rollback_started"), at("rollback_completed"));
    let deployed: String = conn
        .query_row("SELECT deployed_at FROM deployments ORDER BY deployed_at DESC LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(impact, deployed.parse::<chrono::DateTime<chrono::Utc>>().unwrap(), "impact is the bad deploy");
    let ttd = detected - impact;
    // Window 1 s, polls every 200 ms.
    assert!(ttd >= chrono::Duration::zero() && ttd < chrono::Duration::milliseconds(1400), "time to detect {ttd}");
    assert!(detected <= started && started <= mitigated);
    let actor: String =
        conn.query_row("SELECT actor FROM incident_milestones WHERE milestone = 'detected'", [], |r| r.get(0)).unwrap();
    assert!(actor.starts_with("rule:"), "{actor}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_cannot_poll_on_time_says_so() {
    let report = EngineOptions { poll_report_every: Duration::from_secs(1), ..EngineOptions::default() };
    // Every answer takes a second and the interval is 200 ms: each signal's
    // polls come a second apart, five intervals, and the engine says so.
    let timings = Timings { slow_delay: Duration::from_secs(1), ..Timings::default() };
    let s = setup(Scenario::Slow, timings, |t| t);
    let events = run_engine(
        &s,
        Notifier::disabled(),
        report.clone(),
        Duration::from_secs(8),
        |_, _| {},
        |e| e.iter().any(|e| e.kind() == "polling_behind"),
    )
    .await;
    let behind = events.iter().find(|e| e.kind() == "polling_behind").expect("a polling_behind event");
    assert!(behind.message.starts_with("polling is falling behind"), "{}", behind.message);
    assert!(behind.environment.is_empty(), "an engine-wide event: {:?}", behind.environment);

    // A service answering at once, polled once a second: nothing is said.
    let s = setup(Scenario::Steady, Timings::default(), |t| {
        t.replace("poll_interval = \"200ms\"", "poll_interval = \"1s\"")
    });
    assert!(s.config.poll_interval.get() == Duration::from_secs(1), "the edit took");
    let events = run_engine(&s, Notifier::disabled(), report, Duration::from_millis(4500), |_, _| {}, |_| false).await;
    assert_eq!(count(&events, "polling_behind"), 0, "{:?}", kinds(&events));
}
