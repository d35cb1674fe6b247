//! The one rollback path against the simulated fleet on loopback: a plan is
//! re-checked under the lock, and incident facts are recorded when they happen.
#![allow(clippy::unwrap_used)]

mod common;

use backout::config::Config;
use backout::incident::{Detection, Milestone, OpenRequest, Severity};
use backout::rollback::{Refusal, RollbackOptions};
use backout::sim::{Scenario, ServiceKind, ServiceSpec};
use backout::store::{RollbackStatus, RollbackTrigger, Store};
use common::{Drill, bad_at_once};

fn options(config: &Config, reason: &str) -> RollbackOptions {
    RollbackOptions {
        version: None,
        state: None,
        force: true,
        skip_validation: false,
        reason: reason.into(),
        operator: "tester".into(),
        trigger: RollbackTrigger::Manual,
        evidence: None,
        detected: None,
        objectives: config.severities.clone(),
        approval: None,
    }
}

fn config(d: &Drill, extra: &str) -> Config {
    // Appended: a table header before the file's top-level keys would take them.
    let text = format!("{}\n{extra}\n", std::fs::read_to_string(&d.config).unwrap());
    std::fs::write(&d.config, &text).unwrap();
    Config::from_toml(&text, &d.config).unwrap()
}

/// Waits (bounded) until the bad release shows: degraded or unhealthy.
fn wait_bad(d: &Drill) {
    common::wait_until(std::time::Duration::from_secs(15), || d.health("checkout").is_some_and(|h| h != "healthy"))
        .expect("the bad release never showed");
}

/// A blue/green `checkout` serving its bad release, the config for it (with
/// `extra` appended) and a runtime for the calls.
fn bad_release(extra: &str) -> (Drill, Config, tokio::runtime::Runtime) {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)], bad_at_once());
    wait_bad(&d);
    let config = config(&d, extra);
    (d, config, tokio::runtime::Runtime::new().unwrap())
}

fn milestone(store: &Store, incident: i64, m: Milestone) -> Option<chrono::DateTime<chrono::Utc>> {
    backout::incident::milestone_at(&store.milestones(incident).unwrap(), m)
}

/// Two operators plan a rollback of the same blue/green environment; A runs
/// first. B's plan was made against the bad release: run after A, it would
/// switch traffic back to it. It is refused under the lock and nothing is sent.
#[test]
fn a_plan_made_before_another_rollback_is_refused_under_the_lock() {
    let (d, config, rt) = bad_release("");
    let env = config.environment("checkout").unwrap();
    let mut a = Store::open(&d.db).unwrap();
    let mut b = Store::open(&d.db).unwrap();
    let opts = options(&config, "error rate");

    let plan_a = backout::rollback::prepare(rt.handle(), &mut a, env, &opts).unwrap().unwrap();
    let plan_b = backout::rollback::prepare(rt.handle(), &mut b, env, &opts).unwrap().unwrap();
    assert_eq!(plan_a.from_version, plan_b.from_version, "both plans read the same bad release");

    let done = backout::rollback::execute(rt.handle(), &mut a, plan_a, &opts).unwrap().unwrap();
    assert_eq!(done.status, RollbackStatus::Completed, "{:?}", done.error);
    let refused = backout::rollback::execute(rt.handle(), &mut b, plan_b, &opts).unwrap().unwrap_err();
    assert!(matches!(refused, Refusal::Changed(_)), "{refused:?}");
    assert!(refused.to_string().contains("plan again"), "{refused}");
    assert_eq!(d.sim.rollback_requests("checkout"), 1, "the stale plan sent nothing");
}

/// The service moved between the plan and the lock (someone switched it by
/// other means): the re-read under the lock refuses, and the attempt is
/// recorded as refused, never sent.
#[test]
fn a_service_that_changed_after_the_plan_is_not_rolled_back() {
    let (d, config, rt) = bad_release("");
    let env = config.environment("checkout").unwrap();
    let mut store = Store::open(&d.db).unwrap();
    let opts = options(&config, "error rate");
    let plan = backout::rollback::prepare(rt.handle(), &mut store, env, &opts).unwrap().unwrap();
    let planned_from = plan.from_version.clone().unwrap();

    // A deploy behind backout's back: the service now serves another version.
    let base = d.sim.base_url("checkout");
    rt.block_on(async {
        let body = serde_json::json!({ "version": "1.9.9" });
        reqwest::Client::new().post(format!("{base}/deployment/deploy")).json(&body).send().await.unwrap();
    });
    let refused = backout::rollback::execute(rt.handle(), &mut store, plan, &opts).unwrap().unwrap_err();
    let text = refused.to_string();
    assert!(text.contains("now serving 1.9.9") && text.contains(&planned_from), "{text}");
    assert_eq!(d.sim.rollback_requests("checkout"), 0);
    let row = &store.rollbacks(None, 1).unwrap()[0];
    assert_eq!(row.status, RollbackStatus::Failed);
    assert!(row.error.as_deref().unwrap_or("").starts_with("refused after taking the lock"), "{:?}", row.error);
    let env_id = store.environment_id("checkout").unwrap().unwrap();
    assert!(store.rollback_lock(env_id).unwrap().is_none(), "the lock is released");
}

