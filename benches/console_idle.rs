//! CPU of an open, idle console for a minute (`cargo bench --bench console_idle`):
//! the real binary in tmux against a real `backout simulate` with three steady
//! services, polled once a second; nobody touches a key. Needs tmux.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Resident set size of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_backout");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let mut sim = Command::new(bin)
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--service",
            "checkout",
            "--service",
            "search:standard",
            "--service",
            "content",
        ])
        .arg("--write-config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(sim.stdout.take().unwrap());
    for line in out.lines() {
        if line.unwrap().starts_with("listening on") {
            break;
        }
    }
    let session = format!("backout-idle-{}", std::process::id());
    let cmd = format!("exec {bin} --config {} --db {} console", config.display(), dir.path().join("d.db").display());
    assert!(
        Command::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", "120", "-y", "40", &cmd])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_secs(10));
    let screen =
        String::from_utf8(Command::new("tmux").args(["capture-pane", "-p", "-t", &session]).output().unwrap().stdout)
            .unwrap();
    assert!(screen.contains("Environments") && screen.contains("checkout"), "the console is not on screen:\n{screen}");
    let pid: u32 = String::from_utf8(
        Command::new("tmux").args(["display", "-p", "-t", &session, "#{pane_pid}"]).output().unwrap().stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    let secs: u64 = std::env::var("BENCH_IDLE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let (c0, t0) = (cpu_ticks(pid), Instant::now());
    // Resident memory once a minute (and at the end), so that a long run
    // (`BENCH_IDLE_SECS=3600`) shows whether the console grows.
    let mut rss = Vec::new();
    while t0.elapsed() < Duration::from_secs(secs) {
        let left = Duration::from_secs(secs).saturating_sub(t0.elapsed());
        std::thread::sleep(left.min(Duration::from_secs(60)));
        rss.push((t0.elapsed().as_secs(), rss_kib(pid)));
    }
    let cpu = (cpu_ticks(pid) - c0) as f64 / 100.0 / t0.elapsed().as_secs_f64() * 100.0;
    println!("console idle for {secs}s (3 environments, 18 signals polled once a second): CPU {cpu:.2}% of one core");
    if let (Some(first), Some(last)) = (rss.first(), rss.last()) {
        let peak = rss.iter().map(|r| r.1).max().unwrap_or(0);
        println!(
            "resident memory: {:.1} MB after {}s, {:.1} MB after {}s, peak {:.1} MB",
            first.1 as f64 / 1024.0,
            first.0,
            last.1 as f64 / 1024.0,
            last.0,
            peak as f64 / 1024.0
        );
        // Every tenth minute, to tell a plateau (caches filling to their caps)
        // from growth.
        let marks: Vec<String> = rss
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 == 0 || *i + 1 == rss.len())
            .map(|(_, (at, kib))| format!("{}m {:.1}", at / 60, *kib as f64 / 1024.0))
            .collect();
        println!("resident memory (MB) by minute: {}", marks.join(", "));
    }
    let _ = Command::new("tmux").args(["kill-session", "-t", &session]).status();
    let _ = sim.kill();
    let _ = sim.wait();
}
