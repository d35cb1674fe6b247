//! Slack-compatible incoming webhooks. The URL is a secret: it never reaches an error, a log or Debug.

use std::time::Duration;

use serde_json::json;

use super::Notification;

/// How long one webhook post may take, connection included.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// A webhook that is switched on.
pub struct Webhook {
    /// The URL; secret.
    url: String,
    /// `webhook` or `drill webhook`, plus the env var it came from, for messages.
    label: String,
}

impl Webhook {
    /// A webhook named `kind` (`webhook`, `drill webhook`) whose URL came from `source` (an env var name), if any.
    pub fn new(kind: &str, url: String, source: Option<&str>) -> Result<Webhook, String> {
        let label = match source {
            Some(var) => format!("{kind} ({var})"),
            None => kind.to_string(),
        };
        let what = source.map(|v| format!("{v} does not hold")).unwrap_or_else(|| "not".to_string());
        match reqwest::Url::parse(url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
                Ok(Webhook { url: url.trim().to_string(), label })
            }
            // Say what is wrong without echoing the value: it may be a half-pasted secret.
            _ => Err(format!("{what} an http(s) URL")),
        }
    }

    /// How messages name this webhook, e.g. `webhook (BACKOUT_WEBHOOK_URL)`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Posts once; an error is a sentence naming the webhook but never its URL.
    pub async fn post(&self, client: &reqwest::Client, text: &str, n: &Notification) -> Result<(), String> {
        let body = payload(text, n);
        let result = client.post(&self.url).json(&body).send().await;
        let outcome = match result {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => {
                let status = resp.status();
                // Slack explains refusals in the body ("invalid_payload", "no_service"); keep a short piece.
                let detail = resp.text().await.unwrap_or_default();
                let detail: String =
                    detail.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(120).collect();
                if detail.is_empty() {
                    Err(format!("{}: HTTP {}", self.label, status.as_u16()))
                } else {
                    Err(format!("{}: HTTP {} ({detail})", self.label, status.as_u16()))
                }
            }
            Err(e) => Err(format!("{}: {}", self.label, describe_error(&e))),
        };
        outcome.map_err(|msg| self.scrub(&msg))
    }

    /// Removes the URL, and its path (where Slack keeps the token), from a message, in case a
    /// lower layer or the receiver echoed it.
    fn scrub(&self, msg: &str) -> String {
        let mut out = msg.replace(&self.url, "<webhook url>");
        if let Ok(u) = reqwest::Url::parse(&self.url) {
            let path = u.path();
            if path.len() > 1 {
                out = out.replace(path, "/<redacted>");
            }
            if let Some(q) = u.query().filter(|q| !q.is_empty()) {
                out = out.replace(q, "<redacted>");
            }
        }
        out
    }
}

fn describe_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {}s", WEBHOOK_TIMEOUT.as_secs());
    }
    if e.is_connect() {
        return "could not connect".to_string();
    }
    if e.is_redirect() {
        return "too many redirects".to_string();
    }
    // reqwest's own message carries the URL unless it is taken out.
    let mut msg = format!("request failed: {}", SansUrl(e));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Display of a reqwest error with its URL taken out.
struct SansUrl<'a>(&'a reqwest::Error);

impl std::fmt::Display for SansUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.to_string();
        match self.0.url() {
            Some(url) => f.write_str(&text.replace(&format!(" for url ({url})"), "").replace(url.as_str(), "<url>")),
            None => f.write_str(&text),
        }
    }
}

/// Escapes the three characters Slack's message format gives meaning to, so a
/// reason such as `<!channel>` is shown, not acted on (a `>` in "7% > 5%" too).
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The JSON sent: Slack reads `text`; other receivers may use the structured `backout` part.
pub fn payload(text: &str, n: &Notification) -> serde_json::Value {
    json!({
        "text": slack_escape(text),
        "backout": {
            "kind": n.kind.as_str(),
            "environment": n.environment,
            "colour": n.colour,
            "from_version": n.from_version,
            "target_version": n.target_version,
            "reason": n.reason,
            "impact": n.impact,
            "duration_secs": n.duration.map(|d| d.as_secs_f64()),
            "error": n.error,
            "actor": n.actor,
            "drill": n.drill,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_accepted_and_the_value_is_not_echoed() {
        assert!(Webhook::new("webhook", "https://hooks.example/T000/B000/XXXX".into(), Some("HOOK")).is_ok());
        let err = Webhook::new("webhook", "hooks.example/T000/secret".into(), Some("HOOK")).err();
        assert_eq!(err.as_deref(), Some("HOOK does not hold an http(s) URL"));
        assert!(Webhook::new("webhook", "ftp://x/secret".into(), None).is_err());
    }

    #[test]
    fn scrub_removes_the_url_and_its_token_path() {
        let hook = Webhook::new("webhook", "https://hooks.example/services/T0/B0/tok?x=1".into(), None)
            .unwrap_or_else(|e| panic!("{e}"));
        let msg = hook.scrub("failed for https://hooks.example/services/T0/B0/tok?x=1 and /services/T0/B0/tok");
        assert!(!msg.contains("tok"), "{msg}");
        assert!(!msg.contains("hooks.example/services"), "{msg}");
    }
}

#[cfg(test)]
mod escape_tests {
    #[test]
    fn slack_control_sequences_are_shown_not_acted_on() {
        assert_eq!(
            super::slack_escape("<!channel> error 7% > 5% & rising"),
            "&lt;!channel&gt; error 7% &gt; 5% &amp; rising"
        );
    }
}
