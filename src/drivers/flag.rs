//! The flag driver: seed 002's flag-first rollback. The flag is turned off in an
//! env file or at a flag service, an optional restart argv runs, and then health
//! must come back healthy.

use std::path::PathBuf;
use std::time::Duration;

use super::argv::{self, Placeholders};
use super::{DriverFailure, DriverReport, DriverRequest, Phase, envfile};
use crate::config::EnvironmentConfig;
use crate::domain::{FlagChange, FlagState};
use crate::playbook::PlaybookClient;

/// Longest body excerpt of a flag service's refusal kept in the message.
const BODY_EXCERPT: usize = 300;

/// Where the flag lives.
#[derive(Debug, Clone)]
enum FlagStore {
    /// A dotenv-style file, rewritten in place.
    EnvFile(PathBuf),
    /// A flag service, sent `PUT {"key", "enabled": false, "reason"}`.
    Url(String),
    /// Neither was configured (config validation refuses this).
    Missing,
}

/// Rolls back by turning a feature flag off.
#[derive(Debug, Clone)]
pub struct FlagDriver {
    key: Option<String>,
    store: FlagStore,
    restart: Option<Vec<String>>,
    http: reqwest::Client,
    client: PlaybookClient,
    request_timeout: Duration,
    verify_timeout: Duration,
}

impl FlagDriver {
    /// The flag driver of an environment. A relative `env_file` is relative to
    /// the working directory, as `backout` was started.
    pub fn new(env: &EnvironmentConfig) -> Self {
        let d = &env.driver;
        let store = match (&d.env_file, &d.flag_url) {
            (Some(file), _) => FlagStore::EnvFile(PathBuf::from(file)),
            (None, Some(url)) => FlagStore::Url(url.get_ref().clone()),
            (None, None) => FlagStore::Missing,
        };
        let timeout = env.timeout.get();
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        FlagDriver {
            key: d.flag.clone(),
            store,
            restart: d.restart.clone(),
            http,
            client: PlaybookClient::new(env.endpoints(), timeout),
            request_timeout: timeout,
            verify_timeout: d.verify_timeout.get(),
        }
    }

