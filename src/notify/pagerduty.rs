//! PagerDuty's Events API v2 (issue 12, item 4): an incident that needs a
//! person pages, with one dedup key per incident, and resolves when the
//! incident validates. The routing key is a secret: it never reaches an
//! error, a log or Debug.

use serde_json::json;

use super::{Notification, NotificationKind};
use crate::domain::Severity;

/// PagerDuty's own Events API v2 address.
pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A PagerDuty integration that is switched on.
pub struct PagerDuty {
    url: String,
    /// The routing key; secret.
    key: String,
}

impl PagerDuty {
    /// With the routing key and the Events API address.
    pub fn new(key: String, url: Option<String>) -> PagerDuty {
        PagerDuty { url: url.unwrap_or_else(|| EVENTS_URL.to_string()), key }
    }

    /// Whether PagerDuty hears of `n`: a person must act (an automatic
    /// rollback ran, a rollback failed, an objective was missed, an
    /// escalation), or the incident it paged for validated (a resolve).
    pub fn wants(n: &Notification) -> bool {
        match n.kind {
            NotificationKind::RollbackCompleted => n.actor.starts_with("rule:"),
            NotificationKind::RollbackFailed
            | NotificationKind::ObjectiveMissed
            | NotificationKind::Escalation
            | NotificationKind::Validated => true,
            NotificationKind::RollbackStarted | NotificationKind::Alert | NotificationKind::ApprovalRequested => false,
        }
    }

    /// Sends one event; an error is a sentence without the key.
    pub async fn send(&self, client: &reqwest::Client, text: &str, n: &Notification) -> Result<(), String> {
        let body = event(&self.key, text, n);
        let outcome = match client.post(&self.url).json(&body).send().await {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let detail = crate::net::read_body(resp, 16 * 1024).await.unwrap_or_default();
                Err(format!("pagerduty: HTTP {status} ({})", crate::text::excerpt(&detail, 160)))
            }
            Err(e) => Err(format!("pagerduty: {}", e.without_url())),
        };
        outcome.map_err(|e| e.replace(&self.key, "<routing key>"))
    }
}

impl std::fmt::Debug for PagerDuty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDuty").field("url", &self.url).field("key", &"<redacted>").finish()
    }
}

/// The dedup key of `n`: one per incident, so its trigger, further triggers
/// and its resolve are one PagerDuty incident; per environment without one.
pub fn dedup_key(n: &Notification) -> String {
    match n.incident_id {
        Some(id) => format!("backout/{}/incident/{id}", n.environment),
        None => format!("backout/{}", n.environment),
    }
}

/// PagerDuty's severity for `n`: the incident's, at least `error` for a
/// failed rollback or a missed objective.
fn severity(n: &Notification) -> &'static str {
    let by_incident = match n.severity {
        None | Some(Severity::Critical) => "critical",
        Some(Severity::Performance) => "error",
        Some(Severity::Feature) => "warning",
        Some(Severity::NonCritical) => "info",
    };
    match (n.kind, by_incident) {
        (NotificationKind::RollbackFailed | NotificationKind::ObjectiveMissed, "warning" | "info") => "error",
        _ => by_incident,
    }
}

/// The Events API v2 body: `resolve` for a validated incident, else `trigger`
/// with the template's first line as the summary and its lines as details.
pub fn event(key: &str, text: &str, n: &Notification) -> serde_json::Value {
    if n.kind == NotificationKind::Validated {
        return json!({ "routing_key": key, "event_action": "resolve", "dedup_key": dedup_key(n) });
    }
    let headline = text.lines().next().unwrap_or("backout");
    let summary = crate::text::excerpt(&format!("{headline}: {} — {}", n.environment, n.reason), 1024);
    let details: serde_json::Map<String, serde_json::Value> =
        super::render::fields(n).into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    json!({
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup_key(n),
        "client": "backout",
        "payload": {
            "summary": summary,
            "source": format!("backout/{}", n.environment),
            "severity": severity(n),
            "timestamp": crate::domain::ts::format(chrono::Utc::now()),
            "component": n.environment,
            "class": n.kind.as_str(),
            "custom_details": details,
        }
    })
}
