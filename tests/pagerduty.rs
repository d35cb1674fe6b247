//! Issue 12, items 4 and 6: PagerDuty's Events API v2 and routing by
//! severity, against a loopback receiver that checks each event against the
//! documented schema (developer.pagerduty.com, "Send an Alert Event" /
//! "Events API v2 overview").
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use backout::config::{Channel, Routes};
use backout::domain::Severity;
use backout::notify::{Notification, NotificationKind, Notifier};
use serde_json::Value;

type Got = Arc<Mutex<Vec<(String, Value)>>>;

/// `/pd` answers 202 like PagerDuty; `/pd-refuses` answers 400 repeating the
/// key; `/hook` is a Slack-like webhook. Everything received is kept.
async fn receiver() -> (String, Got) {
    let got: Got = Arc::default();
    let keep = |path: &'static str, status: StatusCode| {
        let got = got.clone();
        move |axum::Json(body): axum::Json<Value>| {
            let got = got.clone();
            async move {
                let echo = format!("{{\"status\":\"invalid event\",\"message\":\"bad key {}\"}}", body["routing_key"]);
                got.lock().unwrap().push((path.to_string(), body));
                (status, echo)
            }
        }
    };
    let app = axum::Router::new()
        .route("/pd", axum::routing::post(keep("pd", StatusCode::ACCEPTED)))
        .route("/pd-refuses", axum::routing::post(keep("pd", StatusCode::BAD_REQUEST)))
        .route("/hook", axum::routing::post(keep("hook", StatusCode::OK)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, got)
}

const KEY: &str = "R0UT1NGKEY0123456789abcdefABCDEF";

/// What the Events API v2 documents for an event, each rule broken as a sentence.
fn events_v2_errors(e: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            errors.push(what.to_string());
        }
    };
    let top = e.as_object().unwrap();
    for k in top.keys() {
        check(
            ["routing_key", "event_action", "dedup_key", "payload", "client", "client_url", "links", "images"]
                .contains(&k.as_str()),
            &format!("unknown top-level field {k}"),
        );
    }
    check(e["routing_key"].as_str().is_some_and(|k| !k.is_empty()), "routing_key is required");
    let action = e["event_action"].as_str().unwrap_or("");
    check(["trigger", "acknowledge", "resolve"].contains(&action), "event_action is trigger, acknowledge or resolve");
    let dedup = e["dedup_key"].as_str();
    check(dedup.is_none_or(|d| d.len() <= 255), "dedup_key is at most 255 characters");
    if action != "trigger" {
        check(dedup.is_some(), "acknowledge and resolve need the dedup_key of the trigger");
        return errors;
    }
    let p = &e["payload"];
    check(
        p["summary"].as_str().is_some_and(|s| !s.is_empty() && s.chars().count() <= 1024),
        "summary: 1 to 1024 chars",
    );
    check(p["source"].as_str().is_some_and(|s| !s.is_empty()), "source is required");
    check(
        ["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap_or("")),
        "severity is critical, error, warning or info",
    );
    if let Some(t) = p["timestamp"].as_str() {
        check(chrono::DateTime::parse_from_rfc3339(t).is_ok(), "timestamp is ISO 8601");
    }
    check(p["custom_details"].is_object() || p["custom_details"].is_null(), "custom_details is an object");
    for k in p.as_object().unwrap().keys() {
        check(
            ["summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"]
                .contains(&k.as_str()),
            &format!("unknown payload field {k}"),
        );
    }
    errors
}

fn notice(kind: NotificationKind, actor: &str, severity: Option<Severity>, incident: Option<i64>) -> Notification {
    Notification {
        kind,
        environment: "checkout".into(),
        colour: Some("blue".into()),
        from_version: Some("2.0.0-bad".into()),
        target_version: Some("1.4.3".into()),
        reason: "error rate 7.2% > 5% for 2m".into(),
        impact: "unknown".into(),
        duration: Some(Duration::from_secs(4)),
        error: (kind == NotificationKind::RollbackFailed).then(|| "HTTP 500".to_string()),
        actor: actor.into(),
        drill: false,
        group_key: format!("k{incident:?}{kind:?}"),
        flag: None,
        severity,
        incident_id: incident,
        detail: Vec::new(),
    }
}

