//! The console's I/O: every [`Effect`] runs here, off the drawing path, and its
//! result comes back as a [`Msg`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;

use super::app::{Effect, EnvSnapshot, IncidentClock, Msg, RefusedPlan};
use crate::config::Config;
use crate::domain::Severity;
use crate::engine::EngineCommand;
use crate::rollback::{Prepared, RollbackOptions};
use crate::store::{RollbackStatus, RollbackTrigger, Store};

/// Refreshes of the screen's data: one runs at a time; requests made meanwhile
/// collapse into one, for the newest moment asked for.
#[derive(Debug, Default)]
struct Refreshes {
    running: bool,
    queued: Option<Option<DateTime<Utc>>>,
}

/// A plan awaiting confirmation: the plan, whether it was forced, and for an
/// approval the request's options it runs with.
type Plan = (Prepared, bool, Option<RollbackOptions>);

/// Runs effects.
#[derive(Clone)]
pub struct Worker {
    config: Arc<Config>,
    config_path: PathBuf,
    db: PathBuf,
    rt: tokio::runtime::Handle,
    tx: UnboundedSender<Msg>,
    engine: Option<UnboundedSender<EngineCommand>>,
    prepared: Arc<Mutex<HashMap<String, Plan>>>,
    /// The connection reads reuse; writes open their own.
    reader: Arc<Mutex<Option<Store>>>,
    /// Whether a refresh is running, and the newest one asked for meanwhile.
    refreshes: Arc<Mutex<Refreshes>>,
    operator: String,
    review_incident: Option<i64>,
}

impl Worker {
    /// A worker sending results to `tx`.
    pub fn new(
        config: Arc<Config>,
        config_path: PathBuf,
        db: PathBuf,
        tx: UnboundedSender<Msg>,
        engine: Option<UnboundedSender<EngineCommand>>,
        review_incident: Option<i64>,
    ) -> Self {
        let operator = config.operator();
        Worker {
            config,
            config_path,
            db,
            rt: tokio::runtime::Handle::current(),
            tx,
            engine,
            prepared: Arc::default(),
            reader: Arc::default(),
            refreshes: Arc::default(),
            operator,
            review_incident,
        }
    }

    fn done(&self, text: String) {
        let _ = self.tx.send(Msg::Done(text));
    }

    /// Starts an effect; never blocks.
    pub fn handle(&self, effect: Effect) {
        match effect {
            Effect::Engine(cmd) => match &self.engine {
                Some(e) => {
                    let _ = e.send(cmd);
                }
                None => self.done("the engine is not running in this mode".into()),
            },
            Effect::DropPrepared { env } => {
                self.plans().remove(&env);
            }
            // One refresh at a time: a burst of changes costs one more read, not one each.
            Effect::Refresh { at } => {
                let mut st = self.refreshes.lock().unwrap_or_else(PoisonError::into_inner);
                st.queued = Some(at);
                if !st.running {
                    st.running = true;
                    let w = self.clone();
                    self.rt.spawn_blocking(move || w.refresh_until_done());
                }
            }
            other => {
                let w = self.clone();
                self.rt.spawn_blocking(move || w.blocking(other));
            }
        }
    }

    /// The plans waiting for confirmation. A panic elsewhere while the map was
    /// held leaves it whole (inserts and removes only), so it is used as it is.
    fn plans(&self) -> std::sync::MutexGuard<'_, HashMap<String, Plan>> {
        self.prepared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs refreshes while any are asked for, the newest request each time.
    fn refresh_until_done(&self) {
        loop {
            let at = {
                let mut st = self.refreshes.lock().unwrap_or_else(PoisonError::into_inner);
                match st.queued.take() {
                    Some(at) => at,
                    None => {
                        st.running = false;
                        return;
                    }
                }
            };
            if let Err(e) = self.refresh(at) {
                self.done(format!("failed: {e}"));
            }
        }
    }

