//! A rollback from request to record: read the service, choose the target,
//! validate, take the lock, drive it, verify it, record every step.
//!
//! These functions block on a tokio runtime handle for their HTTP calls and call
//! the store directly, so they run on a thread that may block (the CLI's main
//! thread, or a blocking task of the engine).

mod announce;
pub mod approval;
pub mod plan;
pub(crate) mod reconcile;
mod states;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use color_eyre::eyre::{Result, WrapErr};
use tokio::runtime::Handle;

use crate::config::EnvironmentConfig;
use crate::drivers::{Driver, DriverRequest, Phase};
use crate::playbook::{CallError, DeploymentRecord, DeploymentStatusReport, Health, HealthReport, PlaybookClient};
use crate::store::{
    BeginRefused, LockHolder, NewEvent, NewRollback, RollbackRow, RollbackStatus, RollbackTrigger, Store, host_name,
};
pub use announce::{announce, from_to, notice_colour, target_text, who};
pub use plan::{PlanRefusal, RollbackTarget};
pub use reconcile::reconcile;

/// What the operator (or a rule) asked for.
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    /// A specific version, else the last known-good one.
    pub version: Option<String>,
    /// A kept state to restore (`--to-state N`, the state's id) instead.
    pub state: Option<i64>,
    /// Roll back even though the current deployment is healthy.
    pub force: bool,
    /// Skip pre-rollback validation (target known, driver reachable).
    pub skip_validation: bool,
    /// Why; recorded with the rollback and sent to the service.
    pub reason: String,
    /// Who.
    pub operator: String,
    /// What started it.
    pub trigger: RollbackTrigger,
    /// For automatic rollbacks: the rule, window and samples that broke it.
    pub evidence: Option<serde_json::Value>,
    /// What detected the problem (the rule's first breach); a person, now, when `None`.
    pub detected: Option<crate::incident::Detection>,
    /// The config's `[severities]`, for an incident this rollback opens.
    pub objectives: crate::config::SeverityObjectives,
    /// The pending request this carries out and the different operator
    /// approving it (`approvals = 2`); `None` for a rollback run as planned.
    pub approval: Option<(i64, String)>,
}

/// Why a rollback was not started.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The current deployment is healthy and `--force` was not given.
    Healthy {
        /// Version serving.
        version: String,
    },
    /// No valid target.
    Plan(PlanRefusal),
    /// Pre-rollback validation could not reach the service or driver.
    Unreachable(String),
    /// Another rollback of this environment is in flight.
    LockHeld(LockHolder),
    /// The service or the record changed between the plan and the lock.
    Changed(String),
    /// Another process held the database locked too long to record the rollback.
    Busy,
    /// An automatic rollback of the same `from → to` already failed.
    Blocked {
        /// Environment name, for the command that clears it.
        environment: String,
        /// The block.
        block: crate::store::AutomaticBlock,
    },
    /// An automatic rollback within the cooldown after another rollback.
    Cooldown {
        /// The rollback that ended last.
        rollback_id: i64,
        /// When the cooldown ends.
        until: DateTime<Utc>,
    },
    /// The driver would not run with these values (a version that is not one,
    /// a value that would be read as an option): nothing ran.
    Driver(String),
    /// The kept state asked for cannot be restored: why, and what to do.
    State(String),
    /// The environment needs a second operator's approval (`approvals = 2`);
    /// record a request instead.
    NeedsApproval(String),
    /// The request being approved may not run: why.
    Approval(String),
    /// The colour the switch would go to is reported unhealthy (`--force` overrides).
    TargetUnhealthy {
        /// The colour.
        colour: String,
        /// The version on it.
        version: String,
    },
}

impl Refusal {
    /// Versions the history holds, when the refusal is about the target.
    pub fn known_versions(&self) -> Option<&[String]> {
        match self {
            Refusal::Plan(PlanRefusal::UnknownVersion { known, .. } | PlanRefusal::NothingToRollBackTo { known }) => {
                Some(known)
            }
            _ => None,
        }
    }

