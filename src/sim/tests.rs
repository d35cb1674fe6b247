//! In-process tests of the simulated fleet, over real HTTP on 127.0.0.1.

use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::playbook::{DeploymentStatus, DeploymentStatusReport, Health, HealthReport, SwitchAnswer};

fn one(kind: ServiceKind, scenario: Scenario, timings: Timings) -> SimHandle {
    spawn(SimOptions { services: vec![ServiceSpec::new("api", kind, scenario)], timings, seed: Some(11) }).unwrap()
}

fn fast() -> Timings {
    Timings { ramp: Duration::from_millis(200), ..Timings::default() }
}

async fn get(url: &str) -> (u16, String, String) {
    let r = reqwest::get(url).await.unwrap();
    let code = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (code, ct, r.text().await.unwrap())
}

async fn post(url: &str, body: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn health(base: &str) -> HealthReport {
    serde_json::from_str(&get(&format!("{base}/health")).await.2).unwrap()
}

async fn status(base: &str) -> DeploymentStatusReport {
    serde_json::from_str(&get(&format!("{base}/deployment/status")).await.2).unwrap()
}

fn error_of(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap();
    v["error"].as_str().unwrap().to_string()
}

/// `(ok, errors, duration_sum, count)` from an exposition.
fn counters(text: &str) -> (f64, f64, f64, f64) {
    let value = |series: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(series) && !l.starts_with('#')).unwrap();
        line[series.len()..].trim().parse().unwrap()
    };
    (
        value("http_requests_total{code=\"200\"}"),
        value("http_requests_total{code=\"500\"}"),
        value("http_request_duration_seconds_sum"),
        value("http_request_duration_seconds_count"),
    )
}

#[test]
fn scenario_names_round_trip_and_errors_list_them() {
    for sc in Scenario::ALL {
        assert_eq!(sc.name().parse::<Scenario>().unwrap(), sc);
    }
    let e = "meltdown".parse::<Scenario>().unwrap_err().to_string();
    for sc in Scenario::ALL {
        assert!(e.contains(sc.name()), "{e}");
    }
    assert_eq!("standard".parse::<ServiceKind>().unwrap(), ServiceKind::Standard);
}

#[test]
fn bad_options_are_refused() {
    assert!(spawn(SimOptions::default()).is_err());
    let twice = vec![
        ServiceSpec::new("a", ServiceKind::Standard, Scenario::Steady),
        ServiceSpec::new("a", ServiceKind::Standard, Scenario::Steady),
    ];
    assert!(spawn(SimOptions { services: twice, timings: Timings::default(), seed: None }).is_err());
    let slash = vec![ServiceSpec::new("a/b", ServiceKind::Standard, Scenario::Steady)];
    assert!(spawn(SimOptions { services: slash, timings: Timings::default(), seed: None }).is_err());
}

#[tokio::test]
async fn status_has_the_contract_shape() {
    let sim = one(ServiceKind::BlueGreen, Scenario::Steady, Timings::default());
    let base = sim.base_url("api");
    let (code, ct, body) = get(&format!("{base}/deployment/status")).await;
    assert_eq!(code, 200);
    assert!(ct.starts_with("application/json"), "{ct}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["currentEnvironment"], "blue");
    assert_eq!(v["version"], "1.4.3");
    assert_eq!(v["environments"]["blue"]["version"], "1.4.3");
    assert_eq!(v["environments"]["blue"]["health"], "healthy");
    assert_eq!(v["environments"]["green"]["version"], "1.4.2");
    let history = v["deploymentHistory"].as_array().unwrap();
    assert_eq!(history.len(), 5, "four succeeded and one failed");
    for entry in history {
        for key in ["id", "version", "environment", "deployedAt", "status"] {
            assert!(entry.get(key).is_some(), "{key} missing in {entry}");
        }
    }
    assert_eq!(history[0]["id"], "d-1");
    let colours: Vec<_> = history.iter().map(|e| e["environment"].as_str().unwrap()).collect();
    assert_eq!(colours, ["green", "blue", "green", "blue", "blue"], "the failed candidate went where its fix did");
    let parsed: DeploymentStatusReport = serde_json::from_str(&body).unwrap();
    let statuses: Vec<_> = parsed.deployment_history.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == DeploymentStatus::Failed).count(), 1);
    assert_eq!(parsed.deployment_history[3].version, "1.4.3-rc1");
    assert!(parsed.deployment_history.windows(2).all(|w| w[0].deployed_at < w[1].deployed_at));
    // The root serves the first service.
    assert_eq!(status(&sim.root_url()).await, parsed);
    let h = health(&base).await;
    assert_eq!(
        (h.health, h.environment.as_deref(), h.version.as_deref()),
        (Health::Healthy, Some("blue"), Some("1.4.3"))
    );

    let std_sim = one(ServiceKind::Standard, Scenario::Steady, Timings::default());
    let s = status(&std_sim.base_url("api")).await;
    assert_eq!(s.current_environment.as_deref(), Some("default"));
    assert_eq!(s.environments.keys().collect::<Vec<_>>(), ["default"]);
}