    fn blocking(&self, effect: Effect) {
        let result = match effect {
            Effect::Refresh { at } => self.refresh(at),
            Effect::PrepareRollback { env, version, force } => self.prepare(env, version, force),
            Effect::PrepareApproval { env } => self.prepare_approval(env),
            Effect::Rollback { env, reason } => self.rollback(env, reason),
            Effect::SaveNote { env, text } => self.note(&env, &text),
            Effect::Checklist { env, item, passed } => self.checklist(&env, &item, passed),
            Effect::OpenIncident { env } => self.open_incident(&env),
            Effect::CloseIncident { env, id, reason } => self.close_incident(&env, id, reason.as_deref()),
            Effect::RunStep { env, step } => self.run_step(&env, step),
            Effect::RunbookStep { env, step, state, reason } => {
                self.runbook_step(&env, step, &state, reason.as_deref())
            }
            Effect::Engine(_) | Effect::DropPrepared { .. } | Effect::Copy(_) => Ok(()),
        };
        if let Err(e) = result {
            self.done(format!("failed: {e}"));
        }
    }

    fn store(&self) -> Result<Store, String> {
        Store::open(&self.db).map_err(|e| e.to_string())
    }

    fn env_id(&self, store: &Store, env: &str) -> Result<i64, String> {
        let cfg = self.config.environment(env).ok_or_else(|| format!("no environment {env}"))?;
        store.ensure_environment(env, cfg.kind.as_str(), cfg.base_url.get_ref()).map_err(|e| e.to_string())
    }

    fn refresh(&self, at: Option<DateTime<Utc>>) -> Result<(), String> {
        // A panic mid-read may leave the connection in any state: open a new one.
        let mut guard = self.reader.lock().unwrap_or_else(|poisoned| {
            let mut g = poisoned.into_inner();
            *g = None;
            g
        });
        if guard.is_none() {
            *guard = Some(self.store()?);
        }
        let Some(store) = guard.as_ref() else { return Err("no store".into()) };
        let mut snaps = load_snapshots(store, &self.config, at, self.review_incident).map_err(|e| e.to_string())?;
        for snap in &mut snaps {
            let lines = self.runbook_lines(store, snap.incident.as_ref().map(|i| i.id), at.unwrap_or_else(Utc::now));
            (snap.runbook, snap.runbook_actions) = lines.into_iter().map(|(t, s, a)| ((t, s), a)).unzip();
        }
        let _ = self.tx.send(Msg::Loaded(snaps));
        Ok(())
    }

    fn prepare(&self, env: String, version: Option<String>, force: bool) -> Result<(), String> {
        let cfg = self.config.environment(&env).ok_or_else(|| format!("no environment {env}"))?;
        let mut store = self.store()?;
        let opts = self.options(version.clone(), String::new(), force);
        let plan = match crate::rollback::prepare(&self.rt, &mut store, cfg, &opts).map_err(|e| format!("{e:#}"))? {
            Ok(p) => {
                let text = p.describe(RollbackTrigger::Manual);
                self.plans().insert(env.clone(), (p, force, None));
                Ok(text)
            }
            Err(refusal) => Err(RefusedPlan {
                // The refusals `--force` overrides on the command line are
                // said without it: the console's way is FORCE typed.
                forceable: refusal.forceable_fact().is_some(),
                why: refusal.forceable_fact().unwrap_or_else(|| refusal.to_string()),
                version,
            }),
        };
        let _ = self.tx.send(Msg::Prepared { env, plan });
        Ok(())
    }

    fn options(&self, version: Option<String>, reason: String, force: bool) -> RollbackOptions {
        RollbackOptions {
            version,
            state: None,
            // Like the CLI's --force: only after the operator typed FORCE.
            force,
            skip_validation: false,
            reason,
            operator: self.operator.clone(),
            trigger: RollbackTrigger::Manual,
            evidence: None,
            detected: None,
            objectives: self.config.severities.clone(),
            approval: None,
        }
    }

