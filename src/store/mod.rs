//! The SQLite store: every deployment seen, every rollback attempted, every note and
//! event, so the same file serves a live incident and its review.
//!
//! All calls block; async callers run them on a blocking thread. A call that
//! returns `Ok` after a write has committed it.

mod actions;
mod blocks;
mod checklist;
mod deployments;
mod incidents;
mod requests;
mod rollbacks;
mod runbooks;
pub mod schema;
mod states;
mod timeline;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::domain::Word;

pub use actions::FollowUpAction;
pub use blocks::AutomaticBlock;
pub use checklist::{ChecklistResultRow, NewChecklistResult, StreakRow};
pub use deployments::DeploymentRow;
pub use incidents::{IncidentFields, MilestoneRow};
// Timestamps are stored as RFC 3339 UTC text with milliseconds, which sorts and
// reads well in `sqlite3`.
pub use crate::domain::ts::{format as ts, parse as parse_ts};
pub use crate::domain::{RollbackStatus, RollbackTrigger, RollbackType};
pub use requests::{NewRollbackRequest, RequestRefused, RequestStatus, RollbackRequest};
pub use rollbacks::{BeginRefused, LockHolder, NewRollback, RollbackRow};
pub use runbooks::{NewStepOutcome, StepOutcomeRow};
pub use states::{KeptState, MAX_ENV_FILE, StateRow};
pub use timeline::{IncidentRow, NewEvent, NoteRow, TimelineEvent};

/// Environment variable overriding the database path when `--db` is not given.
pub const DB_ENV: &str = "BACKOUT_DB";

/// Why the store could not do what was asked.
#[derive(Debug)]
pub enum StoreError {
    /// The file is from a newer backout.
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: usize,
        /// The newest this binary knows.
        known: usize,
    },
    /// SQLite said no.
    Sqlite(rusqlite::Error),
    /// Migration failed.
    Migration(String),
    /// The folder could not be created.
    Io(std::io::Error),
    /// The file is damaged past reading (not a database, a broken schema).
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::TooNew { path, found, known } => write!(
                f,
                "{} was written by a newer backout (schema version {found}; this binary knows up to {known}); \
                 upgrade backout, or pass --db to use another file",
                path.display()
            ),
            StoreError::Sqlite(rusqlite::Error::FromSqlConversionFailure(_, _, e)) => write!(
                f,
                "the database holds a value this backout cannot read: {e}; \
                 correct or delete that row with sqlite3, or pass --db to use another file"
            ),
            StoreError::Sqlite(e) if is_busy(e) => write!(
                f,
                "the database stayed locked by another process for the whole wait ({}s): nothing was written; \
                 try again in a moment, or find the process holding it (`fuser FILE`)",
                BUSY_TIMEOUT.as_secs()
            ),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ReadOnly => {
                write!(
                    f,
                    "nothing was written: the database is open read-only (it failed SQLite's integrity check \
                     when opened, or the file or its folder is not writable); recover or fix it, or pass --db \
                     to use another file"
                )
            }
            StoreError::Sqlite(e) => write!(f, "database error: {e}"),
            StoreError::Migration(e) => write!(f, "could not upgrade the database: {e}"),
            StoreError::Io(e) => write!(f, "could not create the database folder: {e}"),
            StoreError::Unreadable { path, detail } => write!(
                f,
                "{} cannot be read as a SQLite database ({detail}); recover what it holds with \
                 `sqlite3 {} .recover | sqlite3 recovered.db`, then pass --db recovered.db",
                path.display(),
                path.display()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// Another process held the database locked for the whole busy timeout.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sqlite(e) if is_busy(e))
    }
}

/// Longest version, colour or id stored; a longer one is cut, its full length
/// noted. Room is left for the mark of text already cut where it came in, so
/// that cut (and its length) is kept, not cut again.
pub const MAX_NAME: usize = crate::text::MAX_SERVICE_TEXT + 32;
/// Longest error stored with a rollback.
pub const MAX_ERROR: usize = 4096;

/// `text` as stored: at most `max` characters, a longer one cut with its full
/// length noted (`…[100000 chars]`).
pub(crate) fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.chars().nth(max).is_none() {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(crate::text::bounded(text, max))
    }
}

/// How long a rollback request waits for its approval before it expires: a
/// plan is a guess about a service, and an old one is not approved by accident.
pub const REQUEST_EXPIRES: chrono::Duration = chrono::Duration::minutes(30);

/// How long a write waits for another process's write lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite answered "database is locked" (or "busy").
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

