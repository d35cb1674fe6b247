//! Where samples come from: the playbook endpoints, any JSON document, a
//! Prometheus server, or a service's own `/metrics` page.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;

use super::exposition::{Series, parse_exposition};
use super::sample::Sample;
use crate::config::{Derivation, EnvironmentConfig, SignalConfig, SignalSource};
use crate::playbook::{DeploymentStatusReport, Health, PlaybookClient};

/// What one poll produced.
#[derive(Debug, Clone)]
pub struct Poll {
    /// The sample (absent when a rate needs a second scrape first).
    pub sample: Option<Sample>,
    /// The service's deployment status, from a `status` source.
    pub status: Option<DeploymentStatusReport>,
    /// The version serving, when the answer said.
    pub version: Option<String>,
}

impl Poll {
    fn sample(s: Sample) -> Self {
        Poll { sample: Some(s), status: None, version: None }
    }
}

/// Counters of the previous exposition scrape.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Counters {
    a: f64,
    b: f64,
}

#[derive(Debug)]
enum Kind {
    Health(PlaybookClient),
    Status(PlaybookClient),
    Json {
        url: String,
        pointer: String,
    },
    Prometheus {
        url: String,
        query: String,
        access: Box<PromAccess>,
    },
    Exposition {
        url: String,
        derive: Derivation,
        metric: String,
        prev: Option<Counters>,
    },
    /// Alerts from the Alertmanager receiver's board (none when no receiver runs).
    Alerts {
        board: Option<super::alerts::AlertBoard>,
        matchers: Vec<super::alerts::Matcher>,
    },
}

/// Recent `/metrics` pages by URL, shared by the signals read from one page so
/// five signals of a service cost one scrape, not five.
#[derive(Debug, Default)]
pub struct ScrapeCache {
    pages: std::sync::Mutex<HashMap<String, CachedPage>>,
}

/// When a page was fetched, and what came back.
type CachedPage = (tokio::time::Instant, Result<String, String>);

impl ScrapeCache {
    /// The page at `url` if it was fetched less than `fresh` ago.
    fn get(&self, url: &str, fresh: Duration) -> Option<Result<String, String>> {
        let pages = self.pages.lock().ok()?;
        pages.get(url).filter(|(at, _)| at.elapsed() < fresh).map(|(_, page)| page.clone())
    }

    fn put(&self, url: &str, page: Result<String, String>) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.insert(url.to_string(), (tokio::time::Instant::now(), page));
        }
    }
}

/// Polls one signal.
#[derive(Debug)]
pub struct SignalPoller {
    kind: Kind,
    http: reqwest::Client,
    timeout: Duration,
    /// Most bytes read of one answer.
    max_body: usize,
    cache: Option<(std::sync::Arc<ScrapeCache>, Duration)>,
}

impl SignalPoller {
    /// A poller for `signal` of `env`, sharing `http`'s connection pool.
    pub fn new(env: &EnvironmentConfig, signal: &SignalConfig, http: reqwest::Client) -> Self {
        Self::new_with_vars(env, signal, http, |name| std::env::var(name).ok())
    }