    /// Hands the confirmed plan to the engine, which runs it through the one
    /// rollback path (re-checked under the lock) and reports every step as
    /// events the screen draws; nothing is invented here.
    fn rollback(&self, env: String, reason: String) -> Result<(), String> {
        let prepared = self.plans().remove(&env);
        let Some((prepared, forced, approval)) = prepared else {
            return Err(format!("the rollback of {env} was not prepared; press r again"));
        };
        let Some(engine) = &self.engine else {
            return Err("the engine is not running in this mode; nothing was rolled back".into());
        };
        // Re-checked under the lock with the same force the plan was made with;
        // an approval runs the request as its operator asked, with its reason.
        let opts = approval.unwrap_or_else(|| self.options(None, reason, forced));
        if let Some(cfg) = self.config.environment(&env)
            && crate::rollback::needs_request(cfg, &opts)
        {
            return self.request(&prepared, &opts);
        }
        let cmd = EngineCommand::Rollback { environment: env.clone(), plan: Box::new(prepared), opts: Box::new(opts) };
        engine.send(cmd).map_err(|_| format!("the engine has stopped; {env} was not rolled back"))?;
        self.done(format!("rollback of {env} handed to the engine"));
        Ok(())
    }

    /// Plans `env`'s pending rollback request again for this operator's
    /// approval: refused when there is none, when this operator planned it,
    /// or when the service moved since (the request then ends `stale`).
    fn prepare_approval(&self, env: String) -> Result<(), String> {
        let answer = |plan: Result<String, String>, reason: String| {
            let _ = self.tx.send(Msg::PreparedApproval { env: env.clone(), plan, reason });
        };
        let cfg = self.config.environment(&env).ok_or_else(|| format!("no environment {env}"))?;
        let mut store = self.store()?;
        let expires = crate::rollback::approval::REQUEST_EXPIRES;
        let pending = store.pending_requests(expires).map_err(|e| e.to_string())?;
        let Some(request) = pending.into_iter().find(|r| r.environment == env) else {
            answer(Err(format!("no request to approve on {env}")), String::new());
            return Ok(());
        };
        if request.requested_by == self.operator {
            let why = format!("request #{} is yours ({}); another operator approves it", request.id, self.operator);
            answer(Err(why), String::new());
            return Ok(());
        }
        let opts = crate::rollback::approval::options_for(&request, &self.operator, self.config.severities.clone());
        let prepared = match crate::rollback::prepare(&self.rt, &mut store, cfg, &opts).map_err(|e| format!("{e:#}"))? {
            Ok(p) => p,
            Err(refusal) => {
                answer(Err(format!("request #{} cannot run now: {refusal}", request.id)), String::new());
                return Ok(());
            }
        };
        if let Some(changed) = crate::rollback::approval::stale(&request, &prepared) {
            store
                .end_request(request.id, crate::store::RequestStatus::Stale, &self.operator, &changed)
                .map_err(|e| e.to_string())?;
            answer(Err(format!("request #{} is stale: {changed}; nothing was sent", request.id)), String::new());
            return Ok(());
        }
        let plan = format!(
            "{} (request #{} by {}, approved by {})",
            prepared.describe(RollbackTrigger::Manual),
            request.id,
            request.requested_by,
            self.operator
        );
        let reason = request.reason.clone();
        self.plans().insert(env.clone(), (prepared, request.force, Some(opts)));
        answer(Ok(plan), reason);
        Ok(())
    }

    /// Records a confirmed plan of an environment that needs two operators as
    /// a request, tells the channels, and says how the other operator approves.
    fn request(&self, prepared: &Prepared, opts: &RollbackOptions) -> Result<(), String> {
        let mut store = self.store()?;
        let request =
            match crate::rollback::approval::request(&mut store, prepared, opts).map_err(|e| format!("{e:#}"))? {
                Ok(r) => r,
                Err(crate::store::RequestRefused::Pending(p)) => {
                    return Err(format!(
                        "rollback request #{} of {} by {} is still awaiting approval; nothing new was recorded \
                     (`backout approve {}`, or decline it with --decline)",
                        p.id, p.environment, p.requested_by, p.id
                    ));
                }
            };
        let notifier = crate::notify::Notifier::from_config(&self.config.notifications);
        let told = crate::rollback::approval::announce_request(&self.rt, &mut store, &notifier, &request)
            .map_or_else(|e| format!("; recording its notification failed: {e:#}"), |()| String::new());
        let text = format!(
            "rollback request #{} recorded; nothing runs until another operator approves it (A, or `backout \
             approve {}`){told}",
            request.id, request.id
        );
        let _ = self.tx.send(Msg::Requested { env: request.environment.clone(), text });
        Ok(())
    }

