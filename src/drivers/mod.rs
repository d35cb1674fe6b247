//! How a rollback is carried out. One interface; the environment's config picks
//! the mechanism.

pub(crate) mod argv;
mod command;
pub(crate) mod envfile;
mod flag;
pub(crate) mod http;

use std::time::Duration;

pub use argv::run_for_output;
pub use command::CommandDriver;
pub use flag::FlagDriver;
pub use http::HttpDriver;

use crate::config::{DriverKind, EnvironmentConfig};
use crate::playbook::{Health, PlaybookClient};

/// What a driver is asked to do.
#[derive(Debug, Clone)]
pub struct DriverRequest {
    /// Environment name.
    pub environment: String,
    /// Version that must be current afterwards; `None` accepts the version the
    /// service says it went to.
    pub target_version: Option<String>,
    /// Version sent to the service; `None` asks for a blue/green switch.
    pub request_version: Option<String>,
    /// Version serving before.
    pub previous_version: Option<String>,
    /// Why.
    pub reason: String,
    /// A kept flag state to put back instead of turning the flag off
    /// (`rollback --to-state`); only the flag driver has one.
    pub restore: Option<crate::domain::FlagState>,
    /// The tool's revision of the target (`{revision}`), when the history
    /// comes from the tool itself.
    pub target_revision: Option<String>,
}

/// A rollback the driver saw through: the target is current and healthy.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverReport {
    /// What the mechanism answered (a response body, a command's output).
    pub answer: String,
    /// How verification ended.
    pub verified: String,
    /// The feature flag changed (the flag driver), not a version.
    pub flag: Option<crate::domain::FlagChange>,
}

/// A rollback the driver could not see through.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverFailure {
    /// What went wrong, with the server's or command's own words.
    pub message: String,
    /// The request may or may not have taken effect (a timeout on a
    /// non-idempotent call); never retried.
    pub ambiguous: bool,
    /// The service refused because it no longer serves what the plan was made
    /// against (HTTP 412 to `expectedVersion`): nothing changed; plan again.
    pub stale_plan: bool,
    /// The driver refused before running anything (a value it will not put
    /// into an argv): nothing changed; a refusal, not a failed rollback.
    pub refused: bool,
}

impl std::fmt::Display for DriverFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Phases a rollback goes through, reported as they start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The request is being sent.
    Requested,
    /// The service accepted; traffic is moving.
    Switching,
    /// Waiting for the target to be current and healthy.
    VerifyingHealth,
}

impl Phase {
    /// Name shown on screen and in the timeline.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Requested => "requested",
            Phase::Switching => "switching",
            Phase::VerifyingHealth => "verifying health",
        }
    }
}

/// The configured driver of an environment.
#[derive(Debug, Clone)]
pub enum Driver {
    /// The playbook API.
    Http(HttpDriver),
    /// An argv run without a shell.
    Command(CommandDriver),
    /// A feature flag turned off.
    Flag(FlagDriver),
}

impl Driver {
    /// The driver an environment's config asks for.
    pub fn for_environment(env: &EnvironmentConfig) -> Driver {
        match env.driver.kind {
            DriverKind::Http => {
                Driver::Http(HttpDriver::new(env.endpoints(), env.timeout.get(), env.driver.verify_timeout.get()))
            }
            DriverKind::Command => Driver::Command(CommandDriver::new(env)),
            DriverKind::Flag => Driver::Flag(FlagDriver::new(env)),
        }
    }

