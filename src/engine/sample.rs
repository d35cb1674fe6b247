//! Timestamped samples and the bounded ring each signal keeps in memory.

use chrono::DateTime;

pub use crate::domain::Sample;

/// A sample as the ring keeps it: 24 bytes, no heap.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    at_ms: i64,
    value: f64,
    has_value: bool,
    ok: bool,
}

/// The most recent samples of one signal, in a buffer allocated and touched in
/// full when created, so resident memory does not grow however long the console
/// runs. Only the newest sample keeps its text and error.
#[derive(Debug, Clone)]
pub struct SampleRing {
    slots: Vec<Slot>,
    head: usize,
    len: usize,
    latest: Option<Sample>,
}

impl SampleRing {
    /// A ring holding at most `capacity` samples (at least 1).
    pub fn new(capacity: usize) -> Self {
        SampleRing { slots: vec![Slot::default(); capacity.max(1)], head: 0, len: 0, latest: None }
    }

    /// Adds a sample, dropping the oldest when full.
    pub fn push(&mut self, s: Sample) {
        let cap = self.slots.len();
        let slot = Slot {
            at_ms: s.at.timestamp_millis(),
            value: s.value.unwrap_or(0.0),
            has_value: s.value.is_some(),
            ok: s.ok,
        };
        let at = (self.head + self.len) % cap;
        self.slots[at] = slot;
        if self.len == cap {
            self.head = (self.head + 1) % cap;
        } else {
            self.len += 1;
        }
        self.latest = Some(s);
    }

    /// The newest sample, with its text and error.
    pub fn latest(&self) -> Option<&Sample> {
        self.latest.as_ref()
    }

    fn sample(&self, i: usize) -> Sample {
        let slot = self.slots[(self.head + i) % self.slots.len()];
        if i + 1 == self.len
            && let Some(l) = &self.latest
        {
            return l.clone();
        }
        Sample {
            at: DateTime::from_timestamp_millis(slot.at_ms).unwrap_or_default(),
            value: slot.has_value.then_some(slot.value),
            text: None,
            ok: slot.ok,
            error: (!slot.ok).then(|| "failed".to_string()),
        }
    }

    /// Samples, oldest first (only the newest carries its text and error).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Sample> + ExactSizeIterator + '_ {
        (0..self.len).map(move |i| self.sample(i))
    }

    /// How many samples are held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most samples held.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn ring_keeps_only_the_newest() {
        let mut r = SampleRing::new(3);
        let t0 = Utc::now();
        for i in 0..10 {
            r.push(Sample::value(t0 + chrono::Duration::seconds(i), i as f64));
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.iter().map(|s| s.value.unwrap()).collect::<Vec<_>>(), [7.0, 8.0, 9.0]);
        assert_eq!(r.iter().next_back().unwrap().at, t0 + chrono::Duration::seconds(9));
        r.push(Sample::failed(t0 + chrono::Duration::seconds(10), "timeout"));
        assert_eq!(r.latest().unwrap().error.as_deref(), Some("timeout"));
        assert!(!r.iter().last().unwrap().ok);
        assert_eq!(r.capacity(), 3);
    }
}
