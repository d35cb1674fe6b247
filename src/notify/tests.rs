use std::collections::HashMap;

use super::*;
use crate::config::NotificationsConfig;

const SECRET: &str = "https://hooks.example/services/T000/B000/s3cr3tt0ken";

fn config(text: &str) -> NotificationsConfig {
    toml::from_str(text).unwrap()
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

fn alert(key: &str) -> Notification {
    Notification {
        kind: NotificationKind::Alert,
        environment: "checkout".into(),
        colour: None,
        from_version: None,
        target_version: None,
        reason: "error rate 7.2% > 5% for 2m".into(),
        impact: "unknown".into(),
        duration: None,
        error: None,
        actor: "rule:error-rate".into(),
        drill: false,
        group_key: key.into(),
        flag: None,
        severity: None,
        incident_id: None,
        detail: Vec::new(),
    }
}

#[test]
fn from_config_reads_the_named_variables_and_says_why_a_channel_is_off() {
    let cfg = config(
        "desktop = false\nwebhook_url_env = \"BACKOUT_WEBHOOK_URL\"\ndrill_webhook_url_env = \"BACKOUT_DRILL_URL\"\n",
    );
    let on = Notifier::from_config_with(&cfg, env(&[("BACKOUT_WEBHOOK_URL", SECRET)]));
    assert_eq!(
        on.describe(),
        "webhook on (BACKOUT_WEBHOOK_URL), drill webhook off (BACKOUT_DRILL_URL is not set), desktop off (off in config)"
    );

    let empty = Notifier::from_config_with(&cfg, env(&[("BACKOUT_WEBHOOK_URL", "  "), ("BACKOUT_DRILL_URL", SECRET)]));
    assert_eq!(
        empty.describe(),
        "webhook off (BACKOUT_WEBHOOK_URL is empty), drill webhook on (BACKOUT_DRILL_URL), desktop off (off in config)"
    );

    let bad = Notifier::from_config_with(&cfg, env(&[("BACKOUT_WEBHOOK_URL", "s3cr3tt0ken")]));
    assert!(bad.describe().starts_with("webhook off (BACKOUT_WEBHOOK_URL does not hold an http(s) URL)"));
    assert!(!bad.describe().contains("s3cr3t"));

    let unset = Notifier::from_config_with(&config(""), env(&[]));
    assert_eq!(unset.describe(), "webhook off (not configured), drill webhook off (not configured), desktop on");
}

#[test]
fn debug_and_describe_never_show_the_url() {
    let n = Notifier::with_webhooks(Some(SECRET.into()), Some(SECRET.into()), false, Duration::from_secs(60));
    let shown = format!("{n:?} {n:#?} {}", n.describe());
    assert!(!shown.contains("s3cr3t") && !shown.contains("hooks.example"), "{shown}");
    assert!(shown.contains("webhook on"), "{shown}");
}

#[tokio::test]
async fn a_disabled_notifier_sends_nothing_and_reports_nothing() {
    let d = Notifier::disabled().send(&alert("k")).await;
    assert!(!d.sent());
    assert!(!d.grouped);
    assert!(d.errors.is_empty());
    assert!(d.text.starts_with("⚠️ ALERT"));
}

#[tokio::test]
async fn drills_never_use_the_live_webhook_or_the_desktop() {
    // The live URL points at a port nothing listens on; using it would show up as an error.
    let n = Notifier::with_webhooks(Some("http://127.0.0.1:1/live".into()), None, true, Duration::ZERO);
    let drill = Notification { kind: NotificationKind::RollbackStarted, drill: true, ..alert("k") };
    let d = n.send(&drill).await;
    assert_eq!(d, Delivery { text: render_text(&drill), channels: vec![], grouped: false, errors: vec![] });
    assert!(d.text.starts_with("[DRILL] "));
    assert!(n.desktop_on(), "the desktop was not even tried");
}

#[tokio::test]
async fn a_refused_connection_is_one_error_without_the_url() {
    let n = Notifier::with_webhooks(Some("http://127.0.0.1:1/services/s3cr3t".into()), None, false, Duration::ZERO);
    let d = n.send(&alert("k")).await;
    assert!(!d.sent());
    assert_eq!(d.errors, vec!["webhook: could not connect".to_string()]);
}

#[tokio::test]
async fn alerts_are_grouped_per_key_but_rollbacks_never_are() {
    let n = Notifier::with_webhooks(Some("http://127.0.0.1:1/x".into()), None, false, Duration::from_secs(600));
    assert!(!n.send(&alert("a")).await.grouped);
    assert!(n.send(&alert("a")).await.grouped);
    assert!(n.send(&alert("a")).await.grouped);
    assert!(!n.send(&alert("b")).await.grouped);
    // A drill alert with the same key is grouped apart (and, with no drill webhook, not sent at all).
    assert!(!n.send(&Notification { drill: true, ..alert("a") }).await.grouped);
    for kind in
        [NotificationKind::RollbackStarted, NotificationKind::RollbackCompleted, NotificationKind::RollbackFailed]
    {
        let rollback = Notification { kind, ..alert("a") };
        assert!(!n.send(&rollback).await.grouped);
        assert!(!n.send(&rollback).await.grouped);
    }
    // Clones share the grouping state.
    assert!(n.clone().send(&alert("a")).await.grouped);
}

#[test]
fn send_can_run_on_a_spawned_task() {
    fn assert_send<T: Send + 'static>(_: T) {}
    let n = Notifier::disabled();
    assert_send(async move { n.send(&alert("k")).await });
}
