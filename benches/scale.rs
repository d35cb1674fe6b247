//! Scale benchmarks behind BENCHMARKS.md's "Scale" section (issue 14), run with
//! `cargo bench --bench scale`:
//!
//! 1. `BENCH_SERVICES` services (default 2,500), each polled once a second on
//!    four endpoints of its own (health, deployment status, and two distinct
//!    metrics pages: `/metrics` and `/metrics?page=2`), so every signal is its
//!    own request: 10,000 requests a second at the default. A real
//!    `backout watch` polls them against `backout simulate` processes
//!    (`BENCH_SIMS`, default 2) while a real Prometheus scrapes the same
//!    metrics pages at the same interval. Reported over `BENCH_SECS` (default
//!    60) after `BENCH_WARMUP` (default 60) seconds: each process's CPU and
//!    resident memory, the watcher's late polls (from its log file's once-a-
//!    minute polling line), Prometheus's scrape interval quantiles, and the
//!    cost per polled endpoint against Prometheus's per scraped target.
//!    `BENCH_PROMETHEUS=0` leaves Prometheus out.
//! 2. `BENCH_MEMORY=1` instead: resident memory of `backout watch` at 100 and
//!    1,000 services of the same shape, and the slope per environment.
//! 3. `BENCH_SOAK_SECS=N` instead: a long run of `BENCH_SERVICES` services
//!    (here default 250: 1,000 signals) polled every `BENCH_INTERVAL_MS`
//!    (default 1000; 100, the shortest a config allows, compresses time ten
//!    times), resident memory printed each minute, and the growth between the
//!    first polled hour and the last.
//!
//! `BENCH_BIN` runs another backout binary (an older build, for an A/B).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if env_flag("BENCH_MEMORY") {
        memory_per_environment();
    } else if env_num("BENCH_SOAK_SECS", 0) > 0 {
        soak();
    } else {
        polling_at_scale();
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bin() -> PathBuf {
    std::env::var_os("BENCH_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_backout")), PathBuf::from)
}

/// A child killed when dropped, so a failed run leaves no load behind.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU ticks (user + system) and resident KB of a process.
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

/// Starts `backout simulate` processes serving `svc0..svcN` between them, and
/// returns them with the address serving each service.
fn start_fleet(services: usize, sims: usize) -> (Vec<Proc>, Vec<String>) {
    let sims = sims.clamp(1, services.max(1));
    let mut procs = Vec::new();
    let mut addr_of = vec![String::new(); services];
    for k in 0..sims {
        let mine: Vec<usize> = (0..services).filter(|i| i % sims == k).collect();
        let mut cmd = Command::new(bin());
        cmd.args(["simulate", "--listen", "127.0.0.1:0", "--history", "4"]);
        for i in &mine {
            cmd.args(["--service", &format!("svc{i}:standard:steady")]);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut addr = String::new();
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            if let Some(rest) = line.strip_prefix("listening on http://") {
                addr = rest.split(';').next().unwrap().trim().to_string();
                break;
            }
            line.clear();
        }
        assert!(!addr.is_empty(), "simulate did not say where it listens");
        // Keep reading what it prints, so a full pipe never stalls it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        for i in mine {
            addr_of[i] = addr.clone();
        }
        procs.push(Proc(child));
    }
    (procs, addr_of)
}