    /// [`SignalPoller::new`], reading the secrets `[prometheus]` names
    /// through `var` instead of the process environment (tests).
    pub fn new_with_vars(
        env: &EnvironmentConfig,
        signal: &SignalConfig,
        http: reqwest::Client,
        var: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let timeout = env.timeout.get();
        let url = signal.url.as_ref().map(|u| u.get_ref().clone());
        let kind = match signal.source {
            SignalSource::Health => Kind::Health(PlaybookClient::with_http(env.endpoints(), timeout, http.clone())),
            SignalSource::Status => Kind::Status(PlaybookClient::with_http(env.endpoints(), timeout, http.clone())),
            SignalSource::Json => {
                Kind::Json { url: url.unwrap_or_default(), pointer: signal.pointer.clone().unwrap_or_default() }
            }
            SignalSource::Prometheus => Kind::Prometheus {
                url: url.unwrap_or_default(),
                query: signal.query.clone().unwrap_or_default(),
                access: Box::new(PromAccess::resolve(&env.prometheus, var)),
            },
            SignalSource::Alertmanager => Kind::Alerts {
                board: None,
                // `check` refused any matcher that does not parse.
                matchers: signal
                    .matchers
                    .iter()
                    .filter_map(|m| super::alerts::Matcher::parse(m.get_ref()).ok())
                    .collect(),
            },
            SignalSource::Exposition => {
                let derive = signal.derive.unwrap_or(Derivation::Gauge);
                let metric = signal.metric.clone().unwrap_or_else(|| default_metric(derive).to_string());
                let url = url.unwrap_or_else(|| format!("{}/metrics", env.base_url.get_ref().trim_end_matches('/')));
                Kind::Exposition { url, derive, metric, prev: None }
            }
        };
        SignalPoller { kind, http, timeout, max_body: env.max_body(), cache: None }
    }

    /// Reads alerts from `board` (the receiver's), for an `alertmanager` signal.
    pub fn with_alerts(mut self, board: &super::alerts::AlertBoard) -> Self {
        if let Kind::Alerts { board: b, .. } = &mut self.kind {
            *b = Some(board.clone());
        }
        self
    }

    /// Shares scrapes of the same page with other pollers: a page fetched less
    /// than `fresh` ago is reused.
    pub fn with_cache(mut self, cache: std::sync::Arc<ScrapeCache>, fresh: Duration) -> Self {
        self.cache = Some((cache, fresh));
        self
    }

    /// The page this poller scrapes when it shares scrapes with others (an
    /// exposition page), else `None`.
    pub fn page(&self) -> Option<&str> {
        match (&self.kind, &self.cache) {
            (Kind::Exposition { url, .. }, Some(_)) => Some(url),
            _ => None,
        }
    }

    /// A poller of the playbook status endpoint, which every environment has.
    pub fn status(env: &EnvironmentConfig, http: reqwest::Client) -> Self {
        let timeout = env.timeout.get();
        let kind = Kind::Status(PlaybookClient::with_http(env.endpoints(), timeout, http.clone()));
        SignalPoller { kind, http, timeout, max_body: env.max_body(), cache: None }
    }

    /// One poll. Never panics; every failure becomes a failed sample.
    pub async fn poll(&mut self) -> Poll {
        let http = self.http.clone();
        let timeout = self.timeout;
        let cap = self.max_body;
        match &mut self.kind {
            Kind::Health(client) => match client.health().await {
                Ok(h) => {
                    let value = match h.health {
                        Health::Healthy => 1.0,
                        Health::Degraded => 0.5,
                        Health::Unhealthy => 0.0,
                    };
                    let ok = h.health == Health::Healthy;
                    let sample = Sample {
                        at: Utc::now(),
                        value: Some(value),
                        text: Some(h.health.to_string()),
                        ok,
                        error: (!ok).then(|| format!("health is {}", h.health)),
                    };
                    Poll { sample: Some(sample), status: None, version: h.version }
                }
                Err(e) => Poll::sample(Sample::failed(Utc::now(), e.to_string())),
            },
            Kind::Status(client) => match client.status().await {
                Ok(s) => {
                    let sample =
                        Sample { at: Utc::now(), value: None, text: Some(s.version.clone()), ok: true, error: None };
                    let version = Some(s.version.clone());
                    Poll { sample: Some(sample), status: Some(s), version }
                }
                Err(e) => Poll::sample(Sample::failed(Utc::now(), e.to_string())),
            },
            Kind::Json { url, pointer } => Poll::sample(poll_json(&http, url, pointer, timeout, cap).await),
            Kind::Prometheus { url, query, access } => {
                Poll::sample(poll_prometheus(&http, url, query, access, (timeout, cap)).await)
            }
            Kind::Alerts { board, matchers } => Poll::sample(alerts_sample(board.as_ref(), matchers, Utc::now())),
            Kind::Exposition { url, derive, metric, prev } => Poll {
                sample: poll_exposition(&http, url, *derive, metric, prev, (timeout, cap), self.cache.as_ref()).await,
                status: None,
                version: None,
            },
        }
    }
}

