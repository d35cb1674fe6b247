//! Notifications against a real webhook receiver on loopback.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use backout::notify::{Delivery, Notification, NotificationKind, Notifier};
use serde_json::Value;

/// A Slack-like receiver: `/ok/{hook}` answers 200 "ok", `/fail/{hook}` answers 500.
struct Receiver {
    base: String,
    got: Arc<Mutex<Vec<(String, Value)>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let app = Router::new()
            .route("/ok/{hook}", post(ok))
            .route("/fail/{hook}", post(fail))
            .route("/hang/{hook}", post(hang))
            .route("/echo/{hook}", post(echo))
            .with_state(got.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Receiver { base, got, stop: Some(stop) }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn received(&self) -> Vec<(String, Value)> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

type Got = Arc<Mutex<Vec<(String, Value)>>>;

async fn ok(State(got): State<Got>, Path(hook): Path<String>, axum::Json(body): axum::Json<Value>) -> &'static str {
    got.lock().unwrap().push((hook, body));
    "ok"
}

async fn fail(
    State(got): State<Got>,
    Path(hook): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> (StatusCode, &'static str) {
    got.lock().unwrap().push((hook, body));
    (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
}

/// A receiver that repeats the secret in its refusal: JSON-escaped, percent-encoded and raw.
async fn echo(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> (StatusCode, String) {
    let path = uri.path().to_string();
    let body = format!(
        "{{\"error\":\"no_service\",\"url\":{},\"encoded\":\"{}\",\"token\":\"{}\"}}",
        serde_json::to_string(&path).unwrap().replace('/', "\\/"),
        path.replace('/', "%2F"),
        path.rsplit('/').next().unwrap()
    );
    (StatusCode::BAD_REQUEST, body)
}

async fn hang() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "ok"
}

fn notification(kind: NotificationKind) -> Notification {
    Notification {
        kind,
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
        group_key: "checkout:error-rate".into(),
        flag: None,
        severity: None,
        incident_id: None,
        detail: Vec::new(),
    }
}

fn text_of(body: &Value) -> &str {
    body["text"].as_str().unwrap()
}

#[tokio::test]
async fn rollback_completed_reaches_the_webhook_as_slack_json() {
    let rx = Receiver::start().await;
    let n = Notifier::with_webhooks(Some(rx.url("/ok/live")), None, false, Duration::from_secs(60));
    let d = n.send(&notification(NotificationKind::RollbackCompleted)).await;

    assert_eq!(d.channels, vec!["webhook".to_string()], "{d:?}");
    assert!(d.sent() && d.errors.is_empty() && !d.grouped, "{d:?}");
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let (hook, body) = &got[0];
    assert_eq!(hook, "live");
    let text = text_of(body);
    assert!(text.contains("ROLLBACK COMPLETED"), "{text}");
    assert!(text.contains("Environment: checkout (BLUE)"), "{text}");
    assert!(text.contains("Duration: 1m 35s"), "{text}");
    assert_eq!(text, backout::notify::slack_escape(&d.text), "Slack gets the text with its control characters escaped");
    assert_eq!(body["backout"]["kind"], "rollback_completed");
    assert_eq!(body["backout"]["environment"], "checkout");
    assert_eq!(body["backout"]["target_version"], "v2.4.0");
    assert_eq!(body["backout"]["drill"], false);
}

#[tokio::test]
async fn a_500_is_one_error_that_does_not_show_the_url() {
    let rx = Receiver::start().await;
    let secret = rx.url("/fail/T000B000s3cr3tt0ken");
    let n = Notifier::with_webhooks(Some(secret.clone()), None, false, Duration::from_secs(60));
    let d = n.send(&notification(NotificationKind::RollbackStarted)).await;

    assert!(!d.sent(), "{d:?}");
    assert_eq!(d.errors, vec!["webhook: HTTP 500 (internal_error)".to_string()]);
    let everything = format!("{d:?} {n:?} {}", n.describe());
    assert!(!everything.contains("s3cr3t") && !everything.contains(&rx.base), "{everything}");
    assert_eq!(rx.received().len(), 1, "exactly one attempt, no retries");
}

#[tokio::test]
async fn item12_a_receiver_echoing_the_secret_in_any_spelling_never_gets_it_into_an_error() {
    let rx = Receiver::start().await;
    let secret = rx.url("/echo/T000B000s3cr3tt0ken");
    let n = Notifier::with_webhooks(Some(secret), None, false, Duration::from_secs(60));
    let d = n.send(&notification(NotificationKind::RollbackStarted)).await;
    assert!(!d.sent(), "{d:?}");
    let errors = d.errors.join(" ");
    assert!(errors.starts_with("webhook: HTTP 400 ("), "{errors}");
    assert!(errors.contains("no_service"), "the receiver's reason is kept: {errors}");
    assert!(!errors.to_lowercase().contains("s3cr3t"), "{errors}");
    assert!(!errors.contains("%2Fecho") && !errors.contains("\\/echo\\/T000"), "{errors}");
}

#[tokio::test]
async fn a_receiver_that_never_answers_costs_at_most_the_timeout() {
    let rx = Receiver::start().await;
    let n = Notifier::with_webhooks(Some(rx.url("/hang/s3cr3t")), None, false, Duration::from_secs(60));
    let started = std::time::Instant::now();
    let d = n.send(&notification(NotificationKind::RollbackFailed)).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(4) && took < Duration::from_secs(7), "took {took:?}");
    assert_eq!(d.errors, vec!["webhook: no answer within 5s".to_string()]);
    assert!(!d.sent());
}

#[tokio::test]
async fn drills_reach_only_the_drill_webhook_and_nothing_when_there_is_none() {
    let rx = Receiver::start().await;
    let mut drill = notification(NotificationKind::RollbackStarted);
    drill.drill = true;

    let no_drill_hook = Notifier::with_webhooks(Some(rx.url("/ok/live")), None, false, Duration::from_secs(60));
    let d = no_drill_hook.send(&drill).await;
    assert_eq!(d, Delivery { text: d.text.clone(), channels: vec![], grouped: false, errors: vec![] });
    assert!(d.text.starts_with("[DRILL] 🚨 DEPLOYMENT ROLLBACK EXECUTED"), "{}", d.text);
    assert!(rx.received().is_empty(), "a drill reached the live webhook");

    let both = Notifier::with_webhooks(Some(rx.url("/ok/live")), Some(rx.url("/ok/drill")), false, Duration::ZERO);
    let d = both.send(&drill).await;
    assert_eq!(d.channels, vec!["drill-webhook".to_string()], "{d:?}");
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "drill");
    assert!(text_of(&got[0].1).starts_with("[DRILL] "));
    assert_eq!(got[0].1["backout"]["drill"], true);
}

#[tokio::test]
async fn repeated_alerts_are_grouped_within_the_window_and_counted_in_the_next() {
    let rx = Receiver::start().await;
    let window = Duration::from_millis(400);
    let n = Notifier::with_webhooks(Some(rx.url("/ok/live")), None, false, window);
    let alert = notification(NotificationKind::Alert);

    assert!(n.send(&alert).await.sent());
    for _ in 0..3 {
        let d = n.send(&alert).await;
        assert!(d.grouped && !d.sent() && d.errors.is_empty(), "{d:?}");
    }
    let other = Notification { group_key: "checkout:latency".into(), ..alert.clone() };
    assert!(n.send(&other).await.sent(), "another key is not grouped");
    assert_eq!(rx.received().len(), 2);

    tokio::time::sleep(window + Duration::from_millis(50)).await;
    let d = n.send(&alert).await;
    assert!(d.sent() && !d.grouped, "{d:?}");
    assert!(d.text.ends_with("(3 repeats grouped)"), "{}", d.text);
    let got = rx.received();
    assert_eq!(got.len(), 3);
    assert!(text_of(&got[2].1).contains("(3 repeats grouped)"));
    assert!(!text_of(&got[0].1).contains("grouped"));

    // Rollback notifications are never grouped, however close together.
    let started = notification(NotificationKind::RollbackStarted);
    assert!(n.send(&started).await.sent());
    assert!(n.send(&started).await.sent());
    assert_eq!(rx.received().len(), 5);
}

/// Marker telling the child test below that it was started on purpose, with a bus address set.
const CHILD_MARKER: &str = "BACKOUT_NOTIFY_NO_BUS_CHILD";

/// Runs `desktop_child_without_a_bus` in a child process whose session bus address points
/// nowhere; the environment of this process is left alone.
#[test]
fn desktop_without_a_bus_warns_once_then_stays_off() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["desktop_child_without_a_bus", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/backout-test/bus")
        .env(CHILD_MARKER, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "child did not run:\n{stdout}\n{stderr}");
}

#[tokio::test]
#[ignore = "run by desktop_without_a_bus_warns_once_then_stays_off in a child process"]
async fn desktop_child_without_a_bus() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        return;
    }
    let rx = Receiver::start().await;
    let n = Notifier::with_webhooks(Some(rx.url("/ok/live")), None, true, Duration::ZERO);
    assert!(n.describe().ends_with("desktop on"), "{}", n.describe());

    let started = std::time::Instant::now();
    let first = n.send(&notification(NotificationKind::RollbackStarted)).await;
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    assert_eq!(first.channels, vec!["webhook".to_string()], "the webhook still works: {first:?}");
    assert_eq!(first.errors.len(), 1, "{first:?}");
    assert!(first.errors[0].starts_with("desktop notifications unavailable "), "{first:?}");
    assert!(n.describe().contains("desktop off (unavailable: "), "{}", n.describe());

    let second = n.send(&notification(NotificationKind::RollbackCompleted)).await;
    assert_eq!(second.channels, vec!["webhook".to_string()]);
    assert!(second.errors.is_empty(), "reported once only: {second:?}");
    println!("errors: {:?}; status: {}", first.errors, n.describe());
}

