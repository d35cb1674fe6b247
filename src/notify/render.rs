//! The message text: seed 001's communication templates filled with real values.

use std::fmt::Write as _;

use super::{Notification, NotificationKind};

/// The text of a notification, as sent to every channel.
pub fn render_text(n: &Notification) -> String {
    let mut out = title(n);
    out.push_str("\n\n");
    for (label, value) in fields(n) {
        let _ = writeln!(out, "{label}: {value}");
    }
    // No trailing newline: chat tools show it as an empty line.
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

/// The first line: the template's headline, marked when it is a drill.
pub fn title(n: &Notification) -> String {
    if n.drill { format!("[DRILL] {}", headline(n.kind)) } else { headline(n.kind).to_string() }
}

/// The template's `label: value` lines, in order; an empty value reads `unknown`.
pub fn fields(n: &Notification) -> Vec<(String, String)> {
    let mut out = Vec::new();
    line(&mut out, "Environment", &environment(n));
    match &n.flag {
        // A flag rollback changes a flag, not the version: say exactly that.
        Some(flag) => {
            let serving = n.from_version.as_deref().unwrap_or("unknown");
            line(&mut out, "Versions", &format!("{serving} (unchanged: a feature flag was turned off)"));
            line(&mut out, "Flag", &flag.to_string());
        }
        None => {
            if let Some(versions) = versions(n) {
                line(&mut out, "Versions", &versions);
            }
        }
    }
    match n.kind {
        NotificationKind::RollbackStarted => {
            line(&mut out, "Reason", &n.reason);
            line(&mut out, "Impact", &n.impact);
            line(&mut out, "ETA for resolution", "verifying now");
            line(&mut out, "Triggered by", &n.actor);
            line(&mut out, "Status", "Monitoring recovery");
        }
        NotificationKind::RollbackCompleted => {
            let took = n.duration.map(format_duration).unwrap_or_else(|| "unknown".to_string());
            line(&mut out, "Duration", &took);
            line(&mut out, "Reason", &n.reason);
            line(&mut out, "Customer Impact", &n.impact);
            line(&mut out, "Root Cause", "under investigation");
            line(&mut out, "Prevention", "to be decided in review");
            line(&mut out, "Triggered by", &n.actor);
            line(&mut out, "Status", "Stable and monitoring");
        }
        NotificationKind::RollbackFailed => {
            line(&mut out, "Reason", &n.reason);
            line(&mut out, "Error", n.error.as_deref().unwrap_or("unknown"));
            line(&mut out, "Impact", &n.impact);
            line(&mut out, "Triggered by", &n.actor);
            line(&mut out, "Status", "needs manual action");
        }
        NotificationKind::Alert => {
            line(&mut out, "Reason", &n.reason);
            line(&mut out, "Impact", &n.impact);
            line(&mut out, "Raised by", &n.actor);
        }
        NotificationKind::ApprovalRequested => {
            line(&mut out, "Reason", &n.reason);
            line(&mut out, "Requested by", &n.actor);
            line(&mut out, "Status", "waiting for a second operator; nothing has run");
        }
        NotificationKind::Escalation | NotificationKind::ObjectiveMissed | NotificationKind::Validated => {
            line(&mut out, "Reason", &n.reason);
            line(&mut out, "Impact", &n.impact);
            line(&mut out, "Raised by", &n.actor);
        }
    }
    for (label, value) in &n.detail {
        line(&mut out, label, value);
    }
    out
}

/// The first line of each template, without the drill prefix.
pub fn headline(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::RollbackStarted => "🚨 DEPLOYMENT ROLLBACK EXECUTED",
        NotificationKind::RollbackCompleted => "✅ ROLLBACK COMPLETED",
        NotificationKind::RollbackFailed => "❌ ROLLBACK FAILED",
        NotificationKind::Alert => "⚠️ ALERT",
        NotificationKind::ApprovalRequested => "✋ ROLLBACK AWAITS APPROVAL",
        NotificationKind::Escalation => "⏫ ESCALATION: DECISION TIME BOX RAN OUT",
        NotificationKind::ObjectiveMissed => "⏰ RECOVERY OBJECTIVE MISSED",
        NotificationKind::Validated => "✅ INCIDENT VALIDATED",
    }
}

pub use crate::text::format_duration;

fn line(out: &mut Vec<(String, String)>, label: &str, value: &str) {
    let value = if value.trim().is_empty() { "unknown" } else { value.trim() };
    out.push((label.to_string(), value.to_string()));
}

/// `checkout (BLUE)`: seed 001's templates write the colour as `[BLUE/GREEN]`.
fn environment(n: &Notification) -> String {
    match n.colour.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(colour) => format!("{} ({})", n.environment, colour.to_uppercase()),
        None => n.environment.clone(),
    }
}

