//! Slack-compatible incoming webhooks. The URL is a secret: it never reaches an error, a log or Debug.

use std::time::Duration;

use serde_json::json;

use super::{Notification, NotificationKind};

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
                let detail = crate::net::read_body(resp, 16 * 1024).await.unwrap_or_default();
                let detail: String =
                    detail.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(120).collect();
                let detail = crate::text::printable_line(&detail).into_owned();
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

    /// Removes every piece of the URL that could be the secret from a message,
    /// in case a lower layer or the receiver echoed it: the URL, its path, each
    /// path segment, each query value and a password, each raw, percent-encoded
    /// (either case) and JSON-escaped.
    fn scrub(&self, msg: &str) -> String {
        redact(msg, &secret_pieces(&self.url))
    }
}

/// The pieces of a webhook URL that may carry its secret, in every spelling a
/// receiver might echo them, longest first (so a whole URL is replaced before
/// its parts).
fn secret_pieces(url: &str) -> Vec<String> {
    let mut raw = vec![url.to_string()];
    if let Ok(u) = reqwest::Url::parse(url) {
        raw.push(u.as_str().to_string());
        if u.path().len() > 1 {
            raw.push(u.path().to_string());
        }
        // Short segments (`/T0/`) are too common to redact alone; Slack's are 9+.
        raw.extend(u.path_segments().into_iter().flatten().filter(|seg| seg.len() >= 6).map(str::to_string));
        if let Some(q) = u.query().filter(|q| !q.is_empty()) {
            raw.push(q.to_string());
            raw.extend(
                q.split('&')
                    .filter_map(|kv| kv.split_once('=').map(|(_, v)| v))
                    .filter(|v| v.len() >= 4)
                    .map(str::to_string),
            );
        }
        if let Some(p) = u.password() {
            raw.push(p.to_string());
        }
    }
    let mut pieces: Vec<String> = Vec::new();
    for r in &raw {
        let decoded = percent_decode(r);
        for spelling in [
            r.clone(),
            percent_encode(r, false),
            percent_encode(r, true),
            r.replace('/', "\\/"),
            percent_encode(&decoded, false),
            decoded.clone(),
        ] {
            if !spelling.is_empty() && !pieces.contains(&spelling) {
                pieces.push(spelling);
            }
        }
    }
    pieces.sort_by_key(|p| std::cmp::Reverse(p.len()));
    pieces
}

fn redact(msg: &str, pieces: &[String]) -> String {
    // Matched without regard to case (a receiver may upper- or lower-case an
    // escape), on the message as it came, so a mark is never matched again.
    let lower = msg.to_ascii_lowercase();
    let mut secret = vec![false; msg.len()];
    for p in pieces {
        let want = p.to_ascii_lowercase();
        for (at, _) in lower.match_indices(&want) {
            secret[at..at + want.len()].iter_mut().for_each(|b| *b = true);
        }
    }
    let mut out = String::with_capacity(msg.len());
    for (i, c) in msg.char_indices() {
        match (secret[i], i > 0 && secret[i - 1]) {
            (true, true) => {}
            (true, false) => out.push_str("<redacted>"),
            (false, _) => out.push(c),
        }
    }
    out
}

/// Every byte but the unreserved ones as `%XX`.
fn percent_encode(s: &str, lower: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ if lower => format!("%{b:02x}"),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// The colour bar of a notification's attachment, by outcome: Slack's
/// "good" green, "danger" red, "warning" amber; a request waiting, blue.
pub fn outcome_colour(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::RollbackCompleted | NotificationKind::Validated => "#2eb886",
        NotificationKind::RollbackFailed | NotificationKind::Escalation | NotificationKind::ObjectiveMissed => {
            "#a30200"
        }
        NotificationKind::RollbackStarted | NotificationKind::Alert => "#daa038",
        NotificationKind::ApprovalRequested => "#439fe0",
    }
}

/// At most `max` characters of `text`, cut with `…`: Slack refuses a whole
/// message when one block's text is too long.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Slack's Block Kit form of a notification: the headline as a `header`
/// block, and the template's lines as `section` fields (at most 10 a section)
/// in an attachment whose colour bar says the outcome; anything `text` adds
/// after the template (the grouped repeats) as a `context` block.
fn blocks(text: &str, n: &Notification) -> (serde_json::Value, serde_json::Value) {
    let header = json!([{
        "type": "header",
        "text": { "type": "plain_text", "text": clip(&super::render::title(n), 150), "emoji": true }
    }]);
    let fields: Vec<serde_json::Value> = super::render::fields(n)
        .iter()
        .map(|(label, value)| {
            json!({ "type": "mrkdwn", "text": clip(&format!("*{}:*\n{}", slack_escape(label), slack_escape(value)), 2000) })
        })
        .collect();
    let mut body: Vec<serde_json::Value> =
        fields.chunks(10).map(|chunk| json!({ "type": "section", "fields": chunk })).collect();
    let added = text.strip_prefix(super::render_text(n).as_str()).map(str::trim).unwrap_or_default();
    if !added.is_empty() {
        body.push(
            json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": clip(&slack_escape(added), 2000) }] }),
        );
    }
    (header, json!([{ "color": outcome_colour(n.kind), "blocks": body }]))
}

/// The JSON sent: Slack shows the Block Kit `blocks` and `attachments` and
/// uses `text` as the fallback (notifications, clients without blocks); other
/// receivers may use the structured `backout` part.
pub fn payload(text: &str, n: &Notification) -> serde_json::Value {
    let (header, attachments) = blocks(text, n);
    json!({
        "text": slack_escape(text),
        "blocks": header,
        "attachments": attachments,
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
            "detail": n.detail.iter().map(|(k, v)| json!({ "label": k, "value": v })).collect::<Vec<_>>(),
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

    #[test]
    fn item12_a_secret_echoed_json_escaped_or_percent_encoded_is_redacted() {
        let url = "https://hooks.example/services/T0AB12CD/B0EF34GH/s3cr3tT0ken?token=abc%2Fdef&v=1";
        let hook = Webhook::new("webhook", url.into(), None).unwrap_or_else(|e| panic!("{e}"));
        for echoed in [
            "invalid_token: s3cr3tT0ken",
            r#"{"error":"bad url https:\/\/hooks.example\/services\/T0AB12CD\/B0EF34GH\/s3cr3tT0ken"}"#,
            "no such hook %2Fservices%2FT0AB12CD%2FB0EF34GH%2Fs3cr3tT0ken",
            "no such hook %2fservices%2ft0ab12cd%2fb0ef34gh%2fs3cr3tt0ken",
            "https%3A%2F%2Fhooks.example%2Fservices%2FT0AB12CD",
            "token abc/def refused",
            "token abc%2Fdef refused",
            "token abc%2fdef refused",
        ] {
            let msg = hook.scrub(echoed);
            for secret in ["s3cr3tT0ken", "s3cr3tt0ken", "T0AB12CD", "t0ab12cd", "abc/def", "abc%2", "B0EF34GH"] {
                assert!(!msg.contains(secret), "{echoed:?} became {msg:?}");
            }
            assert!(msg.contains("<redacted>"), "{msg}");
        }
        assert_eq!(hook.scrub("HTTP 500 (server busy)"), "HTTP 500 (server busy)");
        let odd =
            Webhook::new("webhook", "https://h.example/redacted/x".into(), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            odd.scrub("at /redacted/x: redacted"),
            "at <redacted>: <redacted>",
            "ends, even for a token like the mark"
        );
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