fn pd(got: &Got) -> Vec<Value> {
    got.lock().unwrap().iter().filter(|(p, _)| p == "pd").map(|(_, v)| v.clone()).collect()
}

#[tokio::test]
async fn item4_an_incident_pages_once_per_dedup_key_and_resolves_when_validated() {
    let (base, got) = receiver().await;
    let n = Notifier::with_webhooks(None, None, false, Duration::ZERO).with_pagerduty(
        KEY.into(),
        format!("{base}/pd"),
        None,
    );
    let critical = Some(Severity::Critical);
    // A person's rollback that completed and an alert page nobody.
    let d = n.send(&notice(NotificationKind::RollbackCompleted, "alice", critical, Some(7))).await;
    assert!(!d.sent(), "{d:?}");
    assert!(!n.send(&notice(NotificationKind::Alert, "rule:x", critical, None)).await.sent());
    assert!(pd(&got).is_empty());

    // An automatic rollback, a failed one, a missed objective: triggers.
    let d = n.send(&notice(NotificationKind::RollbackCompleted, "rule:error_rate above 0.05", critical, Some(7))).await;
    assert_eq!(d.channels, ["pagerduty"], "{d:?}");
    n.send(&notice(NotificationKind::RollbackFailed, "alice", critical, Some(8))).await;
    n.send(&notice(NotificationKind::ObjectiveMissed, "backout", critical, Some(7))).await;
    let d = n.send(&notice(NotificationKind::Validated, "backout", critical, Some(7))).await;
    assert_eq!(d.channels, ["pagerduty"], "a validation resolves the page: {d:?}");

    let events = pd(&got);
    assert_eq!(events.len(), 4, "{events:#?}");
    for e in &events {
        assert_eq!(events_v2_errors(e), Vec::<String>::new(), "{e:#}");
        assert_eq!(e["routing_key"], KEY);
    }
    let actions: Vec<(&str, &str)> =
        events.iter().map(|e| (e["event_action"].as_str().unwrap(), e["dedup_key"].as_str().unwrap())).collect();
    assert_eq!(
        actions,
        [
            ("trigger", "backout/checkout/incident/7"),
            ("trigger", "backout/checkout/incident/8"),
            ("trigger", "backout/checkout/incident/7"),
            ("resolve", "backout/checkout/incident/7"),
        ]
    );
    let first = &events[0]["payload"];
    assert_eq!(first["severity"], "critical");
    assert_eq!(first["source"], "backout/checkout");
    assert!(first["summary"].as_str().unwrap().starts_with("✅ ROLLBACK COMPLETED: checkout — error rate"), "{first}");
    assert_eq!(first["custom_details"]["Versions"], "2.0.0-bad -> 1.4.3", "{first}");
    assert_eq!(events[2]["payload"]["class"], "objective_missed");
}

#[tokio::test]
async fn item4_a_refusal_is_reported_without_the_routing_key_and_drills_never_page() {
    let (base, got) = receiver().await;
    let n = Notifier::with_webhooks(None, None, false, Duration::ZERO).with_pagerduty(
        KEY.into(),
        format!("{base}/pd-refuses"),
        None,
    );
    let d = n.send(&notice(NotificationKind::RollbackFailed, "alice", None, Some(3))).await;
    assert_eq!(d.errors.len(), 1, "{d:?}");
    assert!(d.errors[0].starts_with("pagerduty: HTTP 400"), "{d:?}");
    assert!(!format!("{d:?} {}", n.describe()).contains(KEY), "the routing key is a secret: {d:?}");
    let mut drill = notice(NotificationKind::RollbackFailed, "rule:x", None, Some(4));
    drill.drill = true;
    assert!(!n.send(&drill).await.sent());
    assert_eq!(pd(&got).len(), 1, "the drill paged nobody");
}

