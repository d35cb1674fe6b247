//! What a signal reads, and how a trigger rule compares it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The text of a [`Sample::no_data`] reading.
pub const NO_DATA: &str = "no data";

/// One poll of one signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When the answer arrived.
    pub at: DateTime<Utc>,
    /// The number read, when there is one.
    pub value: Option<f64>,
    /// A text reading (a version, a health word).
    pub text: Option<String>,
    /// The poll succeeded; for health checks, the service said `healthy`.
    pub ok: bool,
    /// Why the poll failed.
    pub error: Option<String>,
}

impl Sample {
    /// A successful numeric reading.
    pub fn value(at: DateTime<Utc>, value: f64) -> Self {
        Sample { at, value: Some(value), text: None, ok: true, error: None }
    }

    /// A poll that was answered with nothing to read (a query that matched
    /// no series): not a failure, not a value; shown as `no data`.
    pub fn no_data(at: DateTime<Utc>) -> Self {
        Sample { at, value: None, text: Some(NO_DATA.to_string()), ok: true, error: None }
    }

    /// A failed poll: never a zero, always a reason.
    pub fn failed(at: DateTime<Utc>, error: impl Into<String>) -> Self {
        Sample { at, value: None, text: None, ok: false, error: Some(error.into()) }
    }
}

word_enum!(
    /// How a trigger rule compares.
    RuleKind {
        /// Every sample across the window is above the threshold.
        Above = "above",
        /// Every sample across the window is below the threshold.
        Below = "below",
        /// `count` failed checks in a row.
        ConsecutiveFailures = "consecutive_failures",
        /// The value fell by more than `threshold` from its pre-deploy baseline.
        Drop = "drop",
        /// An Alertmanager alert has been firing across the window.
        Firing = "firing",
    }
);