fn versions(n: &Notification) -> Option<String> {
    let known = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    match (known(&n.from_version), known(&n.target_version)) {
        (None, None) => None,
        (from, to) => Some(format!(
            "{} -> {}",
            from.unwrap_or_else(|| "unknown".to_string()),
            to.unwrap_or_else(|| "unknown".to_string())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn started() -> Notification {
        Notification {
            kind: NotificationKind::RollbackStarted,
            environment: "checkout".into(),
            colour: Some("blue".into()),
            from_version: Some("v2.4.1".into()),
            target_version: Some("v2.4.0".into()),
            reason: "error rate 7.2% > 5% for 2m".into(),
            impact: "checkout failing for ~7% of customers".into(),
            duration: None,
            error: None,
            actor: "rule:error-rate".into(),
            drill: false,
            group_key: "checkout:error-rate".into(),
            flag: None,
            severity: None,
            incident_id: None,
            detail: Vec::new(),
        }
    }

    #[test]
    fn rollback_started_fills_the_seed_template() {
        let text = render_text(&started());
        assert_eq!(
            text,
            "🚨 DEPLOYMENT ROLLBACK EXECUTED\n\
             \n\
             Environment: checkout (BLUE)\n\
             Versions: v2.4.1 -> v2.4.0\n\
             Reason: error rate 7.2% > 5% for 2m\n\
             Impact: checkout failing for ~7% of customers\n\
             ETA for resolution: verifying now\n\
             Triggered by: rule:error-rate\n\
             Status: Monitoring recovery"
        );
    }

    #[test]
    fn rollback_completed_fills_the_seed_template() {
        let n = Notification {
            kind: NotificationKind::RollbackCompleted,
            duration: Some(Duration::from_millis(95_400)),
            impact: "unknown".into(),
            ..started()
        };
        let text = render_text(&n);
        assert!(text.starts_with("✅ ROLLBACK COMPLETED\n\n"), "{text}");
        for want in [
            "Environment: checkout (BLUE)",
            "Duration: 1m 35s",
            "Customer Impact: unknown",
            "Root Cause: under investigation",
            "Prevention: to be decided in review",
            "Status: Stable and monitoring",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn rollback_failed_names_the_error_and_asks_for_a_human() {
        let n = Notification {
            kind: NotificationKind::RollbackFailed,
            error: Some("driver http: HTTP 503 from /deployment/rollback".into()),
            ..started()
        };
        let text = render_text(&n);
        assert!(text.starts_with("❌ ROLLBACK FAILED\n"), "{text}");
        assert!(text.contains("Environment: checkout (BLUE)\n"), "{text}");
        assert!(text.contains("Error: driver http: HTTP 503 from /deployment/rollback"), "{text}");
        assert!(text.ends_with("Status: needs manual action"), "{text}");
    }

    #[test]
    fn a_flag_rollback_says_the_flag_changed_not_the_version() {
        let flag = crate::domain::FlagChange {
            key: "CHECKOUT_V2".into(),
            before: Some("true".into()),
            after: "false".into(),
            location: "env file .env".into(),
        };
        let n = Notification {
            kind: NotificationKind::RollbackCompleted,
            from_version: Some("1.4.3".into()),
            target_version: Some("1.4.3".into()),
            flag: Some(flag),
            ..started()
        };
        let text = render_text(&n);
        assert!(text.contains("Versions: 1.4.3 (unchanged: a feature flag was turned off)"), "{text}");
        assert!(text.contains("Flag: flag CHECKOUT_V2 true → false in env file .env"), "{text}");
        assert!(!text.contains("->"), "{text}");
    }

    #[test]
    fn alert_shows_the_reason() {
        let n = Notification { kind: NotificationKind::Alert, colour: None, from_version: None, ..started() };
        let text = render_text(&n);
        assert!(text.starts_with("⚠️ ALERT\n"), "{text}");
        assert!(text.contains("Environment: checkout\n"), "no colour when unknown: {text}");
        assert!(text.contains("Versions: unknown -> v2.4.0"), "{text}");
        assert!(text.contains("Reason: error rate 7.2% > 5% for 2m"), "{text}");
    }

    #[test]
    fn drill_notifications_are_marked() {
        let n = Notification { drill: true, ..started() };
        assert!(render_text(&n).starts_with("[DRILL] 🚨 DEPLOYMENT ROLLBACK EXECUTED"));
    }

    #[test]
    fn missing_values_say_unknown_and_versions_are_left_out() {
        let n = Notification {
            kind: NotificationKind::RollbackCompleted,
            colour: Some(" ".into()),
            from_version: None,
            target_version: None,
            impact: String::new(),
            ..started()
        };
        let text = render_text(&n);
        assert!(text.contains("Environment: checkout\n"), "{text}");
        assert!(!text.contains("Versions"), "{text}");
        assert!(text.contains("Duration: unknown"), "{text}");
        assert!(text.contains("Customer Impact: unknown"), "{text}");
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(42_600)), "43s");
        assert_eq!(format_duration(Duration::from_secs(3_723)), "1h 2m 3s");
    }
}