    fn note(&self, env: &str, text: &str) -> Result<(), String> {
        let mut store = self.store()?;
        let env_id = self.env_id(&store, env)?;
        let incident = store.open_incident_for(env_id).map_err(|e| e.to_string())?.map(|i| i.id);
        let saved = store.add_note(incident, Some(env_id), &self.operator, text).map_err(|e| e.to_string())?;
        match incident {
            Some(i) => self.done(format!("note #{} saved to incident #{i}", saved.id)),
            None => self.done(format!("note #{} saved (no open incident)", saved.id)),
        }
        Ok(())
    }

    fn checklist(&self, env: &str, item: &str, passed: bool) -> Result<(), String> {
        let cfg = self.config.environment(env).ok_or_else(|| format!("no environment {env}"))?;
        let mut store = self.store()?;
        let env_id = self.env_id(&store, env)?;
        let Some(incident) = store.open_incident_for(env_id).map_err(|e| e.to_string())?.map(|i| i.id) else {
            return Err(format!("no open incident on {env}: the checklist belongs to one (i opens it)"));
        };
        if passed {
            let validated = crate::incident::tick_item(&mut store, incident, cfg, item, &self.operator)
                .map_err(|e| format!("{e:#}"))?;
            let note = if validated { "; every required item holds: incident validated" } else { "" };
            if validated {
                // Resolves the incident's page (PagerDuty).
                let notifier = crate::notify::Notifier::from_config(&self.config.notifications);
                let why = format!("incident #{incident}: every required checklist item holds: validated");
                crate::incident::announce_validated(&self.rt, &mut store, &notifier, incident, &why)
                    .map_err(|e| format!("{e:#}"))?;
            }
            self.done(format!("checklist: {item} ticked{note}"));
        } else {
            crate::incident::untick_item(&mut store, incident, cfg, item, &self.operator)
                .map_err(|e| format!("{e:#}"))?;
            self.done(format!("checklist: {item} unticked"));
        }
        Ok(())
    }

    /// The open incident's runbook (its name, file and steps), or nothing when
    /// there is none or it cannot be read.
    fn runbook_file(&self, store: &Store, incident: i64) -> Option<(String, PathBuf, crate::incident::Runbook)> {
        let name = crate::incident::runbook::runbook_name(store, &self.config, incident).ok()??;
        let path = crate::incident::runbook::runbook_path(&self.config, &self.config_path, &name).ok()?;
        let book = crate::incident::Runbook::load(&path).ok()?;
        Some((name, path, book))
    }

