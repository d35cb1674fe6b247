//! Where the engine's events go, and what happens when their reader falls
//! behind. The channel is bounded ([`EVENT_QUEUE`]). When it is full:
//!
//! - live samples and status readings (the console's sparklines) are dropped:
//!   the next reading replaces them within a poll interval;
//! - every other event waits, in order, in an overflow queue of at most
//!   [`OVERFLOW_LIMIT`] events that is sent before anything newer; past that
//!   limit the oldest waiting event is dropped. Nothing dropped is lost from the
//!   record: the engine writes the timeline before it publishes.
//!
//! What was dropped is said once per tick with a `lagging` event, so a reader
//! knows its view has gaps.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::PoisonError;

use tokio::sync::mpsc::{self, error::TrySendError};

use super::{EngineEvent, Happened};

/// Events queued for a reader before the policy above applies.
pub const EVENT_QUEUE: usize = 4096;

/// Events (other than samples) kept waiting for a slow reader.
pub const OVERFLOW_LIMIT: usize = 16_384;

/// Longest the engine waits for its reader per event when it stops.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The sending side of the engine's events, with the policy above.
#[derive(Debug)]
pub struct EventSink {
    tx: mpsc::Sender<EngineEvent>,
    waiting: Mutex<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    overflow: VecDeque<EngineEvent>,
    dropped_samples: u64,
    dropped_events: u64,
}

impl EventSink {
    /// A sink sending to `tx`.
    pub fn new(tx: mpsc::Sender<EngineEvent>) -> Self {
        EventSink { tx, waiting: Mutex::default() }
    }

    /// Sends an event now if there is room, else applies the policy.
    pub fn publish(&self, e: EngineEvent) {
        // The state is counters and a queue, whole after any panic.
        let mut w = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        self.flush(&mut w);
        let droppable = matches!(e.what, Happened::Sample { .. } | Happened::Status { .. });
        if !w.overflow.is_empty() {
            self.hold(&mut w, e, droppable);
            return;
        }
        match self.tx.try_send(e) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(e)) => self.hold(&mut w, e, droppable),
        }
    }

    /// Sends what waits, and says what was dropped since the last call.
    pub fn tick(&self) {
        let mut w = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        self.flush(&mut w);
        if w.dropped_samples + w.dropped_events > 0 {
            let (samples, events) = (w.dropped_samples, w.dropped_events);
            let what = Happened::Lagging { samples, events };
            let msg = format!(
                "the reader fell behind: {samples} live samples and {events} events not shown (the events are in the database)"
            );
            w.dropped_samples = 0;
            w.dropped_events = 0;
            self.hold(&mut w, EngineEvent::now("", msg, what), false);
            self.flush(&mut w);
        }
    }

    /// Sends every held event, waiting for the reader at most [`DRAIN_WAIT`]
    /// per event: a reader that has stopped reading must not hold up shutdown.
    pub async fn drain(&self) {
        loop {
            let next = self.waiting.lock().unwrap_or_else(PoisonError::into_inner).overflow.pop_front();
            let Some(e) = next else { return };
            match tokio::time::timeout(DRAIN_WAIT, self.tx.send(e)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return,
            }
        }
    }

    fn hold(&self, w: &mut Waiting, e: EngineEvent, droppable: bool) {
        if droppable {
            w.dropped_samples += 1;
            return;
        }
        if w.overflow.len() >= OVERFLOW_LIMIT {
            w.overflow.pop_front();
            w.dropped_events += 1;
        }
        w.overflow.push_back(e);
    }

    fn flush(&self, w: &mut Waiting) {
        while let Some(e) = w.overflow.pop_front() {
            match self.tx.try_send(e) {
                Ok(()) => {}
                Err(TrySendError::Full(e)) => {
                    w.overflow.push_front(e);
                    return;
                }
                Err(TrySendError::Closed(_)) => {
                    w.overflow.clear();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::Sample;

    fn sample(i: usize) -> EngineEvent {
        let s = Sample { at: chrono::Utc::now(), value: Some(i as f64), text: None, ok: true, error: None };
        EngineEvent::now("checkout", "", Happened::Sample { signal: "error_rate".into(), sample: s, baseline: None })
    }

    fn fired(i: usize) -> EngineEvent {
        EngineEvent::now("checkout", format!("alert {i}"), Happened::Alert)
    }

    #[test]
    fn a_slow_reader_loses_samples_never_the_order_of_other_events() {
        let (tx, mut rx) = mpsc::channel(2);
        let sink = EventSink::new(tx);
        sink.publish(sample(0));
        sink.publish(sample(1));
        // Full: samples are dropped, alerts wait in order.
        sink.publish(sample(2));
        sink.publish(fired(1));
        sink.publish(sample(3));
        sink.publish(fired(2));
        let got: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok()).map(|e| e.kind().to_string()).collect();
        assert_eq!(got, ["sample", "sample"]);
        sink.tick();
        sink.tick();
        let mut got: Vec<(String, String)> = Vec::new();
        for _ in 0..4 {
            while let Ok(e) = rx.try_recv() {
                got.push((e.kind().to_string(), e.message.clone()));
            }
            sink.tick();
        }
        let kinds: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["alert", "alert", "lagging"], "{got:?}");
        assert_eq!(got[0].1, "alert 1");
        assert!(got[2].1.contains("2 live samples and 0 events"), "{got:?}");
    }

    #[test]
    fn the_overflow_is_bounded() {
        let (tx, _rx) = mpsc::channel(1);
        let sink = EventSink::new(tx);
        for i in 0..OVERFLOW_LIMIT + 10 {
            sink.publish(fired(i));
        }
        let w = sink.waiting.lock().unwrap();
        assert_eq!(w.overflow.len(), OVERFLOW_LIMIT);
        assert_eq!(w.dropped_events, 9, "one went into the channel, the oldest 9 waiting were dropped");
    }
}
