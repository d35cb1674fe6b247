//! Checklist `probe` items against a real HTTP server on loopback: GET, HEAD and
//! POST, the expected status, redirects never followed, and the time bound.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use backout::config::Config;
use backout::incident::{self, ItemState, OpenRequest};
use backout::store::Store;

/// Every request the server saw: method, path, body.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

async fn record(State(seen): State<Seen>, method: Method, uri: Uri, body: Bytes) -> impl IntoResponse {
    let path = uri.path().to_string();
    seen.lock().unwrap().push((method.to_string(), path.clone(), String::from_utf8_lossy(&body).into_owned()));
    let mut headers = HeaderMap::new();
    match path.as_str() {
        "/api/health" => (StatusCode::OK, headers, r#"{"status": "ok"}"#.to_string()),
        "/widget.iife.js" => {
            headers.insert(header::CONTENT_TYPE, "text/javascript".parse().unwrap());
            (StatusCode::OK, headers, "(function(){})();".repeat(100))
        }
        "/moved" => {
            headers.insert(header::LOCATION, "/redirect-target".parse().unwrap());
            (StatusCode::TEMPORARY_REDIRECT, headers, String::new())
        }
        "/redirect-target" => (StatusCode::OK, headers, "you should not be here".into()),
        "/api/ai/query" => (StatusCode::OK, headers, r#"{"response": "hello"}"#.into()),
        "/api/echo" => (StatusCode::CREATED, headers, String::from_utf8_lossy(&body).into_owned()),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            (StatusCode::OK, headers, String::new())
        }
        _ => (StatusCode::NOT_FOUND, headers, "no such page".into()),
    }
}

/// The server, on its own runtime: a probe blocks on the runtime it is given,
/// as the CLI and the engine do.
struct Server {
    rt: tokio::runtime::Runtime,
    base: String,
    seen: Seen,
}

fn start() -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let seen: Seen = Arc::default();
    let app = Router::new().route("/{*path}", any(record)).route("/", get(|| async { "" })).with_state(seen.clone());
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, app).await });
    Server { rt, base, seen }
}

/// Runs one round of the checklist `items` (TOML) against the server.
fn round(server: &Server, items: &str) -> Vec<ItemState> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backout.toml");
    let text = format!(
        "[[environment]]\nname = \"web\"\nkind = \"standard\"\nbase_url = \"{}\"\ntimeout = \"500ms\"\n{items}",
        server.base
    );
    std::fs::write(&path, &text).unwrap();
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let env = config.environment("web").unwrap();
    let mut store = Store::open(&dir.path().join("backout.db")).unwrap();
    let req = OpenRequest {
        title: "probe test".into(),
        severity: None,
        drill: false,
        by: "tester".into(),
        impact: None,
        runbook: None,
        detected: None,
    };
    let incident = incident::open(&mut store, &config.severities, Some(env), &req).unwrap();
    incident::evaluate_checklist(server.rt.handle(), &mut store, incident.id, env).unwrap().items
}

fn item(title: &str, keys: &str) -> String {
    format!("[[environment.checklist]]\ntitle = \"{title}\"\ncheck = \"probe\"\n{keys}\n")
}

fn passing(i: &ItemState) -> bool {
    i.passing_since.is_some()
}

fn detail(i: &ItemState) -> &str {
    i.detail.as_deref().unwrap_or("")
}

fn seen(server: &Server) -> Vec<(String, String, String)> {
    server.seen.lock().unwrap().clone()
}

#[test]
fn get_probes_pass_on_200_and_fail_on_404() {
    let server = start();
    let items = round(
        &server,
        &[
            item("API health", "method = \"GET\"\npath = \"/api/health\""),
            item("Widget is served", "method = \"GET\"\npath = \"/widget.iife.js\""),
            item("Gone", "method = \"GET\"\npath = \"/nope\""),
        ]
        .concat(),
    );
    assert!(passing(&items[0]), "{:?}", items[0]);
    assert!(detail(&items[0]).starts_with("GET /api/health -> 200 in "), "{}", detail(&items[0]));
    assert!(passing(&items[1]), "{:?}", items[1]);
    assert!(!passing(&items[2]), "{:?}", items[2]);
    assert!(detail(&items[2]).contains("-> 404") && detail(&items[2]).ends_with("(needs to be 200)"), "{:?}", items[2]);
    let methods: Vec<(String, String)> = seen(&server).into_iter().map(|(m, p, _)| (m, p)).collect();
    assert!(methods.contains(&("GET".into(), "/api/health".into())), "{methods:?}");
    assert!(methods.contains(&("GET".into(), "/nope".into())), "{methods:?}");
}

#[test]
fn a_redirect_fails_the_probe_and_is_never_followed() {
    let server = start();
    let items = round(&server, &item("Moved", "method = \"GET\"\npath = \"/moved\""));
    assert!(!passing(&items[0]), "{:?}", items[0]);
    let d = detail(&items[0]);
    assert!(d.contains("307") && d.contains("a redirect to /redirect-target, not followed"), "{d}");
    let paths: Vec<String> = seen(&server).into_iter().map(|(_, p, _)| p).collect();
    assert!(paths.contains(&"/moved".to_string()), "{paths:?}");
    assert!(!paths.contains(&"/redirect-target".to_string()), "the redirect was followed: {paths:?}");
}

#[test]
fn head_probe_asks_for_headers_only() {
    let server = start();
    let items = round(&server, &item("Widget headers", "method = \"HEAD\"\npath = \"/widget.iife.js\""));
    assert!(passing(&items[0]), "{:?}", items[0]);
    assert!(detail(&items[0]).starts_with("HEAD /widget.iife.js -> 200"), "{}", detail(&items[0]));
    assert!(seen(&server).iter().any(|(m, p, _)| m == "HEAD" && p == "/widget.iife.js"), "{:?}", seen(&server));
}

#[test]
fn post_sends_its_body_and_expects_its_status() {
    let server = start();
    let items = round(
        &server,
        &[
            item("Echo", "method = \"POST\"\npath = \"/api/echo\"\nbody = '{\"ping\": 1}'\nstatus = 201"),
            item("Echo expecting 200", "method = \"POST\"\npath = \"/api/echo\"\nbody = '{\"ping\": 2}'"),
            item("Core query", "path = \"/api/ai/query\""),
        ]
        .concat(),
    );
    assert!(passing(&items[0]), "{:?}", items[0]);
    assert!(!passing(&items[1]), "201 is not the default 200: {:?}", items[1]);
    assert!(detail(&items[1]).ends_with("(needs to be 200)"), "{}", detail(&items[1]));
    assert!(passing(&items[2]), "a probe without method is a POST of the test query: {:?}", items[2]);
    let seen = seen(&server);
    assert!(seen.contains(&("POST".into(), "/api/echo".into(), "{\"ping\": 1}".into())), "{seen:?}");
    let query = seen.iter().find(|(_, p, _)| p == "/api/ai/query").unwrap();
    assert_eq!(query.0, "POST");
    assert_eq!(query.2, backout::incident::checklist::PROBE_BODY);
}

#[test]
fn a_probe_is_bounded_by_the_environment_timeout() {
    let server = start();
    let started = Instant::now();
    let items = round(&server, &item("Slow", "method = \"GET\"\npath = \"/slow\""));
    assert!(!passing(&items[0]), "{:?}", items[0]);
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    assert!(detail(&items[0]).ends_with("/slow: no answer within 500ms"), "{}", detail(&items[0]));
}
