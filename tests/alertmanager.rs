//! Issue 12, item 1, end to end on real parts: a real Prometheus evaluates an
//! alert rule on the simulated service's error rate, a real Alertmanager
//! (Debian's `prometheus-alertmanager`, which `./test.sh` installs) posts it
//! to `backout watch --listen`, whose `firing` rule rolls back exactly once;
//! the alert then resolves and the incident validates.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backout::sim::{Scenario, ServiceKind, ServiceSpec, SimOptions, Timings};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn installed(paths: &[&'static str], what: &str) -> &'static str {
    paths
        .iter()
        .copied()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("{what} is not installed: run ./test.sh, which installs it"))
}

const TOKEN: &str = "am-t0ken";

/// Alertmanager posting every alert to `receiver`, with the bearer token.
fn start_alertmanager(dir: &Path, receiver: &str) -> (Running, u16) {
    let bin = installed(&["/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager"], "Alertmanager");
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: backout\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  \
             repeat_interval: 1h\nreceivers:\n  - name: backout\n    webhook_configs:\n      - url: '{receiver}'\n        \
             send_resolved: true\n        http_config:\n          authorization:\n            credentials: '{TOKEN}'\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Running(child), port)
}

/// Prometheus scraping the service every second and evaluating the alert rule.
fn start_prometheus(dir: &Path, target: &str, alertmanager_port: u16) -> Running {
    let bin = installed(&["/usr/bin/prometheus", "/usr/local/bin/prometheus"], "Prometheus");
    let rules = dir.join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: backout\n    interval: 1s\n    rules:\n      - alert: HighErrorRate\n        expr: \
         (sum(rate(http_requests_total{code=\"500\"}[4s])) or vector(0)) / sum(rate(http_requests_total[4s])) > 0.05\n        \
         for: 2s\n        labels:\n          service: checkout\n        annotations:\n          summary: checkout \
         answers over 5% errors\n",
    )
    .unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    \
             - static_configs:\n        - targets: ['127.0.0.1:{alertmanager_port}']\nscrape_configs:\n  - job_name: sim\n    \
             metrics_path: /svc/checkout/metrics\n    static_configs:\n      - targets: ['{target}']\n",
            rules.display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Running(child)
}

#[test]
fn a_prometheus_alert_through_alertmanager_rolls_back_once_and_the_incident_validates() {
    let sim = backout::sim::spawn(SimOptions {
        services: vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy)],
        // Healthy long enough for Prometheus to see good traffic first.
        timings: Timings {
            deploy_after: Some(Duration::from_secs(8)),
            ramp: Duration::from_millis(200),
            ..Timings::default()
        },
        seed: Some(3),
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let (_am, am_port) = start_alertmanager(dir.path(), &format!("http://{listen}/alertmanager"));
    let _prom = start_prometheus(dir.path(), &sim.addr().to_string(), am_port);

    let config = dir.path().join("backout.toml");
    std::fs::write(
        &config,
        format!(
            r#"poll_interval = "1s"

[alertmanager]
token_env = "TEST_AM_TOKEN"

[notifications]
desktop = false

[[environment]]
name = "checkout"
kind = "blue-green"
base_url = "{base}"
auto_rollback = true
cooldown = "0s"

[[environment.signal]]
name = "health"
source = "health"

[[environment.signal]]
name = "alerts"
source = "alertmanager"
matchers = ['alertname="HighErrorRate"', 'service="checkout"']

[[environment.trigger]]
signal = "alerts"
rule = "firing"
for = "2s"
action = "rollback"

[[environment.checklist]]
title = "No HighErrorRate alert firing"
check = "signal_below"
signal = "alerts"
threshold = 0.5
stable_for = "5s"
"#,
            base = sim.base_url("checkout")
        ),
    )
    .unwrap();
    let db = dir.path().join("backout.db");
    let out = dir.path().join("watch.out");
    let watch = Command::new(env!("CARGO_BIN_EXE_backout"))
        .arg("--config")
        .arg(&config)
        .arg("--db")
        .arg(&db)
        .args(["watch", "--duration", "150s", "--listen", &listen])
        .env("TEST_AM_TOKEN", TOKEN)
        .env_remove("BACKOUT_CONFIG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _watch = Running(watch);

    let query = |sql: &str| -> Option<i64> {
        let conn = rusqlite::Connection::open(&db).ok()?;
        conn.query_row(sql, [], |r| r.get(0)).ok()
    };
    let start = Instant::now();
    let rolled_back = common::wait_until(Duration::from_secs(100), || {
        query("SELECT count(*) FROM rollbacks WHERE status = 'completed'").unwrap_or(0) > 0
    });
    let lines = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(rolled_back.is_some(), "no rollback within 100 s; watch said:\n{lines}");
    let validated = common::wait_until(Duration::from_secs(60), || {
        query("SELECT count(*) FROM incident_milestones WHERE milestone = 'validated'").unwrap_or(0) > 0
    });
    let lines = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(validated.is_some(), "the incident did not validate after the alert resolved; watch said:\n{lines}");
    // A few more seconds: nothing rolls back again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(query("SELECT count(*) FROM rollbacks"), Some(1), "exactly one rollback");
    assert_eq!(sim.rollback_requests("checkout"), 1, "one rollback request reached the service");
    let (trigger, operator): (String, String) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT trigger, operator FROM rollbacks", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(trigger, "error_rate", "the alert signal's rule is recorded as the trigger");
    assert!(operator.contains("alert firing"), "{operator}");
    let lines = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(lines.contains("receiving Alertmanager webhooks"), "{lines}");
    assert!(lines.contains("alerts_received") && lines.contains("1 alert(s) started firing"), "{lines}");
    assert!(lines.contains("1 resolved"), "the resolved alert came in: {lines}");
    assert!(!lines.contains("alerts_refused"), "Alertmanager's posts carry the token: {lines}");
    println!("rolled back and validated in {:?}", start.elapsed());
}

#[test]
fn the_receiver_refuses_posts_without_the_token_bad_payloads_and_oversize_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("backout.toml");
    std::fs::write(
        &config,
        "[alertmanager]\ntoken_env = \"TEST_AM_TOKEN\"\nmax_body = 2048\n\n[[environment]]\nname = \"c\"\nkind = \"standard\"\n\
         base_url = \"http://127.0.0.1:1\"\n[[environment.signal]]\nname = \"alerts\"\nsource = \"alertmanager\"\n\
         matchers = ['alertname=\"X\"']\n",
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let run = |token: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_backout"));
        c.arg("--config").arg(&config).arg("--db").arg(dir.path().join("b.db"));
        c.args(["watch", "--duration", "20s", "--listen", &listen]).env_remove("TEST_AM_TOKEN");
        if let Some(t) = token {
            c.env("TEST_AM_TOKEN", t);
        }
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };
    // A named token that is not set stops the start: it would take anyone's alerts.
    let out = run(None).output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TEST_AM_TOKEN, which is not set"), "{err}");

    let _watch = Running(run(Some(TOKEN)).spawn().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = format!("http://{listen}/alertmanager");
    let post = |auth: Option<&str>, body: String| {
        rt.block_on(async {
            let mut req = reqwest::Client::new().post(&url).body(body);
            if let Some(a) = auth {
                req = req.bearer_auth(a);
            }
            req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        })
    };
    let good = r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"X"}}]}"#;
    let up = common::wait_until(Duration::from_secs(15), || post(Some(TOKEN), good.to_string()) == 200);
    assert!(up.is_some(), "the receiver never answered 200");
    assert_eq!(post(None, good.to_string()), 401);
    assert_eq!(post(Some("wrong"), good.to_string()), 401);
    assert_eq!(post(Some(TOKEN), "{\"alerts\": 7}".to_string()), 400);
    assert_eq!(post(Some(TOKEN), "x".repeat(4096)), 413);
    assert_eq!(post(Some(TOKEN), good.to_string()), 200, "still serving after hostile posts");
}
