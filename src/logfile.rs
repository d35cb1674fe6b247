//! The log file for post-mortems (issue 12, item 8): one line per decision,
//! request and outcome, in a daily-rotated file under the XDG state folder,
//! never on the terminal (the console owns the screen). Every value of an
//! environment variable the config names as a secret is replaced by
//! `<redacted>` before a line is written.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Overrides the filter (`off`, `debug`, `backout=trace`, ...).
pub const LOG_ENV: &str = "BACKOUT_LOG";
/// Overrides the folder the log files go to.
pub const LOG_DIR_ENV: &str = "BACKOUT_LOG_DIR";
/// The files' prefix: `backout.log.2026-11-22`.
pub const FILE_PREFIX: &str = "backout.log";

/// The folder logs go to: `$BACKOUT_LOG_DIR`, else the XDG state folder
/// (`$XDG_STATE_HOME/backout`, `~/.local/state/backout`).
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os(LOG_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    directories::ProjectDirs::from("", "", "backout")
        .and_then(|p| p.state_dir().map(std::path::Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Keeps the log writer running; dropping it flushes what is queued.
pub struct LogGuard {
    _guard: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Starts logging at `level` (`BACKOUT_LOG` overrides it; `off` logs
/// nothing), redacting `secrets`. A folder that cannot be written leaves
/// logging off and says why once on stderr, unless `quiet` (the console,
/// whose screen must not be written over).
pub fn init(level: &str, secrets: Vec<String>, quiet: bool) -> LogGuard {
    let filter = std::env::var(LOG_ENV).ok().filter(|f| !f.trim().is_empty()).unwrap_or_else(|| level.to_string());
    if filter.trim() == "off" {
        return LogGuard { _guard: None };
    }
    let filter = match EnvFilter::try_new(&filter) {
        Ok(f) => f,
        Err(e) => {
            if !quiet {
                eprintln!("backout: log filter {filter:?} is not valid ({e}); logging at info");
            }
            EnvFilter::new("info")
        }
    };
    let dir = dir();
    let appender = std::fs::create_dir_all(&dir).map_err(|e| e.to_string()).and_then(|()| {
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix(FILE_PREFIX)
            .build(&dir)
            .map_err(|e| e.to_string())
    });
    let appender = match appender {
        Ok(a) => a,
        Err(e) => {
            if !quiet {
                eprintln!(
                    "backout: no log file: {} cannot be written ({e}); set {LOG_DIR_ENV} to a writable folder",
                    dir.display()
                );
            }
            return LogGuard { _guard: None };
        }
    };
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let secrets: Arc<Vec<String>> = Arc::new(secrets.into_iter().filter(|s| s.len() >= 4).collect());
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false)
        .with_writer(Redacting { inner: writer, secrets })
        .finish();
    // A second init in one process (tests) keeps the first.
    let _ = tracing::subscriber::set_global_default(subscriber);
    LogGuard { _guard: Some(guard) }
}

/// The values of the environment variables `config` names as secrets
/// (webhook URLs, tokens, keys, passwords), to redact from log lines.
pub fn secrets_of(config: &crate::config::Config) -> Vec<String> {
    let n = &config.notifications;
    let p = &config.prometheus;
    let names = [
        &n.webhook_url_env,
        &n.drill_webhook_url_env,
        &n.escalation_webhook_url_env,
        &n.pagerduty_routing_key_env,
        &p.bearer_token_env,
        &p.username_env,
        &p.password_env,
        &config.alertmanager.token_env,
    ];
    let email = n.email.iter().flat_map(|e| [&e.username_env, &e.password_env]);
    names
        .into_iter()
        .chain(email)
        .flatten()
        .filter_map(|var| std::env::var(var.get_ref()).ok())
        .filter(|v| !v.trim().is_empty())
        .collect()
}

/// Writes each formatted line with every secret replaced.
#[derive(Clone)]
struct Redacting<W> {
    inner: W,
    secrets: Arc<Vec<String>>,
}

/// One line being written; redacted and passed on when dropped.
struct Line<W: Write> {
    inner: W,
    secrets: Arc<Vec<String>>,
    buf: Vec<u8>,
}

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for Redacting<W> {
    type Writer = Line<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Line { inner: self.inner.make_writer(), secrets: Arc::clone(&self.secrets), buf: Vec::new() }
    }
}

impl<W: Write> Write for Line<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for Line<W> {
    fn drop(&mut self) {
        let mut text = String::from_utf8_lossy(&self.buf).into_owned();
        for s in self.secrets.iter() {
            text = text.replace(s.as_str(), "<redacted>");
        }
        let _ = self.inner.write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_written_whole_with_every_secret_replaced() {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, d: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(d);
                Ok(d.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let secrets = Arc::new(vec!["https://hooks.example/T0/B0/s3cr3t".to_string(), "pd-key-123".to_string()]);
        {
            let mut line = Line { inner: Sink(Arc::clone(&out)), secrets, buf: Vec::new() };
            let _ = line.write(b"posted to https://hooks.example/T0/B0/s3cr3t ");
            let _ = line.write(b"and pd-key-123\n");
        }
        let text = String::from_utf8(out.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
            .unwrap_or_default();
        assert_eq!(text, "posted to <redacted> and <redacted>\n");
    }
}