/// Store result.
pub type Result<T> = std::result::Result<T, StoreError>;

/// An open database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// What SQLite's `quick_check` found wrong with the file, when it did: the
    /// store then only reads.
    damaged: Option<String>,
}

/// A stored value that does not mean anything to this backout.
#[derive(Debug)]
struct Unreadable {
    /// `table.column`.
    column: String,
    /// The text found.
    value: String,
    /// What it should have been.
    expected: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} holds {:?}, which is not {}", self.column, self.value, self.expected)
    }
}

impl std::error::Error for Unreadable {}

fn unreadable(r: &Row<'_>, idx: usize, table: &str, value: String, expected: String) -> rusqlite::Error {
    let column = r.as_ref().column_name(idx).unwrap_or("?");
    let e = Unreadable { column: format!("{table}.{column}"), value, expected };
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
}

/// Reads a stored time (column `idx` of a row of `table`); text that is not
/// one is a conversion error naming the column, never a panic or a made-up time.
fn time_at(r: &Row<'_>, idx: usize, table: &str) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = r.get(idx)?;
    parse_ts(&text).ok_or_else(|| unreadable(r, idx, table, text, "an RFC 3339 time".into()))
}

/// Reads a stored time that may be NULL.
fn opt_time_at(r: &Row<'_>, idx: usize, table: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match r.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(text) => {
            parse_ts(&text).map(Some).ok_or_else(|| unreadable(r, idx, table, text, "an RFC 3339 time".into()))
        }
    }
}

/// Reads a stored word (a status, a kind); an unknown word is a conversion
/// error naming the column and the words this backout knows.
fn word_at<T: Word>(r: &Row<'_>, idx: usize, table: &str) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    T::parse(&text).ok_or_else(|| unreadable(r, idx, table, text, format!("one of {}", T::WORDS.join(", "))))
}

/// The database path: `--db`, else `$BACKOUT_DB`, else `$XDG_DATA_HOME/backout/backout.db`.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(DB_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    match directories::ProjectDirs::from("", "", "backout") {
        Some(dirs) => dirs.data_dir().join("backout.db"),
        None => PathBuf::from("backout.db"),
    }
}

impl Store {
    /// Opens (creating if needed) and upgrades the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(StoreError::Io)?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Switching a new file to WAL can answer "database is locked" at once,
        // without waiting on the busy handler, while another process is doing
        // the same: retry a few times, briefly, before calling it a failure.
        let mut attempt = 0u64;
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if attempt < 20
                        && matches!(
                            e.code,
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        ) =>
                {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(10 * attempt));
                }
                Err(e) => return Err(unreadable_or(path, e)),
            }
        }
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let damaged = check_once(&conn, path)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let found = usize::try_from(found).unwrap_or(0);
        let known = schema::latest_version();
        if found > known {
            return Err(StoreError::TooNew { path: path.to_path_buf(), found, known });
        }
        if damaged.is_some() {
            // Writing to a damaged file can spread the damage: read what can be
            // read (history, incidents, review) and write nothing, not even a
            // migration.
            conn.pragma_update(None, "query_only", true)?;
        } else {
            migrate(&mut conn)?;
        }
        Ok(Store { conn, path: path.to_path_buf(), damaged })
    }

    /// What SQLite's `quick_check` found wrong with the file when this process
    /// first opened it, if anything. A damaged store refuses every write.
    pub fn damaged(&self) -> Option<&str> {
        self.damaged.as_deref()
    }

    /// What to tell a person about a damaged file: which file, what is wrong,
    /// what still works and how to recover.
    pub fn damage_notice(&self) -> Option<String> {
        let detail = self.damaged.as_deref()?;
        let p = self.path.display();
        Some(format!(
            "{p} is damaged (SQLite's quick_check: {detail}). backout only reads it now: history, incidents, \
             export and review work, but nothing new is recorded and no rollback starts. To recover, stop every \
             backout using it, run `sqlite3 {p} .recover | sqlite3 {p}.recovered`, check the copy, and pass \
             --db {p}.recovered (or move it into place)"
        ))
    }

    /// How long a write waits for another process's write lock ([`BUSY_TIMEOUT`] when opened).
    pub fn set_busy_timeout(&self, wait: Duration) -> Result<()> {
        Ok(self.conn.busy_timeout(wait)?)
    }

    /// Runs a write with `synchronous=FULL`: its commit is on the disk (the
    /// WAL fsynced), not only in the operating system's cache, when this
    /// returns. Rollback rows and notes are the record an incident review
    /// stands on; they must survive a power cut, samples need not.
    fn durably<T>(&mut self, write: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let out = write(&mut self.conn);
        let reset = self.conn.pragma_update(None, "synchronous", "NORMAL");
        let out = out?;
        reset?;
        Ok(out)
    }

    /// From now on every write through this connection fails ("attempt to
    /// write a readonly database"); reads go on. For a damaged file, and for
    /// tests that need a write to fail.
    pub fn refuse_writes(&self) -> Result<()> {
        Ok(self.conn.pragma_update(None, "query_only", true)?)
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<usize> {
        let v: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        Ok(usize::try_from(v).unwrap_or(0))
    }

    /// The id of the environment with this name, creating its row if needed and
    /// keeping kind and URL current.
    pub fn ensure_environment(&self, name: &str, kind: &str, base_url: &str) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO environments (name, kind, base_url, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, base_url = excluded.base_url",
            params![name, kind, base_url, ts(Utc::now())],
        )?;
        Ok(self.conn.query_row("SELECT id FROM environments WHERE name = ?1", [name], |r| r.get(0))?)
    }

    /// The id of a known environment.
    pub fn environment_id(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.conn.query_row("SELECT id FROM environments WHERE name = ?1", [name], |r| r.get(0)).optional()?)
    }

    /// `PRAGMA integrity_check` answered `ok`.
    pub fn integrity_ok(&self) -> Result<bool> {
        let answer: String = self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(answer == "ok")
    }
}

