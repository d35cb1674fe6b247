//! Grouping of repeated alerts so a flapping signal does not flood the channel.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What to do with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupDecision {
    /// Send it; `repeats` earlier copies were held back since the last one sent.
    Send { repeats: u64 },
    /// Hold it back: the same alert went out within the window.
    Suppress,
}

/// Remembers, per group key, when an alert last went out and how many repeats were held back since.
#[derive(Debug, Default)]
pub struct AlertGroups {
    window: Duration,
    last: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    sent_at: Instant,
    held_back: u64,
}

impl AlertGroups {
    /// Groups repeats within `window` of the last one sent.
    pub fn new(window: Duration) -> Self {
        AlertGroups { window, last: HashMap::new() }
    }

    /// Decides for an alert with `key` arriving at `now`, and records the decision.
    pub fn decide(&mut self, key: &str, now: Instant) -> GroupDecision {
        self.forget_quiet(now);
        match self.last.get_mut(key) {
            Some(entry) if now.saturating_duration_since(entry.sent_at) < self.window => {
                entry.held_back += 1;
                GroupDecision::Suppress
            }
            Some(entry) => {
                let repeats = std::mem::take(&mut entry.held_back);
                entry.sent_at = now;
                GroupDecision::Send { repeats }
            }
            None => {
                self.last.insert(key.to_string(), Entry { sent_at: now, held_back: 0 });
                GroupDecision::Send { repeats: 0 }
            }
        }
    }

    /// Drops keys whose window has passed with nothing held back, so the map stays small; keys
    /// with held-back repeats stay until the next alert reports the count.
    fn forget_quiet(&mut self, now: Instant) {
        let window = self.window;
        self.last.retain(|_, e| e.held_back > 0 || now.saturating_duration_since(e.sent_at) < window);
    }
}

/// The line added to an alert that stands for repeats held back.
pub fn repeats_line(repeats: u64) -> Option<String> {
    match repeats {
        0 => None,
        1 => Some("(1 repeat grouped)".to_string()),
        n => Some(format!("({n} repeats grouped)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_window_are_held_back_and_counted_in_the_next_one_sent() {
        let t0 = Instant::now();
        let mut groups = AlertGroups::new(Duration::from_secs(60));
        assert_eq!(groups.decide("checkout:errors", t0), GroupDecision::Send { repeats: 0 });
        for s in [10, 20, 59] {
            assert_eq!(groups.decide("checkout:errors", t0 + Duration::from_secs(s)), GroupDecision::Suppress);
        }
        assert_eq!(groups.decide("checkout:errors", t0 + Duration::from_secs(60)), GroupDecision::Send { repeats: 3 });
        // The window restarts from the one just sent.
        assert_eq!(groups.decide("checkout:errors", t0 + Duration::from_secs(61)), GroupDecision::Suppress);
        assert_eq!(groups.decide("checkout:errors", t0 + Duration::from_secs(200)), GroupDecision::Send { repeats: 1 });
        assert_eq!(groups.decide("checkout:errors", t0 + Duration::from_secs(400)), GroupDecision::Send { repeats: 0 });
    }

    #[test]
    fn different_keys_are_independent() {
        let t0 = Instant::now();
        let mut groups = AlertGroups::new(Duration::from_secs(60));
        assert_eq!(groups.decide("a", t0), GroupDecision::Send { repeats: 0 });
        assert_eq!(groups.decide("b", t0), GroupDecision::Send { repeats: 0 });
        assert_eq!(groups.decide("a", t0 + Duration::from_secs(1)), GroupDecision::Suppress);
    }

    #[test]
    fn a_zero_window_groups_nothing() {
        let t0 = Instant::now();
        let mut groups = AlertGroups::new(Duration::ZERO);
        assert_eq!(groups.decide("a", t0), GroupDecision::Send { repeats: 0 });
        assert_eq!(groups.decide("a", t0), GroupDecision::Send { repeats: 0 });
    }

    #[test]
    fn quiet_keys_are_forgotten_but_held_back_counts_are_kept() {
        let t0 = Instant::now();
        let mut groups = AlertGroups::new(Duration::from_secs(10));
        groups.decide("quiet", t0);
        groups.decide("noisy", t0);
        groups.decide("noisy", t0 + Duration::from_secs(1));
        groups.decide("other", t0 + Duration::from_secs(30));
        assert!(!groups.last.contains_key("quiet"));
        assert_eq!(groups.decide("noisy", t0 + Duration::from_secs(31)), GroupDecision::Send { repeats: 1 });
    }

    #[test]
    fn the_repeats_line_reads_well() {
        assert_eq!(repeats_line(0), None);
        assert_eq!(repeats_line(1).as_deref(), Some("(1 repeat grouped)"));
        assert_eq!(repeats_line(3).as_deref(), Some("(3 repeats grouped)"));
    }
}
