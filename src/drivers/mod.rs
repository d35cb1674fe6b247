//! How a rollback is carried out. One interface; the environment's config picks
//! the mechanism.

mod http;

use std::time::Duration;

pub use http::HttpDriver;

use crate::config::{DriverKind, EnvironmentConfig};

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
}

/// A rollback the driver saw through: the target is current and healthy.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverReport {
    /// What the mechanism answered (a response body, a command's output).
    pub answer: String,
    /// How verification ended.
    pub verified: String,
}

/// A rollback the driver could not see through.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverFailure {
    /// What went wrong, with the server's or command's own words.
    pub message: String,
    /// The request may or may not have taken effect (a timeout on a
    /// non-idempotent call); never retried.
    pub ambiguous: bool,
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
    /// A driver type whose execution is not built yet.
    Unsupported(DriverKind),
}

impl Driver {
    /// The driver an environment's config asks for.
    pub fn for_environment(env: &EnvironmentConfig) -> Driver {
        match env.driver.kind {
            DriverKind::Http => {
                Driver::Http(HttpDriver::new(env.endpoints(), env.timeout.get(), env.driver.verify_timeout.get()))
            }
            other => Driver::Unsupported(other),
        }
    }

    /// Name stored with each rollback.
    pub fn name(&self) -> &'static str {
        match self {
            Driver::Http(_) => "http",
            Driver::Unsupported(DriverKind::Command) => "command",
            Driver::Unsupported(DriverKind::Flag) => "flag",
            Driver::Unsupported(DriverKind::Http) => "http",
        }
    }

    /// Pre-rollback validation: can the mechanism be reached at all?
    pub async fn check_reachable(&self) -> Result<(), String> {
        match self {
            Driver::Http(d) => d.check_reachable().await,
            Driver::Unsupported(k) => Err(unsupported(*k)),
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
            Driver::Unsupported(k) => Err(DriverFailure { message: unsupported(*k), ambiguous: false }),
        }
    }

    /// How long a rollback may take before its lock is presumed abandoned.
    pub fn lease(&self) -> Duration {
        match self {
            Driver::Http(d) => d.lease(),
            Driver::Unsupported(_) => Duration::from_secs(300),
        }
    }
}

fn unsupported(kind: DriverKind) -> String {
    let name = match kind {
        DriverKind::Http => "http",
        DriverKind::Command => "command",
        DriverKind::Flag => "flag",
    };
    format!(
        "the {name} driver cannot carry out rollbacks in this build yet; only the http driver can \
         (roll back with your deployment tool by hand, and record it with `backout note`)"
    )
}
