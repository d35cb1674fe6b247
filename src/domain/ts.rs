//! Timestamps as backout writes them: RFC 3339, UTC, milliseconds, `Z`
//! (`2026-11-21T14:02:07.123Z`). The store keeps this text, and JSON output
//! shows times the same way (docs/cli-json.md).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// The text form of a time.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses RFC 3339 text (any offset) into UTC.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// `d` as a chrono duration; the longest chrono holds when `d` is longer.
pub fn delta(d: std::time::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

/// `at + d`, or the latest time chrono holds when that is past it: a deadline
/// never panics, however long the duration a config or an answer gave.
pub fn after(at: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    at.checked_add_signed(delta(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `at - d`, or the earliest time chrono holds when that is before it.
pub fn before(at: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    at.checked_sub_signed(delta(d)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `at + d` for a monotonic instant, or a century on when that overflows.
pub fn instant_after(at: std::time::Instant, d: std::time::Duration) -> std::time::Instant {
    const CENTURY: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    at.checked_add(d).or_else(|| at.checked_add(CENTURY)).unwrap_or(at)
}

/// `serialize_with` for a time: the text form.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*t))
}

/// `serialize_with` for an optional time: the text form, or `null`.
pub fn serialize_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format(*t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_with_milliseconds() {
        let text = "2026-01-01T00:00:30.000Z";
        let t = parse(text).unwrap_or_default();
        assert_eq!(format(t), text);
        assert_eq!(parse("2026-01-01T01:00:30.000+01:00"), Some(t));
        assert_eq!(parse("yesterday"), None);
    }

    #[test]
    fn item8_time_arithmetic_saturates_instead_of_panicking() {
        let now = Utc::now();
        let huge = std::time::Duration::from_secs(u64::MAX);
        assert_eq!(after(now, huge), DateTime::<Utc>::MAX_UTC);
        assert_eq!(before(now, huge), DateTime::<Utc>::MIN_UTC);
        let ten_thousand_years = std::time::Duration::from_secs(300_000 * 365 * 24 * 3600);
        assert_eq!(after(now, ten_thousand_years), DateTime::<Utc>::MAX_UTC);
        assert_eq!(after(now, std::time::Duration::from_secs(60)), now + chrono::TimeDelta::seconds(60));
        let i = std::time::Instant::now();
        assert!(instant_after(i, huge) > i);
    }
}