/// A file SQLite cannot read at all is [`StoreError::Unreadable`], with the
/// way to recover; any other error is itself.
fn unreadable_or(path: &Path, e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) =>
        {
            StoreError::Unreadable { path: path.to_path_buf(), detail: e.to_string() }
        }
        _ => StoreError::Sqlite(e),
    }
}

/// Files this process has checked, with what was found: `quick_check` reads
/// the whole file, so the engine's and console's further connections reuse
/// the first verdict instead of reading it again.
static CHECKED: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<PathBuf, Option<String>>>> =
    std::sync::OnceLock::new();

/// Runs `PRAGMA quick_check` once per file per process: `None` when the file
/// is sound, else what is wrong. A file SQLite cannot even read is an error.
fn check_once(conn: &Connection, path: &Path) -> Result<Option<String>> {
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let checked = CHECKED.get_or_init(Default::default);
    if let Some(verdict) = checked.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(verdict);
    }
    // Only damage makes the file unreadable; a busy file is still just busy.
    let unreadable = |e: rusqlite::Error| unreadable_or(path, e);
    let mut stmt = conn.prepare("PRAGMA quick_check(5)").map_err(unreadable)?;
    let found: Vec<String> =
        stmt.query_map([], |r| r.get(0)).map_err(unreadable)?.collect::<rusqlite::Result<_>>().map_err(unreadable)?;
    let verdict = (found != ["ok"]).then(|| found.join("; "));
    if let Ok(mut m) = checked.lock() {
        m.insert(key, verdict.clone());
    }
    Ok(verdict)
}

/// Brings the schema up to date. Two processes opening a new file at once may
/// both try; the loser finds the work done (or retries until it is).
fn migrate(conn: &mut Connection) -> Result<()> {
    let mut last = None;
    for attempt in 0..5 {
        match schema::migrations().to_latest(conn) {
            Ok(()) => return Ok(()),
            Err(e) => {
                let now: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
                if usize::try_from(now).is_ok_and(|v| v == schema::latest_version()) {
                    return Ok(());
                }
                last = Some(e.to_string());
                std::thread::sleep(Duration::from_millis(50 * (attempt + 1)));
            }
        }
    }
    Err(StoreError::Migration(last.unwrap_or_default()))
}

/// This machine's name, for lock holders.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Whether a process with this id may run on this machine. Asked with
/// `kill(pid, 0)`, which works wherever there is no `/proc` (macOS, the BSDs);
/// a process of another user answers "not permitted" and counts as alive.
#[cfg(unix)]
pub fn process_alive(pid: i64) -> bool {
    use nix::errno::Errno;
    let Ok(raw) = i32::try_from(pid) else { return false };
    if raw <= 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        // EPERM: it exists but is not ours. Anything else: we cannot tell, and a
        // live rollback must never be taken for a dead one.
        Err(_) => true,
    }
}

/// Whether a process with this id may run on this machine. Without a portable
/// way to ask, every holder counts as alive: its lease decides when it is stale.
#[cfg(not(unix))]
pub fn process_alive(pid: i64) -> bool {
    pid > 0
}

#[cfg(test)]
mod tests;