    /// The env file can be rewritten, or the flag service answers at all.
    pub async fn check_reachable(&self) -> Result<(), String> {
        self.key()?;
        match &self.store {
            FlagStore::EnvFile(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || envfile::check_writable(&path))
                    .await
                    .map_err(|e| format!("checking the env file: {e}"))?
            }
            // Any status counts: the question is only whether something is there.
            FlagStore::Url(url) => match tokio::time::timeout(self.request_timeout, self.http.head(url).send()).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("flag service {url}: {e}")),
                Err(_) => Err(format!(
                    "flag service {url}: no answer within {}",
                    humantime::format_duration(self.request_timeout)
                )),
            },
            FlagStore::Missing => Err(missing_store()),
        }
    }

    /// Longest a rollback through this driver can take: the flag change, the
    /// restart and the verification.
    pub fn lease(&self) -> Duration {
        super::lease_for(crate::config::DriverKind::Flag, self.request_timeout, self.verify_timeout)
    }

    /// Turns the flag off (or, restoring a kept state, puts it back as it was),
    /// runs the restart, and waits for health to be healthy.
    /// The version is not checked: turning a flag off leaves the deployed
    /// version as it was, so the planned target would never become current.
    pub async fn roll_back(
        &self,
        req: &DriverRequest,
        on_phase: &mut dyn FnMut(Phase),
    ) -> Result<DriverReport, DriverFailure> {
        let key = self.key().map_err(failed)?;
        // The restart argv is substituted first so a refused value changes nothing.
        let restart = match &self.restart {
            Some(template) if !template.is_empty() => {
                Some(argv::substitute(template, &Placeholders::for_request(req))?)
            }
            _ => None,
        };
        on_phase(Phase::Requested);
        let (mut answer, flag) = match (&req.restore, &self.store) {
            (Some(state), _) => self.restore(key, state, &req.reason).await?,
            (None, FlagStore::EnvFile(path)) => self.write_env_file(path, key).await?,
            (None, FlagStore::Url(url)) => {
                let answer = self.put_flag(url, key, false, &req.reason).await?;
                let location = format!("flag service {url}");
                (answer, FlagChange { key: key.to_string(), before: None, after: "false".into(), location })
            }
            (None, FlagStore::Missing) => return Err(failed(missing_store())),
        };
        if let Some(restart) = restart {
            let output = argv::run_to_success(&restart, self.verify_timeout).await.map_err(|f| DriverFailure {
                message: format!("{answer}, but the restart failed: {}", f.message),
                ambiguous: f.ambiguous,
                stale_plan: false,
                refused: false,
            })?;
            answer = format!("{answer}; restart {}", output.summary());
        }
        on_phase(Phase::Switching);
        on_phase(Phase::VerifyingHealth);
        let verified =
            super::verify(&self.client, None, self.verify_timeout).await.map_err(|message| DriverFailure {
                message: format!("{answer}, but {message}"),
                ambiguous: false,
                stale_plan: false,
                refused: false,
            })?;
        Ok(DriverReport { answer, verified, flag: Some(flag) })
    }

    /// Where the flag lives, as states and records name it: `env file PATH`
    /// or `flag service URL`.
    pub fn location(&self) -> String {
        match &self.store {
            FlagStore::EnvFile(path) => format!("env file {}", path.display()),
            FlagStore::Url(url) => format!("flag service {url}"),
            FlagStore::Missing => "nowhere configured".to_string(),
        }
    }

    /// The flag as it is now, kept before a rollback changes it: for an env
    /// file the flag's own lines, byte for byte, and its value; for a
    /// flag service the value its `GET` reports (`{"enabled": true}`), if it
    /// does. Also what could not be kept, if anything.
    pub async fn capture(&self) -> (Option<FlagState>, Option<String>) {
        let Ok(key) = self.key() else { return (None, Some("no flag is configured".to_string())) };
        let mut state = FlagState { key: key.to_string(), location: self.location(), value: None, env_file: None };
        let note = match &self.store {
            FlagStore::EnvFile(path) => {
                let read_path = path.clone();
                match tokio::task::spawn_blocking(move || std::fs::read(read_path)).await {
                    Ok(Ok(bytes)) => {
                        let text = String::from_utf8_lossy(&bytes);
                        state.value = envfile::value_of(&text, key);
                        // Only the flag's own lines: the rest of the file may
                        // hold secrets, and putting it back would undo later edits.
                        let lines = envfile::key_lines(&text, key).into_bytes();
                        let too_long = lines.len() > crate::store::MAX_ENV_FILE;
                        if !too_long {
                            state.env_file = Some(lines);
                        }
                        too_long.then(|| {
                            format!(
                                "the flag's lines in env file {} are longer than {} bytes, so they were not kept",
                                path.display(),
                                crate::store::MAX_ENV_FILE
                            )
                        })
                    }
                    Ok(Err(e)) => Some(format!("env file {} could not be read: {e}", path.display())),
                    Err(e) => Some(format!("reading env file {} stopped: {e}", path.display())),
                }
            }
            FlagStore::Url(url) => match self.get_flag(url).await {
                Ok(enabled) => {
                    state.value = Some(enabled.to_string());
                    None
                }
                Err(e) => Some(format!("the flag's value at flag service {url} is not known: {e}")),
            },
            FlagStore::Missing => Some(missing_store()),
        };
        (Some(state), note)
    }

    /// Puts a kept state back: the flag's lines in the env file byte for byte
    /// (the rest of the file as it is now), or the
    /// flag service's value. What was done, and the change as recorded.
    async fn restore(&self, key: &str, state: &FlagState, reason: &str) -> Result<(String, FlagChange), DriverFailure> {
        let location = self.location();
        if state.key != key || state.location != location {
            return Err(refused(format!(
                "the kept state is of {} in {}, but this environment's flag is {key} in {location}",
                state.key, state.location
            )));
        }
        match (&self.store, &state.env_file, state.value.as_deref()) {
            (FlagStore::EnvFile(path), Some(content), _) => {
                let (path, content, key_owned) = (path.clone(), content.clone(), key.to_string());
                let shown = path.display().to_string();
                let written = tokio::task::spawn_blocking(move || {
                    let now = std::fs::read_to_string(&path)?;
                    let kept = String::from_utf8_lossy(&content);
                    let before = envfile::value_of(&now, &key_owned);
                    let after = envfile::value_of(&kept, &key_owned);
                    let restored = envfile::put_key_lines(&now, &key_owned, &kept);
                    if restored != now {
                        envfile::replace_atomically(&path, restored.as_bytes())?;
                    }
                    Ok::<_, std::io::Error>((before, after))
                })
                .await;
                match written {
                    Ok(Ok((before, after))) => {
                        let after = after.unwrap_or_else(|| "unset".to_string());
                        let answer = format!("restored {key}'s line in {shown} as kept: {key}={after}");
                        Ok((answer, FlagChange { key: key.to_string(), before, after, location }))
                    }
                    Ok(Err(e)) => Err(failed(format!("cannot restore {shown}: {e}"))),
                    Err(e) => Err(DriverFailure {
                        message: format!("restoring {shown} stopped unexpectedly ({e}); check the file"),
                        ambiguous: true,
                        stale_plan: false,
                        refused: false,
                    }),
                }
            }
            (FlagStore::Url(url), _, Some(value @ ("true" | "false"))) => {
                let enabled = value == "true";
                let answer = self.put_flag(url, key, enabled, reason).await?;
                Ok((answer, FlagChange { key: key.to_string(), before: None, after: value.to_string(), location }))
            }
            _ => Err(refused(format!("the kept state of {key} holds nothing to put back in {location}"))),
        }
    }

    /// What a rollback through this driver changes: `flag KEY off in env file PATH`.
    pub fn describe_change(&self) -> String {
        let key = self.key.as_deref().unwrap_or("(no flag configured)");
        match &self.store {
            FlagStore::EnvFile(path) => format!("flag {key} off in env file {}", path.display()),
            FlagStore::Url(url) => format!("flag {key} off at flag service {url}"),
            FlagStore::Missing => format!("flag {key} off (nowhere configured)"),
        }
    }

    fn key(&self) -> Result<&str, String> {
        self.key.as_deref().ok_or_else(|| "driver type \"flag\" has no `flag` key configured".to_string())
    }

    /// Sets the flag false in the env file: what was done, and the change as
    /// recorded (with the value the file held before).
    async fn write_env_file(&self, path: &std::path::Path, key: &str) -> Result<(String, FlagChange), DriverFailure> {
        let (path, key_owned) = (path.to_path_buf(), key.to_string());
        let shown = path.display().to_string();
        let result = tokio::task::spawn_blocking(move || {
            let text = std::fs::read_to_string(&path)?;
            let before = envfile::value_of(&text, &key_owned);
            let new_text = envfile::set_false(&text, &key_owned);
            if new_text != text {
                envfile::replace_atomically(&path, new_text.as_bytes())?;
            }
            Ok::<_, std::io::Error>((new_text != text, before))
        })
        .await;
        let change = |before: Option<String>| FlagChange {
            key: key.to_string(),
            before,
            after: "false".into(),
            location: format!("env file {shown}"),
        };
        match result {
            Ok(Ok((true, before))) => Ok((format!("set {key}=false in {shown}"), change(before))),
            Ok(Ok((false, before))) => Ok((format!("{key} was already false in {shown}"), change(before))),
            Ok(Err(e)) => Err(failed(format!("cannot set {key}=false in {shown}: {e}"))),
            Err(e) => Err(DriverFailure {
                message: format!("rewriting {shown} stopped unexpectedly ({e}); check whether {key} is false"),
                ambiguous: true,
                stale_plan: false,
                refused: false,
            }),
        }
    }

    /// The flag service's `GET` of the flag: `{"enabled": true}` (2xx, JSON).
    async fn get_flag(&self, url: &str) -> Result<bool, String> {
        let call = async {
            let resp = self.http.get(url).send().await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let text = crate::net::read_body(resp, 16 * 1024).await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("GET answered HTTP {status}"));
            }
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("enabled").and_then(serde_json::Value::as_bool))
                .ok_or_else(|| "GET did not answer {\"enabled\": true|false}".to_string())
        };
        tokio::time::timeout(self.request_timeout, call)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {}", humantime::format_duration(self.request_timeout))))
    }

    /// `PUT`, not `POST`: the body states the flag's whole desired state, so
    /// sending it twice is harmless, which is what PUT means.
    async fn put_flag(&self, url: &str, key: &str, enabled: bool, reason: &str) -> Result<String, DriverFailure> {
        let word = if enabled { "on" } else { "off" };
        let body = serde_json::json!({ "key": key, "enabled": enabled, "reason": reason });
        let call = async {
            let resp = self.http.put(url).json(&body).send().await?;
            let status = resp.status();
            // Only an excerpt is shown; the rest need not be read.
            let text = crate::net::read_body(resp, 16 * 1024).await.unwrap_or_else(|e| e.to_string());
            Ok::<_, reqwest::Error>((status, text))
        };
        match tokio::time::timeout(self.request_timeout, call).await {
            Ok(Ok((status, _))) if status.is_success() => Ok(format!("flag service set {key} {word} (HTTP {status})")),
            Ok(Ok((status, text))) => {
                Err(failed(format!("flag service refused to turn {key} {word}: HTTP {status}: {}", excerpt(&text))))
            }
            Ok(Err(e)) if e.is_connect() => Err(failed(format!("flag service {url} unreachable: {e}"))),
            Ok(Err(e)) => Err(DriverFailure {
                message: format!("flag service {url}: {e}; {key} may or may not be {word}, check it"),
                ambiguous: true,
                stale_plan: false,
                refused: false,
            }),
            Err(_) => Err(DriverFailure {
                message: format!(
                    "flag service {url}: no answer within {}; {key} may or may not be {word}, check it",
                    humantime::format_duration(self.request_timeout)
                ),
                ambiguous: true,
                stale_plan: false,
                refused: false,
            }),
        }
    }
}

