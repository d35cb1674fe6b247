//! Alertmanager in (issue 12, item 1): a webhook receiver for Alertmanager's
//! version 4 payload, and the board of alerts it keeps, which `alertmanager`
//! signals read like any other source: 1 while a matching alert fires, 0
//! when none does. Every byte received is hostile: the body is capped, a bad
//! payload answers 400 and is reported, labels are cleaned before anything
//! shows them, and the board holds a bounded number of alerts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Most alerts the board keeps; past it the oldest resolved ones go first.
pub const MAX_ALERTS: usize = 10_000;

/// Resolved alerts are kept this long (for the console to say what resolved).
const KEEP_RESOLVED: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// One label matcher, Prometheus style: `name="v"`, `name!="v"`,
/// `name=~"re"`, `name!~"re"` (regexes anchored, as Prometheus anchors them).
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    Eq(String),
    Ne(String),
    Re(regex::Regex),
    NotRe(regex::Regex),
}

impl Matcher {
    /// Parses `name="value"` (and `!=`, `=~`, `!~`); the value may be quoted
    /// with `"` or left bare.
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let text = text.trim();
        let at = text
            .find(['=', '!'])
            .ok_or_else(|| format!("matcher {text:?} has no operator; write it like alertname=\"HighErrorRate\""))?;
        let name = text[..at].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("matcher {text:?}: {name:?} is not a label name"));
        }
        let rest = &text[at..];
        let (op, value) = ["=~", "!~", "!=", "="]
            .into_iter()
            .find_map(|op| rest.strip_prefix(op).map(|v| (op, v.trim())))
            .ok_or_else(|| format!("matcher {text:?}: use =, !=, =~ or !~"))?;
        let value = match value.strip_prefix('"') {
            Some(v) => v.strip_suffix('"').ok_or_else(|| format!("matcher {text:?}: the quote is not closed"))?,
            None => value,
        };
        let regex =
            |v: &str| regex::Regex::new(&format!("^(?:{v})$")).map_err(|e| format!("matcher {text:?}: bad regex: {e}"));
        let op = match op {
            "=" => Op::Eq(value.to_string()),
            "!=" => Op::Ne(value.to_string()),
            "=~" => Op::Re(regex(value)?),
            _ => Op::NotRe(regex(value)?),
        };
        Ok(Matcher { name: name.to_string(), op })
    }

    /// Whether `labels` satisfy it; a missing label reads as empty, as in Prometheus.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        match &self.op {
            Op::Eq(x) => v == x,
            Op::Ne(x) => v != x,
            Op::Re(r) => r.is_match(v),
            Op::NotRe(r) => !r.is_match(v),
        }
    }
}

/// Alertmanager's webhook body (version 4), the parts backout reads.
#[derive(Debug, Deserialize)]
struct Payload {
    version: Option<String>,
    alerts: Vec<PayloadAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadAlert {
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    fingerprint: Option<String>,
}

/// An alert as the board keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Labels, cleaned of control characters.
    pub labels: BTreeMap<String, String>,
    /// The `summary` annotation, cleaned, when there is one.
    pub summary: Option<String>,
    /// Firing (not resolved).
    pub firing: bool,
    /// When it started.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ends (Alertmanager's guess while firing; when it resolved after).
    pub ends_at: Option<DateTime<Utc>>,
    /// When backout last heard of it.
    pub received_at: DateTime<Utc>,
}

impl Alert {
    /// Firing at `now`: not resolved, and not past an end Alertmanager set
    /// (an alert Alertmanager stopped repeating ends on its own).
    pub fn firing_at(&self, now: DateTime<Utc>) -> bool {
        // Alertmanager writes the zero time (year 1) for "no end".
        self.firing && self.ends_at.is_none_or(|end| end.timestamp() <= 0 || end > now)
    }

    /// `alertname`, or `alert` when it has none.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("alert", String::as_str)
    }
}

/// What a webhook post did to the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Received {
    /// Alerts now firing that were not before.
    pub firing: usize,
    /// Alerts now resolved.
    pub resolved: usize,
}

/// The alerts received so far, by fingerprint. Cheap to clone.
#[derive(Debug, Default, Clone)]
pub struct AlertBoard {
    alerts: Arc<Mutex<HashMap<String, Alert>>>,
}

