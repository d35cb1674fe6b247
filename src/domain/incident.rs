//! Incidents: how bad, where they stand, their milestones, and the progress of
//! their runbooks and checklists.

word_enum!(
    /// How bad an incident is, by seed 001's recovery-time objectives.
    #[derive(clap::ValueEnum)]
    Severity {
        /// Recover within 2 minutes (default).
        Critical = "critical",
        /// Recover within 5 minutes.
        Performance = "performance",
        /// Recover within 15 minutes.
        Feature = "feature",
        /// Recover within 30 minutes.
        NonCritical = "non-critical",
    }
);

/// The stored and shown severity of an incident opened without one (by a
/// rollback, or before severities were recorded).
pub const SEVERITY_UNKNOWN: &str = "unknown";

impl Severity {
    /// The word shown for an incident's severity: its own, or `unknown`.
    pub fn word_or_unknown(s: Option<Severity>) -> &'static str {
        s.map_or(SEVERITY_UNKNOWN, Severity::as_str)
    }

    /// `serialize_with` for an incident's severity: its word, or `unknown`.
    pub fn serialize_or_unknown<S: serde::Serializer>(s: &Option<Severity>, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(Severity::word_or_unknown(*s))
    }
}

word_enum!(
    /// Whether an incident is still being worked on.
    IncidentStatus {
        /// Being worked on.
        Open = "open",
        /// Closed (resolved).
        Closed = "closed",
    }
);

word_enum!(
    /// The milestones of an incident, in the order they should happen.
    Milestone {
        /// The bad release started serving (when known).
        ImpactStarted = "impact_started",
        /// A rule fired or a person noticed.
        Detected = "detected",
        /// The first rollback of the incident started.
        RollbackStarted = "rollback_started",
        /// A rollback completed (target current and healthy).
        RollbackCompleted = "rollback_completed",
        /// Every required checklist item passed or was waived.
        Validated = "validated",
        /// The incident was closed.
        Resolved = "resolved",
    }
);

word_enum!(
    /// Where a runbook step stands.
    StepState {
        /// Not done yet.
        Pending = "pending",
        /// Done.
        Done = "done",
        /// Skipped, with a reason.
        Skipped = "skipped",
        /// Tried and failed; still the current step until done or skipped.
        Failed = "failed",
    }
);

word_enum!(
    /// How a checklist item is checked: by a person, or automatically.
    #[derive(Default)]
    CheckKind {
        /// A person ticks it.
        #[default]
        Manual = "manual",
        /// `/health` says healthy.
        HealthHealthy = "health_healthy",
        /// Traffic left the colour (or version) the rollback started from.
        EnvironmentSwitched = "environment_switched",
        /// The version serving is the rollback's target.
        VersionMatches = "version_matches",
        /// The core-functionality test query answers.
        Probe = "probe",
        /// A signal is below a threshold.
        SignalBelow = "signal_below",
    }
);

word_enum!(
    /// The HTTP method of a checklist `probe`.
    #[derive(Default)]
    ProbeMethod {
        /// Reads the path (an API health endpoint, a static asset).
        Get = "GET",
        /// Sends a body, the playbook's test query by default (the default, as before `method` existed).
        #[default]
        Post = "POST",
        /// Reads only the headers.
        Head = "HEAD",
    }
);

word_enum!(
    /// How a `signal_below` checklist item sums up its signal over the stability window.
    #[derive(Default)]
    SignalAggregate {
        /// The mean: one noisy sample does not fail the item (the default).
        #[default]
        Mean = "mean",
        /// The largest sample: every sample must be below.
        Max = "max",
        /// The 95th percentile (nearest rank): one sample in twenty may be above.
        P95 = "p95",
    }
);
