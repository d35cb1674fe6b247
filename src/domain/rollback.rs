//! How a rollback was asked for and where it stands.

word_enum!(
    /// How a rollback chose its target (seed 004).
    RollbackType {
        /// The last known-good version.
        Previous = "previous",
        /// A version the operator named.
        Specific = "specific",
        /// Traffic switched back to the other colour.
        BlueGreenSwitch = "blue_green_switch",
        /// A feature flag turned off.
        FlagToggle = "flag_toggle",
        /// Started by a rule.
        Automatic = "automatic",
    }
);

word_enum!(
    /// Where a rollback is in its lifecycle.
    RollbackStatus {
        /// Recorded, lock held, nothing sent yet.
        Pending = "pending",
        /// The driver is working.
        InProgress = "in_progress",
        /// The target is current and healthy.
        Completed = "completed",
        /// It did not get there; `error` says why.
        Failed = "failed",
    }
);

word_enum!(
    /// What started a rollback.
    RollbackTrigger {
        /// A person.
        Manual = "manual",
        /// Consecutive failed health checks.
        HealthCheckFailed = "health_check_failed",
        /// Error rate rule.
        ErrorRate = "error_rate",
        /// Latency rule.
        Latency = "latency",
        /// Quality-score rule.
        Quality = "quality",
        /// CPU or memory rule.
        Resource = "resource",
        /// A deployment that never became healthy.
        Timeout = "timeout",
    }
);

/// A feature flag a rollback changed: the serving version stays as it was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlagChange {
    /// The flag.
    pub key: String,
    /// Its value before, when it could be read (an env file); a flag service's
    /// previous state is not known.
    pub before: Option<String>,
    /// Its value after.
    pub after: String,
    /// Where it was changed: `env file PATH` or `flag service URL`.
    #[serde(rename = "where")]
    pub location: String,
}

impl std::fmt::Display for FlagChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let before = self.before.as_deref().unwrap_or("?");
        write!(f, "flag {} {before} → {} in {}", self.key, self.after, self.location)
    }
}

/// Whether a flag's value turns it on (`true`, `1`, `on`, `yes`, `enabled`,
/// any case, quotes and spaces aside).
pub fn flag_is_on(value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']).trim().to_ascii_lowercase();
    matches!(v.as_str(), "true" | "1" | "on" | "yes" | "enabled")
}

word_enum!(
    /// Where a rollback request stands.
    RequestStatus {
        /// Awaiting a second operator.
        Pending = "pending",
        /// Approved: its rollback ran (`rollback_id`).
        Approved = "approved",
        /// Declined by an operator; nothing ran.
        Declined = "declined",
        /// The service changed since the plan; nothing ran.
        Stale = "stale",
        /// Not approved in time; nothing ran.
        Expired = "expired",
    }
);