impl AlertBoard {
    /// Takes in one webhook body: `Err` (why, for a 400) when it is not
    /// Alertmanager's version 4 payload; nothing is changed then.
    pub fn receive(&self, body: &[u8], now: DateTime<Utc>) -> Result<Received, String> {
        let payload: Payload = serde_json::from_slice(body).map_err(|e| {
            format!("not an Alertmanager webhook payload: {}", crate::text::excerpt(&e.to_string(), 160))
        })?;
        if let Some(v) = payload.version.as_deref().filter(|v| *v != "4") {
            return Err(format!(
                "Alertmanager webhook version {:?}; backout reads version \"4\"",
                crate::text::excerpt(v, 20)
            ));
        }
        let mut out = Received::default();
        let mut alerts = self.alerts.lock().unwrap_or_else(PoisonError::into_inner);
        for a in payload.alerts {
            let firing = match a.status.as_str() {
                "firing" => true,
                "resolved" => false,
                other => {
                    return Err(format!(
                        "alert status {:?}; expected firing or resolved",
                        crate::text::excerpt(other, 20)
                    ));
                }
            };
            let clean = |m: BTreeMap<String, String>| -> BTreeMap<String, String> {
                m.into_iter()
                    .take(64)
                    .map(|(k, v)| (crate::text::service_text(&k), crate::text::service_text(&v)))
                    .collect()
            };
            let labels = clean(a.labels);
            let key = a.fingerprint.filter(|f| !f.is_empty()).unwrap_or_else(|| format!("{labels:?}"));
            let was_firing = alerts.get(&key).is_some_and(|old| old.firing_at(now));
            let alert = Alert {
                summary: a.annotations.get("summary").map(|s| crate::text::service_text(s)),
                labels,
                firing,
                starts_at: a.starts_at,
                ends_at: a.ends_at,
                received_at: now,
            };
            match (was_firing, alert.firing_at(now)) {
                (false, true) => out.firing += 1,
                (true, false) => out.resolved += 1,
                _ => {}
            }
            alerts.insert(crate::text::excerpt(&key, 200), alert);
        }
        prune(&mut alerts, now);
        Ok(out)
    }

    /// The alerts matching every one of `matchers` that fire at `now`, by name.
    pub fn firing(&self, matchers: &[Matcher], now: DateTime<Utc>) -> Vec<Alert> {
        let alerts = self.alerts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<Alert> = alerts
            .values()
            .filter(|a| a.firing_at(now) && matchers.iter().all(|m| m.matches(&a.labels)))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.name().cmp(b.name()));
        out
    }

    /// How many alerts the board holds.
    pub fn len(&self) -> usize {
        self.alerts.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops resolved alerts past [`KEEP_RESOLVED`], then the oldest past [`MAX_ALERTS`].
fn prune(alerts: &mut HashMap<String, Alert>, now: DateTime<Utc>) {
    alerts.retain(|_, a| a.firing_at(now) || now - a.received_at < KEEP_RESOLVED);
    if alerts.len() > MAX_ALERTS {
        let mut by_age: Vec<(String, bool, DateTime<Utc>)> =
            alerts.iter().map(|(k, a)| (k.clone(), a.firing_at(now), a.received_at)).collect();
        // Resolved first, then the longest unheard-of.
        by_age.sort_by_key(|(_, firing, at)| (*firing, *at));
        for (k, _, _) in by_age.into_iter().take(alerts.len() - MAX_ALERTS) {
            alerts.remove(&k);
        }
    }
}

/// Where the receiver listens and what it accepts.
#[derive(Debug, Clone)]
pub struct ReceiverOptions {
    /// The bearer token a post must carry, when one is required.
    pub token: Option<String>,
    /// Most bytes of one post.
    pub max_body: usize,
}

/// What the receiver reports to the engine: a post taken in, or refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ReceiverNews {
    /// A post changed the board.
    Received(Received),
    /// A post was refused (the reason, as answered).
    Refused(String),
}

