//! Issue 12, item 3: `[prometheus]` auth, tenant and CA against real servers:
//! a real Prometheus (Debian's `prometheus`, which `./test.sh` installs)
//! serving HTTPS with a certificate from a test CA and basic auth, scraping
//! the simulated fleet; and a loopback server standing in for a
//! multi-tenant gateway (Mimir/Cortex) that checks the bearer token and
//! `X-Scope-OrgID`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backout::config::Config;
use backout::engine::{Sample, SignalPoller};
use backout::sim::{Scenario, ServiceKind, ServiceSpec, SimOptions, Timings};
use common::certificates;

mod common;

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Prometheus on HTTPS with basic auth `backout:PASSWORD`, scraping `target`.
fn start_prometheus(dir: &Path, target: &str, metrics_path: &str, password: &str) -> (Prometheus, String) {
    let bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Prometheus is not installed: run ./test.sh, which installs it");
    let (_, cert, key) = certificates_in(dir);
    let hash = bcrypt::hash(password, 4).unwrap();
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  backout: '{hash}'\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sim\n    metrics_path: {metrics_path}\n    \
             static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.config.file={}", web.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Prometheus(child), format!("https://127.0.0.1:{port}"))
}

/// Writes the CA, certificate and key into `dir` once: (ca, cert, key) paths.
fn certificates_in(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let paths = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"));
    if !paths.0.exists() {
        let (ca, cert, key) = certificates();
        std::fs::write(&paths.0, ca).unwrap();
        std::fs::write(&paths.1, cert).unwrap();
        std::fs::write(&paths.2, key).unwrap();
    }
    paths
}

