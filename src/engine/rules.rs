//! Trigger rules over a signal's recent samples.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::sample::{Sample, SampleRing};
use crate::config::{RuleKind, SignalConfig, SignalSource, TriggerConfig};
use crate::store::RollbackTrigger;

/// Why a rule holds: the rule, its window and the samples that broke it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Evidence {
    /// The rule as a person reads it.
    pub rule: String,
    /// Window in seconds (0 for rules without one).
    pub window_secs: u64,
    /// The breaching samples, oldest first (at most 20).
    pub samples: Vec<Sample>,
    /// Baseline for `drop` rules.
    pub baseline: Option<f64>,
    /// One line: "error_rate 0.072 > 0.05 for 2m (24 samples)".
    pub summary: String,
    /// The first sample of the breach that made the rule hold: when it was detected.
    pub first_breach: DateTime<Utc>,
}

/// Most samples kept as evidence.
const EVIDENCE_SAMPLES: usize = 20;

/// The rule as a person reads it.
pub fn describe(t: &TriggerConfig) -> String {
    let sig = t.signal.get_ref();
    let window = t.window.map(|w| format!(" for {w}")).unwrap_or_default();
    match t.rule {
        RuleKind::Above => format!("{sig} above {}{window}", t.threshold.unwrap_or(f64::NAN)),
        RuleKind::Below => format!("{sig} below {}{window}", t.threshold.unwrap_or(f64::NAN)),
        RuleKind::ConsecutiveFailures => format!("{sig}: {} failed checks in a row", t.count.unwrap_or(1)),
        RuleKind::Drop => {
            format!("{sig} dropped more than {} below its pre-deploy baseline{window}", t.threshold.unwrap_or(f64::NAN))
        }
        RuleKind::Firing => format!("{sig}: alert firing{window}"),
    }
}

/// The rollback trigger recorded for a rule on a signal.
pub fn rollback_trigger(signal: Option<&SignalConfig>, t: &TriggerConfig) -> RollbackTrigger {
    if t.rule == RuleKind::ConsecutiveFailures || signal.is_some_and(|s| s.source == SignalSource::Health) {
        return RollbackTrigger::HealthCheckFailed;
    }
    // An alert's signal is named by what it matches (alertname="HighErrorRate").
    let matchers = signal.map(|s| s.matchers.iter().map(|m| m.get_ref().as_str()).collect::<Vec<_>>().join(" "));
    let name = format!("{} {}", t.signal.get_ref(), matchers.unwrap_or_default()).to_ascii_lowercase();
    if name.contains("error") {
        RollbackTrigger::ErrorRate
    } else if name.contains("latency") || name.contains("response") || name.contains("duration") {
        RollbackTrigger::Latency
    } else if name.contains("quality") || name.contains("score") {
        RollbackTrigger::Quality
    } else {
        RollbackTrigger::Resource
    }
}

fn evidence(t: &TriggerConfig, mut samples: Vec<Sample>, baseline: Option<f64>, summary: String) -> Evidence {
    samples.reverse();
    // Taken before the list is cut to its newest samples.
    let first_breach = samples.first().map_or_else(Utc::now, |s| s.at);
    if samples.len() > EVIDENCE_SAMPLES {
        samples.drain(..samples.len() - EVIDENCE_SAMPLES);
    }
    Evidence {
        rule: describe(t),
        window_secs: t.window.map_or(0, |w| w.get().as_secs()),
        samples,
        baseline,
        summary,
        first_breach,
    }
}

/// Newest-first breaching streak among samples taken since `since`, and whether
/// it spans the rule's window.
fn streak(
    ring: &SampleRing,
    since: DateTime<Utc>,
    window: chrono::Duration,
    breaches: impl Fn(f64) -> bool,
) -> Option<Vec<Sample>> {
    let mut run: Vec<Sample> = Vec::new();
    for s in ring.iter().rev().take_while(|s| s.at >= since) {
        match s.value {
            Some(v) if s.ok && breaches(v) => run.push(s),
            _ => break,
        }
    }
    let (newest, oldest) = (run.first()?, run.last()?);
    (newest.at - oldest.at >= window).then_some(run)
}

fn fmt_value(v: f64) -> String {
    if v.abs() >= 100.0 { format!("{v:.0}") } else { format!("{v:.3}") }
}

