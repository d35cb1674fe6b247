//! Seed 002's rollback authority: on an environment with `approvals = 2` a
//! manual rollback is first a request; it runs only when a second, different
//! operator approves it, re-planned then and refused if the service moved.

use color_eyre::eyre::Result;
use tokio::runtime::Handle;

use super::{Prepared, RollbackOptions};
use crate::store::{NewRollbackRequest, RequestRefused, RollbackRequest, RollbackTrigger, Store};

pub use crate::store::REQUEST_EXPIRES;

/// Records `prepared`, planned and confirmed with `opts`, as a request
/// awaiting a second operator; refused while another request of the
/// environment is pending.
pub fn request(
    store: &mut Store,
    prepared: &Prepared,
    opts: &RollbackOptions,
) -> Result<std::result::Result<RollbackRequest, RequestRefused>> {
    let new = NewRollbackRequest {
        environment_id: prepared.environment_id,
        requested_by: opts.operator.clone(),
        reason: opts.reason.clone(),
        version: opts.version.clone(),
        state_id: opts.state,
        force: opts.force,
        skip_validation: opts.skip_validation,
        from_version: prepared.from_version.clone(),
        target_version: prepared.target.as_ref().map(|t| t.version.clone()),
        colour: prepared.colour.clone(),
        plan: prepared.describe(RollbackTrigger::Manual),
    };
    let recorded = store.request_rollback(&new, REQUEST_EXPIRES)?;
    match &recorded {
        Ok(r) => {
            tracing::info!(env = %r.environment, request = r.id, "rollback request #{} by {}: {}", r.id, r.requested_by, r.plan)
        }
        Err(RequestRefused::Pending(p)) => {
            tracing::warn!(env = %p.environment, "rollback request refused: request #{} is still pending", p.id);
        }
    }
    Ok(recorded)
}

/// The options `request` runs with when `approver` approves it: as its
/// operator asked, recorded as theirs, detected when they asked.
pub fn options_for(
    request: &RollbackRequest,
    approver: &str,
    objectives: crate::config::SeverityObjectives,
) -> RollbackOptions {
    RollbackOptions {
        version: request.version.clone(),
        state: request.state_id,
        force: request.force,
        skip_validation: request.skip_validation,
        reason: request.reason.clone(),
        operator: request.requested_by.clone(),
        trigger: RollbackTrigger::Manual,
        evidence: None,
        detected: Some(crate::incident::Detection { at: request.requested_at, by: request.requested_by.clone() }),
        objectives,
        approval: Some((request.id, approver.to_string())),
    }
}

/// What differs between the plan `request` was confirmed with and the plan
/// made again at approval (`prepared`): serving version, target or colour.
pub fn stale(request: &RollbackRequest, prepared: &Prepared) -> Option<String> {
    let target = prepared.target.as_ref().map(|t| t.version.clone());
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    if request.from_version != prepared.from_version {
        return Some(format!(
            "{} now serves {} (the request was planned against {})",
            request.environment,
            show(&prepared.from_version),
            show(&request.from_version)
        ));
    }
    if request.colour != prepared.colour {
        return Some(format!(
            "{} now serves the {} colour (the request was planned against {})",
            request.environment,
            show(&prepared.colour),
            show(&request.colour)
        ));
    }
    if request.target_version != target {
        return Some(format!(
            "the rollback would now go to {} (the request was to go to {})",
            show(&target),
            show(&request.target_version)
        ));
    }
    None
}

/// Tells the configured channels that `request` waits for a second operator,
/// and records what went out. A channel failing never fails the request.
pub fn announce_request(
    rt: &Handle,
    store: &mut Store,
    notifier: &crate::notify::Notifier,
    request: &RollbackRequest,
) -> Result<()> {
    let n = crate::notify::Notification {
        kind: crate::notify::NotificationKind::ApprovalRequested,
        environment: request.environment.clone(),
        colour: request.colour.clone(),
        from_version: request.from_version.clone(),
        target_version: request.target_version.clone(),
        reason: request.reason.clone(),
        impact: "unknown".into(),
        duration: None,
        error: None,
        actor: request.requested_by.clone(),
        drill: false,
        group_key: format!("{}:request:{}", request.environment, request.id),
        flag: None,
        severity: None,
        incident_id: None,
        detail: vec![
            ("Plan".into(), request.plan.clone()),
            (
                "Approve with".into(),
                format!(
                    "backout approve {} (by an operator other than {}, within {} minutes)",
                    request.id,
                    request.requested_by,
                    REQUEST_EXPIRES.num_minutes()
                ),
            ),
        ],
    };
    let delivery = rt.block_on(notifier.send(&n));
    store.append_event(&crate::store::NewEvent {
        at: chrono::Utc::now(),
        incident_id: request.incident_id,
        environment_id: Some(request.environment_id),
        rollback_id: None,
        actor: "backout".into(),
        kind: "notification".into(),
        message: delivery.summary(),
        data: Some(
            serde_json::json!({ "request_id": request.id, "channels": delivery.channels, "errors": delivery.errors })
                .to_string(),
        ),
    })?;
    Ok(())
}