#[tokio::test]
async fn bad_deploy_degrades_over_the_ramp_and_rollback_heals() {
    let sim = one(ServiceKind::BlueGreen, Scenario::BadDeploy, fast());
    let base = sim.base_url("api");
    let (code, body) = post(&format!("{base}/deployment/deploy"), r#"{"version":"2.0.0"}"#).await;
    assert_eq!(code, 200, "{body}");
    let a: SwitchAnswer = serde_json::from_str(&body).unwrap();
    assert_eq!((a.current_environment.as_deref(), a.version.as_str()), (Some("green"), "2.0.0"));
    assert_eq!(a.previous_version.as_deref(), Some("1.4.3"));
    // Unhealthy only from 12% errors, about 130ms into a 200ms ramp.
    assert_ne!(health(&base).await.health, Health::Unhealthy, "a bad deploy gets worse over its ramp, not at once");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(health(&base).await.health, Health::Unhealthy);
    let s = status(&base).await;
    assert_eq!(s.environments["green"].health, Health::Unhealthy);
    assert_eq!(s.environments["blue"].health, Health::Healthy);
    assert_eq!(post(&format!("{base}/api/ai/query"), "{}").await.0, 500);

    let (code, body) = post(&format!("{base}/deployment/rollback"), r#"{"reason":"error rate"}"#).await;
    assert_eq!(code, 200, "{body}");
    let a: SwitchAnswer = serde_json::from_str(&body).unwrap();
    assert_eq!((a.current_environment.as_deref(), a.version.as_str()), (Some("blue"), "1.4.3"));
    assert_eq!(health(&base).await.health, Health::Healthy);
    assert_eq!(post(&format!("{base}/api/ai/query"), "{}").await.0, 200);
    let s = status(&base).await;
    assert_eq!(s.version, "1.4.3");
    let last = s.deployment_history.last().unwrap();
    assert_eq!((last.version.as_str(), last.status), ("2.0.0", DeploymentStatus::RolledBack));
    // The idle colour now holds the rolled-back version: nowhere to switch to.
    let (code, body) = post(&format!("{base}/deployment/rollback"), "").await;
    assert_eq!(code, 409);
    assert_eq!(error_of(&body), "nothing to roll back to");
    assert_eq!(sim.rollback_requests("api"), 2);
    let counts: Value = serde_json::from_str(&get(&format!("{base}/sim/requests")).await.2).unwrap();
    assert_eq!(counts["rollbackRequests"], 2);
    assert_eq!(counts["deployRequests"], 1);
}

#[tokio::test]
async fn health_settles_after_a_rollback() {
    let timings = Timings { settle: Duration::from_millis(200), ..fast() };
    let sim = one(ServiceKind::Standard, Scenario::BadDeploy, timings);
    let base = sim.base_url("api");
    assert_eq!(post(&format!("{base}/deployment/deploy"), r#"{"version":"2.0.0"}"#).await.0, 200);
    let (code, body) = post(&format!("{base}/deployment/rollback"), "{}").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(health(&base).await.health, Health::Degraded);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(health(&base).await.health, Health::Healthy);
    let s = status(&base).await;
    assert_eq!(s.version, "1.4.3");
    let last = s.deployment_history.last().unwrap();
    assert_eq!((last.version.as_str(), last.status), ("1.4.3", DeploymentStatus::Succeeded));
}

#[tokio::test]
async fn standard_rollback_skips_failed_and_rolled_back_versions() {
    let sim = one(ServiceKind::Standard, Scenario::Steady, Timings::default());
    let base = sim.base_url("api");
    let (code, body) = post(&format!("{base}/deployment/rollback"), "").await;
    assert_eq!(code, 200, "{body}");
    // 1.4.3-rc1 failed, so the previous good version is 1.4.2.
    assert_eq!(serde_json::from_str::<SwitchAnswer>(&body).unwrap().version, "1.4.2");
    let (code, body) = post(&format!("{base}/deployment/rollback"), "").await;
    assert_eq!(code, 200, "{body}");
    // 1.4.3 is now rolled back, so the next step back is 1.4.1.
    assert_eq!(serde_json::from_str::<SwitchAnswer>(&body).unwrap().version, "1.4.1");
    let (code, body) = post(&format!("{base}/deployment/rollback"), r#"{"version":"1.4.0"}"#).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&base).await.version, "1.4.0");
}

#[tokio::test]
async fn rollback_to_an_unknown_version_is_404() {
    let sim = one(ServiceKind::BlueGreen, Scenario::Steady, Timings::default());
    let (code, body) = post(&format!("{}/deployment/rollback", sim.base_url("api")), r#"{"version":"9.9.9"}"#).await;
    assert_eq!(code, 404);
    assert_eq!(error_of(&body), "unknown version 9.9.9");
    let (code, body) = post(&format!("{}/deployment/rollback", sim.base_url("api")), "not json").await;
    assert_eq!(code, 400);
    assert!(!error_of(&body).is_empty());
}

#[tokio::test]
async fn a_single_deployment_has_nothing_to_roll_back_to() {
    for kind in [ServiceKind::BlueGreen, ServiceKind::Standard] {
        let spec = ServiceSpec { history: 1, ..ServiceSpec::new("api", kind, Scenario::Steady) };
        let sim = spawn(SimOptions { services: vec![spec], timings: Timings::default(), seed: None }).unwrap();
        let (code, body) = post(&format!("{}/deployment/rollback", sim.base_url("api")), "").await;
        assert_eq!(code, 409, "{kind}: {body}");
        assert_eq!(error_of(&body), "nothing to roll back to");
        assert_eq!(status(&sim.base_url("api")).await.deployment_history.len(), 1);
    }
}

#[tokio::test]
async fn failing_rollbacks_change_nothing() {
    let sim = one(ServiceKind::BlueGreen, Scenario::RollbackFails, fast());
    let base = sim.base_url("api");
    assert_eq!(post(&format!("{base}/deployment/deploy"), r#"{"version":"2.0.0"}"#).await.0, 200);
    let before = status(&base).await;
    for body in ["", r#"{"version":"1.4.3"}"#] {
        let (code, answer) = post(&format!("{base}/deployment/rollback"), body).await;
        assert_eq!(code, 500);
        assert_eq!(error_of(&answer), "rollback failed: traffic switch timed out");
    }
    let after = status(&base).await;
    assert_eq!(after.version, "2.0.0");
    assert_eq!(after.deployment_history, before.deployment_history);
    assert_eq!(sim.rollback_requests("api"), 2);
}

#[tokio::test]
async fn garbage_answers_do_not_parse() {
    let sim = one(ServiceKind::BlueGreen, Scenario::Garbage, Timings::default());
    let base = sim.base_url("api");
    let (code, _, body) = get(&format!("{base}/health")).await;
    assert_eq!(code, 200);
    assert!(serde_json::from_str::<HealthReport>(&body).is_err());
    let (code, _, body) = get(&format!("{base}/deployment/status")).await;
    assert_eq!(code, 200);
    assert!(serde_json::from_str::<DeploymentStatusReport>(&body).is_err());
    let (code, _, body) = get(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);
    assert!(!body.contains("http_requests_total"));
    let (code, body) = post(&format!("{base}/deployment/rollback"), "").await;
    assert_eq!(code, 200);
    assert!(serde_json::from_str::<SwitchAnswer>(&body).is_err());
}

#[tokio::test]
async fn metrics_counters_give_back_the_current_rates() {
    let timings = Timings { ramp: Duration::from_millis(1), ..Timings::default() };
    let sim = one(ServiceKind::BlueGreen, Scenario::BadDeploy, timings);
    let url = format!("{}/metrics", sim.base_url("api"));
    let (code, ct, first) = get(&url).await;
    assert_eq!(code, 200);
    assert_eq!(ct, "text/plain; version=0.0.4");
    for series in [
        "http_requests_total{code=\"200\"}",
        "http_requests_total{code=\"500\"}",
        "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count",
        "process_cpu_ratio",
        "process_memory_ratio",
        "content_quality_score",
    ] {
        assert!(first.lines().any(|l| l.starts_with(&format!("{series} "))), "{series} missing:\n{first}");
    }
    assert!(first.contains("# TYPE http_requests_total counter"));

    assert_eq!(post(&format!("{}/deployment/deploy", sim.base_url("api")), "{}").await.0, 200);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let a = counters(&get(&url).await.2);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let b = counters(&get(&url).await.2);
    let c = counters(&get(&url).await.2);
    for (x, y) in [(a, b), (b, c)] {
        assert!(y.0 >= x.0 && y.1 >= x.1 && y.2 >= x.2 && y.3 >= x.3, "{x:?} then {y:?}");
    }
    let requests = (b.0 - a.0) + (b.1 - a.1);
    assert!(requests >= 700.0, "about 1000 requests a second, got {requests}");
    let error_rate = (b.1 - a.1) / requests;
    assert!((error_rate - 0.12).abs() < 0.03, "error rate {error_rate}");
    let latency = (b.2 - a.2) / (b.3 - a.3);
    assert!((latency - 4.5).abs() < 0.3, "latency {latency}");
}

#[tokio::test]
async fn the_scenario_deploys_on_its_own() {
    let timings = Timings { deploy_after: Some(Duration::from_millis(50)), ..fast() };
    let sim = one(ServiceKind::BlueGreen, Scenario::BadDeploy, timings);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let s = status(&sim.base_url("api")).await;
    assert_eq!((s.version.as_str(), s.current_environment.as_deref()), ("2.0.0-bad", Some("green")));
    assert_eq!(sim.requests("api").unwrap().deploy_requests, 0);
}

#[tokio::test]
async fn flapping_health_alternates() {
    let timings = Timings { flap_period: Duration::from_millis(100), ..Timings::default() };
    let sim = one(ServiceKind::Standard, Scenario::Flapping, timings);
    let mut seen = Vec::new();
    for _ in 0..12 {
        seen.push(health(&sim.base_url("api")).await.health);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert!(seen.contains(&Health::Healthy) && seen.contains(&Health::Unhealthy), "{seen:?}");
}

#[tokio::test]
async fn slow_answers_wait() {
    let timings = Timings { slow_delay: Duration::from_millis(150), ..Timings::default() };
    let sim = one(ServiceKind::Standard, Scenario::Slow, timings);
    let started = std::time::Instant::now();
    assert_eq!(health(&sim.base_url("api")).await.health, Health::Healthy);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn unknown_services_and_routes_are_json_404s() {
    let sim = one(ServiceKind::Standard, Scenario::Steady, Timings::default());
    let (code, ct, body) = get(&format!("{}/health", sim.base_url("nope"))).await;
    assert_eq!(code, 404);
    assert!(ct.starts_with("application/json"));
    assert!(error_of(&body).contains("nope"), "{body}");
    let (code, _, body) = get(&format!("{}/nowhere", sim.root_url())).await;
    assert_eq!(code, 404);
    assert!(!error_of(&body).is_empty());
    assert_eq!(sim.rollback_requests("nope"), 0);
    sim.stop();
}

#[tokio::test]
async fn stopping_does_not_wait_for_slow_answers() {
    let timings = Timings { slow_delay: Duration::from_secs(30), ..Timings::default() };
    let sim = one(ServiceKind::Standard, Scenario::Slow, timings);
    let url = format!("{}/health", sim.base_url("api"));
    let pending = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    sim.stop();
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    assert!(pending.await.unwrap().is_err(), "the slow answer is cut off, not sent");
}

#[tokio::test]
async fn a_version_named_bad_degrades_in_the_steady_scenario_too() {
    let sim = one(ServiceKind::BlueGreen, Scenario::Steady, fast());
    let base = sim.base_url("api");
    let (code, body) = post(&format!("{base}/deployment/deploy"), r#"{"version":"2.1.0-bad"}"#).await;
    assert_eq!(code, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(health(&base).await.health, Health::Unhealthy);
    // A good name deploys healthy, as steady promises.
    let (code, body) = post(&format!("{base}/deployment/deploy"), r#"{"version":"2.1.1"}"#).await;
    assert_eq!(code, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(health(&base).await.health, Health::Healthy);
}
