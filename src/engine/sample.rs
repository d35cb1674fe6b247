//! Timestamped samples and the bounded ring each signal keeps in memory.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One poll of one signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

    /// A failed poll: never a zero, always a reason.
    pub fn failed(at: DateTime<Utc>, error: impl Into<String>) -> Self {
        Sample { at, value: None, text: None, ok: false, error: Some(error.into()) }
    }
}

/// The most recent samples of one signal. Memory is bounded by `capacity`
/// however long the console runs.
#[derive(Debug, Clone)]
pub struct SampleRing {
    samples: VecDeque<Sample>,
    capacity: usize,
}

impl SampleRing {
    /// A ring holding at most `capacity` samples (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        SampleRing { samples: VecDeque::with_capacity(capacity.min(4096)), capacity }
    }

    /// Adds a sample, dropping the oldest when full.
    pub fn push(&mut self, s: Sample) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<&Sample> {
        self.samples.back()
    }

    /// Samples, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Sample> + ExactSizeIterator {
        self.samples.iter()
    }

    /// How many samples are held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Most samples held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_only_the_newest() {
        let mut r = SampleRing::new(3);
        let t0 = Utc::now();
        for i in 0..10 {
            r.push(Sample::value(t0 + chrono::Duration::seconds(i), i as f64));
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.iter().map(|s| s.value.unwrap()).collect::<Vec<_>>(), [7.0, 8.0, 9.0]);
    }
}
