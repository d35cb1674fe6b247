//! Shared setup: a simulated fleet on loopback, a config pointing at it, a
//! database file, and the real binary.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use backout::sim::{GeneratedConfig, ServiceSpec, SimHandle, SimOptions, Timings, ready_config};

/// A running simulated fleet with a config and a database beside it.
pub struct Drill {
    pub sim: SimHandle,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
}

impl Drill {
    pub fn start(services: Vec<ServiceSpec>, timings: Timings) -> Drill {
        let sim = backout::sim::spawn(SimOptions { services: services.clone(), timings, seed: None }).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let with_urls: Vec<(ServiceSpec, String)> =
            services.iter().map(|s| (s.clone(), sim.base_url(&s.name))).collect();
        let text = ready_config(&GeneratedConfig {
            poll_interval: Duration::from_secs(1),
            rule_window: None,
            auto_rollback: false,
            verify_timeout: Duration::from_secs(10),
            services: &with_urls,
        });
        let config = dir.path().join("backout.toml");
        std::fs::write(&config, text).unwrap();
        let db = dir.path().join("backout.db");
        Drill { sim, dir, config, db }
    }

    /// The binary with `--config` and `--db` set.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_backout"));
        c.arg("--config").arg(&self.config).arg("--db").arg(&self.db).args(args);
        c.env("USER", "tester").env_remove("BACKOUT_CONFIG").env_remove("BACKOUT_DB");
        // The log file goes beside the database, not into the machine's state folder.
        c.env("BACKOUT_LOG_DIR", self.dir.path().join("logs"));
        c.stdin(std::process::Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut full = vec!["--format", "json"];
        full.extend_from_slice(args);
        let out = self.run(&full);
        let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (out.status.code().unwrap_or(-1), v)
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).unwrap()
    }

    /// The environment's current health as `status` reports it.
    pub fn health(&self, env: &str) -> Option<String> {
        let (_, v) = self.json(&["status", "--env", env]);
        v["environments"][0]["health"].as_str().map(str::to_string)
    }

    /// Waits (bounded) until the environment reports `health`.
    pub fn wait_health(&self, env: &str, health: &str) {
        wait_until(Duration::from_secs(15), || self.health(env).as_deref() == Some(health))
            .unwrap_or_else(|| panic!("{env} never became {health}; last {:?}", self.health(env)));
    }
}

/// Polls `f` every 50 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Timings for a bad release shipped at once and fully bad within 100 ms.
pub fn bad_at_once() -> Timings {
    Timings { deploy_after: Some(Duration::ZERO), ramp: Duration::from_millis(100), ..Timings::default() }
}

/// A CA, and a server certificate for 127.0.0.1 it signed: (ca pem, cert pem, key pem).
pub fn certificates() -> (String, String, String) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "backout test CA");
    ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let mut server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    server.distinguished_name.push(rcgen::DnType::CommonName, "127.0.0.1");
    server.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();
    (ca_cert.pem(), server_cert.pem(), server_key.serialize_pem())
}

/// A webhook receiver on loopback: keeps each posted body, answers `ok`.
/// Stops by itself after `life`.
pub fn receiver(life: Duration) -> (String, std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
    use std::io::{BufRead, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/hook/escalations", listener.local_addr().unwrap());
    let got: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> = std::sync::Arc::default();
    let keep = std::sync::Arc::clone(&got);
    std::thread::spawn(move || {
        let end = Instant::now() + life;
        while Instant::now() < end {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut reader = std::io::BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length.min(1 << 20)];
            if reader.read_exact(&mut body).is_ok() {
                keep.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
            }
            let _ = reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (url, got)
}