    /// What a refusal that forcing overrides found, without the command-line
    /// way to override it (the console asks for FORCE typed instead); `None`
    /// for refusals forcing does not override.
    pub fn forceable_fact(&self) -> Option<String> {
        match self {
            Refusal::Healthy { version } => Some(format!("the current deployment ({version}) is healthy")),
            Refusal::TargetUnhealthy { colour, version } => Some(format!(
                "the {colour} colour ({version}), where traffic would go, is reported unhealthy by the service"
            )),
            _ => None,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Healthy { version } => write!(
                f,
                "the current deployment ({version}) is healthy; rolling back a healthy deployment needs --force"
            ),
            Refusal::Plan(p) => write!(f, "pre-rollback validation: {p}"),
            Refusal::Unreachable(e) => write!(
                f,
                "pre-rollback validation: {e} (fix the service or config, or pass --skip-validation to try anyway)"
            ),
            Refusal::Changed(what) => write!(f, "the service changed since the plan: {what}; plan again"),
            Refusal::Busy => write!(
                f,
                "another process kept the database locked for {}s, so the rollback could not be recorded; \
                 nothing was sent to the service; try again in a moment",
                crate::store::BUSY_TIMEOUT.as_secs()
            ),
            Refusal::Blocked { environment, block } => write!(
                f,
                "automatic rollback {} already failed (rollback #{}: {}); it is not tried again on its own until \
                 a new deployment, or until an operator clears it (`backout unblock --env {environment}`, or u in \
                 the console); roll back by hand if needed",
                block.from_to(),
                block.rollback_id,
                block.reason
            ),
            Refusal::Cooldown { rollback_id, until } => write!(
                f,
                "in cooldown after rollback #{rollback_id} until {} ({}s left; every backout on this database \
                 keeps it); roll back by hand if needed",
                crate::domain::ts::format(*until),
                (*until - Utc::now()).num_seconds().max(0)
            ),
            Refusal::Driver(why) => write!(f, "the driver refused before anything ran: {why}"),
            Refusal::State(why) => write!(f, "--to-state: {why}"),
            Refusal::NeedsApproval(env) => write!(
                f,
                "{env} has approvals = 2: a manual rollback runs only after a second, different operator approves \
                 it; plan it with `backout rollback {env}` (which records a request) and have another operator run \
                 `backout approve N`"
            ),
            Refusal::Approval(why) => write!(f, "{why}"),
            Refusal::TargetUnhealthy { colour, version } => write!(
                f,
                "the {colour} colour ({version}), where traffic would go, is reported unhealthy by the service; \
                 fix it first, or pass --force to switch anyway"
            ),
            Refusal::LockHeld(h) => {
                write!(
                    f,
                    "another rollback of this environment is in flight: #{} held by {} since {}",
                    h.rollback_id,
                    h.holder,
                    crate::domain::ts::format(h.acquired_at)
                )?;
                if h.is_stale(&host_name(), Utc::now()) {
                    write!(
                        f,
                        " (that process has stopped; the rollback is reconciled with the service's status \
                         once the service settles or its verification time runs out)"
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Whether an error is the database staying locked by another process.
pub fn is_busy(e: &color_eyre::Report) -> bool {
    e.chain().any(|c| c.downcast_ref::<crate::store::StoreError>().is_some_and(|s| s.is_busy()))
}

/// A rollback ready to run, shown to the operator for confirmation.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Environment name.
    pub environment: String,
    /// Environment row id.
    pub environment_id: i64,
    /// Version serving now, when known.
    pub from_version: Option<String>,
    /// Health now, or why it could not be read.
    pub health: Result<Health, String>,
    /// Where it goes; `None` when validation was skipped and nothing is known.
    pub target: Option<RollbackTarget>,
    /// How it is carried out.
    pub driver: Driver,
    /// The colour serving now (blue/green), when known.
    pub colour: Option<String>,
    /// The colour a switch goes to, and its health as the service reports it.
    pub target_colour_health: Option<(String, Health)>,
    /// When the service was read for this plan.
    pub planned_at: DateTime<Utc>,
    /// The kept state this rollback puts back (`--to-state`).
    pub restore: Option<crate::store::StateRow>,
    /// The tool's revision of the target (`{revision}`), from its history
    /// (`[environment.status]`): the newest revision of the target version
    /// that did not fail. Revision numbers are only ever sent, never compared.
    pub target_revision: Option<String>,
    /// The stored deployment the rollback leaves, when known.
    deployment_id: Option<i64>,
    /// The environment, for the incident this may open and the re-check.
    env: EnvironmentConfig,
}

impl Prepared {
    /// The plan as the operator confirms it: `checkout: 2.0.0-bad → 1.4.3 (blue)
    /// via the http driver (blue_green_switch); current health degraded`.
    pub fn describe(&self, trigger: RollbackTrigger) -> String {
        let to = self.target.as_ref().map_or("the service's previous version".to_string(), |t| {
            t.colour.as_ref().map_or(t.version.clone(), |c| format!("{} ({c})", t.version))
        });
        let health = match &self.health {
            Ok(h) => h.to_string(),
            Err(e) => format!("unknown ({e})"),
        };
        let restores = self.restore.as_ref().map_or_else(String::new, |s| {
            format!("; restores state #{} (kept before rollback #{})", s.id, s.rollback_id)
        });
        if let Driver::Flag(flag) = &self.driver {
            let change = match self.restore.as_ref().and_then(|s| s.state.flag.as_ref()) {
                Some(kept) => format!("put back {}", crate::text::service_text(&kept.describe())),
                None => format!("turn {}", flag.describe_change()),
            };
            return format!(
                "{}: {change} via the flag driver; {} keeps serving; current health {health}{restores}",
                self.environment,
                self.from_version.as_deref().unwrap_or("the current version")
            );
        }
        let target_health = match &self.target_colour_health {
            Some((c, h)) if *h != Health::Healthy => format!("; WARNING: the {c} colour reports {h}"),
            _ => String::new(),
        };
        format!(
            "{}: {} → {to} via the {} driver ({}); current health {health}{target_health}{restores}",
            self.environment,
            self.from_version.as_deref().unwrap_or("?"),
            self.driver.name(),
            self.rollback_type(trigger)
        )
    }

    /// The rollback type that will be recorded.
    pub fn rollback_type(&self, trigger: RollbackTrigger) -> crate::store::RollbackType {
        match (&self.target, trigger) {
            (_, t) if t != RollbackTrigger::Manual => crate::store::RollbackType::Automatic,
            (Some(t), _) => t.rollback_type,
            (None, _) => crate::store::RollbackType::Previous,
        }
    }
}

/// Reads what the service says now: status and health, fetched together.
fn read_service(
    rt: &Handle,
    env: &EnvironmentConfig,
) -> (Result<DeploymentStatusReport, CallError>, Result<HealthReport, CallError>) {
    let client = PlaybookClient::new(env.endpoints(), env.timeout.get());
    rt.block_on(async { tokio::join!(client.status(), client.health()) })
}

/// Versions this store saw rolled back away from by completed rollbacks.
fn rolled_back_from(store: &Store, env_id: i64) -> Result<HashSet<String>> {
    Ok(store
        .rollbacks(Some(env_id), 10_000)?
        .into_iter()
        .filter(|r| r.status == RollbackStatus::Completed)
        // Turning a flag off says nothing against the version that kept serving.
        .filter(|r| r.flag.is_none())
        .filter_map(|r| r.from_version)
        .collect())
}

/// Stored history in the playbook's shape, for when the service cannot be read.
fn stored_history(store: &Store, env_id: i64) -> Result<Vec<DeploymentRecord>> {
    Ok(store
        .deployments(env_id)?
        .into_iter()
        .map(|d| DeploymentRecord {
            id: d.external_id,
            version: d.version,
            environment: d.colour,
            deployed_at: d.deployed_at,
            status: d.status,
        })
        .collect())
}

/// Reads the service, records what it reports, reconciles abandoned rollbacks and
/// plans the rollback. Nothing is changed on the service.
pub fn prepare(
    rt: &Handle,
    store: &mut Store,
    env: &EnvironmentConfig,
    opts: &RollbackOptions,
) -> Result<std::result::Result<Prepared, Refusal>> {
    let planned = plan_rollback(rt, store, env, opts)?;
    match &planned {
        Ok(p) => {
            tracing::info!(env = %env.name(), operator = %opts.operator, "rollback planned: {}", p.describe(opts.trigger))
        }
        Err(r) => tracing::warn!(env = %env.name(), operator = %opts.operator, "rollback refused at planning: {r}"),
    }
    Ok(planned)
}

fn plan_rollback(
    rt: &Handle,
    store: &mut Store,
    env: &EnvironmentConfig,
    opts: &RollbackOptions,
) -> Result<std::result::Result<Prepared, Refusal>> {
    let env_id = store.ensure_environment(env.name(), env.kind.as_str(), env.base_url.get_ref())?;
    let reconciled = reconcile(rt, store, env, env_id)?;
    if let Some(holder) = store.rollback_lock(env_id)? {
        return Ok(Err(Refusal::LockHeld(holder)));
    }
    let driver = Driver::for_environment(env);
    let restore = match opts.state {
        Some(id) => match states::restorable(store, env, env_id, &driver, id)? {
            Ok(state) => Some(state),
            Err(why) => return Ok(Err(Refusal::State(why))),
        },
        None => None,
    };
    // Restoring a kept state of a version's driver goes to the version it kept.
    let requested = restore.as_ref().map_or_else(|| opts.version.clone(), |s| s.state.version.clone());
    // The plan is as old as the reading it is made from: anything that ended at
    // or after this instant makes it stale. What this call itself just ended is
    // before the reading, even within the same millisecond.
    let after_reconciled = reconciled.iter().filter_map(|r| r.completed_at).max();
    let planned_at = after_reconciled.map_or_else(Utc::now, |t| Utc::now().max(t + chrono::Duration::milliseconds(1)));
    let (status, health) = read_service(rt, env);
    if let Ok(s) = &status {
        store.sync_deployments(env_id, &s.deployment_history).wrap_err("recording the deployment history")?;
    }
    let health = health.map(|h| h.health).map_err(|e| e.to_string());
    let from_version = status.as_ref().ok().map(|s| s.version.clone());
    let colour = status.as_ref().ok().and_then(|s| s.current_environment.clone());
    if health == Ok(Health::Healthy) && !opts.force {
        let version = from_version.clone().unwrap_or_else(|| "version unknown".into());
        return Ok(Err(Refusal::Healthy { version }));
    }
    let rolled_back = rolled_back_from(store, env_id)?;
    let planned = match &status {
        Ok(s) => plan::choose_target(env.kind, s, requested.as_deref(), &rolled_back),
        Err(e) if !opts.skip_validation => {
            return Ok(Err(Refusal::Unreachable(format!("cannot read deployment status: {e}"))));
        }
        Err(_) => {
            // Validation skipped and the service unreadable: plan from what the
            // store last saw, so a target is still recorded when one is known.
            let history = stored_history(store, env_id)?;
            let current = history.last().map(|d| d.version.clone()).unwrap_or_default();
            let report = DeploymentStatusReport {
                current_environment: None,
                version: current,
                environments: Default::default(),
                deployment_history: history,
            };
            plan::choose_target(env.kind, &report, requested.as_deref(), &rolled_back)
        }
    };
    let target = match planned {
        // A flag rollback turns a flag off; the version serving stays serving,
        // so that is what the record's target says.
        _ if matches!(driver, Driver::Flag(_)) => from_version.clone().map(|v| RollbackTarget {
            version: v,
            request_version: None,
            rollback_type: crate::store::RollbackType::FlagToggle,
            colour: None,
        }),
        Ok(t) => Some(t),
        Err(refusal) if !opts.skip_validation => return Ok(Err(Refusal::Plan(refusal))),
        // Skipping validation sends what the operator asked for and lets the
        // service decide; its answer is recorded.
        Err(_) => requested.clone().map(|v| RollbackTarget {
            version: v.clone(),
            request_version: Some(v),
            rollback_type: crate::store::RollbackType::Specific,
            colour: None,
        }),
    };
    // Switching traffic to a colour the service itself reports as down makes
    // things worse: refused unless forced, and said in the plan either way.
    let target_colour_health = match (&target, &status) {
        (Some(RollbackTarget { colour: Some(c), .. }), Ok(s)) => s.environments.get(c).map(|st| (c.clone(), st.health)),
        _ => None,
    };
    if let Some((colour, h)) = &target_colour_health
        && *h == Health::Unhealthy
        && !opts.force
    {
        let version = target.as_ref().map(|t| t.version.clone()).unwrap_or_default();
        return Ok(Err(Refusal::TargetUnhealthy { colour: colour.clone(), version }));
    }
    // The http driver was just reached through the status call; the others
    // (a program, an env file, a flag service) are checked here.
    if !opts.skip_validation
        && !matches!(driver, Driver::Http(_))
        && let Err(e) = rt.block_on(driver.check_reachable())
    {
        return Ok(Err(Refusal::Unreachable(format!("the {} driver cannot run: {e}", driver.name()))));
    }
    let target_revision = match (&env.status, &target, &status) {
        (Some(_), Some(t), Ok(s)) => s
            .deployment_history
            .iter()
            .rev()
            .find(|d| d.version == t.version && d.status != crate::domain::DeploymentStatus::Failed)
            .map(|d| d.id.clone()),
        _ => None,
    };
    let deployment_id = from_version
        .as_deref()
        .and_then(|v| store.deployments(env_id).ok()?.into_iter().rev().find(|d| d.version == v).map(|d| d.id));
    Ok(Ok(Prepared {
        environment: env.name().to_string(),
        environment_id: env_id,
        from_version,
        health,
        target,
        driver,
        colour,
        target_colour_health,
        planned_at,
        restore,
        target_revision,
        deployment_id,
        env: env.clone(),
    }))
}

/// Runs a prepared rollback to its end and returns the record as stored
/// (`completed` or `failed`), or the lock holder when another one got there first.
pub fn execute(
    rt: &Handle,
    store: &mut Store,
    prepared: Prepared,
    opts: &RollbackOptions,
) -> Result<std::result::Result<RollbackRow, Refusal>> {
    execute_with_phases(rt, store, prepared, opts, &mut |_| {})
}

/// [`execute`], telling `phase_seen` each phase as it starts (for a live display).
///
/// The one way a rollback runs: take the lock (refused if another rollback of the
/// environment ended after the plan was made), re-read the service and refuse if
/// it no longer matches the plan, file it under the environment's incident
/// (opening one, with its detection, if none is open), keep the state the
/// driver is about to change (pruning past `keep_states`), drive, verify, record.
pub fn execute_with_phases(
    rt: &Handle,
    store: &mut Store,
    prepared: Prepared,
    opts: &RollbackOptions,
    phase_seen: &mut dyn FnMut(Phase),
) -> Result<std::result::Result<RollbackRow, Refusal>> {
    let env_id = prepared.environment_id;
    // Whatever path led here (the CLI, the console, a runbook step), a manual
    // rollback of an environment that needs two operators runs only as an
    // approved request.
    if needs_request(&prepared.env, opts) {
        return Ok(Err(Refusal::NeedsApproval(prepared.environment.clone())));
    }
    let new = new_rollback(store, &prepared, opts)?;
    let row = match store.begin_rollback(&new, prepared.planned_at)? {
        Ok(row) => row,
        Err(refused) => {
            let r = refusal(&prepared, refused);
            tracing::warn!(env = %prepared.environment, operator = %opts.operator, "rollback refused: {r}");
            return Ok(Err(r));
        }
    };
    tracing::info!(
        env = %prepared.environment,
        rollback = row.id,
        operator = %opts.operator,
        approved_by = ?opts.approval.as_ref().map(|a| &a.1),
        "rollback #{} begun: {}; reason: {}",
        row.id,
        prepared.describe(opts.trigger),
        opts.reason
    );
    if let Some(changed) = changed_since_plan(rt, &prepared, opts) {
        let why = format!("refused after taking the lock: the service changed since the plan: {changed}");
        store.finish_rollback(row.id, RollbackStatus::Failed, Some(&why), &opts.operator)?;
        return Ok(Err(Refusal::Changed(changed)));
    }
    if let Some(why) = flag_blocked(store, &prepared)? {
        store.finish_rollback(row.id, RollbackStatus::Failed, Some(&format!("refused: {why}")), &opts.operator)?;
        return Ok(Err(Refusal::State(why)));
    }
    let incident_id = file_under_incident(store, &prepared, opts, &row)?;
    if let Err(e) = states::keep(rt, store, &prepared, row.id, incident_id) {
        // Nothing was sent: the row ends failed now rather than holding the
        // lock until its lease runs out.
        let why = format!("refused before anything ran: the state before it could not be kept: {e:#}");
        let _ = store.finish_rollback(row.id, RollbackStatus::Failed, Some(&why), &opts.operator);
        return Err(e.wrap_err(format!("rollback #{} was not sent", row.id)));
    }
    store.set_milestone(incident_id, crate::incident::Milestone::RollbackStarted, row.started_at, &opts.operator)?;
    if let Some(evidence) = &opts.evidence {
        store.append_event(&NewEvent {
            at: Utc::now(),
            incident_id: Some(incident_id),
            environment_id: Some(env_id),
            rollback_id: Some(row.id),
            actor: opts.operator.clone(),
            kind: "rollback_evidence".into(),
            message: format!("rollback #{} decided by {}: {}", row.id, opts.operator, opts.reason),
            data: Some(evidence.to_string()),
        })?;
    }
    store.mark_rollback_in_progress(
        row.id,
        &opts.operator,
        &format!("rollback #{} sent through the {} driver", row.id, row.driver),
    )?;
    let req = DriverRequest {
        environment: prepared.environment.clone(),
        target_version: prepared.target.as_ref().map(|t| t.version.clone()),
        request_version: match &prepared.target {
            Some(t) => t.request_version.clone(),
            None => opts.version.clone(),
        },
        previous_version: prepared.from_version.clone(),
        reason: opts.reason.clone(),
        restore: prepared.restore.as_ref().and_then(|s| s.state.flag.clone()),
        target_revision: prepared.target_revision.clone(),
    };
    let mut phase_errors = Vec::new();
    let outcome = {
        let store_ref = &*store;
        let mut on_phase = |phase: Phase| {
            let event = NewEvent {
                at: Utc::now(),
                incident_id: Some(incident_id),
                environment_id: Some(env_id),
                rollback_id: Some(row.id),
                actor: "backout".into(),
                kind: "rollback_phase".into(),
                message: format!("rollback #{}: {}", row.id, phase.as_str()),
                data: None,
            };
            if let Err(e) = store_ref.append_event(&event) {
                phase_errors.push(e);
            }
            phase_seen(phase);
        };
        rt.block_on(prepared.driver.roll_back(&req, &mut on_phase))
    };
    if std::env::var(FAULT_ENV).is_ok_and(|v| v == FAULT_DB_AFTER_REQUEST) {
        store.refuse_writes()?;
    }
    let driver_said = match &outcome {
        Ok(report) => format!("completed ({}; {})", report.answer, report.verified),
        Err(failure) => format!("failed ({})", failure.message),
    };
    let finished = match record_outcome(store, outcome, &row, (env_id, incident_id), opts) {
        Ok(Ok(done)) => done,
        Ok(Err(refusal)) => return Ok(Err(refusal)),
        // The request went out: what the driver saw must not be lost with the
        // write. The row stays in_progress under this process's lock, which is
        // exactly what the next start reconciles from the service's status.
        Err(e) => {
            return Err(e.wrap_err(format!(
                "rollback #{} of {} was sent and the {} driver reported it {driver_said}, but recording that in \
                 {} failed, so the record still says in_progress. It is not lost: the next backout start (status, \
                 history or rollback) reconciles it from the service's own status once this process has exited. \
                 Make the database writable first (free disk space, check its permissions)",
                row.id,
                prepared.environment,
                row.driver,
                store.path().display()
            )));
        }
    };
    if let Some(e) = phase_errors.into_iter().next() {
        return Err(e).wrap_err("recording a rollback phase");
    }
    tracing::info!(
        env = %prepared.environment,
        rollback = finished.id,
        "rollback #{} ended {}: {}",
        finished.id,
        finished.status,
        finished.error.as_deref().unwrap_or(&driver_said)
    );
    Ok(Ok(finished))
}

/// Whether a rollback of `env` run with `opts` must first be a request for a
/// second operator: the environment needs two and no approval is given. A
/// rule's rollback is not an operator's plan and runs as its rule says.
pub fn needs_request(env: &EnvironmentConfig, opts: &RollbackOptions) -> bool {
    env.approvals() > 1 && opts.trigger == RollbackTrigger::Manual && opts.approval.is_none()
}

/// Why restoring `prepared`'s kept state may not turn its flag back on: a
/// rollback turned it off and the incident has no root cause yet (seed 002).
/// Checked under the lock.
fn flag_blocked(store: &Store, prepared: &Prepared) -> Result<Option<String>> {
    let Some(flag) = prepared.restore.as_ref().and_then(|s| s.state.flag.as_ref()) else { return Ok(None) };
    if !flag.value.as_deref().is_some_and(crate::domain::flag_is_on) {
        return Ok(None);
    }
    flag_block_reason(store, prepared.environment_id, &flag.key)
}

/// Why flag `key` of environment `env_id` may not be turned on through
/// backout now, if it may not: the newest rollback that changed it turned it
/// off and its incident records no root cause.
pub fn flag_block_reason(store: &Store, env_id: i64, key: &str) -> Result<Option<String>> {
    Ok(store.flag_off_awaiting_root_cause(env_id, key)?.map(|(rollback, incident)| {
        format!(
            "flag {key} was turned off by rollback #{rollback} (incident #{incident}) and stays off through backout \
             until the incident records a root cause: `backout incident update {incident} --root-cause TEXT`, then \
             try again"
        )
    }))
}

/// Set to [`FAULT_DB_AFTER_REQUEST`] (tests only), every database write after
/// the rollback request fails, as on a full disk.
pub const FAULT_ENV: &str = "BACKOUT_FAULT";
/// See [`FAULT_ENV`].
pub const FAULT_DB_AFTER_REQUEST: &str = "db-write-after-request";

/// Records what the driver reported for `row`: completed (verified, its flag,
/// the milestone) or failed; a stale plan the service refused is a refusal.
fn record_outcome(
    store: &mut Store,
    outcome: std::result::Result<crate::drivers::DriverReport, crate::drivers::DriverFailure>,
    row: &RollbackRow,
    (env_id, incident_id): (i64, i64),
    opts: &RollbackOptions,
) -> Result<std::result::Result<RollbackRow, Refusal>> {
    Ok(Ok(match outcome {
        Ok(report) => {
            store.append_event(&NewEvent {
                at: Utc::now(),
                incident_id: Some(incident_id),
                environment_id: Some(env_id),
                rollback_id: Some(row.id),
                actor: "backout".into(),
                kind: "rollback_verified".into(),
                message: format!("{}; {}", report.answer, report.verified),
                data: None,
            })?;
            if let Some(flag) = &report.flag {
                store.record_flag_change(row.id, flag)?;
            }
            let done = store.finish_rollback(row.id, RollbackStatus::Completed, None, &opts.operator)?;
            // Mitigated: the driver saw the target serving and healthy, just now.
            if let Some(at) = done.completed_at {
                store.set_milestone(incident_id, crate::incident::Milestone::RollbackCompleted, at, &opts.operator)?;
            }
            done
        }
        // The service refused the stale plan itself (412): a refusal, as when
        // the re-read under the lock catches it; nothing changed.
        Err(failure) if failure.stale_plan => {
            let why = format!("refused by the service: {}", failure.message);
            store.finish_rollback(row.id, RollbackStatus::Failed, Some(&why), &opts.operator)?;
            return Ok(Err(Refusal::Changed(failure.message)));
        }
        // The driver would not run with these values: recorded the way a stale
        // plan is, as a refusal with nothing changed, not a failed rollback.
        Err(failure) if failure.refused => {
            let why = format!("refused before anything ran: {}", failure.message);
            store.finish_rollback(row.id, RollbackStatus::Failed, Some(&why), &opts.operator)?;
            return Ok(Err(Refusal::Driver(failure.message)));
        }
        Err(failure) => store.fail_rollback_after_request(row.id, &failure.message, &opts.operator)?,
    }))
}

/// The record `prepared` begins as, run with `opts`.
fn new_rollback(store: &Store, prepared: &Prepared, opts: &RollbackOptions) -> Result<NewRollback> {
    let automatic = opts.trigger != RollbackTrigger::Manual;
    Ok(NewRollback {
        environment_id: prepared.environment_id,
        incident_id: store.open_incident_for(prepared.environment_id)?.map(|i| i.id),
        deployment_id: prepared.deployment_id,
        from_version: prepared.from_version.clone(),
        target_version: prepared.target.as_ref().map(|t| t.version.clone()),
        rollback_type: prepared.rollback_type(opts.trigger),
        trigger: opts.trigger,
        operator: opts.operator.clone(),
        reason: opts.reason.clone(),
        driver: prepared.driver.name().to_string(),
        lease: lease_of(&prepared.driver),
        automatic_cooldown: automatic
            .then(|| chrono::Duration::from_std(prepared.env.cooldown.get()).unwrap_or(chrono::Duration::MAX)),
        approval: opts.approval.clone(),
    })
}

/// The refusal a store's answer to `begin_rollback` means.
fn refusal(prepared: &Prepared, refused: BeginRefused) -> Refusal {
    match refused {
        BeginRefused::LockHeld(holder) => Refusal::LockHeld(holder),
        BeginRefused::Busy => Refusal::Busy,
        BeginRefused::Blocked(block) => Refusal::Blocked { environment: prepared.environment.clone(), block },
        BeginRefused::Approval(why) => Refusal::Approval(why),
        BeginRefused::Cooldown { rollback_id, until } => Refusal::Cooldown { rollback_id, until },
        BeginRefused::FinishedSincePlan { rollback_id, completed_at } => Refusal::Changed(format!(
            "rollback #{rollback_id} of this environment ended at {}",
            crate::domain::ts::format(completed_at)
        )),
    }
}

/// Why the automatic rollback `prepared` may not run now (a failed one of the
/// same `from → to` is blocked, or the environment is in cooldown), asked
/// before anything is announced. `begin_rollback` asks again under its lock.
pub fn automatic_refusal(store: &Store, prepared: &Prepared, opts: &RollbackOptions) -> Result<Option<Refusal>> {
    let new = new_rollback(store, prepared, opts)?;
    Ok(store.automatic_refusal(&new)?.map(|r| refusal(prepared, r)))
}

/// How long a rollback through `driver` holds its lock before it is presumed
/// abandoned. Capped at a day so `now + lease` can never overflow; `check`
/// keeps every driver's own bound far below that.
pub(crate) fn lease_of(driver: &Driver) -> chrono::Duration {
    capped_lease(driver.lease())
}

/// A driver's lease as the lock records it, capped at a day.
pub(crate) fn capped_lease(lease: std::time::Duration) -> chrono::Duration {
    crate::domain::ts::delta(lease).min(chrono::Duration::days(1))
}

/// What changed on the service since `prepared` was planned, if anything: the
/// serving version or colour. Read after the lock is taken, so no other rollback
/// of the environment can change it between this reading and the request.
fn changed_since_plan(rt: &Handle, prepared: &Prepared, opts: &RollbackOptions) -> Option<String> {
    let client = PlaybookClient::new(prepared.env.endpoints(), prepared.env.timeout.get());
    match rt.block_on(client.status()) {
        Ok(now) => {
            if prepared.from_version.as_deref().is_some_and(|v| v != now.version) {
                return Some(format!(
                    "now serving {} (the plan was made against {})",
                    now.version,
                    prepared.from_version.as_deref().unwrap_or("?")
                ));
            }
            if prepared.colour.is_some() && prepared.colour != now.current_environment {
                return Some(format!(
                    "now serving the {} colour (the plan was made against {})",
                    now.current_environment.as_deref().unwrap_or("unknown"),
                    prepared.colour.as_deref().unwrap_or("?")
                ));
            }
            None
        }
        // Without validation the plan was made without a reading to compare with.
        Err(_) if opts.skip_validation => None,
        Err(e) => Some(format!("it could not be read again after taking the lock ({e})")),
    }
}

/// The incident the rollback belongs to: the environment's open one (recording
/// its detection if it had none), else a new one with the environment's severity
/// and objective, detected by the rule that fired or by the operator now.
fn file_under_incident(
    store: &mut Store,
    prepared: &Prepared,
    opts: &RollbackOptions,
    row: &RollbackRow,
) -> Result<i64> {
    // A person noticed it at the latest when they asked for the plan.
    let detection = opts
        .detected
        .clone()
        .unwrap_or_else(|| crate::incident::Detection { at: prepared.planned_at, by: opts.operator.clone() });
    if let Some(id) = row.incident_id {
        crate::incident::record_detection(store, id, &detection)?;
        return Ok(id);
    }
    let req = crate::incident::OpenRequest {
        title: format!("rollback of {}: {}", prepared.environment, opts.reason),
        severity: None,
        drill: false,
        by: opts.operator.clone(),
        impact: None,
        runbook: None,
        detected: Some(detection),
    };
    let incident = crate::incident::open(store, &opts.objectives, Some(&prepared.env), &req)?;
    store.attach_rollback_to_incident(row.id, incident.id)?;
    Ok(incident.id)
}
