//! Drills: ship a bad release to a service offering `POST /deployment/deploy`
//! (the simulated fleet, or a staging service), let the watch engine detect and
//! roll it back (or wait for the operator), run the checklist, and record a
//! drill incident with its times. A drill never pages anyone.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr, eyre};
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::{CloseDetails, IncidentSummary, Milestone, OpenRequest, checklist};
use crate::config::Config;
use crate::engine::{EngineEvent, EngineOptions};
use crate::notify::{Notification, NotificationKind, Notifier};
use crate::playbook::PlaybookClient;
use crate::store::{NewEvent, RollbackStatus, Store};

/// What to drill.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// Environment name.
    pub env: String,
    /// Scenario; only `bad-deploy` exists.
    pub scenario: String,
    /// Wait for a person to roll back instead of letting the engine do it.
    pub manual: bool,
    /// Give up after this long.
    pub timeout: Duration,
    /// Version to deploy; `drill-<time>-bad` when `None`.
    pub version: Option<String>,
}

/// How a drill went.
#[derive(Debug, Clone, Serialize)]
pub struct DrillOutcome {
    /// The drill incident, its milestones and durations.
    pub incident: IncidentSummary,
    /// Every step happened (detected, rolled back, validated).
    pub completed: bool,
    /// What went wrong, if anything.
    pub problems: Vec<String>,
}

fn log(
    store: &Store,
    incident_id: i64,
    env_id: i64,
    kind: &str,
    message: String,
    data: Option<serde_json::Value>,
) -> Result<()> {
    store.append_event(&NewEvent {
        at: Utc::now(),
        incident_id: Some(incident_id),
        environment_id: Some(env_id),
        rollback_id: None,
        actor: "drill".into(),
        kind: kind.into(),
        message,
        data: data.map(|d| d.to_string()),
    })?;
    Ok(())
}

/// Runs a drill to its end. Blocks; call it from a thread that is not a runtime
/// worker (the CLI's main thread, or `spawn_blocking`). `progress` hears each step.
pub fn run(
    rt: &Handle,
    config: &Config,
    db_path: &Path,
    opts: &DrillOptions,
    mut progress: impl FnMut(&str),
) -> Result<DrillOutcome> {
    if opts.scenario != "bad-deploy" {
        return Err(eyre!("unknown drill scenario {:?}; the scenario that exists is bad-deploy", opts.scenario));
    }
    let env = config
        .environment(&opts.env)
        .ok_or_else(|| eyre!("no environment named {:?} in the config", opts.env))?
        .clone();
    let mut store = Store::open(db_path)?;
    let env_id = store.ensure_environment(env.name(), env.kind.as_str(), env.base_url.get_ref())?;
    if let Some(open) = store.open_incident_for(env_id)? {
        return Err(eyre!(
            "{} already has open incident #{}; close it (`backout incident close {}`) before drilling",
            env.name(),
            open.id,
            open.id
        ));
    }
    let operator = config.operator();
    let incident = super::open(
        &mut store,
        &config.severities,
        Some(&env),
        &OpenRequest {
            title: format!("drill: {} on {}", opts.scenario, env.name()),
            severity: None,
            drill: true,
            by: operator.clone(),
            impact: Some("none: drill".into()),
            runbook: None,
            detected: None,
        },
    )?;
    let id = incident.id;
    progress(&format!("drill incident #{id} opened"));

    // The engine watches only the drilled environment, with automatic rollback
    // forced on (off for a manual drill), and its notifications can reach only
    // the drill channel.
    let mut drill_config = config.clone();
    drill_config.environments.retain(|e| e.name() == env.name());
    for e in &mut drill_config.environments {
        e.auto_rollback = !opts.manual;
        e.cooldown = crate::config::HumanDuration::secs(0);
    }
    let drill_url = config
        .notifications
        .drill_webhook_url_env
        .as_ref()
        .and_then(|v| std::env::var(v.get_ref()).ok())
        .filter(|u| !u.trim().is_empty());
    let engine_notifier =
        Notifier::with_webhooks(drill_url.clone(), drill_url, false, config.notifications.group_window.get());
    let (events_tx, mut events) = mpsc::channel::<EngineEvent>(crate::engine::EVENT_QUEUE);
    let (_commands_tx, commands) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let engine_opts = EngineOptions { persist_every: Duration::from_secs(1), drill: true, ..EngineOptions::default() };
    let engine = rt.spawn(crate::engine::run(
        Arc::new(drill_config),
        db_path.to_path_buf(),
        engine_notifier,
        engine_opts,
        events_tx,
        commands,
        async {
            let _ = stop_rx.await;
        },
    ));

    let result = drive(rt, &mut store, config, &env, id, env_id, opts, &mut events, &mut progress);
    let _ = stop_tx.send(());
    match rt.block_on(engine) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => progress(&format!("the watch engine stopped with an error: {e:#}")),
        Err(e) => progress(&format!("the watch engine task failed: {e}")),
    }
    let problems = match result {
        Ok(p) => p,
        Err(e) => vec![format!("{e:#}")],
    };
    for p in &problems {
        log(&store, id, env_id, "drill_problem", p.clone(), None)?;
    }
    super::close(
        &mut store,
        id,
        &operator,
        &CloseDetails { impact: None, root_cause: Some("drill".into()), prevention: None },
    )?;
    let summary = super::show(&store, id)?.ok_or_else(|| eyre!("drill incident #{id} vanished"))?;
    let completed = problems.is_empty();
    Ok(DrillOutcome { incident: summary, completed, problems })
}

