//! The fleet's HTTP surface: every service under `/svc/{name}`, the first one also
//! at the root, and JSON 404s for everything else.
//!
//! `GET /sim/requests` (per service) is a test helper, not part of the playbook
//! contract: it answers `{"rollbackRequests": N, "deployRequests": N}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::state::{Refusal, Service};
use super::{Fleet, Scenario};
use crate::playbook::{ErrorBody, RollbackRequestBody};

/// Content type of `/metrics`, as the Prometheus text format 0.0.4 names it.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4";

/// The whole fleet's router.
pub(crate) fn router(fleet: &Fleet) -> Router {
    let mut app = Router::new();
    for svc in &fleet.services {
        app = app.nest(&format!("/svc/{}", svc.name()), service_router(Arc::clone(svc)));
    }
    if let Some(first) = fleet.services.first() {
        app = app.merge(service_router(Arc::clone(first)));
    }
    let names: Arc<Vec<String>> = Arc::new(fleet.services.iter().map(|s| s.name().to_string()).collect());
    app.fallback(move |method: Method, uri: Uri| not_found(names, method, uri))
}

fn service_router(svc: Arc<Service>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/deployment/status", get(status))
        .route("/deployment/rollback", post(rollback))
        .route("/deployment/deploy", post(deploy))
        .route("/metrics", get(metrics))
        .route("/api/ai/query", post(ai_query))
        .route("/sim/requests", get(requests))
        .with_state(svc)
}

async fn not_found(names: Arc<Vec<String>>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if let Some(rest) = path.strip_prefix("/svc/") {
        let name = rest.split('/').next().unwrap_or_default();
        if !names.iter().any(|n| n == name) {
            return error(StatusCode::NOT_FOUND, format!("unknown service {name:?}; known: {}", names.join(", ")));
        }
    }
    error(StatusCode::NOT_FOUND, format!("no route for {method} {path}"))
}

fn json<T: Serialize>(code: StatusCode, body: &T) -> Response {
    (code, axum::Json(body)).into_response()
}

fn error(code: StatusCode, message: String) -> Response {
    json(code, &ErrorBody { error: message })
}

fn refused(r: &Refusal) -> Response {
    let code = match r {
        Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
        Refusal::UnknownVersion(_) => StatusCode::NOT_FOUND,
        Refusal::NothingToRollBack => StatusCode::CONFLICT,
        Refusal::RollbackFailed => StatusCode::INTERNAL_SERVER_ERROR,
        Refusal::NotServing { .. } => StatusCode::PRECONDITION_FAILED,
    };
    error(code, r.message())
}

/// A 200 that a client cannot parse, as a misbehaving proxy or service would send.
fn garbage(content_type: &'static str, body: &'static str) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

const GARBAGE_HTML: &str = "<html><body><h1>502</h1>upstream error</body></html>\n";

/// The Slow scenario's delay, taken before the answer is worked out so the
/// answer reflects the state at the moment it is sent.
async fn delay(svc: &Service) {
    if let Some(d) = svc.answer_delay() {
        tokio::time::sleep(d).await;
    }
}

fn parse_body(body: &Bytes) -> Result<RollbackRequestBody, Refusal> {
    // The contract makes the body optional, so nothing at all means "defaults".
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(RollbackRequestBody::default());
    }
    serde_json::from_slice(body).map_err(|e| Refusal::BadRequest(format!("body is not a valid request: {e}")))
}

async fn health(State(svc): State<Arc<Service>>) -> Response {
    delay(&svc).await;
    if svc.scenario() == Scenario::Garbage {
        return garbage("application/json", "{\"health\": \"heal");
    }
    json(StatusCode::OK, &svc.health_report())
}

async fn status(State(svc): State<Arc<Service>>) -> Response {
    delay(&svc).await;
    if svc.scenario() == Scenario::Garbage {
        return garbage("text/html", GARBAGE_HTML);
    }
    json(StatusCode::OK, &svc.status_report())
}

async fn rollback(State(svc): State<Arc<Service>>, body: Bytes) -> Response {
    svc.count_rollback();
    delay(&svc).await;
    if svc.scenario() == Scenario::Garbage {
        return garbage("application/json", "{\"success\": tru");
    }
    match parse_body(&body).and_then(|b| svc.rollback(b)) {
        Ok(answer) => json(StatusCode::OK, &answer),
        Err(r) => refused(&r),
    }
}

async fn deploy(State(svc): State<Arc<Service>>, body: Bytes) -> Response {
    svc.count_deploy();
    delay(&svc).await;
    if svc.scenario() == Scenario::Garbage {
        return garbage("application/json", "{\"success\": tru");
    }
    match parse_body(&body).and_then(|b| svc.deploy(b)) {
        Ok(answer) => json(StatusCode::OK, &answer),
        Err(r) => refused(&r),
    }
}

async fn metrics(State(svc): State<Arc<Service>>) -> Response {
    delay(&svc).await;
    if svc.scenario() == Scenario::Garbage {
        return garbage("text/html", GARBAGE_HTML);
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, PROMETHEUS_TEXT)], svc.metrics_text()).into_response()
}

/// Body of a working `POST /api/ai/query`.
#[derive(Serialize)]
struct QueryAnswer {
    response: String,
}

async fn ai_query(State(svc): State<Arc<Service>>) -> Response {
    delay(&svc).await;
    if svc.scenario() == Scenario::Garbage {
        return garbage("text/html", GARBAGE_HTML);
    }
    let health = svc.health();
    if health == crate::playbook::Health::Healthy {
        json(StatusCode::OK, &QueryAnswer { response: format!("{} answered the test message", svc.name()) })
    } else {
        error(StatusCode::INTERNAL_SERVER_ERROR, format!("model backend failed: service is {health}"))
    }
}

/// Body of `GET /sim/requests`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestCountsBody {
    rollback_requests: usize,
    deploy_requests: usize,
}

async fn requests(State(svc): State<Arc<Service>>) -> Response {
    // Not delayed nor garbled: tests read it to see what the console did.
    let c = svc.counts();
    json(
        StatusCode::OK,
        &RequestCountsBody { rollback_requests: c.rollback_requests, deploy_requests: c.deploy_requests },
    )
}