fn failed(message: String) -> DriverFailure {
    DriverFailure { message, ambiguous: false, stale_plan: false, refused: false }
}

/// Nothing ran: a refusal, not a failed rollback.
fn refused(message: String) -> DriverFailure {
    DriverFailure { message, ambiguous: false, stale_plan: false, refused: true }
}

fn missing_store() -> String {
    "driver type \"flag\" needs `env_file` or `flag_url`".to_string()
}

fn excerpt(body: &str) -> String {
    if body.trim().is_empty() { "(empty body)".to_string() } else { crate::text::excerpt(body, BODY_EXCERPT) }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::http::StatusCode;
    use axum::routing::get;

    use super::*;
    use crate::config::Config;

    /// A real HTTP server standing in for a flag service and the playbook's
    /// `/health`: it records every PUT body and refuses the key `LOCKED`.
    async fn flag_service() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let app = axum::Router::new()
            .route("/health", get(|| async { Json(serde_json::json!({"health": "healthy", "version": "1.4.3"})) }))
            .route(
                "/flags",
                get(|| async { Json(serde_json::json!({"key": "NEW_CHECKOUT_ENABLED", "enabled": true})) }).put(
                    move |Json(body): Json<serde_json::Value>| async move {
                        let locked = body["key"] == "LOCKED";
                        recorded.lock().unwrap().push(body);
                        if locked {
                            (StatusCode::FORBIDDEN, "flag is locked by policy")
                        } else {
                            (StatusCode::OK, "ok")
                        }
                    },
                ),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    fn driver(base: &str, key: &str) -> FlagDriver {
        let text = format!(
            "[[environment]]\nname = \"checkout\"\nkind = \"feature-flag\"\nbase_url = \"{base}\"\n\
             [environment.driver]\ntype = \"flag\"\nflag = \"{key}\"\nflag_url = \"{base}/flags\"\n\
             verify_timeout = \"2s\"\n"
        );
        let config = Config::from_toml(&text, std::path::Path::new("t.toml")).unwrap();
        FlagDriver::new(&config.environments[0])
    }

    fn request() -> DriverRequest {
        DriverRequest {
            environment: "checkout".into(),
            target_version: Some("1.4.2".into()),
            request_version: Some("1.4.2".into()),
            previous_version: Some("1.4.3".into()),
            reason: "checkout errors".into(),
            restore: None,
            target_revision: None,
        }
    }

    #[tokio::test]
    async fn the_flag_service_is_sent_a_put_and_health_is_verified_without_the_version() {
        let (base, seen) = flag_service().await;
        let d = driver(&base, "NEW_CHECKOUT_ENABLED");
        assert_eq!(d.check_reachable().await, Ok(()));
        let mut phases = Vec::new();
        let report = d.roll_back(&request(), &mut |p| phases.push(p)).await.unwrap();
        assert_eq!(phases, [Phase::Requested, Phase::Switching, Phase::VerifyingHealth]);
        assert!(report.answer.contains("set NEW_CHECKOUT_ENABLED off"), "{}", report.answer);
        assert!(report.verified.starts_with("healthy (serving 1.4.3)"), "{}", report.verified);
        assert_eq!(
            *seen.lock().unwrap(),
            [serde_json::json!({"key": "NEW_CHECKOUT_ENABLED", "enabled": false, "reason": "checkout errors"})]
        );
    }

    #[tokio::test]
    async fn a_flag_service_state_is_kept_from_its_get_and_put_back_with_a_put() {
        let (base, seen) = flag_service().await;
        let d = driver(&base, "NEW_CHECKOUT_ENABLED");
        let (state, note) = d.capture().await;
        let state = state.unwrap();
        assert_eq!(note, None);
        assert_eq!(state.value.as_deref(), Some("true"));
        assert_eq!(state.location, format!("flag service {base}/flags"));
        let req = DriverRequest { restore: Some(state.clone()), ..request() };
        let report = d.roll_back(&req, &mut |_| {}).await.unwrap();
        assert!(report.answer.contains("set NEW_CHECKOUT_ENABLED on"), "{}", report.answer);
        assert_eq!(report.flag.unwrap().after, "true");
        assert_eq!(seen.lock().unwrap()[0]["enabled"], true);

        // A state of another flag is refused before anything is sent.
        let other = FlagState { key: "OTHER".into(), ..state };
        let e = d.roll_back(&DriverRequest { restore: Some(other), ..request() }, &mut |_| {}).await.unwrap_err();
        assert!(e.refused, "{}", e.message);
        assert_eq!(seen.lock().unwrap().len(), 1);
        // A service that cannot say the value: kept without one, and said why.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (state, note) = driver(&format!("http://127.0.0.1:{port}"), "F").capture().await;
        assert_eq!(state.unwrap().value, None);
        assert!(note.unwrap().contains("is not known"));
    }

    #[tokio::test]
    async fn a_refusing_flag_service_fails_with_its_status_and_words() {
        let (base, _) = flag_service().await;
        let e = driver(&base, "LOCKED").roll_back(&request(), &mut |_| {}).await.unwrap_err();
        assert!(!e.ambiguous);
        assert!(e.message.contains("403") && e.message.contains("flag is locked by policy"), "{}", e.message);
    }

    #[tokio::test]
    async fn an_unreachable_flag_service_is_reported() {
        // Bound and dropped at once: nothing listens on the port afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = driver(&format!("http://127.0.0.1:{port}"), "F");
        assert!(d.check_reachable().await.unwrap_err().contains("flag service"));
        let e = d.roll_back(&request(), &mut |_| {}).await.unwrap_err();
        assert!(!e.ambiguous, "a refused connection changed nothing");
        assert!(e.message.contains("unreachable"), "{}", e.message);
    }
}
