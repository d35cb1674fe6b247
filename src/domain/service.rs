//! What a service says about itself through the playbook API.

word_enum!(
    /// Health of one service or colour, as `/health` and `/deployment/status` report it.
    Health {
        /// Serving normally.
        Healthy = "healthy",
        /// Serving, but not well.
        Degraded = "degraded",
        /// Not serving.
        Unhealthy = "unhealthy",
    }
);

word_enum!(
    /// Status of a deployment in a service's history, on the wire and in the store.
    DeploymentStatus {
        /// Still rolling out.
        InProgress = "in_progress",
        /// Rolled out and accepted.
        Succeeded = "succeeded",
        /// Failed to roll out.
        Failed = "failed",
        /// Was rolled back.
        RolledBack = "rolled_back",
    }
);
