//! How a rollback is told: its announcement on the channels, and the texts every
//! view writes for where it went.

use chrono::Utc;
use color_eyre::eyre::Result;
use tokio::runtime::Handle;

use crate::store::{NewEvent, RollbackRow, RollbackStatus, Store};

/// Announces a finished manual rollback (completed or failed) through the
/// configured channels and records what went out. Called after the rollback is
/// recorded, so a slow or failing channel can never hold it up or fail it.
pub fn announce(
    rt: &Handle,
    store: &mut Store,
    notifier: &crate::notify::Notifier,
    row: &RollbackRow,
    colour: Option<String>,
) -> Result<()> {
    let kind = if row.status == RollbackStatus::Completed {
        crate::notify::NotificationKind::RollbackCompleted
    } else {
        crate::notify::NotificationKind::RollbackFailed
    };
    // Routed by the incident's severity.
    let severity = row.incident_id.and_then(|id| store.incident(id).ok().flatten()).and_then(|i| i.severity);
    let n = crate::notify::Notification { colour, severity, ..crate::notify::Notification::for_rollback(kind, row) };
    let delivery = rt.block_on(notifier.send(&n));
    if delivery.sent() {
        store.mark_notification_sent(row.id)?;
    }
    let message = delivery.summary();
    let env_id = store.environment_id(&row.environment)?;
    store.append_event(&NewEvent {
        at: Utc::now(),
        incident_id: row.incident_id,
        environment_id: env_id,
        rollback_id: Some(row.id),
        actor: "backout".into(),
        kind: "notification".into(),
        message,
        data: Some(
            serde_json::json!({ "text": delivery.text, "channels": delivery.channels, "errors": delivery.errors })
                .to_string(),
        ),
    })?;
    Ok(())
}

/// Who ran a rollback, as every view writes it: the operator, and the second
/// operator who approved it (`alice, approved by bob`).
pub fn who(row: &RollbackRow) -> String {
    match &row.approved_by {
        Some(approver) => format!("{}, approved by {approver}", row.operator),
        None => row.operator.clone(),
    }
}

/// `1.4.3 → 1.4.2`: where a rollback went, as every view writes it.
pub fn from_to(row: &RollbackRow) -> String {
    match &row.flag {
        Some(flag) => format!("{} (serving unchanged; {flag})", row.from_version.as_deref().unwrap_or("?")),
        None => crate::text::from_to(row.from_version.as_deref(), row.target_version.as_deref()),
    }
}

/// Where a rollback went, for a table's "to" column: the version, and for a
/// flag rollback the flag that changed (`1.4.3 (flag X true → false in ...)`).
pub fn target_text(row: &RollbackRow) -> String {
    let to = row.target_version.clone().unwrap_or_else(|| "-".into());
    match &row.flag {
        Some(flag) => format!("{to} ({flag})"),
        None => to,
    }
}

/// The colour a finished rollback's notice names, from its plan (the row does
/// not keep colours): once completed, the colour that held the target, which
/// the driver has verified is serving; after a failure, the colour that was
/// serving when it was planned, since a failed rollback is not known to have
/// moved traffic. `None` where the plan knew no colour (a standard environment,
/// or a target the service had to deploy first).
pub fn notice_colour(completed: bool, serving: Option<&str>, target: Option<&str>) -> Option<String> {
    if completed { target } else { serving }.map(str::to_string)
}