    /// The environment's open incident and its readable runbook, for a step to
    /// be recorded or run; an error says which is missing.
    fn incident_runbook(
        &self,
        store: &Store,
        env: &str,
    ) -> Result<(i64, String, PathBuf, crate::incident::Runbook), String> {
        let env_id = self.env_id(store, env)?;
        let incident = store
            .open_incident_for(env_id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no open incident on {env}"))?
            .id;
        let (file, path, book) = self.runbook_file(store, incident).ok_or_else(|| {
            format!("incident #{incident} has no readable runbook (see `runbook` and `runbooks_dir` in the config)")
        })?;
        Ok((incident, file, path, book))
    }

    /// The open incident's runbook steps: title, state and what its action does.
    fn runbook_lines(
        &self,
        store: &Store,
        incident: Option<i64>,
        now: DateTime<Utc>,
    ) -> Vec<(String, String, Option<String>)> {
        let Some(incident) = incident else { return Vec::new() };
        let Some((file, _, book)) = self.runbook_file(store, incident) else { return Vec::new() };
        let Ok(view) = crate::incident::runbook::view(store, incident, &file, &book, now) else { return Vec::new() };
        view.steps
            .into_iter()
            .map(|s| {
                let state = if s.overdue && s.state == crate::incident::StepState::Pending {
                    "overdue"
                } else {
                    s.state.as_str()
                };
                (s.title, state.to_string(), s.action)
            })
            .collect()
    }

    /// Runs step `step`'s action, confirmed by `x` in the console, and records
    /// the step done or failed with its output.
    fn run_step(&self, env: &str, step: usize) -> Result<(), String> {
        let mut store = self.store()?;
        let (incident, name, path, book) = self.incident_runbook(&store, env)?;
        let dir = path.parent().unwrap_or(std::path::Path::new(".")).to_path_buf();
        let actx = crate::incident::runbook::ActionContext {
            rt: &self.rt,
            env: self.config.environment(env),
            runbook_dir: &dir,
            by: &self.operator,
            objectives: &self.config.severities,
        };
        let outcome = crate::incident::runbook::run_action(&mut store, &actx, incident, &name, &book, step, true)
            .map_err(|e| format!("{e:#}"))?;
        let first = outcome.output.lines().next().unwrap_or_default().to_string();
        self.done(format!("runbook step {} {}: {first}", step + 1, if outcome.ok { "done" } else { "FAILED" }));
        Ok(())
    }

    fn runbook_step(&self, env: &str, step: usize, state: &str, reason: Option<&str>) -> Result<(), String> {
        let mut store = self.store()?;
        let (incident, file, _, book) = self.incident_runbook(&store, env)?;
        let how = match (state, reason) {
            ("skipped", Some(r)) => crate::incident::runbook::StepMark::Skipped(r),
            _ => crate::incident::runbook::StepMark::Done,
        };
        let row = crate::incident::runbook::mark(&mut store, incident, &file, &book, step, how, &self.operator)
            .map_err(|e| format!("{e:#}"))?;
        self.done(format!("runbook step {}. {} {}", step + 1, row.step_title, row.state));
        Ok(())
    }

    /// Closes incident `id`, asked about on screen; a reason for closing it
    /// before it validated is a note on its timeline, written first.
    fn close_incident(&self, env: &str, id: i64, reason: Option<&str>) -> Result<(), String> {
        let mut store = self.store()?;
        let env_id = self.env_id(&store, env)?;
        if let Some(why) = reason {
            store
                .add_note(Some(id), Some(env_id), &self.operator, &format!("closed before validation: {why}"))
                .map_err(|e| e.to_string())?;
        }
        let closed = crate::incident::close(&mut store, id, &self.operator, &crate::incident::CloseDetails::default())
            .map_err(|e| format!("{e:#}"))?;
        self.done(if closed { format!("incident #{id} closed") } else { format!("incident #{id} was already closed") });
        Ok(())
    }

    /// `i` with no incident open: opens one with the environment's severity and
    /// objective, detected now by the operator, like every other incident.
    fn open_incident(&self, env: &str) -> Result<(), String> {
        let cfg = self.config.environment(env).ok_or_else(|| format!("no environment {env}"))?;
        let mut store = self.store()?;
        let env_id = self.env_id(&store, env)?;
        match store.open_incident_for(env_id).map_err(|e| e.to_string())? {
            Some(i) => self.done(format!("incident #{} is already open on {env}", i.id)),
            None => {
                let req = crate::incident::OpenRequest {
                    title: format!("incident on {env}"),
                    severity: None,
                    drill: false,
                    by: self.operator.clone(),
                    impact: None,
                    runbook: None,
                    detected: Some(crate::incident::Detection::now(&self.operator)),
                };
                let i = crate::incident::open(&mut store, &self.config.severities, Some(cfg), &req)
                    .map_err(|e| format!("{e:#}"))?;
                self.done(format!("incident #{} ({}) opened on {env}", i.id, Severity::word_or_unknown(i.severity)));
            }
        }
        Ok(())
    }
}

/// Reads what the panes show from the store; with `at`, as it was then.
pub fn load_snapshots(
    store: &Store,
    config: &Config,
    at: Option<DateTime<Utc>>,
    review_incident: Option<i64>,
) -> crate::store::Result<Vec<EnvSnapshot>> {
    let mut out = Vec::new();
    let before = |x: &DateTime<Utc>| at.is_none_or(|t| *x <= t);
    for env in &config.environments {
        let Some(id) = store.environment_id(env.name())? else {
            out.push(EnvSnapshot { name: env.name().to_string(), ..EnvSnapshot::default() });
            continue;
        };
        let mut deployments = store.deployments(id)?;
        deployments.retain(|d| before(&d.deployed_at));
        deployments.reverse();
        deployments.truncate(30);
        let mut rollbacks = store.rollbacks(Some(id), 200)?;
        rollbacks.retain(|r| before(&r.started_at));
        if at.is_some() {
            for r in &mut rollbacks {
                if r.completed_at.as_ref().is_some_and(|c| !before(c)) {
                    r.status = RollbackStatus::InProgress;
                    r.completed_at = None;
                    r.duration_ms = None;
                    r.error = None;
                }
            }
        }
        if at.is_some() {
            // The service marks a release `rolled_back` only once it was; as of
            // an earlier moment it was still the release that had succeeded.
            for d in &mut deployments {
                let undone = rollbacks
                    .iter()
                    .any(|r| r.status == RollbackStatus::Completed && r.from_version.as_deref() == Some(&d.version));
                if d.status == crate::domain::DeploymentStatus::RolledBack && !undone {
                    d.status = crate::domain::DeploymentStatus::Succeeded;
                }
            }
        }
        rollbacks.truncate(30);
        let incident = match review_incident {
            Some(i) => store.incident(i)?.filter(|inc| inc.environment.as_deref() == Some(env.name())),
            None => store.open_incident_for(id)?,
        };
        let mut timeline = match (review_incident, &incident) {
            (Some(_), Some(inc)) => {
                let mut t = store.incident_timeline(inc.id)?;
                t.reverse();
                t
            }
            _ => store.recent_events(Some(id), 60)?,
        };
        timeline.retain(|e| before(&e.at));
        let checklist_passed = match &incident {
            Some(inc) if at.is_none() => crate::incident::checklist_state(store, inc.id, env)
                .map(|items| items.into_iter().filter(|i| i.settled()).map(|i| i.title).collect())
                .unwrap_or_default(),
            _ => store.checklist_passed(incident.as_ref().map(|i| i.id), id, at)?,
        };
        let mut samples = Vec::new();
        if let Some(t) = at {
            for s in env.effective_signals() {
                let name = s.name.get_ref();
                samples.push((name.clone(), store.samples_between(id, name, t - chrono::Duration::minutes(15), t)?));
            }
        }
        let clock = match &incident {
            Some(inc) => {
                let milestones: Vec<_> = store.milestones(inc.id)?.into_iter().filter(|m| before(&m.at)).collect();
                let when = |m| crate::incident::milestone_at(&milestones, m);
                let objective = store.incident_fields(inc.id)?.and_then(|f| f.objective_ms);
                IncidentClock {
                    detected: when(crate::incident::Milestone::Detected),
                    validated: when(crate::incident::Milestone::Validated),
                    objective: objective.map(chrono::Duration::milliseconds),
                }
            }
            None => IncidentClock::default(),
        };
        out.push(EnvSnapshot {
            name: env.name().to_string(),
            clock,
            deployments,
            rollbacks,
            timeline,
            incident,
            checklist_passed,
            lock: if at.is_none() { store.rollback_lock(id)? } else { None },
            samples,
            runbook: Vec::new(),
            runbook_actions: Vec::new(),
        });
    }
    Ok(out)
}
