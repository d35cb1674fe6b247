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
    /// Met or missed, as recorded.
    pub verdict: Verdict,
}

/// A drill's score: each time against the objective, and MET or MISSED.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Verdict {
    /// `MET`: every step happened and recovery (detect to validated) was within
    /// the objective. `MISSED` otherwise, failed drills included.
    pub verdict: String,
    /// Every step happened.
    pub completed: bool,
    /// The times and how they compare with the objective.
    #[serde(flatten)]
    pub durations: super::Durations,
}

impl Verdict {
    /// The score of a drill with these durations that did (or did not) complete.
    pub fn of(d: &super::Durations, completed: bool) -> Verdict {
        let met = completed && d.recovered_within_objective == Some(true);
        Verdict { verdict: if met { "MET" } else { "MISSED" }.to_string(), completed, durations: d.clone() }
    }
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
    preflight(rt, &store, env_id, &env, opts)?;
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
    // Live samples let the drill say what the signals read while it waits.
    let engine_opts = EngineOptions {
        persist_every: Duration::from_secs(1),
        drill: true,
        live_samples: true,
        ..EngineOptions::default()
    };
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
        &CloseDetails { root_cause: Some("drill".into()), ..CloseDetails::default() },
    )?;
    let summary = super::show(&store, id)?.ok_or_else(|| eyre!("drill incident #{id} vanished"))?;
    let completed = problems.is_empty();
    // The score is recorded once, at the end, with the incident.
    let verdict = Verdict::of(&summary.durations, completed);
    let line =
        format!("drill {}: {}", verdict.verdict, if completed { "every step happened" } else { "not completed" });
    log(&store, id, env_id, "drill_verdict", line, serde_json::to_value(&verdict).ok())?;
    let summary = super::show(&store, id)?.ok_or_else(|| eyre!("drill incident #{id} vanished"))?;
    Ok(DrillOutcome { incident: summary, completed, problems, verdict })
}

/// Longest the preflight waits for the service.
const PREFLIGHT_WAIT: Duration = Duration::from_millis(1500);

/// What would make the drill wait for nothing, found before anything is done
/// (within [`PREFLIGHT_WAIT`] of the service): each refusal says the fix.
fn preflight(
    rt: &Handle,
    store: &Store,
    env_id: i64,
    env: &crate::config::EnvironmentConfig,
    opts: &DrillOptions,
) -> Result<()> {
    let name = env.name();
    if let Some(open) = store.open_incident_for(env_id)? {
        return Err(eyre!(
            "{name} already has open incident #{}; close it (`backout incident close {}`) before drilling",
            open.id,
            open.id
        ));
    }
    if !opts.manual {
        if !env.auto_rollback {
            return Err(eyre!(
                "automatic rollback is off for {name} (`auto_rollback = false`), so nothing would roll the drill's \
                 release back: set `auto_rollback = true` on {name} for the drill, or run `backout drill --env {name} \
                 --manual` and roll back yourself"
            ));
        }
        let acts = env.effective_triggers().iter().any(|t| t.action != crate::config::RuleAction::Alert);
        if !acts {
            return Err(eyre!(
                "every trigger rule of {name} only alerts, so nothing would roll the drill's release back: give one \
                 `action = \"rollback\"` (or `\"propose\"`), or run the drill with --manual"
            ));
        }
    }
    let client = PlaybookClient::new(env.endpoints(), PREFLIGHT_WAIT);
    match rt.block_on(client.offers_deploy(PREFLIGHT_WAIT)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(eyre!(
            "{name} has no POST {} (it answers 404): a drill ships a bad release through it; drill against \
             `backout simulate` or a staging service that offers it",
            env.endpoints().deploy
        )),
        Err(e) => Err(eyre!("cannot reach {name} at {}: {e}; start the service, then drill", env.base_url.get_ref())),
    }
}

/// How long a bad release may take to be detected: the longest enabled rule's
/// window (or its run of failed checks), plus 30 seconds.
pub(crate) fn detection_budget(env: &crate::config::EnvironmentConfig, poll: Duration) -> Duration {
    let longest = env
        .effective_triggers()
        .iter()
        .map(|t| match (t.window, t.count) {
            (Some(w), _) => w.get(),
            (None, Some(n)) => poll.saturating_mul(n),
            (None, None) => poll,
        })
        .max()
        .unwrap_or_default();
    longest.saturating_add(Duration::from_secs(30))
}

