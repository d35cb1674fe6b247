//! The playbook HTTP API (`../shared/contracts/playbook-api.md`): the wire types the
//! console and the simulated fleet share, and a client that reads them.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::domain::{DeploymentStatus, Health};

/// Body of `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Overall health.
    pub health: Health,
    /// The colour serving traffic, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The version serving traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One entry of `deploymentHistory`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRecord {
    /// The service's own id for the deployment.
    pub id: String,
    /// Version deployed.
    pub version: String,
    /// Colour it was deployed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// When it was deployed (RFC 3339, UTC).
    pub deployed_at: chrono::DateTime<chrono::Utc>,
    /// Where it ended up.
    pub status: DeploymentStatus,
}

/// One colour in `environments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColourState {
    /// Version on that colour.
    pub version: String,
    /// Health of that colour.
    pub health: Health,
}

/// Body of `GET /deployment/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatusReport {
    /// Colour serving traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_environment: Option<String>,
    /// Version serving traffic.
    pub version: String,
    /// Every colour the service has (one for a service that is not blue/green).
    #[serde(default)]
    pub environments: BTreeMap<String, ColourState>,
    /// Oldest first.
    #[serde(default)]
    pub deployment_history: Vec<DeploymentRecord>,
}

/// Body of `POST /deployment/rollback` and `POST /deployment/deploy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RollbackRequestBody {
    /// Target version; none means "go back to the previous colour or version".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why, as recorded by the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The version the client believes is serving (contract revision 2): a
    /// service that supports it answers 412 and changes nothing when it differs.
    #[serde(default, rename = "expectedVersion", skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<String>,
}

/// A 200 answer to rollback or deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwitchAnswer {
    /// Always true on a 200.
    pub success: bool,
    /// Colour now serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_environment: Option<String>,
    /// Version now serving.
    pub version: String,
    /// Colour that served before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_environment: Option<String>,
    /// Version that served before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
}

/// A non-2xx answer's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, in the server's words.
    pub error: String,
}