/// A config in `dir` with `[prometheus]` set to `access` and one signal.
fn config(dir: &Path, access: &str, prom: &str, query: &str) -> Config {
    let text = format!(
        "[prometheus]\n{access}\n\n[[environment]]\nname = \"checkout\"\nkind = \"blue-green\"\n\
         base_url = \"http://127.0.0.1:1\"\ntimeout = \"3s\"\n\
         [[environment.signal]]\nname = \"q\"\nsource = \"prometheus\"\nurl = \"{prom}\"\nquery = {query:?}\n"
    );
    let path = dir.join("backout.toml");
    std::fs::write(&path, &text).unwrap();
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn poller(config: &Config, vars: &[(&'static str, &'static str)]) -> SignalPoller {
    let env = &config.environments[0];
    let vars = vars.to_vec();
    SignalPoller::new_with_vars(env, &env.signals[0], reqwest::Client::new(), move |name| {
        vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    })
}

async fn poll(p: &mut SignalPoller) -> Sample {
    p.poll().await.sample.unwrap()
}

/// Polls (bounded) until a sample with a value comes back.
async fn until_value(p: &mut SignalPoller) -> Sample {
    let start = Instant::now();
    loop {
        let s = poll(p).await;
        if s.value.is_some() || start.elapsed() > Duration::from_secs(30) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

const LOGIN: &str = "username_env = \"PROM_USER\"\npassword_env = \"PROM_PASSWORD\"\nca_file = \"ca.pem\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_a_private_ca_reach_a_real_prometheus_over_https() {
    let sim = backout::sim::spawn(SimOptions {
        services: vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::Steady)],
        timings: Timings::default(),
        seed: Some(7),
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_prom, url) = start_prometheus(dir.path(), &sim.addr().to_string(), "/svc/checkout/metrics", "pr0m-pw");
    let good = [("PROM_USER", "backout"), ("PROM_PASSWORD", "pr0m-pw")];

    let cfg = config(dir.path(), LOGIN, &url, "sum(content_quality_score)");
    let mut quality = poller(&cfg, &good);
    let s = until_value(&mut quality).await;
    assert!(s.ok, "{s:?}");
    let v = s.value.unwrap();
    assert!(v > 0.5 && v <= 1.0, "a steady service's quality score: {v}");

    // A query that matches no series is "no data", neither a zero nor a failure;
    // `or vector(0)` makes it a zero.
    let cfg = config(dir.path(), LOGIN, &url, "sum(rate(no_such_metric_total[1m]))");
    let s = poll(&mut poller(&cfg, &good)).await;
    assert!(s.ok && s.value.is_none() && s.text.as_deref() == Some("no data"), "{s:?}");
    let cfg = config(dir.path(), LOGIN, &url, "sum(rate(no_such_metric_total[1m])) or vector(0)");
    let s = poll(&mut poller(&cfg, &good)).await;
    assert_eq!((s.ok, s.value), (true, Some(0.0)), "{s:?}");

    // A wrong password is said as a refused login.
    let cfg = config(dir.path(), LOGIN, &url, "sum(content_quality_score)");
    let s = poll(&mut poller(&cfg, &[("PROM_USER", "backout"), ("PROM_PASSWORD", "wrong")])).await;
    assert!(!s.ok && s.error.as_deref().unwrap().contains("HTTP 401"), "{s:?}");
    assert!(s.error.as_deref().unwrap().contains("refused backout's credentials"), "{s:?}");
    // A variable that is not set sends nothing and says which.
    let s = poll(&mut poller(&cfg, &[("PROM_USER", "backout")])).await;
    assert!(!s.ok && s.error.as_deref().unwrap().starts_with("PROM_PASSWORD is not set"), "{s:?}");
    // Without the CA the server's certificate is not trusted.
    let no_ca = "username_env = \"PROM_USER\"\npassword_env = \"PROM_PASSWORD\"";
    let cfg = config(dir.path(), no_ca, &url, "sum(content_quality_score)");
    let s = poll(&mut poller(&cfg, &good)).await;
    assert!(!s.ok && s.error.as_deref().unwrap().starts_with("unreachable"), "{s:?}");
    // The password never shows in what a poller prints of itself.
    let shown = format!("{:?}", poller(&config(dir.path(), LOGIN, &url, "up"), &good));
    assert!(!shown.contains("pr0m-pw") && shown.contains("basic <redacted>"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_and_the_tenant_header_reach_a_multi_tenant_gateway() {
    use axum::http::{HeaderMap, StatusCode};
    // Answers only team-payments with the right token, as a Mimir gateway would.
    async fn query(headers: HeaderMap) -> (StatusCode, String) {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        let tenant = headers.get("x-scope-orgid").and_then(|v| v.to_str().ok()).unwrap_or("");
        match (auth, tenant) {
            ("Bearer t0ken", "team-payments") => (
                StatusCode::OK,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.02"]}]}}"#
                    .into(),
            ),
            ("Bearer t0ken", _) => {
                (StatusCode::OK, r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.into())
            }
            _ => (StatusCode::UNAUTHORIZED, "no org id".into()),
        }
    }
    let app = axum::Router::new().route("/api/v1/query", axum::routing::get(query));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();

    let access = "bearer_token_env = \"MIMIR_TOKEN\"\ntenant = \"team-payments\"";
    let cfg = config(dir.path(), access, &url, "sum(rate(errors[1m]))");
    let s = poll(&mut poller(&cfg, &[("MIMIR_TOKEN", "t0ken")])).await;
    assert_eq!((s.ok, s.value), (true, Some(0.02)), "{s:?}");
    // Another tenant's data is not this one's: no series, shown as no data.
    let cfg = config(dir.path(), "bearer_token_env = \"MIMIR_TOKEN\"\ntenant = \"team-search\"", &url, "x");
    let s = poll(&mut poller(&cfg, &[("MIMIR_TOKEN", "t0ken")])).await;
    assert_eq!(s.text.as_deref(), Some("no data"), "{s:?}");
    let s = poll(&mut poller(&config(dir.path(), access, &url, "x"), &[("MIMIR_TOKEN", "other")])).await;
    assert!(!s.ok && s.error.as_deref().unwrap().contains("HTTP 401"), "{s:?}");
    let shown = format!("{:?}", poller(&cfg, &[("MIMIR_TOKEN", "t0ken")]));
    assert!(!shown.contains("t0ken"), "{shown}");
    server.abort();
}

#[test]
fn check_refuses_mixed_auth_half_a_login_a_bad_tenant_and_a_ca_file_that_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a certificate").unwrap();
    let env = "\n[[environment]]\nname = \"c\"\nkind = \"standard\"\nbase_url = \"http://127.0.0.1:1\"\n";
    let errors = |prom: &str| {
        let path = dir.path().join("b.toml");
        std::fs::write(&path, format!("[prometheus]\n{prom}\n{env}")).unwrap();
        Config::load(&path).map(|_| ()).unwrap_err().to_string()
    };
    let e = errors("bearer_token_env = \"T\"\nusername_env = \"U\"\npassword_env = \"P\"");
    assert!(e.contains("b.toml:2:20") && e.contains("both a bearer token and basic auth"), "{e}");
    let e = errors("username_env = \"U\"");
    assert!(e.contains("needs both username_env and password_env"), "{e}");
    let e = errors("tenant = \"team a\"");
    assert!(e.contains("cannot be sent as an X-Scope-OrgID header"), "{e}");
    let e = errors("ca_file = \"missing.pem\"");
    assert!(e.contains("cannot read ca_file") && e.contains("missing.pem"), "{e}");
    let e = errors("ca_file = \"notes.txt\"");
    assert!(e.contains("ca_file") && e.contains("no PEM certificate"), "{e}");
    let e = errors("bearer_token_env = \"https://x\"");
    assert!(e.contains("holds a URL"), "{e}");
    let (ca, _, _) = certificates_in(dir.path());
    std::fs::write(
        dir.path().join("ok.toml"),
        format!("[prometheus]\nca_file = {:?}\n{env}", ca.display().to_string()),
    )
    .unwrap();
    Config::load(&dir.path().join("ok.toml")).unwrap_or_else(|e| panic!("a real CA file passes: {e}"));
}
