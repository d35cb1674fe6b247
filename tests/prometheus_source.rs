//! The `prometheus` signal source against a real Prometheus server (Debian's
//! `prometheus` package, which `.ci/run` installs) scraping the simulated fleet.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backout::config::Config;
use backout::engine::SignalPoller;
use backout::sim::{Scenario, ServiceKind, ServiceSpec, SimOptions, Timings};

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

fn start_prometheus(dir: &Path, target: &str, metrics_path: &str) -> (Prometheus, String) {
    let bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Prometheus is not installed: `apt-get install prometheus` (.ci/run installs it)");
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
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Prometheus(child), format!("http://127.0.0.1:{port}"))
}

fn poller(prom: &str, base: &str, query: &str) -> SignalPoller {
    let text = format!(
        "[[environment]]\nname = \"checkout\"\nkind = \"blue-green\"\nbase_url = \"{base}\"\n\
         [[environment.signal]]\nname = \"q\"\nsource = \"prometheus\"\nurl = \"{prom}\"\nquery = {query:?}\n"
    );
    let config = Config::from_toml(&text, Path::new("prom.toml")).unwrap();
    let env = &config.environments[0];
    SignalPoller::new(env, &env.signals[0], reqwest::Client::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_source_end_to_end() {
    let sim = backout::sim::spawn(SimOptions {
        services: vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::Steady)],
        timings: Timings::default(),
        seed: None,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_prom, url) = start_prometheus(dir.path(), &sim.addr().to_string(), "/svc/checkout/metrics");
    let base = sim.base_url("checkout");

    // Data arrives after the first scrapes: poll (bounded) until it does.
    let mut quality = poller(&url, &base, "content_quality_score");
    let start = Instant::now();
    let sample = loop {
        let s = quality.poll().await.sample.unwrap();
        if s.value.is_some() || start.elapsed() > Duration::from_secs(30) {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(sample.ok, "no data from Prometheus within 30 s: {:?}", sample.error);
    let v = sample.value.unwrap();
    assert!((0.9..=0.95).contains(&v), "quality score {v}");

    let rate = "sum(rate(http_requests_total{code=\"500\"}[5s])) / sum(rate(http_requests_total[5s]))";
    let mut error_rate = poller(&url, &base, rate);
    let start = Instant::now();
    let s = loop {
        let s = error_rate.poll().await.sample.unwrap();
        if s.value.is_some() || start.elapsed() > Duration::from_secs(30) {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(s.ok && s.value.unwrap() < 0.05, "{s:?}");

    // No series is "no data" (issue 12, item 3): neither a zero nor a failure.
    let none = poller(&url, &base, "metric_that_does_not_exist").poll().await.sample.unwrap();
    assert!(none.ok && none.value.is_none() && none.error.is_none(), "no data is never a zero: {none:?}");
    assert_eq!(none.text.as_deref(), Some("no data"), "{none:?}");

    let many = poller(&url, &base, "http_requests_total").poll().await.sample.unwrap();
    assert!(many.error.as_deref().unwrap().starts_with("2 series"), "{many:?}");

    let bad = poller(&url, &base, "sum(").poll().await.sample.unwrap();
    assert!(bad.error.as_deref().unwrap().starts_with("Prometheus error (bad_data)"), "{bad:?}");
}