/// An `alertmanager` signal's reading: 1 with the firing alerts' names while
/// any matching alert fires, else 0; a failed sample without a receiver.
fn alerts_sample(
    board: Option<&super::alerts::AlertBoard>,
    matchers: &[super::alerts::Matcher],
    at: chrono::DateTime<Utc>,
) -> Sample {
    let Some(board) = board else {
        return Sample::failed(
            at,
            "no Alertmanager receiver runs here: set [alertmanager] listen, or pass watch --listen ADDR",
        );
    };
    let firing = board.firing(matchers, at);
    if firing.is_empty() {
        return Sample { at, value: Some(0.0), text: Some("not firing".into()), ok: true, error: None };
    }
    let mut names: Vec<&str> = firing.iter().map(super::alerts::Alert::name).collect();
    names.dedup();
    let text = crate::text::excerpt(&format!("{} firing", names.join(", ")), 120);
    Sample { at, value: Some(1.0), text: Some(text), ok: true, error: None }
}

/// The metric an exposition derivation reads when the config names none.
pub fn default_metric(derive: Derivation) -> &'static str {
    match derive {
        Derivation::ErrorRate => "http_requests_total",
        Derivation::MeanLatency => "http_request_duration_seconds",
        Derivation::Gauge => "",
    }
}

/// The answer to `req` when it is a 2xx of at most `cap` bytes, else why not.
async fn get_text(req: reqwest::RequestBuilder, timeout: Duration, cap: usize) -> Result<String, String> {
    let fut = async {
        let resp = req.send().await.map_err(|e| format!("unreachable: {e}"))?;
        let code = resp.status();
        if code.is_redirection() {
            return Err(format!(
                "HTTP {}: {} (fix the URL)",
                code.as_u16(),
                crate::playbook::redirect_not_followed(&resp)
            ));
        }
        let body = crate::net::read_body(resp, cap).await.map_err(|e| e.to_string())?;
        if code.is_success() { Ok(body) } else { Err(format!("HTTP {}: {}", code.as_u16(), excerpt(&body))) }
    };
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}", humantime::format_duration(timeout))))
}

/// The start of a service's text, as one printable line.
fn excerpt(s: &str) -> String {
    crate::text::excerpt(s, 120)
}

async fn poll_json(http: &reqwest::Client, url: &str, pointer: &str, timeout: Duration, cap: usize) -> Sample {
    match get_text(http.get(url), timeout, cap).await {
        Ok(body) => json_sample(&body, pointer, Utc::now()),
        Err(e) => Sample::failed(Utc::now(), e),
    }
}

/// The sample a JSON document gives at `pointer`: a finite number, or a text
/// reading (a version). A number that is not finite, written as a number or as
/// a string (`"NaN"`, `"inf"`, `"1e999"`), is a failed sample: no rule can
/// compare it, and an `ok` sample without a value would look like a recovery.
pub fn json_sample(body: &str, pointer: &str, at: chrono::DateTime<Utc>) -> Sample {
    let doc: serde_json::Value = match serde_json::from_str(body) {
        Ok(d) => d,
        Err(e) => return Sample::failed(at, format!("answer is not JSON: {e}")),
    };
    match doc.pointer(pointer) {
        Some(serde_json::Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() => Sample::value(at, v),
            _ => Sample::failed(at, format!("{pointer} is not a finite number")),
        },
        Some(serde_json::Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Sample::value(at, v),
            Ok(_) => Sample::failed(at, format!("{pointer} holds {s:?}, not a finite number")),
            Err(_) => Sample { at, value: None, text: Some(crate::text::service_text(s)), ok: true, error: None },
        },
        Some(other) => {
            Sample::failed(at, format!("{pointer} holds {}, not a number or string", excerpt(&other.to_string())))
        }
        None => Sample::failed(at, format!("no value at {pointer}")),
    }
}