/// The latest value of each signal, as a line: `error_rate 0.0031, health healthy`.
fn values_line(latest: &std::collections::BTreeMap<String, crate::domain::Sample>) -> String {
    if latest.is_empty() {
        return "no readings yet".into();
    }
    latest
        .iter()
        .map(|(name, s)| match (s.ok, s.value, &s.text) {
            (true, _, Some(t)) => format!("{name} {t}"),
            (true, Some(v), None) => format!("{name} {v:.4}"),
            _ => format!("{name} failed ({})", s.error.as_deref().unwrap_or("no answer")),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How often a drill says what it waits for.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

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
    let deadline = crate::domain::ts::instant_after(Instant::now(), opts.timeout);
    let left = || deadline.saturating_duration_since(Instant::now());
    let mut serving_colour: Option<String> = None;
    // Give the engine a few polls of the good version first: rules judge the bad
    // release against what came before it.
    let settle = config.poll_interval.get().min(Duration::from_secs(6)).mul_f64(2.5);
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
    let budget = detection_budget(env, config.poll_interval.get());
    progress(&format!(
        "deployed {version}; waiting for the engine to detect it (up to {})",
        humantime::format_duration(budget)
    ));

    // Detection and rollback: from the engine's events, or the operator's rollback.
    let mut problems = Vec::new();
    let deployed = Instant::now();
    let mut detected = false;
    let mut latest: std::collections::BTreeMap<String, crate::domain::Sample> = Default::default();
    let mut said = Instant::now();
    loop {
        if left().is_zero() {
            problems.push(format!("no completed rollback within {}s", opts.timeout.as_secs()));
            return Ok(problems);
        }
        if !detected && deployed.elapsed() > budget {
            problems.push(format!(
                "not detected: {version} did not break any rule within {} (the longest rule window + 30 s); \
                 signals: {}",
                humantime::format_duration(budget),
                values_line(&latest)
            ));
            return Ok(problems);
        }
        if said.elapsed() >= PROGRESS_EVERY {
            said = Instant::now();
            let waiting = if detected { "the rollback to complete" } else { "detection" };
            progress(&format!(
                "waiting for {waiting} ({}s in): {}",
                deployed.elapsed().as_secs(),
                values_line(&latest)
            ));
        }
        let next = rt.block_on(async { tokio::time::timeout(Duration::from_secs(1), events.recv()).await });
        if let Ok(Some(ev)) = next {
            if ev.environment != env.name() {
                continue;
            }
            if let crate::engine::Happened::Sample { signal, sample, .. } = &ev.what {
                latest.insert(signal.clone(), sample.clone());
                continue;
            }
            match ev.kind() {
                // The engine records the detection (the rule's first breach).
                "rule_fired" => {
                    detected = true;
                    progress(&format!("detected: {}", ev.message));
                }
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
                // The colour now serving, read when the rollback is seen done,
                // for the summary's `Environment: NAME (COLOUR)` (seed 001).
                if env.kind == crate::config::EnvKind::BlueGreen {
                    let client = crate::playbook::PlaybookClient::new(env.endpoints(), env.timeout.get());
                    serving_colour = rt.block_on(client.status()).ok().and_then(|s| s.current_environment);
                }
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
    let mut said = Instant::now();
    loop {
        let round = checklist::evaluate_checklist(rt, store, id, env)?;
        if round.validated {
            progress("validated: every required checklist item passed or was waived");
            break;
        }
        if said.elapsed() >= PROGRESS_EVERY {
            said = Instant::now();
            let open: Vec<String> =
                round.items.iter().filter(|i| i.required && !i.settled()).map(|i| i.title.clone()).collect();
            progress(&format!("waiting for the checklist: still open: {}", open.join(", ")));
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
        colour: serving_colour,
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
        severity: None,
        incident_id: None,
        detail: Vec::new(),
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

/// One past drill with its times and its score.
#[derive(Debug, Clone, Serialize)]
pub struct DrillRecord {
    /// The drill incident with milestones and durations.
    #[serde(flatten)]
    pub incident: IncidentSummary,
    /// Its score as recorded (drills recorded before scores: worked out from
    /// the milestones and any recorded problem).
    pub verdict: Verdict,
}

/// How an environment's recent drills went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// Environment name.
    pub environment: String,
    /// Drills counted (the newest, at most the limit asked for).
    pub drills: usize,
    /// How many were MET.
    pub met: usize,
    /// Median time to recover of the drills that recovered.
    pub median_recover_ms: Option<i64>,
    /// Best time to recover.
    pub best_recover_ms: Option<i64>,
    /// Median time to roll back (detect to rollback completed).
    pub median_mitigate_ms: Option<i64>,
}

/// Past drills, newest first, each with its verdict.
pub fn drills(store: &mut Store, limit: usize) -> Result<Vec<DrillRecord>> {
    let ids: Vec<i64> =
        store.incidents(usize::MAX)?.into_iter().filter(|i| i.drill).take(limit).map(|i| i.id).collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(s) = super::show(store, id)? else { continue };
        let events = store.incident_timeline(id)?;
        let recorded = events
            .iter()
            .rev()
            .find(|e| e.kind == "drill_verdict")
            .and_then(|e| serde_json::from_str::<Verdict>(e.data.as_deref()?).ok());
        let verdict = recorded.unwrap_or_else(|| {
            let failed = events.iter().any(|e| e.kind == "drill_problem");
            Verdict::of(&s.durations, !failed && s.durations.time_to_recover_ms.is_some())
        });
        out.push(DrillRecord { incident: s, verdict });
    }
    Ok(out)
}

/// Each environment's trend over `records` (newest first), environments in
/// name order.
pub fn trends(records: &[DrillRecord]) -> Vec<Trend> {
    let mut by_env: std::collections::BTreeMap<String, Vec<&DrillRecord>> = Default::default();
    for r in records {
        let env = r.incident.incident.environment.clone().unwrap_or_else(|| "-".into());
        by_env.entry(env).or_default().push(r);
    }
    let median = |mut v: Vec<i64>| -> Option<i64> {
        v.sort_unstable();
        (!v.is_empty()).then(|| v[v.len() / 2])
    };
    by_env
        .into_iter()
        .map(|(environment, rs)| {
            let recover: Vec<i64> = rs.iter().filter_map(|r| r.verdict.durations.time_to_recover_ms).collect();
            let mitigate: Vec<i64> = rs.iter().filter_map(|r| r.verdict.durations.time_to_mitigate_ms).collect();
            Trend {
                environment,
                drills: rs.len(),
                met: rs.iter().filter(|r| r.verdict.verdict == "MET").count(),
                best_recover_ms: recover.iter().copied().min(),
                median_recover_ms: median(recover),
                median_mitigate_ms: median(mitigate),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(env: &str, recover: Option<i64>, met: bool) -> DrillRecord {
        let d = super::super::Durations {
            time_to_recover_ms: recover,
            time_to_mitigate_ms: recover.map(|r| r / 2),
            objective_ms: Some(120_000),
            recovered_within_objective: recover.map(|r| r <= 120_000),
            ..Default::default()
        };
        let incident = IncidentSummary {
            incident: crate::store::IncidentRow {
                id: 1,
                environment: Some(env.into()),
                title: "drill".into(),
                severity: None,
                status: crate::domain::IncidentStatus::Closed,
                drill: true,
                opened_by: "t".into(),
                opened_at: Utc::now(),
                closed_at: None,
            },
            fields: Default::default(),
            milestones: Vec::new(),
            durations: d.clone(),
            actions: Vec::new(),
        };
        let verdict = Verdict::of(&d, met);
        DrillRecord { incident, verdict }
    }

    #[test]
    fn failed_drills_are_missed_and_trends_take_median_and_best() {
        let failed = Verdict::of(&super::super::Durations::default(), false);
        assert_eq!(failed.verdict, "MISSED", "a failed drill is scored, never left blank");
        let rs = vec![
            record("checkout", Some(90_000), true),
            record("checkout", Some(150_000), true),
            record("checkout", Some(60_000), true),
            record("checkout", None, false),
            record("search", Some(30_000), true),
        ];
        let t = trends(&rs);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].environment.as_str(), t[0].drills, t[0].met), ("checkout", 4, 2));
        assert_eq!((t[0].median_recover_ms, t[0].best_recover_ms), (Some(90_000), Some(60_000)));
        assert_eq!(t[1].median_recover_ms, Some(30_000));
    }
}
