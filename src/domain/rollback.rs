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
