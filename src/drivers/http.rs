//! The playbook API driver: `POST /deployment/rollback`, then poll status and
//! health until the target is current and healthy.

use std::time::Duration;

use super::{DriverFailure, DriverReport, DriverRequest, Phase};
use crate::playbook::{CallError, Endpoints, PlaybookClient, RollbackRequestBody};

/// Rolls back through a service's playbook API.
#[derive(Debug, Clone)]
pub struct HttpDriver {
    client: PlaybookClient,
    request_timeout: Duration,
    verify_timeout: Duration,
}

impl HttpDriver {
    /// A driver for one service.
    pub fn new(endpoints: Endpoints, request_timeout: Duration, verify_timeout: Duration) -> Self {
        HttpDriver { client: PlaybookClient::new(endpoints, request_timeout), request_timeout, verify_timeout }
    }

    /// The deployment status endpoint answers.
    pub async fn check_reachable(&self) -> Result<(), String> {
        self.client.status().await.map(|_| ()).map_err(|e| format!("{} {e}", self.client.endpoints().base_url))
    }

    /// Longest a rollback through this driver can take.
    pub fn lease(&self) -> Duration {
        super::lease_for(crate::config::DriverKind::Http, self.request_timeout, self.verify_timeout)
    }

    /// Sends the rollback and verifies it. A 2xx answer is not the end: the
    /// rollback is complete only when status shows the target and health is healthy.
    pub async fn roll_back(
        &self,
        req: &DriverRequest,
        on_phase: &mut dyn FnMut(Phase),
    ) -> Result<DriverReport, DriverFailure> {
        on_phase(Phase::Requested);
        // The plan's view of what serves: the service refuses (412) when it
        // changed since, so a stale plan can never switch traffic back.
        let body = RollbackRequestBody {
            version: req.request_version.clone(),
            reason: Some(req.reason.clone()),
            expected_version: req.previous_version.clone(),
        };
        // Never retried: a rollback request is not idempotent, and after a timeout
        // we cannot know whether it took effect.
        let answer = self.client.rollback(&body).await.map_err(|e| DriverFailure {
            ambiguous: matches!(e, CallError::Timeout(_) | CallError::Garbage(_)),
            message: match &e {
                CallError::Status { code: 412, message } => {
                    format!("the service no longer serves the planned version (HTTP 412: {message}); nothing changed")
                }
                CallError::Status { code, message } => format!("service refused the rollback: HTTP {code}: {message}"),
                CallError::Timeout(_) => {
                    format!("{e} to the rollback request; the service may or may not have acted, check its status")
                }
                other => format!("rollback request failed: {other}"),
            },
            stale_plan: matches!(e, CallError::Status { code: 412, .. }),
            refused: false,
        })?;
        let answer_text = format!(
            "service answered: now {} on {}",
            answer.version,
            answer.current_environment.as_deref().unwrap_or("-")
        );
        on_phase(Phase::Switching);
        on_phase(Phase::VerifyingHealth);
        let target = req.target_version.clone().unwrap_or_else(|| answer.version.clone());
        let verified = super::verify(&self.client, Some(&target), self.verify_timeout)
            .await
            .map_err(|message| DriverFailure { message, ambiguous: false, stale_plan: false, refused: false })?;
        Ok(DriverReport { answer: answer_text, verified, flag: None })
    }
}

/// Most bytes of an answer kept by [`request`]; the rest is cut and the cut said.
const ANSWER_CAP: usize = 16 * 1024;

/// What a server answered to [`send`].
#[derive(Debug, Clone)]
pub struct Answer {
    /// `METHOD url -> status`, for a log line.
    pub line: String,
    /// The status code (never a 3xx: those are errors).
    pub status: u16,
    /// At most [`ANSWER_CAP`] bytes of the answer, as text, the cut said.
    pub text: String,
}

/// One HTTP request on the operator's behalf (a runbook step's action, a
/// checklist probe): bounded by `timeout` from connecting to the last byte read,
/// never follows a redirect (a 3xx is an `Err` naming its `Location`), and reads
/// at most [`ANSWER_CAP`] bytes of the answer. Any other status is an [`Answer`]
/// for the caller to judge; a `body` is sent as JSON.
pub async fn send(method: &str, url: &str, body: Option<String>, timeout: Duration) -> Result<Answer, String> {
    let Ok(method) = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
        return Err(format!("{method:?} is not an HTTP method"));
    };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let mut req = client.request(method.clone(), url);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let why = |e: reqwest::Error| crate::playbook::classify(&e, timeout);
    let mut resp = req.send().await.map_err(|e| format!("{method} {url}: {}", why(e)))?;
    let status = resp.status();
    let mut kept: Vec<u8> = Vec::new();
    let mut cut = 0usize;
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("{method} {url}: reading the answer: {}", why(e)))? {
        let room = ANSWER_CAP.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        cut += chunk.len().saturating_sub(room);
        if cut > 0 {
            break;
        }
    }
    let mut text = crate::text::printable_text(&String::from_utf8_lossy(&kept)).into_owned();
    if cut > 0 {
        text.push_str(&format!("\n[answer cut at {ANSWER_CAP} bytes]"));
    }
    let line = format!("{method} {url} -> {status}");
    if status.is_redirection() {
        return Err(format!("{line}: {} (fix the URL)", crate::playbook::redirect_not_followed(&resp)));
    }
    Ok(Answer { line, status: status.as_u16(), text })
}

/// A runbook step's HTTP action, sent by [`send`]. `Ok` is a 2xx, with a one-line summary and the answer's text;
/// `Err` says what went wrong.
pub async fn request(method: &str, url: &str, body: Option<String>, timeout: Duration) -> Result<String, String> {
    let answer = send(method, url, body, timeout).await?;
    let out = format!("{}\n{}", answer.line, answer.text);
    if (200..300).contains(&answer.status) { Ok(out) } else { Err(out) }
}