    /// Name stored with each rollback.
    pub fn name(&self) -> &'static str {
        match self {
            Driver::Http(_) => "http",
            Driver::Command(_) => "command",
            Driver::Flag(_) => "flag",
        }
    }

    /// Pre-rollback validation: can the mechanism be reached at all?
    pub async fn check_reachable(&self) -> Result<(), String> {
        match self {
            Driver::Http(d) => d.check_reachable().await,
            Driver::Command(d) => d.check_reachable(),
            Driver::Flag(d) => d.check_reachable().await,
        }
    }

    /// Carries the rollback out and verifies it; `on_phase` hears each phase.
    pub async fn roll_back(
        &self,
        req: &DriverRequest,
        on_phase: &mut dyn FnMut(Phase),
    ) -> Result<DriverReport, DriverFailure> {
        match self {
            Driver::Http(d) => d.roll_back(req, on_phase).await,
            Driver::Command(d) => d.roll_back(req, on_phase).await,
            Driver::Flag(d) => d.roll_back(req, on_phase).await,
        }
    }

    /// What this driver is about to change, as it is now, for the state kept
    /// before a rollback: the serving `version` and `colour` (read for the plan
    /// and checked again under the lock) and, for the flag driver, the flag.
    /// Also what could not be kept, if anything.
    pub async fn capture_state(
        &self,
        version: Option<String>,
        colour: Option<String>,
    ) -> (crate::domain::DriverState, Option<String>) {
        let (flag, note) = match self {
            Driver::Flag(d) => d.capture().await,
            Driver::Http(_) | Driver::Command(_) => (None, None),
        };
        (crate::domain::DriverState { version, colour, flag }, note)
    }

    /// How long a rollback may take before its lock is presumed abandoned.
    pub fn lease(&self) -> Duration {
        match self {
            Driver::Http(d) => d.lease(),
            Driver::Command(d) => d.lease(),
            Driver::Flag(d) => d.lease(),
        }
    }
}

/// Longest a rollback through a driver of `kind` can take: its requests
/// (`request` each), the command or restart and the verification (`verify`
/// each), and half a minute to record it. Saturating: never a panic.
pub(crate) fn lease_for(kind: DriverKind, request: Duration, verify: Duration) -> Duration {
    let work = match kind {
        DriverKind::Http => request.saturating_mul(2).saturating_add(verify),
        DriverKind::Command => verify.saturating_mul(2),
        // The flag service's GET for the kept state, then its PUT.
        DriverKind::Flag => request.saturating_mul(2).saturating_add(verify.saturating_mul(2)),
    };
    work.saturating_add(Duration::from_secs(30))
}

/// When verification started at `started` gives up; far off rather than a
/// panic when `limit` is too long to add.
pub(crate) fn verify_deadline(started: tokio::time::Instant, limit: Duration) -> tokio::time::Instant {
    crate::domain::ts::instant_after(started.into_std(), limit).into()
}

/// Polls the service until `target` (when given) is the current version and
/// health is healthy, or `limit` passes. Without a target only health counts:
/// a flag change, say, does not change the version a service reports.
pub(crate) async fn verify(client: &PlaybookClient, target: Option<&str>, limit: Duration) -> Result<String, String> {
    let started = tokio::time::Instant::now();
    let deadline = verify_deadline(started, limit);
    let interval = (limit / 20).clamp(Duration::from_millis(100), Duration::from_secs(2));
    let mut last;
    loop {
        let elapsed = || format!("{:.1}s", started.elapsed().as_secs_f64());
        match target {
            Some(target) => {
                let (status, health) = tokio::join!(client.status(), client.health());
                match (&status, &health) {
                    (Ok(s), Ok(h)) if s.version == target && h.health == Health::Healthy => {
                        return Ok(format!("{target} current and healthy after {}", elapsed()));
                    }
                    (Ok(s), Ok(h)) => last = format!("status shows version {}, health {}", s.version, h.health),
                    (Err(e), _) => last = format!("status: {e}"),
                    (_, Err(e)) => last = format!("health: {e}"),
                }
            }
            None => match client.health().await {
                Ok(h) if h.health == Health::Healthy => {
                    let version = h.version.map(|v| format!(" (serving {v})")).unwrap_or_default();
                    return Ok(format!("healthy{version} after {}", elapsed()));
                }
                Ok(h) => last = format!("health {}", h.health),
                Err(e) => last = format!("health: {e}"),
            },
        }
        if tokio::time::Instant::now() + interval > deadline {
            return Err(format!("not verified within {}: {last}", humantime::format_duration(limit)));
        }
        tokio::time::sleep(interval).await;
    }
}