/// The metrics pages of service `i`: two distinct URLs, so each is its own request.
fn pages(i: usize) -> [(String, &'static str); 2] {
    [(format!("/svc/svc{i}/metrics"), ""), (format!("/svc/svc{i}/metrics"), "?page=2")]
}

/// The watcher's config: per service health, two metrics pages, a rule that
/// never fires; the status poller comes with every environment.
fn watch_config(addr_of: &[String]) -> String {
    let every = env_num("BENCH_INTERVAL_MS", 1000);
    let mut c = format!("poll_interval = \"{every}ms\"\n[notifications]\ndesktop = false\n");
    for (i, addr) in addr_of.iter().enumerate() {
        c.push_str(&format!(
            "\n[[environment]]\nname = \"svc{i}\"\nkind = \"standard\"\nbase_url = \"http://{addr}/svc/svc{i}\"\n\
             [[environment.signal]]\nname = \"health\"\nsource = \"health\"\n"
        ));
        for (n, (path, query)) in pages(i).iter().enumerate() {
            c.push_str(&format!(
                "[[environment.signal]]\nname = \"cpu{n}\"\nsource = \"exposition\"\nderive = \"gauge\"\n\
                 metric = \"process_cpu_ratio\"\nurl = \"http://{addr}{path}{query}\"\n"
            ));
        }
        c.push_str("[[environment.trigger]]\nsignal = \"cpu0\"\nrule = \"above\"\nthreshold = 0.99\nfor = \"1m\"\n");
    }
    c
}

fn start_watch(dir: &Path, config: &str) -> Proc {
    let cfg = dir.join("scale.toml");
    std::fs::write(&cfg, config).unwrap();
    let logs = dir.join("logs");
    let child = Command::new(bin())
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(dir.join("scale.db"))
        .args(["--format", "json", "watch"])
        .env("BACKOUT_LOG_DIR", &logs)
        .env("BACKOUT_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proc(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A real Prometheus scraping every metrics page at `interval`, each page its
/// own target; `None` when `prometheus` is not installed.
fn start_prometheus(dir: &Path, addr_of: &[String], interval: Duration) -> Option<(Proc, String)> {
    let ok = Command::new("prometheus").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !ok.is_ok_and(|s| s.success()) {
        println!("prometheus is not installed: the side-by-side figures are left out");
        return None;
    }
    // Prometheus durations are whole units: milliseconds.
    let ms = interval.as_millis();
    let mut y = format!(
        "global:\n  scrape_interval: {ms}ms\n  scrape_timeout: {}ms\nscrape_configs:\n  - job_name: fleet\n    static_configs:\n",
        ms * 9 / 10
    );
    for (i, addr) in addr_of.iter().enumerate() {
        for (n, (path, query)) in pages(i).iter().enumerate() {
            y.push_str(&format!(
                "      - targets: ['{addr}']\n        labels: {{__metrics_path__: '{path}', instance: 'svc{i}-{n}'"
            ));
            if let Some(page) = query.strip_prefix("?page=") {
                y.push_str(&format!(", __param_page: '{page}'"));
            }
            y.push_str("}\n");
        }
    }
    let file = dir.join("prometheus.yml");
    std::fs::File::create(&file).unwrap().write_all(y.as_bytes()).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let mut child = Command::new("prometheus")
        .arg(format!("--config.file={}", file.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .arg(format!("--web.listen-address={listen}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    if let Ok(Some(status)) = child.try_wait() {
        let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        panic!("prometheus stopped at once ({status}): {}", tail.join(" | "));
    }
    Some((Proc(child), listen))
}

/// One value of a Prometheus instant query.
fn prom_query(listen: &str, query: &str) -> Option<f64> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let url =
            reqwest::Url::parse_with_params(&format!("http://{listen}/api/v1/query"), &[("query", query)]).ok()?;
        let body: serde_json::Value = reqwest::get(url).await.ok()?.json().await.ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    })
}

/// The watcher's once-a-minute polling lines: (polls, late, longest gap ms) each.
fn polling_lines(logs: &Path) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(logs).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines().filter(|l| l.contains("polling: ")) {
            let field = |name: &str| -> u64 {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            out.push((field("polls"), field("late"), field("worst_ms")));
        }
    }
    out
}

struct Usage {
    cpu: f64,
    rss_mb: f64,
}

/// CPU share (of one core) and resident memory of each pid over `secs`.
fn measure(pids: &[u32], secs: u64) -> Vec<Usage> {
    let before: Vec<u64> = pids.iter().map(|p| proc_stat(*p).0).collect();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let took = t0.elapsed().as_secs_f64();
    pids.iter()
        .zip(before)
        .map(|(p, c0)| {
            let (c1, rss) = proc_stat(*p);
            Usage { cpu: (c1 - c0) as f64 / 100.0 / took * 100.0, rss_mb: rss as f64 / 1024.0 }
        })
        .collect()
}

fn polling_at_scale() {
    let services = env_num("BENCH_SERVICES", 2500) as usize;
    let sims = env_num("BENCH_SIMS", 2) as usize;
    let secs = env_num("BENCH_SECS", 60);
    let warmup = env_num("BENCH_WARMUP", 60);
    let endpoints = services * 4;
    let dir = tempfile::tempdir().unwrap();
    let (fleet, addr_of) = start_fleet(services, sims);
    let prom = if std::env::var("BENCH_PROMETHEUS").is_ok_and(|v| v == "0") {
        None
    } else {
        start_prometheus(dir.path(), &addr_of, Duration::from_secs(1))
    };
    let watch = start_watch(dir.path(), &watch_config(&addr_of));
    std::thread::sleep(Duration::from_secs(warmup));
    let mut pids = vec![watch.0.id()];
    pids.extend(fleet.iter().map(|p| p.0.id()));
    if let Some((p, _)) = &prom {
        pids.push(p.0.id());
    }
    let usage = measure(&pids, secs);
    // The watcher writes its polling line once a minute from its start; with
    // the default warm-up of a minute, the second line covers the measured one.
    let logs = dir.path().join("logs");
    let wanted = (warmup + secs) / 60;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut lines = polling_lines(&logs);
    while (lines.len() as u64) < wanted && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        lines = polling_lines(&logs);
    }
    let watcher = &usage[0];
    let sim_cpu: f64 = usage[1..=fleet.len()].iter().map(|u| u.cpu).sum();
    let sim_rss: f64 = usage[1..=fleet.len()].iter().map(|u| u.rss_mb).sum();
    println!(
        "scale: {services} services x 4 endpoints = {endpoints} polls a second, {secs}s after {warmup}s warm-up, {} simulate process(es)",
        fleet.len()
    );
    println!("  backout watch: CPU {:.1}% of one core, RSS {:.1} MB", watcher.cpu, watcher.rss_mb);
    println!("  backout simulate (all): CPU {sim_cpu:.1}%, RSS {sim_rss:.1} MB");
    for (minute, (polls, late, worst)) in lines.iter().enumerate() {
        println!(
            "  watcher's minute {}: {polls} polls, {late} late ({:.2}%), longest gap {worst} ms (expected about {} polls)",
            minute + 1,
            *late as f64 / (*polls).max(1) as f64 * 100.0,
            endpoints * 60
        );
    }
    if lines.is_empty() {
        println!("  no polling line in the watcher's log yet (the run was shorter than a minute)");
    }
    let us_per_poll = watcher.cpu / 100.0 / endpoints as f64 * 1e6;
    let kb_per_endpoint = watcher.rss_mb * 1024.0 / endpoints as f64;
    println!("  backout per polled endpoint: {us_per_poll:.1} us CPU a poll, {kb_per_endpoint:.1} KB resident");
    if let Some((_, listen)) = &prom {
        let p = usage.last().unwrap();
        let targets = services * 2;
        let shown = |v: Option<f64>| v.map_or_else(|| "(query failed)".to_string(), |v| format!("{v:.0}"));
        let up = prom_query(listen, "sum(up)");
        // Scrapes in the last minute against one a second per target: the
        // share missed, as the watcher's late share.
        let scrapes = prom_query(listen, "sum(count_over_time(up[1m]))");
        let missed = scrapes.map(|n| (1.0 - n / (targets as f64 * 60.0)).max(0.0) * 100.0);
        let us = p.cpu / 100.0 / targets as f64 * 1e6;
        let kb = p.rss_mb * 1024.0 / targets as f64;
        println!(
            "  prometheus: CPU {:.1}% of one core, RSS {:.1} MB, {} of {targets} targets up, {} scrapes in the last minute ({} missed)",
            p.cpu,
            p.rss_mb,
            shown(up),
            shown(scrapes),
            missed.map_or_else(|| "?".to_string(), |m| format!("{m:.2}%"))
        );
        println!("  prometheus per scraped target: {us:.1} us CPU a scrape, {kb:.1} KB resident");
        println!(
            "  ratio backout/prometheus per endpoint: CPU {:.2}, memory {:.2}",
            us_per_poll / us,
            kb_per_endpoint / kb
        );
    }
}

fn memory_per_environment() {
    let secs = env_num("BENCH_SECS", 30);
    let mut rss = Vec::new();
    for services in [100usize, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let (_fleet, addr_of) = start_fleet(services, 1);
        let watch = start_watch(dir.path(), &watch_config(&addr_of));
        std::thread::sleep(Duration::from_secs(secs));
        let (_, kb) = proc_stat(watch.0.id());
        println!("memory: {services} environments (4 endpoints each): watcher RSS {:.1} MB", kb as f64 / 1024.0);
        rss.push((services, kb));
    }
    let (n0, k0) = rss[0];
    let (n1, k1) = rss[1];
    let per_env = (k1 as f64 - k0 as f64) / (n1 - n0) as f64;
    // Three signal rings per environment of 120 samples (the floor), 24 bytes each.
    let rings_kb = 3.0 * 120.0 * 24.0 / 1024.0;
    println!(
        "memory: {per_env:.1} KB per environment ({rings_kb:.1} KB of it signal rings, {:.1} KB beyond them)",
        per_env - rings_kb
    );
}

fn soak() {
    let secs = env_num("BENCH_SOAK_SECS", 0);
    let services = env_num("BENCH_SERVICES", 250) as usize;
    let every_ms = env_num("BENCH_INTERVAL_MS", 1000);
    // Polled hours per wall second: each signal is polled 1000/every_ms times a second.
    let compression = 1000.0 / every_ms as f64;
    let dir = tempfile::tempdir().unwrap();
    let (_fleet, addr_of) = start_fleet(services, 1);
    let watch = start_watch(dir.path(), &watch_config(&addr_of));
    let pid = watch.0.id();
    println!(
        "soak: {} signals every {every_ms} ms for {secs}s ({:.1} polled hours at one poll a second)",
        services * 4,
        secs as f64 * compression / 3600.0
    );
    let start = Instant::now();
    let mut first_hour = None;
    let mut last = 0;
    let mut last_cpu = (proc_stat(pid).0, Instant::now());
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(60).min(Duration::from_secs(secs)));
        let (cpu, rss) = proc_stat(pid);
        let hours = start.elapsed().as_secs_f64() * compression / 3600.0;
        let share = (cpu - last_cpu.0) as f64 / 100.0 / last_cpu.1.elapsed().as_secs_f64() * 100.0;
        last_cpu = (cpu, Instant::now());
        let db = std::fs::metadata(dir.path().join("scale.db")).map(|m| m.len()).unwrap_or(0);
        println!(
            "  {:>6}s ({hours:>5.2} polled h): RSS {:.1} MB, CPU {share:.1}%, database {:.0} MB",
            start.elapsed().as_secs(),
            rss as f64 / 1024.0,
            db as f64 / 1e6
        );
        if hours >= 1.0 && first_hour.is_none() {
            first_hour = Some(rss);
        }
        last = rss;
    }
    if let Some(at_1) = first_hour {
        println!(
            "soak: RSS at polled hour 1 {:.1} MB, at the end {:.1} MB ({:+.1}%)",
            at_1 as f64 / 1024.0,
            last as f64 / 1024.0,
            (last as f64 - at_1 as f64) / at_1 as f64 * 100.0
        );
    }
}
