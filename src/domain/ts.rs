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
}