/// How a poller reaches its Prometheus server, resolved once from
/// `[prometheus]`: the secrets read from their environment variables, and a
/// client trusting the configured CA. A secret is never shown: Debug hides it.
pub struct PromAccess {
    /// `Authorization` to send.
    auth: PromAuth,
    /// `X-Scope-OrgID` to send.
    tenant: Option<String>,
    /// A client trusting `ca_file`, when one is set.
    client: Option<reqwest::Client>,
    /// Why no query can be sent (a variable unset, a CA file unreadable):
    /// every poll is a failed sample saying so.
    problem: Option<String>,
}

enum PromAuth {
    None,
    Bearer(String),
    Basic(String, String),
}

impl std::fmt::Debug for PromAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match self.auth {
            PromAuth::None => "none",
            PromAuth::Bearer(_) => "bearer <redacted>",
            PromAuth::Basic(..) => "basic <redacted>",
        };
        f.debug_struct("PromAccess")
            .field("auth", &auth)
            .field("tenant", &self.tenant)
            .field("custom_ca", &self.client.is_some())
            .field("problem", &self.problem)
            .finish()
    }
}

impl PromAccess {
    /// From `[prometheus]`, reading variables through `var`.
    pub fn resolve(cfg: &crate::config::PrometheusConfig, var: impl Fn(&str) -> Option<String>) -> PromAccess {
        let mut problem = None;
        let mut secret = |name: &Option<toml::Spanned<String>>| -> Option<String> {
            let name = name.as_ref()?.get_ref();
            match var(name).filter(|v| !v.is_empty()) {
                Some(v) => Some(v),
                None => {
                    problem.get_or_insert_with(|| {
                        format!("{name} is not set; [prometheus] needs it to query the server (nothing was sent)")
                    });
                    None
                }
            }
        };
        let auth = match (secret(&cfg.bearer_token_env), secret(&cfg.username_env), secret(&cfg.password_env)) {
            (Some(token), _, _) => PromAuth::Bearer(token),
            (None, Some(user), Some(password)) => PromAuth::Basic(user, password),
            _ => PromAuth::None,
        };
        let client = cfg.ca_path().and_then(|path| {
            let built =
                std::fs::read(&path).map_err(|e| format!("cannot read ca_file {}: {e}", path.display())).and_then(
                    |pem| crate::net::client_trusting(&pem).map_err(|e| format!("ca_file {}: {e}", path.display())),
                );
            built.map_err(|e| problem.get_or_insert(e).clone()).ok()
        });
        PromAccess { auth, tenant: cfg.tenant.as_ref().map(|t| t.get_ref().clone()), client, problem }
    }

    /// `req` with the auth and tenant headers.
    fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let req = match &self.auth {
            PromAuth::None => req,
            PromAuth::Bearer(token) => req.bearer_auth(token),
            PromAuth::Basic(user, password) => req.basic_auth(user, Some(password)),
        };
        match &self.tenant {
            Some(t) => req.header("X-Scope-OrgID", t),
            None => req,
        }
    }
}

