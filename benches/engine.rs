//! Engine benchmarks behind BENCHMARKS.md (run with `cargo bench --bench engine`):
//!
//! 1. time from the sample that completes a rule's window to the rollback request
//!    reaching the simulated server (in-process, several trials);
//! 2. 1,000 signals polled once a second by a real `backout watch` process against
//!    a real `backout simulate` process: CPU share and resident memory of the
//!    watcher over a minute (`BENCH_LOAD_SECS`, default 60), and with
//!    `BENCH_LONG=1`, resident memory at 1 and 10 minutes.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backout::config::Config;
use backout::engine::{EngineOptions, Happened};
use backout::notify::Notifier;
use backout::sim::{GeneratedConfig, Scenario, ServiceKind, ServiceSpec, SimOptions, Timings, ready_config};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    decision_latency();
    polling_load();
}

fn decision_latency() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut latencies = Vec::new();
    for _ in 0..10 {
        let spec = ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy);
        let timings = Timings {
            deploy_after: Some(Duration::from_millis(300)),
            ramp: Duration::from_millis(50),
            ..Timings::default()
        };
        let sim = backout::sim::spawn(SimOptions { services: vec![spec.clone()], timings, seed: None }).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut text = ready_config(&GeneratedConfig {
            poll_interval: Duration::from_millis(100),
            rule_window: Some(Duration::from_millis(500)),
            auto_rollback: true,
            verify_timeout: Duration::from_secs(10),
            services: &[(spec, sim.base_url("checkout"))],
        });
        // Only the error-rate rule may act, so the measured decision is a windowed one.
        text = text.replace("count = 3\naction = \"rollback\"", "count = 3\naction = \"alert\"");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, &text).unwrap();
        let config = Arc::new(Config::from_toml(&text, &path).unwrap());
        let db = dir.path().join("d.db");
        let (tx, mut rx) = tokio::sync::mpsc::channel(backout::engine::EVENT_QUEUE);
        let (_cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
        let fired = rt.block_on(async {
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let engine = tokio::spawn(backout::engine::run(
                config,
                db,
                Notifier::disabled(),
                EngineOptions::default(),
                tx,
                cmd_rx,
                async {
                    let _ = stop_rx.await;
                },
            ));
            let mut fired = None;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while let Ok(Some(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
                if let Happened::RollbackStarting(Some(ev)) = &e.what {
                    fired = ev.samples.last().map(|s| s.at);
                }
                if matches!(e.what, Happened::RollbackCompleted(_) | Happened::RollbackFailed(_)) {
                    break;
                }
            }
            let _ = stop_tx.send(());
            let _ = engine.await;
            fired
        });
        let sample_at: chrono::DateTime<chrono::Utc> = fired.expect("a rollback was decided");
        let reached = sim.requests("checkout").unwrap().last_rollback_at.expect("request reached the server");
        latencies.push((reached - sample_at).num_microseconds().unwrap() as f64 / 1000.0);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "decision latency (window-completing sample -> rollback request at server), {} trials: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[0],
        latencies[latencies.len() - 1]
    );
}

fn proc_stat(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let cpu_ticks = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (cpu_ticks, rss_kb)
}

fn polling_load() {
    const SERVICES: usize = 50;
    const SIGNALS_PER_SERVICE: usize = 20;
    let bin = env!("CARGO_BIN_EXE_backout");
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Command::new(bin);
    sim.args(["simulate", "--listen", "127.0.0.1:0", "--history", "4"]);
    for i in 0..SERVICES {
        sim.args(["--service", &format!("svc{i}:standard:steady")]);
    }
    let mut sim = sim.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let out = BufReader::new(sim.stdout.take().unwrap());
    let mut addr = String::new();
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("listening on http://") {
            addr = rest.split(';').next().unwrap().trim().to_string();
            break;
        }
    }
    let mut config = String::from("poll_interval = \"1s\"\n[notifications]\ndesktop = false\n");
    for i in 0..SERVICES {
        config.push_str(&format!(
            "\n[[environment]]\nname = \"svc{i}\"\nkind = \"standard\"\nbase_url = \"http://{addr}/svc/svc{i}\"\n\
             [[environment.signal]]\nname = \"health\"\nsource = \"health\"\n"
        ));
        for s in 1..SIGNALS_PER_SERVICE {
            config.push_str(&format!(
                "[[environment.signal]]\nname = \"cpu{s}\"\nsource = \"exposition\"\nderive = \"gauge\"\nmetric = \"process_cpu_ratio\"\n"
            ));
        }
        config
            .push_str("[[environment.trigger]]\nsignal = \"cpu1\"\nrule = \"above\"\nthreshold = 0.99\nfor = \"1m\"\n");
    }
    let cfg = dir.path().join("load.toml");
    std::fs::write(&cfg, config).unwrap();
    let mut watch = Command::new(bin)
        .args(["--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(dir.path().join("load.db"))
        .args(["--format", "json", "watch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = watch.id();
    let ticks_per_sec = 100.0; // CLK_TCK on Linux
    std::thread::sleep(Duration::from_secs(10));
    let secs: u64 = std::env::var("BENCH_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let (c0, _) = proc_stat(pid);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, rss) = proc_stat(pid);
    let cpu = (c1 - c0) as f64 / ticks_per_sec / t0.elapsed().as_secs_f64() * 100.0;
    println!(
        "polling load: {} signals (+{SERVICES} status pollers) once a second for {secs}s: watcher CPU {cpu:.1}% of one core, RSS {:.1} MB",
        SERVICES * SIGNALS_PER_SERVICE,
        rss as f64 / 1024.0
    );
    if std::env::var("BENCH_LONG").is_ok_and(|v| v == "1") {
        let start = Instant::now();
        let mut at_1 = 0;
        let mut at_10 = 0;
        while start.elapsed() < Duration::from_secs(600) {
            std::thread::sleep(Duration::from_secs(10));
            let (_, rss) = proc_stat(pid);
            let mins = start.elapsed().as_secs() / 60;
            println!("  rss after {:>3}s: {:.1} MB", start.elapsed().as_secs(), rss as f64 / 1024.0);
            if mins >= 1 && at_1 == 0 {
                at_1 = rss;
            }
            at_10 = rss;
        }
        let growth = (at_10 as f64 - at_1 as f64) / at_1 as f64 * 100.0;
        println!(
            "memory: RSS at 1 min {:.1} MB, at 10 min {:.1} MB ({growth:+.1}%)",
            at_1 as f64 / 1024.0,
            at_10 as f64 / 1024.0
        );
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let _ = sim.kill();
    let _ = sim.wait();
}
