//! How the engine acts: notifications sent without waiting, and automatic
//! rollbacks run on a blocking thread with their own database connection.

use super::state::RollbackOutcome;
use super::{Delivered, EngineEvent, Happened, Msg, Shared, StoreCmd};
use crate::config::EnvironmentConfig;
use crate::notify::{Notification, NotificationKind};
use crate::rollback::{Prepared, RollbackOptions};
use crate::store::{NewEvent, RollbackRow, Store};

/// Sends a notification without waiting for it, and records what went out.
pub(super) fn notify(sh: &Shared, env_id: i64, env_name: String, rollback_id: Option<i64>, mut n: Notification) {
    // Routed by the environment's severity (its objective's) when the notice
    // names none: what an incident it opens gets.
    if n.severity.is_none() {
        n.severity = sh
            .config
            .environment(&env_name)
            .map(|e| crate::incident::Severity::for_objective(e.recovery_time_objective.get(), &sh.config.severities));
    }
    let notifier = sh.notifier.clone();
    let writer = sh.writer.clone();
    let inbox = sh.inbox.clone();
    sh.rt.spawn(async move {
        let delivery = notifier.send(&n).await;
        if delivery.grouped {
            return;
        }
        if delivery.sent()
            && let Some(id) = rollback_id
        {
            writer.send(StoreCmd::Notified(id));
        }
        let what = Happened::Notification(Delivered {
            text: delivery.text.clone(),
            channels: delivery.channels.clone(),
            errors: delivery.errors.clone(),
            rollback_id: None,
            env_id: None,
        });
        let event = EngineEvent::now(&env_name, delivery.summary(), what);
        writer.send(StoreCmd::Event(NewEvent { rollback_id, ..event.to_row(Some(env_id), "backout") }));
        let _ = inbox.send(Msg::Event(event));
    });
}

/// Sends the notice of a finished rollback, naming `colour` (blue/green).
pub(super) fn notify_rollback(
    sh: &Shared,
    env_id: i64,
    env_name: &str,
    kind: NotificationKind,
    row: &RollbackRow,
    colour: Option<String>,
) {
    let n = Notification { drill: sh.opts.drill, colour, ..Notification::for_rollback(kind, row) };
    notify(sh, env_id, env_name.to_string(), Some(row.id), n);
}

/// The colour a finished rollback's notice names: see [`crate::rollback::notice_colour`].
pub(super) use crate::rollback::notice_colour;

pub(super) type StartedNote =
    (crate::notify::Notifier, super::StoreWriter, tokio::sync::mpsc::UnboundedSender<Msg>, String, i64);

/// What the engine is asked to roll back.
pub(super) enum Planned {
    /// A rule fired: plan now, from the environment's config.
    Automatic(Box<EnvironmentConfig>),
    /// An operator planned and confirmed it; the plan is re-checked under the lock.
    Confirmed(Box<Prepared>),
}

/// Everything a rollback run on a blocking thread needs.
pub(super) struct RunRollback {
    pub rt: tokio::runtime::Handle,
    pub db: std::path::PathBuf,
    pub plan: Planned,
    pub opts: RollbackOptions,
    pub note: StartedNote,
    pub drill: bool,
}