/// What Slack's Block Kit reference documents for the parts backout sends
/// (api.slack.com/reference/block-kit/blocks, .../composition-objects and
/// the attachments reference): each rule broken, as a sentence.
fn block_kit_errors(body: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            errors.push(what);
        }
    };
    let text_object = |t: &Value, kinds: &[&str], max: usize| -> Option<String> {
        let kind = t["type"].as_str().unwrap_or("");
        let text = t["text"].as_str()?;
        (kinds.contains(&kind) && !text.is_empty() && text.chars().count() <= max)
            .then_some(())
            .map_or(Some(format!("bad text object {t}")), |()| None)
    };
    check(body["text"].as_str().is_some_and(|t| !t.is_empty()), "a fallback text is required".into());
    let blocks: Vec<&Value> = body["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            body["attachments"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|a| a["blocks"].as_array().into_iter().flatten()),
        )
        .collect();
    check(body["blocks"].as_array().is_some_and(|b| b.len() <= 50), "at most 50 blocks".into());
    for a in body["attachments"].as_array().into_iter().flatten() {
        let colour = a["color"].as_str().unwrap_or("");
        check(
            colour.len() == 7 && colour.starts_with('#') && colour[1..].chars().all(|c| c.is_ascii_hexdigit()),
            format!("attachment colour {colour:?} is not #RRGGBB"),
        );
    }
    for b in blocks {
        match b["type"].as_str() {
            Some("header") => {
                check(b["text"]["type"] == "plain_text", format!("a header's text is plain_text: {b}"));
                if let Some(e) = text_object(&b["text"], &["plain_text"], 150) {
                    check(false, e);
                }
            }
            Some("section") => {
                let fields = b["fields"].as_array().map_or(&[][..], Vec::as_slice);
                check(!fields.is_empty() || b["text"].is_object(), format!("a section needs text or fields: {b}"));
                check(fields.len() <= 10, format!("a section has at most 10 fields: {}", fields.len()));
                for f in fields {
                    if let Some(e) = text_object(f, &["mrkdwn", "plain_text"], 2000) {
                        check(false, e);
                    }
                }
            }
            Some("context") => {
                let elements = b["elements"].as_array().map_or(&[][..], Vec::as_slice);
                check(!elements.is_empty() && elements.len() <= 10, format!("1 to 10 context elements: {b}"));
                for e in elements {
                    if let Some(e) = text_object(e, &["mrkdwn", "plain_text"], 2000) {
                        check(false, e);
                    }
                }
            }
            other => check(false, format!("unexpected block type {other:?}")),
        }
    }
    errors
}