#[tokio::test]
async fn item6_routes_send_each_severity_to_its_channels() {
    let (base, got) = receiver().await;
    let routes = Routes {
        critical: Some(vec![Channel::Pagerduty]),
        performance: Some(vec![Channel::Webhook]),
        feature: Some(vec![]),
        non_critical: None,
    };
    let n = Notifier::with_webhooks(Some(format!("{base}/hook")), None, false, Duration::ZERO).with_pagerduty(
        KEY.into(),
        format!("{base}/pd"),
        Some(routes),
    );
    let failed = |s: Option<Severity>, id: i64| notice(NotificationKind::RollbackFailed, "alice", s, Some(id));
    // Critical: paged, not posted to chat.
    assert_eq!(n.send(&failed(Some(Severity::Critical), 1)).await.channels, ["pagerduty"]);
    // Unknown severity is routed as critical: never quieter than it should be.
    assert_eq!(n.send(&failed(None, 2)).await.channels, ["pagerduty"]);
    // Performance: chat only.
    assert_eq!(n.send(&failed(Some(Severity::Performance), 3)).await.channels, ["webhook"]);
    // Feature: routed nowhere.
    assert!(n.send(&failed(Some(Severity::Feature), 4)).await.channels.is_empty());
    // Non-critical: not listed, so every channel that is on, except that
    // PagerDuty pages only critical incidents without a route saying otherwise.
    assert_eq!(n.send(&failed(Some(Severity::NonCritical), 5)).await.channels, ["webhook"]);
    let hooks = got.lock().unwrap().iter().filter(|(p, _)| p == "hook").count();
    assert_eq!((pd(&got).len(), hooks), (2, 2));
}

#[test]
fn item6_routes_are_read_from_config_and_a_wrong_channel_is_located() {
    let env = "\n[[environment]]\nname = \"c\"\nkind = \"standard\"\nbase_url = \"http://127.0.0.1:1\"\n";
    let ok = format!(
        "[notifications]\npagerduty_routing_key_env = \"PD_KEY\"\n\n[notifications.routes]\ncritical = [\"pagerduty\", \
         \"webhook\"]\nperformance = [\"webhook\"]\n{env}"
    );
    let c = backout::config::Config::from_toml(&ok, std::path::Path::new("r.toml")).unwrap();
    let routes = c.notifications.routes.unwrap();
    assert_eq!(routes.channels(Some(Severity::Critical)), Some(&[Channel::Pagerduty, Channel::Webhook][..]));
    assert_eq!(routes.channels(Some(Severity::Feature)), None);
    let bad = format!("[notifications.routes]\ncritical = [\"pager\"]\n{env}");
    let e = backout::config::Config::from_toml(&bad, std::path::Path::new("r.toml")).unwrap_err().to_string();
    assert!(e.starts_with("r.toml:2:"), "{e}");
    assert!(e.contains("pager"), "{e}");
}

/// A checklist completed by hand (`backout checklist ... waive`) resolves the
/// incident's page too, through the real binary.
#[test]
fn item4_an_incident_validated_by_hand_resolves_its_page() {
    use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
    #[path = "common/mod.rs"]
    mod common;
    let d = common::Drill::start(
        vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::Steady)],
        Timings::default(),
    );
    let (url, got) = common::receiver(Duration::from_secs(60));
    let mut text = std::fs::read_to_string(&d.config).unwrap();
    text.push_str("\n[notifications]\ndesktop = false\npagerduty_routing_key_env = \"TEST_PD_KEY\"\n");
    text.push_str(&format!("pagerduty_url = \"{url}\"\n"));
    std::fs::write(&d.config, text).unwrap();
    let run = |args: &[&str]| {
        let out = d.cmd(args).env("TEST_PD_KEY", KEY).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", common::stderr(&out));
    };
    run(&["rollback", "checkout", "--force", "--yes", "--reason", "checkout errors"]);
    assert!(got.lock().unwrap().is_empty(), "a person's completed rollback pages nobody");
    let items = {
        let (_, v) = d.json(&["checklist", "--incident", "1"]);
        v["items"].as_array().map_or(0, Vec::len)
    };
    assert!(items > 0, "the simulator's config has a checklist");
    for n in 1..=items {
        run(&["checklist", "--incident", "1", "waive", &n.to_string(), "--note", "checked by hand in the test"]);
    }
    let events = got.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["event_action"], "resolve");
    assert_eq!(events[0]["dedup_key"], "backout/checkout/incident/1");
    assert_eq!(events_v2_errors(&events[0]), Vec::<String>::new());
}