/// A manual rollback with no incident open opens one with the environment's
/// severity and objective from the config's `[severities]`, and records its
/// facts as they happen: detected (now, by the operator), impact started (the
/// newest deploy before it), rollback started, mitigated. No `show` needed.
#[test]
fn a_rollback_records_incident_facts_as_they_happen() {
    // A custom band: a 2-minute objective is "performance" once critical is 1m.
    let (d, config, rt) = bad_release("[severities]\ncritical = \"1m\"\nperformance = \"3m\"\n");
    let env = config.environment("checkout").unwrap();
    let mut store = Store::open(&d.db).unwrap();
    let opts = options(&config, "error rate");
    let before = chrono::Utc::now();
    let plan = backout::rollback::prepare(rt.handle(), &mut store, env, &opts).unwrap().unwrap();
    let row = backout::rollback::execute(rt.handle(), &mut store, plan, &opts).unwrap().unwrap();
    let incident = row.incident_id.expect("the rollback opened an incident");

    let inc = store.incident(incident).unwrap().unwrap();
    assert_eq!(inc.severity, Some(Severity::Performance), "the config's [severities] apply");
    let fields = store.incident_fields(incident).unwrap().unwrap();
    assert_eq!(fields.objective_ms, Some(120_000));

    let detected = milestone(&store, incident, Milestone::Detected).expect("detected is recorded by the rollback");
    assert!(detected >= before);
    let impact = milestone(&store, incident, Milestone::ImpactStarted).expect("impact start recorded with detection");
    // The bad release was deployed when the fleet started, moments ago: never
    // an older deploy from the seeded history (hours and days back).
    assert!(detected - impact < chrono::Duration::seconds(60), "impact {impact}, detected {detected}");
    assert!(impact <= detected);
    let started = milestone(&store, incident, Milestone::RollbackStarted).unwrap();
    let mitigated = milestone(&store, incident, Milestone::RollbackCompleted).unwrap();
    assert!(detected <= started && started <= mitigated);
    assert_eq!(Some(mitigated), row.completed_at);
}

/// An incident opened by hand (the console's `i`) gets the environment's
/// severity and objective like any other, and its detection now; the impact
/// starts at the newest deploy before that, and durations are never negative.
#[test]
fn an_incident_opened_by_hand_has_severity_objective_and_detection() {
    let (d, config, rt) = bad_release("");
    let env = config.environment("checkout").unwrap();
    let mut store = Store::open(&d.db).unwrap();
    // The deployment history is recorded (as the engine's status poll does).
    let opts = options(&config, "plan only");
    backout::rollback::prepare(rt.handle(), &mut store, env, &opts).unwrap().unwrap();

    let req = OpenRequest {
        title: "incident on checkout".into(),
        severity: None,
        drill: false,
        by: "tester".into(),
        impact: None,
        runbook: None,
        detected: Some(Detection::now("tester")),
    };
    let inc = backout::incident::open(&mut store, &config.severities, Some(env), &req).unwrap();
    assert_eq!(inc.severity, Some(Severity::Critical));
    assert_eq!(store.incident_fields(inc.id).unwrap().unwrap().objective_ms, Some(120_000));
    let summary = backout::incident::show(&store, inc.id).unwrap().unwrap();
    let ttd = summary.durations.time_to_detect_ms.expect("impact and detection are both known");
    assert!((0..60_000).contains(&ttd), "time to detect {ttd} ms");
    // A second detection (a rule firing later) does not move the first.
    let later = Detection { at: chrono::Utc::now() + chrono::Duration::seconds(5), by: "rule:x".into() };
    assert!(!backout::incident::record_detection(&mut store, inc.id, &later).unwrap());
    assert_eq!(backout::incident::show(&store, inc.id).unwrap().unwrap().durations.time_to_detect_ms, Some(ttd));
}

/// Contract revision 2: every rollback request names the version the plan saw
/// serving; a service that serves something else answers 412, changes nothing,
/// and the driver reports a stale plan (a refusal, not a failed rollback).
#[test]
fn expected_version_is_sent_and_a_412_is_a_stale_plan() {
    let (d, config, rt) = bad_release("");
    let env = config.environment("checkout").unwrap();
    let driver = backout::drivers::Driver::for_environment(env);
    let req = backout::drivers::DriverRequest {
        environment: "checkout".into(),
        target_version: Some("1.4.3".into()),
        request_version: None,
        previous_version: Some("1.4.1".into()),
        reason: "stale".into(),
        restore: None,
        target_revision: None,
    };
    let failure = rt.block_on(driver.roll_back(&req, &mut |_| {})).unwrap_err();
    assert!(failure.stale_plan && !failure.ambiguous, "{failure:?}");
    assert!(failure.message.contains("412"), "{}", failure.message);
    assert_eq!(d.sim.rollback_requests("checkout"), 1, "the request reached the service");
    let (_, s) = d.json(&["status", "--env", "checkout"]);
    assert!(s["environments"][0]["version"].as_str().unwrap().contains("bad"), "nothing changed: {s}");
}