async fn poll_prometheus(
    http: &reqwest::Client,
    url: &str,
    query: &str,
    access: &PromAccess,
    (timeout, cap): (Duration, usize),
) -> Sample {
    if let Some(problem) = &access.problem {
        return Sample::failed(Utc::now(), problem.clone());
    }
    let endpoint = format!("{}/api/v1/query", url.trim_end_matches('/'));
    let url = match reqwest::Url::parse_with_params(&endpoint, &[("query", query)]) {
        Ok(u) => u,
        Err(e) => return Sample::failed(Utc::now(), format!("bad Prometheus URL {endpoint:?}: {e}")),
    };
    let req = access.apply(access.client.as_ref().unwrap_or(http).get(url));
    let fut = async {
        let resp = req.send().await.map_err(|e| format!("unreachable: {e}"))?;
        if resp.status().is_redirection() {
            return Err(format!("{} (fix the Prometheus URL)", crate::playbook::redirect_not_followed(&resp)));
        }
        // A refused login is said as such, not as an answer that is not JSON.
        if matches!(resp.status().as_u16(), 401 | 403) {
            return Err(format!(
                "HTTP {}: the server refused backout's credentials (check [prometheus] auth and tenant)",
                resp.status().as_u16()
            ));
        }
        crate::net::read_body(resp, cap).await.map_err(|e| e.to_string())
    };
    let body = match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Sample::failed(Utc::now(), e),
        Err(_) => {
            return Sample::failed(Utc::now(), format!("no answer within {}", humantime::format_duration(timeout)));
        }
    };
    let at = Utc::now();
    match prometheus_reading(&body) {
        Ok(Some(v)) => Sample::value(at, v),
        // The query matched nothing: shown as no data, neither a zero nor a failure.
        Ok(None) => Sample::no_data(at),
        Err(e) => Sample::failed(at, e),
    }
}

/// The one number an instant query answered, `None` when it matched no series
/// (no data), or why there is none. Several series, NaN and error answers are
/// failures, never a zero.
pub fn prometheus_reading(body: &str) -> Result<Option<f64>, String> {
    match prometheus_value(body) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e == NO_SERIES => Ok(None),
        Err(e) => Err(e),
    }
}

/// What [`prometheus_value`] says of an answer that matched no series.
const NO_SERIES: &str = "no data: the query matched no series";

/// The one number an instant query answered, or why there is none. Several
/// series, no data, NaN and error answers are failures, never a zero.
pub fn prometheus_value(body: &str) -> Result<f64, String> {
    let doc: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("Prometheus answer is not JSON: {e}: {}", excerpt(body)))?;
    if doc["status"] != "success" {
        return Err(format!(
            "Prometheus error ({}): {}",
            excerpt(doc["errorType"].as_str().unwrap_or("unknown")),
            excerpt(doc["error"].as_str().unwrap_or("no message"))
        ));
    }
    let data = &doc["data"];
    let pair = match data["resultType"].as_str() {
        Some("scalar") => &data["result"],
        Some("vector") => {
            let result = data["result"].as_array().ok_or("vector answer without a result list")?;
            match result.len() {
                0 => return Err(NO_SERIES.into()),
                1 => &result[0]["value"],
                n => {
                    return Err(format!(
                        "{n} series answered; the query must return one (aggregate it with sum or max)"
                    ));
                }
            }
        }
        other => {
            return Err(format!(
                "unsupported result type {other:?}; use an instant query returning a scalar or one series"
            ));
        }
    };
    let text = pair[1].as_str().ok_or("answer without a value")?;
    let v: f64 = text.parse().map_err(|_| format!("value {text:?} is not a number"))?;
    if v.is_nan() {
        Err("the query answered NaN (no traffic, or a division by zero)".into())
    } else if v.is_infinite() {
        // `+Inf`, or a number too large for a float (`1e999`): no rule can compare it.
        Err(format!("the query answered {text}, not a finite number (a division by zero, or an overflow)"))
    } else {
        Ok(v)
    }
}