#[tokio::test]
async fn item7_every_kind_reaches_slack_as_block_kit_coloured_by_outcome_with_text_as_fallback() {
    let rx = Receiver::start().await;
    let n = Notifier::with_webhooks(Some(rx.url("/ok/live")), None, false, Duration::ZERO);
    let kinds = [
        (NotificationKind::RollbackStarted, "#daa038"),
        (NotificationKind::RollbackCompleted, "#2eb886"),
        (NotificationKind::RollbackFailed, "#a30200"),
        (NotificationKind::Alert, "#daa038"),
        (NotificationKind::ApprovalRequested, "#439fe0"),
        (NotificationKind::Escalation, "#a30200"),
    ];
    for (i, (kind, colour)) in kinds.into_iter().enumerate() {
        let mut note = notification(kind);
        note.group_key = format!("k{i}");
        // Hostile and long values stay within Slack's limits and are shown, not acted on.
        note.reason = format!("<!channel> error rate 7% > 5% {}", "x".repeat(3000));
        note.detail = vec![("Escalated to".into(), "EP21 Tech Lead".into())];
        let d = n.send(&note).await;
        assert!(d.sent(), "{d:?}");
        let body = rx.received().pop().unwrap().1;
        assert_eq!(block_kit_errors(&body), Vec::<String>::new(), "{kind:?}: {body}");
        assert_eq!(text_of(&body), backout::notify::slack_escape(&d.text), "text is the full fallback");
        assert_eq!(body["attachments"][0]["color"], colour, "{kind:?}");
        let header = body["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header, d.text.lines().next().unwrap(), "the headline is the header");
        let fields: Vec<&str> = body["attachments"][0]["blocks"][0]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap())
            .collect();
        assert_eq!(fields[0], "*Environment:*\ncheckout (BLUE)", "{fields:?}");
        assert!(
            fields.iter().any(|f| f.starts_with("*Reason:*\n&lt;!channel&gt; error rate 7% &gt; 5%")),
            "{fields:?}"
        );
        assert!(fields.contains(&"*Escalated to:*\nEP21 Tech Lead"), "{fields:?}");
        let slack_reads = format!("{} {} {}", body["text"], body["blocks"], body["attachments"]);
        assert!(!slack_reads.contains("<!channel>"), "never a live mention");
    }
}

#[tokio::test]
async fn item7_grouped_repeats_are_a_context_block() {
    let rx = Receiver::start().await;
    let n = Notifier::with_webhooks(Some(rx.url("/ok/live")), None, false, Duration::from_millis(300));
    let first = n.send(&notification(NotificationKind::Alert)).await;
    assert!(first.sent());
    assert!(n.send(&notification(NotificationKind::Alert)).await.grouped);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let third = n.send(&notification(NotificationKind::Alert)).await;
    assert!(third.sent() && third.text.contains("repeat"), "{third:?}");
    let body = rx.received().pop().unwrap().1;
    assert_eq!(block_kit_errors(&body), Vec::<String>::new(), "{body}");
    let blocks = body["attachments"][0]["blocks"].as_array().unwrap();
    let context = blocks.last().unwrap();
    assert_eq!(context["type"], "context", "{body}");
    assert!(context["elements"][0]["text"].as_str().unwrap().contains("repeat"), "{body}");
}
