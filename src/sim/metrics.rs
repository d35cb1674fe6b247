//! The simulated service's performance: how it degrades after a bad deploy, and
//! the Prometheus counters that a scraper turns back into rates.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::time::Instant;

use crate::playbook::Health;

/// Requests per second every simulated service receives. Enough that one error
/// more or less between two scrapes a second apart moves the rate by 0.1%, so
/// whole-number counters do not turn a 0.3% error rate into 0% or 1% samples.
pub(crate) const REQUESTS_PER_SECOND: f64 = 1000.0;

/// Traffic already counted at start, so counters look like those of a running service.
const WARM_UP: Duration = Duration::from_secs(600);

/// One moment's performance of the serving version.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Profile {
    /// Share of requests answered 500.
    pub error_rate: f64,
    /// Mean request duration, seconds.
    pub latency: f64,
    /// `content_quality_score`.
    pub quality: f64,
    /// `process_cpu_ratio`.
    pub cpu: f64,
    /// `process_memory_ratio`.
    pub memory: f64,
}

impl Profile {
    /// A good version, noise aside (the counters' warm-up uses it).
    pub const BASELINE: Profile = Profile { error_rate: 0.0025, latency: 0.2, quality: 0.93, cpu: 0.30, memory: 0.50 };

    /// A bad version once it has fully degraded.
    pub const DEGRADED: Profile = Profile { error_rate: 0.12, latency: 4.5, quality: 0.55, cpu: 0.97, memory: 0.93 };

    /// A bad version `fraction` (0..=1) of the way through its ramp from `healthy`.
    pub fn ramping(healthy: Profile, fraction: f64) -> Profile {
        let f = fraction.clamp(0.0, 1.0);
        let lerp = |a: f64, b: f64| a + (b - a) * f;
        let (a, b) = (healthy, Profile::DEGRADED);
        Profile {
            error_rate: lerp(a.error_rate, b.error_rate),
            latency: lerp(a.latency, b.latency),
            quality: lerp(a.quality, b.quality),
            cpu: lerp(a.cpu, b.cpu),
            memory: lerp(a.memory, b.memory),
        }
    }

    /// Health as the service would judge it from its own error rate.
    pub fn health(&self) -> Health {
        if self.error_rate < 0.02 {
            Health::Healthy
        } else if self.error_rate < 0.08 {
            Health::Degraded
        } else {
            Health::Unhealthy
        }
    }
}

/// Running totals behind `/metrics`, advanced lazily to the time of each read.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    ok: f64,
    errors: f64,
    duration_sum: f64,
    counted_until: Instant,
}

impl Meter {
    /// Totals as if the service had served baseline traffic for a while before `now`.
    pub fn new(now: Instant) -> Meter {
        let n = REQUESTS_PER_SECOND * WARM_UP.as_secs_f64();
        let b = Profile::BASELINE;
        Meter {
            ok: n * (1.0 - b.error_rate),
            errors: n * b.error_rate,
            duration_sum: n * b.latency,
            counted_until: now,
        }
    }

    /// Counts the traffic up to `now`. `profile_at` must be linear in time between
    /// one break and the next (`next_break(t)` is the first after `t`), so the
    /// midpoint of each piece gives the exact integral and scraped rates match
    /// the profile.
    pub fn advance(
        &mut self,
        now: Instant,
        next_break: impl Fn(Instant) -> Instant,
        profile_at: impl Fn(Instant) -> Profile,
    ) {
        let mut from = self.counted_until;
        while from < now {
            let to = Some(next_break(from)).filter(|b| *b > from && *b < now).unwrap_or(now);
            let span = to - from;
            let p = profile_at(from + span / 2);
            let n = REQUESTS_PER_SECOND * span.as_secs_f64();
            self.ok += n * (1.0 - p.error_rate);
            self.errors += n * p.error_rate;
            self.duration_sum += n * p.latency;
            from = to;
        }
        self.counted_until = self.counted_until.max(now);
    }

    /// The exposition (text format 0.0.4) of the totals and the gauges of `p`.
    pub fn exposition(&self, p: &Profile) -> String {
        // Whole counts keep the output like a real server's; each counter is
        // floored on its own so both stay monotonic.
        let ok = self.ok.floor();
        let errors = self.errors.floor();
        let mut out = String::new();
        family(&mut out, "http_requests_total", "counter", "Requests served, by status code.");
        sample(&mut out, "http_requests_total{code=\"200\"}", format!("{ok:.0}"));
        sample(&mut out, "http_requests_total{code=\"500\"}", format!("{errors:.0}"));
        family(&mut out, "http_request_duration_seconds", "summary", "Time spent serving requests.");
        sample(&mut out, "http_request_duration_seconds_sum", format!("{:.3}", self.duration_sum));
        sample(&mut out, "http_request_duration_seconds_count", format!("{:.0}", ok + errors));
        let gauges = [
            ("process_cpu_ratio", "CPU in use, as a share of the limit.", p.cpu),
            ("process_memory_ratio", "Memory in use, as a share of the limit.", p.memory),
            ("content_quality_score", "Quality of generated content, 0 to 1.", p.quality),
        ];
        for (name, help, value) in gauges {
            family(&mut out, name, "gauge", help);
            sample(&mut out, name, format!("{value:.4}"));
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, series: &str, value: String) {
    let _ = writeln!(out, "{series} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_interpolates_between_baseline_and_degraded() {
        let base = Profile::BASELINE;
        assert_eq!(Profile::ramping(base, 0.0), Profile::BASELINE);
        assert_eq!(Profile::ramping(base, 2.0), Profile::DEGRADED);
        let half = Profile::ramping(base, 0.5);
        assert!((half.error_rate - 0.06125).abs() < 1e-9);
        assert_eq!(Profile::BASELINE.health(), Health::Healthy);
        assert_eq!(Profile::ramping(base, 0.3).health(), Health::Degraded);
        assert_eq!(Profile::DEGRADED.health(), Health::Unhealthy);
    }

    #[test]
    fn integration_across_a_kink_is_exact() {
        let t0 = Instant::now();
        let ramp = Duration::from_secs(10);
        let profile_at = |t: Instant| Profile::ramping(Profile::BASELINE, (t - t0).as_secs_f64() / ramp.as_secs_f64());
        let mut m = Meter::new(t0);
        let before = m.errors;
        let end = t0 + Duration::from_secs(20);
        m.advance(end, |t| if t < t0 + ramp { t0 + ramp } else { end }, profile_at);
        // 10s ramping (mean rate halfway) then 10s fully degraded.
        let rps = REQUESTS_PER_SECOND;
        let expected = rps * 10.0 * (0.0025 + 0.12) / 2.0 + rps * 10.0 * 0.12;
        assert!((m.errors - before - expected).abs() < 1e-6, "{}", m.errors - before);
    }
}