#[allow(clippy::too_many_arguments)]
fn drive(
    rt: &Handle,
    store: &mut Store,
    config: &Config,
    env: &crate::config::EnvironmentConfig,
    id: i64,
    env_id: i64,
    opts: &DrillOptions,
    events: &mut mpsc::Receiver<EngineEvent>,
    progress: &mut impl FnMut(&str),
) -> Result<Vec<String>> {
    let deadline = Instant::now() + opts.timeout;
    let left = || deadline.saturating_duration_since(Instant::now());
    // Give the engine a few polls of the good version first: rules judge the bad
    // release against what came before it.
    let settle = config.poll_interval.get().mul_f64(2.5).min(Duration::from_secs(15));
    rt.block_on(async {
        tokio::time::sleep(settle).await;
        while events.try_recv().is_ok() {}
    });

    let client = PlaybookClient::new(env.endpoints(), env.timeout.get());
    let version = opts.version.clone().unwrap_or_else(|| format!("drill-{}-bad", Utc::now().format("%Y%m%d%H%M%S")));
    let answer = rt.block_on(client.deploy(&version)).wrap_err_with(|| {
        format!("POST /deployment/deploy to {} failed; a drill needs a service that offers it", env.name())
    })?;
    store.set_milestone(id, Milestone::ImpactStarted, Utc::now(), "drill")?;
    log(store, id, env_id, "drill_deploy", format!("drill deployed {version}"), serde_json::to_value(&answer).ok())?;
    progress(&format!("deployed {version}; waiting for the engine to detect it"));

    // Detection and rollback: from the engine's events, or the operator's rollback.
    let mut problems = Vec::new();
    loop {
        if left().is_zero() {
            problems.push(format!("no completed rollback within {}s", opts.timeout.as_secs()));
            return Ok(problems);
        }
        let next = rt.block_on(async { tokio::time::timeout(Duration::from_secs(1), events.recv()).await });
        if let Ok(Some(ev)) = next {
            if ev.environment != env.name() {
                continue;
            }
            match ev.kind() {
                // The engine records the detection (the rule's first breach).
                "rule_fired" => progress(&format!("detected: {}", ev.message)),
                "rollback_starting" => progress(&ev.message),
                "rollback_failed" | "rollback_blocked" => {
                    problems.push(ev.message.clone());
                    return Ok(problems);
                }
                _ => {}
            }
        }
        let done = store
            .incident_rollbacks(id)?
            .into_iter()
            .find(|r| matches!(r.status, RollbackStatus::Completed | RollbackStatus::Failed));
        match done {
            Some(r) if r.status == RollbackStatus::Completed => {
                progress(&format!("rollback #{} completed", r.id));
                break;
            }
            Some(r) => {
                problems.push(format!("rollback #{} failed: {}", r.id, r.error.unwrap_or_default()));
                return Ok(problems);
            }
            None => {}
        }
    }

    // Validation: automatic items tick themselves after their window; in an
    // automatic drill nobody is at the keyboard, so required manual items are
    // waived, in the open, with a note saying so.
    if !opts.manual {
        for item in env.checklist.iter().filter(|i| i.check == crate::domain::CheckKind::Manual && i.required) {
            checklist::waive_item(
                store,
                id,
                env,
                &item.title,
                "drill: no person at the keyboard to check this",
                "drill",
            )?;
        }
    }
    progress("checking the checklist");
    loop {
        let round = checklist::evaluate_checklist(rt, store, id, env)?;
        if round.validated {
            progress("validated: every required checklist item passed or was waived");
            break;
        }
        if left().is_zero() {
            let open: Vec<String> =
                round.items.iter().filter(|i| i.required && !i.settled()).map(|i| i.title.clone()).collect();
            problems.push(format!("not validated in time; still open: {}", open.join(", ")));
            return Ok(problems);
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    // The summary goes out marked as a drill, so only the drill channel gets it.
    let rollback = store.incident_rollbacks(id)?.into_iter().find(|r| r.status == RollbackStatus::Completed);
    let n = Notification {
        kind: NotificationKind::RollbackCompleted,
        environment: env.name().to_string(),
        colour: None,
        from_version: rollback.as_ref().and_then(|r| r.from_version.clone()),
        target_version: rollback.as_ref().and_then(|r| r.target_version.clone()),
        reason: rollback.as_ref().map(|r| r.reason.clone()).unwrap_or_default(),
        impact: "none: drill".into(),
        duration: rollback
            .as_ref()
            .and_then(|r| r.duration_ms)
            .map(|ms| Duration::from_millis(ms.max(0).unsigned_abs())),
        error: None,
        actor: "drill".into(),
        drill: true,
        group_key: format!("{}:drill:{id}", env.name()),
        flag: rollback.as_ref().and_then(|r| r.flag.clone()),
    };
    let mut notify_cfg = config.notifications.clone();
    notify_cfg.desktop = false;
    let delivery = rt.block_on(Notifier::from_config(&notify_cfg).send(&n));
    let msg = if delivery.sent() {
        format!("drill summary sent to {}", delivery.channels.join(", "))
    } else {
        "drill summary recorded (no drill channel configured)".to_string()
    };
    log(
        store,
        id,
        env_id,
        "notification",
        msg,
        Some(
            serde_json::json!({ "text": delivery.text, "channels": delivery.channels, "errors": delivery.errors, "drill": true }),
        ),
    )?;
    Ok(problems)
}

/// One past drill with its times.
#[derive(Debug, Clone, Serialize)]
pub struct DrillRecord {
    /// The drill incident with milestones and durations.
    #[serde(flatten)]
    pub incident: IncidentSummary,
}

/// Past drills, newest first.
pub fn drills(store: &mut Store, limit: usize) -> Result<Vec<DrillRecord>> {
    let ids: Vec<i64> =
        store.incidents(usize::MAX)?.into_iter().filter(|i| i.drill).take(limit).map(|i| i.id).collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(s) = super::show(store, id)? {
            out.push(DrillRecord { incident: s });
        }
    }
    Ok(out)
}
