//! How facts are written as text, in one place for every view: the console,
//! the CLI, notifications and exports.

use std::time::Duration;

/// `1.4.3 → 1.4.2`: where a rollback went (`?` for a version not known).
pub fn from_to(from: Option<&str>, to: Option<&str>) -> String {
    format!("{} → {}", from.unwrap_or("?"), to.unwrap_or("?"))
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
        assert_eq!(bars(&[0.0, 0.5, 1.0], 0.0, 1.0), "▁▅█");
        assert_eq!(bars(&[3.0, 3.0], 3.0, 3.0), "▁▁");
    }
}