async fn poll_exposition(
    http: &reqwest::Client,
    url: &str,
    derive: Derivation,
    metric: &str,
    prev: &mut Option<Counters>,
    (timeout, cap): (Duration, usize),
    cache: Option<&(std::sync::Arc<ScrapeCache>, Duration)>,
) -> Option<Sample> {
    let page = match cache.and_then(|(c, fresh)| c.get(url, *fresh)) {
        Some(page) => page,
        None => {
            let page = get_text(http.get(url), timeout, cap).await;
            if let Some((c, _)) = cache {
                c.put(url, page.clone());
            }
            page
        }
    };
    let body = match page {
        Ok(b) => b,
        Err(e) => return Some(Sample::failed(Utc::now(), e)),
    };
    derive_sample(&parse_exposition(&body), derive, metric, prev, Utc::now())
}

/// The sample one scrape gives: a gauge's value, or a rate between this scrape's
/// counters and `prev`'s (none on the first scrape or after a restart). A value
/// that is not finite (NaN, `+Inf`, an overflowing sum or ratio) is a failed
/// sample and forgets `prev`, so the next rate is taken between good scrapes.
fn derive_sample(
    series: &[Series],
    derive: Derivation,
    metric: &str,
    prev: &mut Option<Counters>,
    at: chrono::DateTime<Utc>,
) -> Option<Sample> {
    let sum_of = |name: &str, pick: &dyn Fn(&HashMap<String, String>) -> bool| -> Option<f64> {
        let mut found = false;
        let total = series
            .iter()
            .filter(|(n, l, _)| n == name && pick(l))
            .map(|(_, _, v)| {
                found = true;
                *v
            })
            .sum::<f64>();
        found.then_some(total)
    };
    let not_finite = |what: &str| format!("{what} on the metrics page is not a finite number (NaN or infinite)");
    let counters = match derive {
        Derivation::Gauge => {
            return Some(match sum_of(metric, &|_| true) {
                Some(v) if v.is_finite() => Sample::value(at, v),
                Some(_) => Sample::failed(at, not_finite(&format!("gauge {metric}"))),
                None => Sample::failed(at, format!("no gauge {metric} on the metrics page")),
            });
        }
        Derivation::ErrorRate => {
            let total = sum_of(metric, &|_| true);
            let errors = sum_of(metric, &|l| l.get("code").is_some_and(|c| c.starts_with('5'))).or(total.map(|_| 0.0));
            total.zip(errors).map(|(t, e)| Counters { a: e, b: t })
        }
        Derivation::MeanLatency => {
            let sum = sum_of(&format!("{metric}_sum"), &|_| true);
            let count = sum_of(&format!("{metric}_count"), &|_| true);
            sum.zip(count).map(|(s, c)| Counters { a: s, b: c })
        }
    };
    let Some(now) = counters else {
        *prev = None;
        return Some(Sample::failed(at, format!("no {metric} series on the metrics page")));
    };
    if !(now.a.is_finite() && now.b.is_finite()) {
        *prev = None;
        return Some(Sample::failed(at, not_finite(&format!("counter {metric}"))));
    }
    let before = prev.replace(now)?;
    let (da, db) = (now.a - before.a, now.b - before.b);
    if da < 0.0 || db < 0.0 {
        // A counter went backwards: the service restarted. Start again.
        return None;
    }
    if db == 0.0 {
        return Some(Sample::failed(at, "no requests between two scrapes".to_string()));
    }
    let rate = da / db;
    if !rate.is_finite() {
        *prev = None;
        return Some(Sample::failed(at, format!("the rate of {metric} between two scrapes is not a finite number")));
    }
    Some(Sample::value(at, rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_answers_become_values_or_clear_failures() {
        let one =
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.0,"0.07"]}]}}"#;
        assert_eq!(prometheus_value(one), Ok(0.07));
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1.0,"3"]}}"#;
        assert_eq!(prometheus_value(scalar), Ok(3.0));
        let none = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(prometheus_value(none).unwrap_err().starts_with("no data"));
        // As a reading: no data, not a failure; the other failures stay failures.
        assert_eq!(prometheus_reading(none), Ok(None));
        assert_eq!(prometheus_reading(one), Ok(Some(0.07)));
        let two =
            r#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}"#;
        assert!(prometheus_value(two).unwrap_err().starts_with("2 series"));
        let nan = r#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"NaN"]}]}}"#;
        assert!(prometheus_value(nan).unwrap_err().contains("NaN"));
        let err = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert_eq!(prometheus_value(err).unwrap_err(), "Prometheus error (bad_data): parse error");
        assert!(prometheus_value("<html>").is_err());
    }

    fn at() -> chrono::DateTime<Utc> {
        Utc::now()
    }

    #[test]
    fn item9_non_finite_prometheus_values_are_failures() {
        for v in ["+Inf", "-Inf", "1e999", "Inf", "NaN"] {
            let body =
                format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"value":[1,"{v}"]}}]}}}}"#);
            let e = prometheus_value(&body).unwrap_err();
            assert!(e.contains("NaN") || e.contains("not a finite number"), "{v}: {e}");
        }
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1.0,"+Inf"]}}"#;
        assert!(prometheus_value(scalar).is_err());
    }

    #[test]
    fn item9_a_nan_counter_is_a_failed_sample_not_an_ok_one() {
        let page = |ok: &str, bad: &str| {
            format!("http_requests_total{{code=\"200\"}} {ok}\nhttp_requests_total{{code=\"500\"}} {bad}\n")
        };
        let mut prev = None;
        let first = derive_sample(
            &parse_exposition(&page("100", "1")),
            Derivation::ErrorRate,
            "http_requests_total",
            &mut prev,
            at(),
        );
        assert!(first.is_none(), "a rate needs two scrapes");
        for bad in ["NaN", "+Inf", "1e999"] {
            let s = derive_sample(
                &parse_exposition(&page("200", bad)),
                Derivation::ErrorRate,
                "http_requests_total",
                &mut prev,
                at(),
            )
            .expect("a sample");
            assert!(!s.ok && s.value.is_none(), "{bad}: {s:?}");
            assert!(s.error.as_deref().unwrap_or("").contains("not a finite number"), "{s:?}");
            assert_eq!(prev, None, "the broken scrape is forgotten");
        }
        // A ratio that overflows between finite counters fails too.
        let mut prev = Some(Counters { a: -1e308, b: 0.0 });
        let s = derive_sample(
            &parse_exposition(&page("1e-308", "1e308")),
            Derivation::ErrorRate,
            "http_requests_total",
            &mut prev,
            at(),
        );
        assert!(s.is_some_and(|s| !s.ok), "an infinite ratio is a failed sample");
        // A gauge that is NaN or infinite fails with its own words.
        for bad in ["NaN", "+Inf", "-Inf"] {
            let s =
                derive_sample(&parse_exposition(&format!("cpu {bad}\n")), Derivation::Gauge, "cpu", &mut None, at())
                    .unwrap();
            assert!(!s.ok && s.error.as_deref().unwrap_or("").contains("gauge cpu"), "{s:?}");
        }
        let s = derive_sample(&parse_exposition("cpu 0.5\n"), Derivation::Gauge, "cpu", &mut None, at()).unwrap();
        assert_eq!(s.value, Some(0.5));
    }

    #[test]
    fn item9_non_finite_json_values_are_failed_samples() {
        for body in [r#"{"q":"NaN"}"#, r#"{"q":"inf"}"#, r#"{"q":"-Infinity"}"#, r#"{"q":"1e999"}"#] {
            let s = json_sample(body, "/q", at());
            assert!(!s.ok && s.value.is_none(), "{body}: {s:?}");
        }
        assert!(!json_sample(r#"{"q":1e999}"#, "/q", at()).ok, "serde refuses an overflowing number");
        assert_eq!(json_sample(r#"{"q":"0.25"}"#, "/q", at()).value, Some(0.25));
        let text = json_sample(r#"{"q":"1.4.2"}"#, "/q", at());
        assert!(text.ok && text.text.as_deref() == Some("1.4.2"), "a version stays a text reading");
    }
}