/// The receiver's routes: `POST /alertmanager` (and `/`), answering `ok`, or
/// 400 (bad payload), 401 (token), 413 (too large).
pub fn router(
    board: AlertBoard,
    opts: ReceiverOptions,
    news: tokio::sync::mpsc::UnboundedSender<ReceiverNews>,
) -> axum::Router {
    use axum::http::{HeaderMap, StatusCode};
    let max_body = opts.max_body;
    let handler = move |headers: HeaderMap, body: axum::body::Bytes| {
        let (board, opts, news) = (board.clone(), opts.clone(), news.clone());
        async move {
            if let Some(token) = &opts.token {
                let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                if given.strip_prefix("Bearer ").is_none_or(|t| !constant_time_eq(t.as_bytes(), token.as_bytes())) {
                    let why = "refused a post without the right bearer token".to_string();
                    let _ = news.send(ReceiverNews::Refused(why));
                    return (StatusCode::UNAUTHORIZED, "bearer token required\n".to_string());
                }
            }
            match board.receive(&body, Utc::now()) {
                Ok(r) => {
                    let _ = news.send(ReceiverNews::Received(r));
                    (StatusCode::OK, "ok\n".to_string())
                }
                Err(why) => {
                    let _ = news.send(ReceiverNews::Refused(why.clone()));
                    (StatusCode::BAD_REQUEST, format!("{why}\n"))
                }
            }
        }
    };
    axum::Router::new()
        .route("/alertmanager", axum::routing::post(handler.clone()))
        .route("/", axum::routing::post(handler))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn matchers_read_like_prometheus_and_anchor_their_regexes() {
        let l = labels(&[("alertname", "HighErrorRate"), ("service", "checkout")]);
        assert!(Matcher::parse("alertname=\"HighErrorRate\"").unwrap().matches(&l));
        assert!(Matcher::parse("service = checkout").unwrap().matches(&l));
        assert!(!Matcher::parse("service!=\"checkout\"").unwrap().matches(&l));
        assert!(Matcher::parse("service=~\"check.*\"").unwrap().matches(&l));
        assert!(!Matcher::parse("service=~\"check\"").unwrap().matches(&l), "anchored: a part does not match");
        assert!(Matcher::parse("team!~\"search|ads\"").unwrap().matches(&l), "a missing label reads as empty");
        assert!(Matcher::parse("team=\"\"").unwrap().matches(&l));
        for bad in ["alertname", "=x", "a b=\"c\"", "x=~\"(\"", "x=\"open"] {
            assert!(Matcher::parse(bad).is_err(), "{bad}");
        }
    }

    fn post(status: &str, fp: &str, ends: &str) -> String {
        format!(
            r#"{{"version":"4","status":"{status}","receiver":"backout","alerts":[{{"status":"{status}",
            "labels":{{"alertname":"HighErrorRate","service":"checkout\u001b[31m"}},"annotations":{{"summary":"5xx over 5%"}},
            "startsAt":"2026-11-22T10:00:00Z","endsAt":"{ends}","fingerprint":"{fp}"}}]}}"#
        )
    }

    #[test]
    fn a_firing_alert_fires_until_resolved_or_past_its_end() {
        let board = AlertBoard::default();
        let now: DateTime<Utc> = "2026-11-22T10:00:05Z".parse().unwrap();
        let m = [Matcher::parse("alertname=\"HighErrorRate\"").unwrap()];
        let r = board.receive(post("firing", "ab12", "0001-01-01T00:00:00Z").as_bytes(), now).unwrap();
        assert_eq!(r, Received { firing: 1, resolved: 0 });
        let firing = board.firing(&m, now);
        assert_eq!(firing.len(), 1);
        let service = &firing[0].labels["service"];
        assert!(
            service.starts_with("checkout") && !service.contains('\u{1b}'),
            "control characters never reach a screen: {service}"
        );
        assert_eq!(firing[0].summary.as_deref(), Some("5xx over 5%"));
        // The same alert again changes nothing.
        assert_eq!(
            board.receive(post("firing", "ab12", "0001-01-01T00:00:00Z").as_bytes(), now).unwrap(),
            Received::default()
        );
        let r = board.receive(post("resolved", "ab12", "2026-11-22T10:00:04Z").as_bytes(), now).unwrap();
        assert_eq!(r, Received { firing: 0, resolved: 1 });
        assert!(board.firing(&m, now).is_empty());
        // An end Alertmanager set passes: the alert stops firing by itself.
        board.receive(post("firing", "cd34", "2026-11-22T10:05:00Z").as_bytes(), now).unwrap();
        assert_eq!(board.firing(&m, now).len(), 1);
        assert!(board.firing(&m, "2026-11-22T10:05:01Z".parse().unwrap()).is_empty());
    }

    #[test]
    fn bad_payloads_are_refused_whole_and_the_board_stays_bounded() {
        let board = AlertBoard::default();
        let now = Utc::now();
        for bad in ["", "{", "[]", r#"{"version":"3","alerts":[]}"#, r#"{"alerts":[{"status":"exploded"}]}"#] {
            assert!(board.receive(bad.as_bytes(), now).is_err(), "{bad}");
        }
        assert!(board.is_empty());
        let many: Vec<String> = (0..MAX_ALERTS + 50)
            .map(|i| format!(r#"{{"status":"resolved","labels":{{"n":"{i}"}},"fingerprint":"f{i}"}}"#))
            .collect();
        let body = format!(r#"{{"version":"4","alerts":[{}]}}"#, many.join(","));
        board.receive(body.as_bytes(), now).unwrap();
        assert_eq!(board.len(), MAX_ALERTS);
    }
}