/// Evidence when the rule holds on the samples taken since `since`.
pub fn evaluate(t: &TriggerConfig, ring: &SampleRing, since: DateTime<Utc>, baseline: Option<f64>) -> Option<Evidence> {
    let window = t
        .window
        .map_or(chrono::Duration::zero(), |w| chrono::Duration::from_std(w.get()).unwrap_or(chrono::Duration::MAX));
    let threshold = t.threshold.unwrap_or(f64::NAN);
    let sig = t.signal.get_ref();
    match t.rule {
        RuleKind::Above | RuleKind::Below => {
            let above = t.rule == RuleKind::Above;
            let run = streak(ring, since, window, |v| if above { v > threshold } else { v < threshold })?;
            let latest = run.first()?.value?;
            let op = if above { ">" } else { "<" };
            let summary = format!(
                "{sig} {} {op} {} for {} ({} samples)",
                fmt_value(latest),
                fmt_value(threshold),
                humantime::format_duration(t.window.map(|w| w.get()).unwrap_or_default()),
                run.len()
            );
            Some(evidence(t, run, None, summary))
        }
        RuleKind::ConsecutiveFailures => {
            let n = t.count.unwrap_or(1) as usize;
            let recent: Vec<Sample> = ring.iter().rev().take_while(|s| s.at >= since).take(n).collect();
            if recent.len() < n || recent.iter().any(|s| s.ok) {
                return None;
            }
            let last_error = recent.first().and_then(|s| s.error.clone()).unwrap_or_default();
            let summary = format!("{sig}: {n} failed checks in a row (last: {last_error})");
            Some(evidence(t, recent, None, summary))
        }
        RuleKind::Drop => {
            let base = baseline?;
            let floor = base - threshold;
            let run = streak(ring, since, window, |v| v < floor)?;
            let latest = run.first()?.value?;
            let summary = format!(
                "{sig} {} is {} below its baseline {} (allowed {})",
                fmt_value(latest),
                fmt_value(base - latest),
                fmt_value(base),
                fmt_value(threshold)
            );
            Some(evidence(t, run, Some(base), summary))
        }
        RuleKind::Firing => {
            let run = streak(ring, since, window, |v| v >= 1.0)?;
            let what = run.first().and_then(|s| s.text.clone()).unwrap_or_else(|| "an alert".into());
            let summary = format!(
                "{sig}: {what} for {} ({} samples)",
                humantime::format_duration(t.window.map(|w| w.get()).unwrap_or_default()),
                run.len()
            );
            Some(evidence(t, run, None, summary))
        }
    }
}

/// Mean of the good samples taken before `deployed_at`: the pre-deploy baseline.
pub fn baseline(ring: &SampleRing, deployed_at: DateTime<Utc>) -> Option<f64> {
    mean_between(ring, DateTime::<Utc>::MIN_UTC, deployed_at)
}

/// Mean of the good, finite samples taken at or after `from` and before `until`.
pub fn mean_between(ring: &SampleRing, from: DateTime<Utc>, until: DateTime<Utc>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0u32);
    for v in ring.iter().filter(|s| s.at >= from && s.at < until && s.ok).filter_map(|s| s.value) {
        if v.is_finite() {
            sum += v;
            n += 1;
        }
    }
    (n > 0).then(|| sum / f64::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HumanDuration, RuleAction};

    fn rule(rule: RuleKind, threshold: Option<f64>, window: u64, count: Option<u32>) -> TriggerConfig {
        TriggerConfig {
            signal: toml::Spanned::new(0..0, "error_rate".to_string()),
            rule,
            threshold,
            window: (window > 0).then(|| HumanDuration::secs(window)),
            count,
            action: RuleAction::Rollback,
            grace: None,
        }
    }

    fn ring(start: DateTime<Utc>, values: &[Option<f64>]) -> SampleRing {
        let mut r = SampleRing::new(100);
        for (i, v) in values.iter().enumerate() {
            let at = start + chrono::Duration::seconds(i as i64 * 10);
            r.push(match v {
                Some(v) => Sample::value(at, *v),
                None => Sample::failed(at, "timeout"),
            });
        }
        r
    }

    #[test]
    fn above_needs_every_sample_across_the_window() {
        let t0 = Utc::now() - chrono::Duration::hours(1);
        let r = rule(RuleKind::Above, Some(0.05), 120, None);
        // 12 samples 10 s apart over the threshold span 110 s: not yet 2 minutes.
        let mut values = vec![Some(0.01)];
        values.extend(std::iter::repeat_n(Some(0.07), 12));
        assert!(evaluate(&r, &ring(t0, &values), t0, None).is_none());
        values.push(Some(0.08));
        let e = evaluate(&r, &ring(t0, &values), t0, None).expect("13 samples span 120 s");
        assert_eq!(e.samples.len(), 13);
        assert!(e.summary.starts_with("error_rate 0.080 > 0.050 for 2m"), "{}", e.summary);
        // One good sample inside the window resets it.
        values[7] = Some(0.02);
        assert!(evaluate(&r, &ring(t0, &values), t0, None).is_none());
        // A failed poll is not a breach: unknown is not bad.
        values[7] = None;
        assert!(evaluate(&r, &ring(t0, &values), t0, None).is_none());
    }

    #[test]
    fn samples_before_since_do_not_count() {
        let t0 = Utc::now() - chrono::Duration::hours(1);
        let r = rule(RuleKind::Above, Some(0.05), 30, None);
        let ring = ring(t0, &[Some(0.1); 10]);
        assert!(evaluate(&r, &ring, t0, None).is_some());
        assert!(evaluate(&r, &ring, t0 + chrono::Duration::seconds(75), None).is_none());
    }

    #[test]
    fn consecutive_failures_and_drop() {
        let t0 = Utc::now() - chrono::Duration::hours(1);
        let r = rule(RuleKind::ConsecutiveFailures, None, 0, Some(3));
        assert!(evaluate(&r, &ring(t0, &[Some(1.0), None, None]), t0, None).is_none());
        assert!(evaluate(&r, &ring(t0, &[Some(1.0), None, None, None]), t0, None).is_some());

        let d = rule(RuleKind::Drop, Some(0.1), 0, None);
        let q = ring(t0, &[Some(0.93), Some(0.93), Some(0.9), Some(0.7)]);
        let deployed = t0 + chrono::Duration::seconds(15);
        let base = baseline(&q, deployed).unwrap();
        assert!((base - 0.93).abs() < 1e-9);
        let e = evaluate(&d, &q, t0, Some(base)).unwrap();
        assert!(e.summary.contains("below its baseline 0.930"), "{}", e.summary);
        assert!(evaluate(&d, &q, t0, None).is_none(), "no baseline, no verdict");
    }
}