/// Runs on a blocking thread with its own database connection: plan (for a
/// rule), check the guardrails that need the history, announce the start, and
/// run the one rollback path.
pub(super) fn run_rollback(run: RunRollback) -> RollbackOutcome {
    let RunRollback { rt, db, plan, opts, note, drill } = run;
    let automatic = matches!(plan, Planned::Automatic(_));
    let what = if automatic { "automatic rollback".to_string() } else { format!("rollback by {}", opts.operator) };
    let mut store = match Store::open(&db) {
        Ok(s) => s,
        Err(e) => return RollbackOutcome::Error(format!("{what} could not run: {e}")),
    };
    let prepared = match plan {
        Planned::Confirmed(p) => *p,
        Planned::Automatic(env) => {
            let prepared = match crate::rollback::prepare(&rt, &mut store, &env, &opts) {
                Ok(Ok(p)) => p,
                Ok(Err(r)) => return RollbackOutcome::Refused(format!("{what} not started: {r}")),
                Err(e) => return RollbackOutcome::Error(format!("{what} could not run: {e:#}")),
            };
            if let Some(why) = crosses_irreversible(&store, &prepared, &env.irreversible_versions) {
                return RollbackOutcome::Refused(format!("{what} not started: {why}"));
            }
            // Asked before the start notice goes out; `begin_rollback` asks
            // again under its lock, where another engine cannot slip past it.
            match crate::rollback::automatic_refusal(&store, &prepared, &opts) {
                Ok(None) => {}
                Ok(Some(r)) => return RollbackOutcome::Refused(format!("{what} not started: {r}")),
                Err(e) => return RollbackOutcome::Error(format!("{what} could not run: {e:#}")),
            }
            prepared
        }
    };
    let (notifier, writer, inbox, name, env_id) = note;
    let (serving_colour, target_colour) =
        (prepared.colour.clone(), prepared.target.as_ref().and_then(|t| t.colour.clone()));
    let n = Notification {
        kind: NotificationKind::RollbackStarted,
        environment: name.clone(),
        colour: prepared.target.as_ref().and_then(|t| t.colour.clone()),
        from_version: prepared.from_version.clone(),
        target_version: prepared.target.as_ref().map(|t| t.version.clone()),
        reason: opts.reason.clone(),
        impact: "unknown".into(),
        duration: None,
        error: None,
        actor: opts.operator.clone(),
        drill,
        group_key: format!("{name}:rollback-start"),
        flag: None,
        severity: None,
        incident_id: None,
        detail: Vec::new(),
    };
    // The start notice goes out now without being waited for: a slow webhook
    // never delays a rollback. It learns the rollback's id once there is one.
    let (id_tx, id_rx) = tokio::sync::oneshot::channel::<i64>();
    let (notice_inbox, notice_name) = (inbox.clone(), name.clone());
    rt.spawn(async move {
        let d = notifier.send(&n).await;
        let id = id_rx.await.ok();
        if let (true, Some(id)) = (d.sent(), id) {
            writer.send(StoreCmd::Notified(id));
        }
        let msg = format!("rollback notice: {}", if d.sent() { d.channels.join(", ") } else { "not sent".into() });
        let what = Happened::Notification(Delivered {
            text: d.text,
            channels: d.channels,
            errors: d.errors,
            rollback_id: id,
            env_id: Some(env_id),
        });
        let _ = notice_inbox.send(Msg::Event(EngineEvent::now(&notice_name, msg, what)));
    });
    let mut on_phase = |phase: crate::drivers::Phase| {
        let _ = inbox.send(Msg::Event(EngineEvent::now(&name, phase.as_str(), Happened::RollbackPhase(phase))));
    };
    match crate::rollback::execute_with_phases(&rt, &mut store, prepared, &opts, &mut on_phase) {
        Ok(Ok(row)) => {
            let _ = id_tx.send(row.id);
            let completed = row.status == crate::store::RollbackStatus::Completed;
            let colour = notice_colour(completed, serving_colour.as_deref(), target_colour.as_deref());
            RollbackOutcome::Finished(Box::new(row), colour)
        }
        Ok(Err(r)) => RollbackOutcome::Refused(format!("{what} not started: {r}")),
        Err(e) => RollbackOutcome::Error(format!("{what} could not run: {e:#}")),
    }
}

/// Clears the environment's automatic-rollback block on a blocking thread with
/// its own connection (the store records who cleared it), and says what it did.
pub(super) fn unblock(sh: &Shared, env_id: i64, env_name: String) {
    let (db, inbox) = (sh.db_path.clone(), sh.inbox.clone());
    sh.rt.spawn_blocking(move || {
        let cleared =
            Store::open(&db).and_then(|mut s| s.clear_automatic_block(env_id, "operator", "cleared by the operator"));
        let msg = match cleared {
            Ok(Some(b)) => format!("automatic rollback {} may run again (cleared by the operator)", b.from_to()),
            Ok(None) => "no automatic rollback is blocked".to_string(),
            Err(e) => format!("could not clear the automatic-rollback block: {e}"),
        };
        let _ = inbox.send(Msg::Event(EngineEvent::now(&env_name, msg, Happened::AutomaticUnblocked)));
    });
}

/// Why going back to the planned target would cross a version marked irreversible.
fn crosses_irreversible(store: &Store, prepared: &Prepared, irreversible: &[String]) -> Option<String> {
    let target = prepared.target.as_ref()?;
    let history = store.deployments(prepared.environment_id).unwrap_or_default();
    let target_at = history.iter().rev().find(|d| d.version == target.version).map(|d| d.deployed_at)?;
    let crossed = history.iter().filter(|d| d.deployed_at > target_at).find(|d| irreversible.contains(&d.version))?;
    Some(format!(
        "going back to {} would cross {}, which is marked irreversible; roll back by hand if it is safe",
        target.version, crossed.version
    ))
}