/// Five operators press `--yes` on the same environment at once, three times
/// over: each time exactly one rollback request reaches the service, one
/// process succeeds and the others are refused (exit 3).
#[test]
fn five_concurrent_rollbacks_send_exactly_one_request() {
    for trial in 0..3 {
        let d = Drill::start(
            vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)],
            bad_at_once(),
        );
        wait_bad(&d);
        // All five started before any is waited for.
        let children: Vec<_> = (0..5)
            .map(|i| {
                let reason = format!("operator {i}");
                // No --force: a process that starts late (a loaded machine) plans
                // after the first rollback ended, sees a healthy service and is
                // refused; with --force it would rightly run a second, fresh plan.
                let mut c = d.cmd(&["rollback", "checkout", "--yes", "--reason", &reason]);
                c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap()
            })
            .collect();
        let codes: Vec<Option<i32>> =
            children.into_iter().map(|c| c.wait_with_output().unwrap().status.code()).collect();
        assert_eq!(d.sim.rollback_requests("checkout"), 1, "trial {trial}: {codes:?}");
        assert_eq!(codes.iter().filter(|c| **c == Some(0)).count(), 1, "trial {trial}: {codes:?}");
        assert!(codes.iter().all(|c| matches!(c, Some(0) | Some(3))), "trial {trial}: {codes:?}");
    }
}

/// A service that answers its rollback endpoint with a 307 to another host: the
/// rollback is not followed there (that host sees nothing), it ends failed, and
/// the failure names where the redirect pointed.
#[test]
fn a_redirect_never_moves_a_rollback_to_another_host() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The "other host": counts whatever reaches it.
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let other = {
        let hits = std::sync::Arc::clone(&hits);
        let app = axum::Router::new().fallback(move || {
            hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "{\"success\": true, \"version\": \"1.4.3\", \"currentEnvironment\": \"green\"}" }
        });
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    };
    // The service's rollback endpoint redirects there.
    let redirector = {
        let to = format!("{other}/deployment/rollback");
        let app = axum::Router::new().route(
            "/deployment/rollback",
            axum::routing::post(move || {
                let to = to.clone();
                async move { (axum::http::StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, to)]) }
            }),
        );
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    };
    let driver = backout::drivers::HttpDriver::new(
        backout::playbook::Endpoints::new(&redirector),
        std::time::Duration::from_secs(2),
        std::time::Duration::from_secs(2),
    );
    let req = backout::drivers::DriverRequest {
        environment: "checkout".into(),
        target_version: Some("1.4.3".into()),
        request_version: None,
        previous_version: None,
        reason: "redirect".into(),
        restore: None,
        target_revision: None,
    };
    let failure = rt.block_on(driver.roll_back(&req, &mut |_| {})).unwrap_err();
    assert!(failure.message.contains("redirect to http://127.0.0.1"), "{}", failure.message);
    assert!(failure.message.contains("not followed"), "{}", failure.message);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the other host was never reached");
}

/// The idle colour a switch would go to is reported `unhealthy` by the service:
/// the plan is refused unless forced, and a forced plan says so in its text.
#[test]
fn switching_to_a_colour_reported_down_needs_force() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = serde_json::json!({
        "currentEnvironment": "blue",
        "version": "2.0.0-bad",
        "environments": {
            "blue": { "version": "2.0.0-bad", "health": "degraded" },
            "green": { "version": "1.4.3", "health": "unhealthy" }
        },
        "deploymentHistory": [
            { "id": "d-1", "version": "1.4.3", "environment": "green", "deployedAt": "2026-11-20T10:00:00Z", "status": "succeeded" },
            { "id": "d-2", "version": "2.0.0-bad", "environment": "blue", "deployedAt": "2026-11-21T10:00:00Z", "status": "succeeded" }
        ]
    });
    let health = serde_json::json!({ "health": "degraded", "environment": "blue", "version": "2.0.0-bad" });
    let app = axum::Router::new()
        .route("/deployment/status", axum::routing::get(move || async move { axum::Json(status) }))
        .route("/health", axum::routing::get(move || async move { axum::Json(health) }));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let text = format!("[[environment]]\nname = \"checkout\"\nkind = \"blue-green\"\nbase_url = \"http://{addr}\"\n");
    let config = Config::from_toml(&text, &path).unwrap();
    let env = config.environment("checkout").unwrap();
    let mut store = Store::open(&dir.path().join("d.db")).unwrap();
    let mut opts = options(&config, "switch back");
    opts.force = false;
    let refused = backout::rollback::prepare(rt.handle(), &mut store, env, &opts).unwrap().unwrap_err();
    assert!(matches!(refused, Refusal::TargetUnhealthy { .. }), "{refused:?}");
    assert!(refused.to_string().contains("green colour (1.4.3)") && refused.to_string().contains("--force"));
    opts.force = true;
    let plan = backout::rollback::prepare(rt.handle(), &mut store, env, &opts).unwrap().unwrap();
    let text = plan.describe(RollbackTrigger::Manual);
    assert!(text.contains("WARNING: the green colour reports unhealthy"), "{text}");
}