/// Why a call to a playbook service did not give a usable answer.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// No answer: connection refused, reset, DNS, TLS.
    Unreachable(String),
    /// No answer within the timeout.
    Timeout(Duration),
    /// An answer with a non-2xx status; `message` is the server's `error` when it sent one.
    Status {
        /// HTTP status code.
        code: u16,
        /// The server's message, or the start of its body.
        message: String,
    },
    /// A 2xx answer whose body is not what the contract says.
    Garbage(String),
    /// The status command (`[environment.status]`) failed or printed what
    /// cannot be read.
    Command(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Unreachable(e) => write!(f, "unreachable: {e}"),
            CallError::Timeout(d) => {
                write!(f, "no answer within {}", humantime::format_duration(*d))
            }
            CallError::Status { code, message } => write!(f, "HTTP {code}: {message}"),
            CallError::Garbage(e) => write!(f, "answer does not follow the playbook API: {e}"),
            CallError::Command(e) => write!(f, "the status command: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

/// An answer made safe to keep and show: every string a service sent is one
/// printable line of bounded length ([`crate::text::service_text`]), so a
/// version cannot clear a screen, forge a table row or fill a database.
pub trait FromService {
    /// The same answer with its strings made safe.
    fn scrubbed(self) -> Self;
}

fn scrub(s: String) -> String {
    crate::text::service_text(&s)
}

fn scrub_opt(s: Option<String>) -> Option<String> {
    s.map(scrub)
}

impl FromService for HealthReport {
    fn scrubbed(self) -> Self {
        HealthReport { health: self.health, environment: scrub_opt(self.environment), version: scrub_opt(self.version) }
    }
}

impl FromService for SwitchAnswer {
    fn scrubbed(self) -> Self {
        SwitchAnswer {
            success: self.success,
            current_environment: scrub_opt(self.current_environment),
            version: scrub(self.version),
            previous_environment: scrub_opt(self.previous_environment),
            previous_version: scrub_opt(self.previous_version),
        }
    }
}

impl FromService for DeploymentStatusReport {
    fn scrubbed(self) -> Self {
        DeploymentStatusReport {
            current_environment: scrub_opt(self.current_environment),
            version: scrub(self.version),
            environments: self
                .environments
                .into_iter()
                .map(|(colour, c)| (scrub(colour), ColourState { version: scrub(c.version), health: c.health }))
                .collect(),
            deployment_history: self
                .deployment_history
                .into_iter()
                .map(|d| DeploymentRecord {
                    id: scrub(d.id),
                    version: scrub(d.version),
                    environment: scrub_opt(d.environment),
                    deployed_at: d.deployed_at,
                    status: d.status,
                })
                .collect(),
        }
    }
}

/// Paths of one service's playbook endpoints, relative to its base URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    /// Base URL, without a trailing slash.
    pub base_url: String,
    /// `/health` by default.
    pub health: String,
    /// `/deployment/status` by default.
    pub status: String,
    /// `/deployment/rollback` by default.
    pub rollback: String,
    /// `/deployment/deploy` by default.
    pub deploy: String,
    /// Most bytes read of one answer ([`crate::net::DEFAULT_MAX_BODY`] by default).
    pub max_body: usize,
    /// Status and health from a deployment tool instead of the playbook API.
    pub status_command: Option<std::sync::Arc<crate::statuscmd::StatusCommand>>,
}

impl Endpoints {
    /// The contract's default paths under `base_url`.
    pub fn new(base_url: &str) -> Self {
        Endpoints {
            base_url: base_url.trim_end_matches('/').to_string(),
            health: "/health".into(),
            status: "/deployment/status".into(),
            rollback: "/deployment/rollback".into(),
            deploy: "/deployment/deploy".into(),
            max_body: crate::net::DEFAULT_MAX_BODY,
            status_command: None,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

/// A client for one playbook service.
#[derive(Debug, Clone)]
pub struct PlaybookClient {
    /// Reads: status, health.
    http: reqwest::Client,
    /// Actions: rollback, deploy (a connection of their own each).
    action: reqwest::Client,
    endpoints: Endpoints,
    timeout: Duration,
}

/// Longest body excerpt kept in an error message.
const EXCERPT: usize = 200;

/// A redirect, refused: where it pointed, from the service's own `Location`
/// header (visible ASCII only, as `to_str` allows, and cut to an excerpt).
pub(crate) fn redirect_not_followed(resp: &reqwest::Response) -> String {
    let to = resp.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("?");
    format!("a redirect to {}, not followed", excerpt(to))
}

/// The start of a body, as one printable line (a service's text is hostile).
fn excerpt(body: &str) -> String {
    crate::text::excerpt(body, EXCERPT)
}

impl PlaybookClient {
    /// A client with a per-request timeout.
    /// Every call, connecting included, is bounded by `timeout`. A redirect
    /// never moves a read or an action to another place.
    pub fn new(endpoints: Endpoints, timeout: Duration) -> Self {
        let http = crate::net::shared_client(crate::net::Use::Read);
        Self::with_http(endpoints, timeout, http)
    }

    /// A client reading through `http`'s connection pool, which must not
    /// follow redirects (the engine's pollers share one: a client of its own
    /// per poller cost each environment a pool and a TLS configuration).
    pub fn with_http(endpoints: Endpoints, timeout: Duration, http: reqwest::Client) -> Self {
        let action = crate::net::shared_client(crate::net::Use::Action);
        PlaybookClient { http, action, endpoints, timeout }
    }

    /// The endpoints this client calls.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// `GET /health`.
    pub async fn health(&self) -> Result<HealthReport, CallError> {
        if let Some(cmd) = &self.endpoints.status_command {
            return cmd.health().await;
        }
        self.call(self.http.get(self.endpoints.url(&self.endpoints.health))).await
    }

    /// `GET /deployment/status`.
    pub async fn status(&self) -> Result<DeploymentStatusReport, CallError> {
        if let Some(cmd) = &self.endpoints.status_command {
            return cmd.status().await;
        }
        self.call(self.http.get(self.endpoints.url(&self.endpoints.status))).await
    }

    /// `POST /deployment/rollback`.
    pub async fn rollback(&self, body: &RollbackRequestBody) -> Result<SwitchAnswer, CallError> {
        let req = self.action.post(self.endpoints.url(&self.endpoints.rollback)).json(body);
        self.call(req).await
    }

    /// `POST /deployment/deploy`.
    pub async fn deploy(&self, version: &str) -> Result<SwitchAnswer, CallError> {
        let body = RollbackRequestBody { version: Some(version.to_string()), reason: None, expected_version: None };
        let req = self.action.post(self.endpoints.url(&self.endpoints.deploy)).json(&body);
        self.call(req).await
    }

    /// Whether the service has a deploy endpoint, asked without deploying
    /// anything: a `GET` there answers 404 when there is none (405, or anything
    /// else, when it exists for `POST`). Bounded by `limit`.
    pub async fn offers_deploy(&self, limit: Duration) -> Result<bool, CallError> {
        let url = self.endpoints.url(&self.endpoints.deploy);
        match tokio::time::timeout(limit, self.http.get(url).send()).await {
            Ok(Ok(resp)) => Ok(resp.status() != reqwest::StatusCode::NOT_FOUND),
            Ok(Err(e)) => Err(classify(&e, limit)),
            Err(_) => Err(CallError::Timeout(limit)),
        }
    }

    async fn call<T: serde::de::DeserializeOwned + FromService>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CallError> {
        let fut = async {
            let resp = req.send().await.map_err(|e| classify(&e, self.timeout))?;
            let code = resp.status();
            if code.is_redirection() {
                let message = format!("{} (fix base_url or the path)", redirect_not_followed(&resp));
                return Err(CallError::Status { code: code.as_u16(), message });
            }
            let body = crate::net::read_body(resp, self.endpoints.max_body).await.map_err(|e| match e {
                crate::net::BodyError::Read(e) => classify(&e, self.timeout),
                too_large => CallError::Garbage(too_large.to_string()),
            })?;
            if !code.is_success() {
                let message = serde_json::from_str::<ErrorBody>(&body)
                    .map(|b| crate::text::service_text(&b.error))
                    .unwrap_or_else(|_| excerpt(&body));
                return Err(CallError::Status { code: code.as_u16(), message });
            }
            serde_json::from_str::<T>(&body)
                .map(FromService::scrubbed)
                .map_err(|e| CallError::Garbage(format!("{e}; body starts {:?}", excerpt(&body))))
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout(self.timeout)),
        }
    }
}

/// What a failed request means: a timeout, or why the service was unreachable (the whole cause chain).
pub(crate) fn classify(e: &reqwest::Error, timeout: Duration) -> CallError {
    if e.is_timeout() {
        return CallError::Timeout(timeout);
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    CallError::Unreachable(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_example_from_the_contract_parses() {
        let body = r#"{
          "currentEnvironment": "blue", "version": "1.4.2",
          "environments": {"blue": {"version": "1.4.2", "health": "healthy"},
                           "green": {"version": "1.4.1", "health": "healthy"}},
          "deploymentHistory": [
            {"id": "d-17", "version": "1.4.1", "environment": "green",
             "deployedAt": "2026-11-20T09:12:00Z", "status": "succeeded"},
            {"id": "d-18", "version": "1.4.2", "environment": "blue",
             "deployedAt": "2026-11-21T08:00:00Z", "status": "rolled_back", "extra": 1}]}"#;
        let s: DeploymentStatusReport = serde_json::from_str(body).unwrap();
        assert_eq!(s.current_environment.as_deref(), Some("blue"));
        assert_eq!(s.deployment_history[1].status, DeploymentStatus::RolledBack);
        assert_eq!(s.environments["green"].version, "1.4.1");
    }

    #[test]
    fn unknown_health_word_is_rejected() {
        assert!(serde_json::from_str::<HealthReport>(r#"{"health":"fine"}"#).is_err());
    }

    #[test]
    fn excerpt_cuts_long_bodies_on_char_boundaries() {
        let long = "é".repeat(300);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT + 1);
    }
}
