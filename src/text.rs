//! How facts are written as text, in one place for every view: the console,
//! the CLI, notifications and exports.

use std::time::Duration;

/// `1.4.3 → 1.4.2`: where a rollback went (`?` for a version not known).
pub fn from_to(from: Option<&str>, to: Option<&str>) -> String {
    format!("{} → {}", from.unwrap_or("?"), to.unwrap_or("?"))
}

/// How long ago `at` was, as a pane shows it: `12s ago`, `3m ago`, `2h ago`,
/// `4d ago` (`in 5s` for a time ahead of the clock). Details and the CLI show
/// the time itself.
pub fn ago(now: chrono::DateTime<chrono::Utc>, at: chrono::DateTime<chrono::Utc>) -> String {
    let s = (now - at).num_seconds();
    let (n, ahead) = (s.unsigned_abs(), s < 0);
    let span = match n {
        0..60 => format!("{n}s"),
        60..3600 => format!("{}m", n / 60),
        3600..86_400 => format!("{}h", n / 3600),
        _ => format!("{}d", n / 86_400),
    };
    if ahead { format!("in {span}") } else { format!("{span} ago") }
}

/// A duration as people read it: milliseconds under a second, else whole seconds.
pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let rounded = Duration::from_secs(d.as_secs() + u64::from(d.subsec_millis() >= 500));
    humantime::format_duration(rounded).to_string()
}

/// A duration in milliseconds as people read it (`1m 12s`, `850ms`).
pub fn human_ms(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    format!("{sign}{}", format_duration(Duration::from_millis(ms.unsigned_abs())))
}

/// How long a rollback took, to a tenth of a second (`4.0s`): they are often
/// under a second, and the tenth matters when comparing them.
pub fn took(ms: i64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

/// Longest piece of service-supplied text kept (a version, a colour, an
/// error): past it the text is cut, the cut marked with the full length.
pub const MAX_SERVICE_TEXT: usize = 256;

/// Whether a character can act on a terminal or reorder what is shown: C0 and
/// C1 controls, DEL, and the bidirectional overrides and isolates.
fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text from outside (a service, a metrics page, a receiver) made safe to show
/// on one line: every control character, line break included, and every bidi
/// override is written as a visible escape (`\u{1b}`), so nothing reaches the
/// terminal that could act on it or forge a row.
pub fn printable_line(text: &str) -> std::borrow::Cow<'_, str> {
    escape_hostile(text, false)
}

/// Like [`printable_line`] but line breaks and tabs stay (a note, a runbook
/// step's answer): text of several lines, still with nothing that acts.
pub fn printable_text(text: &str) -> std::borrow::Cow<'_, str> {
    escape_hostile(text, true)
}

fn escape_hostile(text: &str, keep_breaks: bool) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| keep_breaks && matches!(c, '\n' | '\t');
    if !text.chars().any(|c| is_hostile(c) && !allowed(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hostile(c) && !allowed(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Service text as it is kept and shown: one printable line of at most
/// [`MAX_SERVICE_TEXT`] characters, a longer one cut with `…[N chars]`.
pub fn service_text(text: &str) -> String {
    let shown = printable_line(text);
    match shown.char_indices().nth(MAX_SERVICE_TEXT) {
        // The length noted is the service's own, before escaping.
        Some((i, _)) => format!("{}…[{} chars]", &shown[..i], text.chars().count()),
        None => shown.into_owned(),
    }
}

/// The start of a body a server sent, for an error message: trimmed, cut to
/// `max` characters with `…`, as one printable line.
pub fn excerpt(body: &str, max: usize) -> String {
    let trimmed = body.trim();
    let cut = match trimmed.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &trimmed[..i]),
        None => trimmed.to_string(),
    };
    printable_line(&cut).into_owned()
}

/// `text` cut to `max` characters, the cut marked with the full length:
/// `abc…[100000 chars]`.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…[{} chars]", &text[..i], text.chars().count()),
        None => text.to_string(),
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Values as block characters between `lo` (lowest bar) and `hi` (highest); a
/// flat span draws the lowest bar.
pub fn bars(values: &[f64], lo: f64, hi: f64) -> String {
    let span = hi - lo;
    values
        .iter()
        .map(|v| {
            if span.abs() < f64::EPSILON || !v.is_finite() {
                BARS[0]
            } else {
                BARS[(((v - lo) / span) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(from_to(Some("1.4.3"), None), "1.4.3 → ?");
        assert_eq!(human_ms(850), "850ms");
        assert_eq!(human_ms(72_400), "1m 12s");
        assert_eq!(took(4_040), "4.0s");
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-21T14:02:00Z").map(|t| t.to_utc()).ok();
        let at = |s: i64| now.map(|n| n - chrono::Duration::seconds(s));
        if let (Some(n), Some(a), Some(b), Some(c)) = (now, at(12), at(200), at(-5)) {
            assert_eq!((ago(n, a), ago(n, b), ago(n, c)), ("12s ago".into(), "3m ago".into(), "in 5s".into()));
        } else {
            panic!("bad test time");
        }
        assert_eq!(bars(&[0.0, 0.5, 1.0], 0.0, 1.0), "▁▅█");
        assert_eq!(bars(&[3.0, 3.0], 3.0, 3.0), "▁▁");
    }

    #[test]
    fn item11_control_characters_and_bidi_overrides_are_shown_escaped() {
        let title = "1.4.3\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}\u{202e}x\u{7f}";
        let shown = printable_line(title);
        assert!(!shown.chars().any(is_hostile), "{shown:?}");
        assert_eq!(shown, "1.4.3\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}\\u{202e}x\\u{7f}");
        assert_eq!(printable_line("2.0\nfake row"), "2.0\\u{a}fake row");
        assert_eq!(printable_text("two\nlines\u{1b}"), "two\nlines\\u{1b}");
        assert!(matches!(printable_line("plain 1.4.2 ✓"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn item7_service_text_is_bounded_with_its_full_length_noted() {
        let long = "9".repeat(100_000);
        let kept = service_text(&long);
        assert_eq!(kept, format!("{}…[100000 chars]", "9".repeat(MAX_SERVICE_TEXT)));
        assert_eq!(service_text("1.4.2"), "1.4.2");
        assert_eq!(bounded("héllo", 2), "hé…[5 chars]");
    }
}
