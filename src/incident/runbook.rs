//! Runbooks: TOML files of steps, each with guidance, an optional time box and
//! an optional action that runs only when the operator confirms.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;

use crate::config::{Config, EnvironmentConfig, HumanDuration};
pub use crate::domain::StepState;
use crate::store::{NewStepOutcome, StepOutcomeRow, Store};

/// Most bytes of an action's output kept in the record.
const OUTPUT_LIMIT: usize = 8 * 1024;

/// A runbook file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// Name shown to people.
    pub name: String,
    /// Where the procedure comes from.
    #[serde(default)]
    pub source: Option<String>,
    /// When to use it.
    #[serde(default)]
    pub description: Option<String>,
    /// The steps, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// One step of a runbook.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What to do, in a few words.
    pub title: String,
    /// How to do it.
    #[serde(default)]
    pub guidance: String,
    /// How long the step should take; later is flagged overdue.
    #[serde(default)]
    pub time_box: Option<HumanDuration>,
    /// What backout can do for the operator, once confirmed.
    #[serde(default)]
    pub action: Option<Action>,
}

/// An action a step can run. Placeholders `{env}`, `{incident}` and `{base_url}`
/// are filled in paths, URLs, bodies and argv.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// An HTTP request; `path` is appended to the environment's `base_url`, or `url` is used as is.
    Http {
        /// HTTP method (default POST).
        #[serde(default = "default_method")]
        method: String,
        /// Path under the environment's base URL.
        #[serde(default)]
        path: Option<String>,
        /// Full URL instead of `path`.
        #[serde(default)]
        url: Option<String>,
        /// JSON body text.
        #[serde(default)]
        body: Option<String>,
    },
    /// A program run without a shell.
    Command {
        /// Program and arguments.
        argv: Vec<String>,
        /// Longest it may run (default 60 s).
        #[serde(default)]
        timeout: Option<HumanDuration>,
    },
    /// Feature flags set in a `KEY=value` file (relative to the runbook's folder).
    Flag {
        /// The file.
        env_file: String,
        /// The flags.
        flags: Vec<String>,
        /// The value written (default `false`).
        #[serde(default = "default_flag_value")]
        value: String,
    },
    /// A rollback of the incident's environment, as `backout rollback` does it.
    Rollback {
        /// A specific version, else the last known-good one.
        #[serde(default)]
        version: Option<String>,
        /// Roll back even when the service reports healthy.
        #[serde(default)]
        force: bool,
    },
}

fn default_method() -> String {
    "POST".into()
}
fn default_flag_value() -> String {
    "false".into()
}

impl Action {
    /// One line saying what the action does.
    pub fn summary(&self) -> String {
        match self {
            Action::Http { method, path, url, .. } => {
                format!("{method} {}", url.as_deref().or(path.as_deref()).unwrap_or("/"))
            }
            Action::Command { argv, .. } => format!("run {}", argv.join(" ")),
            Action::Flag { env_file, flags, value } => format!("set {} = {value} in {env_file}", flags.join(", ")),
            Action::Rollback { version, .. } => match version {
                Some(v) => format!("roll back to {v}"),
                None => "roll back to the last known-good version".into(),
            },
        }
    }
}

impl Runbook {
    /// Reads and parses a runbook file.
    pub fn load(path: &Path) -> Result<Runbook> {
        let text = std::fs::read_to_string(path)
            .wrap_err_with(|| format!("cannot read runbook {}; check runbooks_dir and the name", path.display()))?;
        let book: Runbook =
            toml::from_str(&text).map_err(|e| eyre!("runbook {} does not parse: {e}", path.display()))?;
        if book.steps.is_empty() {
            bail!("runbook {} has no [[step]]", path.display());
        }
        Ok(book)
    }
}

/// Where a runbook named `name` lives: `runbooks_dir` (relative to the config
/// file) joined with `name`, `.toml` added when the name has no extension.
pub fn runbook_path(config: &Config, config_path: &Path, name: &str) -> Result<PathBuf> {
    let Some(dir) = &config.runbooks_dir else {
        bail!("no runbooks_dir in {}; add `runbooks_dir = \"runbooks\"` to the config", config_path.display());
    };
    let base = config_path.parent().unwrap_or(Path::new(".")).join(dir);
    let mut path = base.join(name);
    if path.extension().is_none() {
        path.set_extension("toml");
    }
    Ok(path)
}

/// One step with its progress in an incident.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// Index from 0.
    pub index: usize,
    /// Title.
    pub title: String,
    /// Guidance.
    pub guidance: String,
    /// Time box in milliseconds.
    pub time_box_ms: Option<i64>,
    /// The action, described.
    pub action: Option<String>,
    /// Where it stands.
    pub state: StepState,
    /// Why skipped or failed.
    pub reason: Option<String>,
    /// Its action's output.
    pub output: Option<String>,
    /// Who recorded the last outcome.
    pub actor: Option<String>,
    /// When the step's clock started (the previous step ended, or the incident opened).
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it was done or skipped.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Past its time box (still open, or finished late).
    pub overdue: bool,
}

/// A runbook with an incident's progress through it.
#[derive(Debug, Clone, Serialize)]
pub struct RunbookView {
    /// File name as configured.
    pub file: String,
    /// Runbook name.
    pub name: String,
    /// The steps.
    pub steps: Vec<StepView>,
    /// Index of the first step neither done nor skipped.
    pub current: Option<usize>,
}

/// The runbook file name an incident uses: its own, else its environment's.
pub fn runbook_name(store: &Store, config: &Config, incident_id: i64) -> Result<Option<String>> {
    let fields = store.incident_fields(incident_id)?.unwrap_or_default();
    if fields.runbook.is_some() {
        return Ok(fields.runbook);
    }
    let incident = store.incident(incident_id)?.ok_or_else(|| eyre!("there is no incident #{incident_id}"))?;
    Ok(incident.environment.as_deref().and_then(|e| config.environment(e)).and_then(|e| e.runbook.clone()))
}

/// The runbook with this incident's progress, as of `now`.
pub fn view(store: &Store, incident_id: i64, file: &str, book: &Runbook, now: DateTime<Utc>) -> Result<RunbookView> {
    let incident = store.incident(incident_id)?.ok_or_else(|| eyre!("there is no incident #{incident_id}"))?;
    let outcomes: Vec<StepOutcomeRow> =
        store.step_outcomes(incident_id)?.into_iter().filter(|o| o.runbook == file).collect();
    let mut clock = Some(incident.opened_at);
    let mut steps = Vec::with_capacity(book.steps.len());
    let mut current = None;
    for (index, step) in book.steps.iter().enumerate() {
        let last = outcomes.iter().rev().find(|o| o.step_index == index);
        let state = last.map_or(StepState::Pending, |o| o.state);
        let finished = matches!(state, StepState::Done | StepState::Skipped);
        let started_at = if current.is_none() || finished { clock } else { None };
        let finished_at = last.filter(|_| finished).map(|o| o.at);
        let time_box = step.time_box.map(|t| t.get());
        let overdue = match (time_box, started_at) {
            (Some(tb), Some(start)) if current.is_none() || finished => {
                let end = finished_at.unwrap_or(now);
                (end - start).to_std().unwrap_or(Duration::ZERO) > tb
            }
            _ => false,
        };
        if !finished && current.is_none() {
            current = Some(index);
        }
        if finished {
            clock = finished_at.or(clock);
        }
        steps.push(StepView {
            index,
            title: step.title.clone(),
            guidance: step.guidance.clone(),
            time_box_ms: time_box.map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX)),
            action: step.action.as_ref().map(Action::summary),
            state,
            reason: last.and_then(|o| o.reason.clone()),
            output: last.and_then(|o| o.output.clone()),
            actor: last.map(|o| o.actor.clone()),
            started_at,
            finished_at,
            overdue,
        });
    }
    Ok(RunbookView { file: file.to_string(), name: book.name.clone(), steps, current })
}

/// How a person marks a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepMark<'a> {
    /// Done.
    Done,
    /// Skipped, and why (required).
    Skipped(&'a str),
    /// Failed, and what went wrong.
    Failed(&'a str),
}

/// Records a step done, skipped (a reason is required) or failed.
pub fn mark(
    store: &mut Store,
    incident_id: i64,
    file: &str,
    book: &Runbook,
    step_index: usize,
    how: StepMark<'_>,
    by: &str,
) -> Result<StepOutcomeRow> {
    let (state, reason) = match how {
        StepMark::Done => (StepState::Done, None),
        StepMark::Skipped(r) => (StepState::Skipped, Some(r)),
        StepMark::Failed(r) => (StepState::Failed, Some(r)),
    };
    let step = book
        .steps
        .get(step_index)
        .ok_or_else(|| eyre!("runbook {file} has {} steps; there is no step {}", book.steps.len(), step_index + 1))?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_none() && state != StepState::Done {
        bail!("a {} step needs a reason", state.as_str());
    }
    Ok(store.record_step_outcome(&NewStepOutcome {
        incident_id,
        runbook: file.to_string(),
        step_index,
        step_title: step.title.clone(),
        state,
        reason: reason.map(str::to_string),
        output: None,
        actor: by.to_string(),
    })?)
}

/// What an action did.
#[derive(Debug, Clone, Serialize)]
pub struct ActionOutcome {
    /// It did what it should.
    pub ok: bool,
    /// What it printed or answered (truncated).
    pub output: String,
}

/// Everything an action may need.
pub struct ActionContext<'a> {
    /// Runtime for HTTP.
    pub rt: &'a Handle,
    /// The incident's environment.
    pub env: Option<&'a EnvironmentConfig>,
    /// The runbook's folder, for relative files.
    pub runbook_dir: &'a Path,
    /// Who confirmed it.
    pub by: &'a str,
    /// The config's `[severities]`, for an incident a rollback step opens.
    pub objectives: &'a crate::config::SeverityObjectives,
}

/// Runs a step's action, once the operator has confirmed (`confirmed` must be
/// true), and records the step done or failed with its output on the timeline.
pub fn run_action(
    store: &mut Store,
    ctx: &ActionContext<'_>,
    incident_id: i64,
    file: &str,
    book: &Runbook,
    step_index: usize,
    confirmed: bool,
) -> Result<ActionOutcome> {
    let step = book
        .steps
        .get(step_index)
        .ok_or_else(|| eyre!("runbook {file} has {} steps; there is no step {}", book.steps.len(), step_index + 1))?;
    let Some(action) = &step.action else {
        bail!("step {} ({}) has no action; mark it done when it is done", step_index + 1, step.title);
    };
    if !confirmed {
        bail!("step {} would {}; it runs only when the operator confirms", step_index + 1, action.summary());
    }
    let outcome = perform(store, ctx, incident_id, action);
    let mut output = outcome.output.clone();
    if output.len() > OUTPUT_LIMIT {
        let mut cut = OUTPUT_LIMIT;
        while !output.is_char_boundary(cut) {
            cut -= 1;
        }
        output.truncate(cut);
        output.push_str("\n[output truncated]");
    }
    store.record_step_outcome(&NewStepOutcome {
        incident_id,
        runbook: file.to_string(),
        step_index,
        step_title: step.title.clone(),
        state: if outcome.ok { StepState::Done } else { StepState::Failed },
        reason: (!outcome.ok).then(|| format!("{} failed", action.summary())),
        output: Some(output.clone()),
        actor: ctx.by.to_string(),
    })?;
    Ok(ActionOutcome { ok: outcome.ok, output })
}

fn fill(text: &str, ctx: &ActionContext<'_>, incident_id: i64) -> String {
    let env = ctx.env.map(|e| e.name()).unwrap_or("");
    let base = ctx.env.map(|e| e.base_url.get_ref().trim_end_matches('/')).unwrap_or("");
    text.replace("{env}", env).replace("{incident}", &incident_id.to_string()).replace("{base_url}", base)
}

fn perform(store: &mut Store, ctx: &ActionContext<'_>, incident_id: i64, action: &Action) -> ActionOutcome {
    let failed = |output: String| ActionOutcome { ok: false, output };
    let outcome = |r: std::result::Result<String, String>| match r {
        Ok(output) => ActionOutcome { ok: true, output },
        Err(output) => ActionOutcome { ok: false, output },
    };
    match action {
        Action::Http { method, path, url, body } => {
            let target = match (url, path, ctx.env) {
                (Some(u), _, _) => fill(u, ctx, incident_id),
                (None, Some(p), Some(env)) => {
                    format!("{}{}", env.base_url.get_ref().trim_end_matches('/'), fill(p, ctx, incident_id))
                }
                _ => return failed("the step names a path but the incident has no environment; give `url`".into()),
            };
            let timeout = ctx.env.map_or(Duration::from_secs(10), |e| e.timeout.get().max(Duration::from_secs(5)));
            let body = body.as_deref().map(|b| fill(b, ctx, incident_id));
            outcome(ctx.rt.block_on(crate::drivers::http::request(method, &target, body, timeout)))
        }
        Action::Command { argv, timeout } => {
            let argv: Vec<String> = argv.iter().map(|a| fill(a, ctx, incident_id)).collect();
            let limit = timeout.map_or(Duration::from_secs(60), |t| t.get());
            match ctx.rt.block_on(crate::drivers::argv::run(&argv, limit)) {
                Ok(out) => ActionOutcome {
                    ok: out.status.success(),
                    output: format!("$ {}\n{}", argv.join(" "), out.summary()),
                },
                Err(e) => failed(e.message),
            }
        }
        Action::Flag { env_file, flags, value } => {
            // Turning a flag on that a rollback turned off waits for a root cause (seed 002).
            if crate::domain::flag_is_on(value)
                && let Some(env) = ctx.env
            {
                let env_id = match store.environment_id(env.name()) {
                    Ok(id) => id,
                    Err(e) => return failed(format!("could not check the flags' rollbacks: {e}")),
                };
                for key in flags {
                    match env_id.map(|id| crate::rollback::flag_block_reason(store, id, key)).transpose() {
                        Ok(Some(Some(why))) => return failed(format!("refused, nothing written: {why}")),
                        Ok(_) => {}
                        Err(e) => return failed(format!("could not check the flags' rollbacks: {e}")),
                    }
                }
            }
            let path = ctx.runbook_dir.join(env_file);
            match crate::drivers::envfile::set_values(&path, flags, value) {
                Ok(()) => ActionOutcome {
                    ok: true,
                    output: format!("{} set to {value} in {}", flags.join(", "), path.display()),
                },
                Err(e) => failed(format!("could not write {}: {e}", path.display())),
            }
        }
        Action::Rollback { version, force } => match ctx.env {
            None => failed("the incident has no environment to roll back".into()),
            Some(env) => {
                let opts = crate::rollback::RollbackOptions {
                    version: version.clone(),
                    state: None,
                    force: *force,
                    skip_validation: false,
                    reason: format!("runbook step of incident #{incident_id}"),
                    operator: ctx.by.to_string(),
                    trigger: crate::store::RollbackTrigger::Manual,
                    evidence: None,
                    detected: None,
                    objectives: ctx.objectives.clone(),
                    approval: None,
                };
                let result = crate::rollback::prepare(ctx.rt, store, env, &opts).and_then(|p| match p {
                    Ok(p) => crate::rollback::execute(ctx.rt, store, p, &opts),
                    Err(r) => Ok(Err(r)),
                });
                match result {
                    Ok(Ok(row)) => ActionOutcome {
                        ok: row.status == crate::store::RollbackStatus::Completed,
                        output: format!(
                            "rollback #{} {}: {}{}",
                            row.id,
                            row.status,
                            crate::rollback::from_to(&row),
                            row.error.map(|e| format!(" ({e})")).unwrap_or_default()
                        ),
                    },
                    Ok(Err(refusal)) => failed(format!("refused: {refusal}")),
                    Err(e) => failed(format!("{e:#}")),
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fixture_runbooks_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/runbooks");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let book = Runbook::load(&path).unwrap();
                assert!(!book.steps.is_empty(), "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 3, "expected the seed runbooks in {}", dir.display());
    }

    #[test]
    fn emergency_procedures_fit_seed_001s_envelope() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/runbooks/emergency-procedures.toml");
        let book = Runbook::load(&path).unwrap();
        // Seed 001: critical 0-5 minutes, performance 5-15, customer impact 15-30.
        let mut elapsed = Duration::ZERO;
        for (phase, ends_at) in [("Critical:", 5), ("Performance:", 15), ("Customer impact:", 30)] {
            let steps: Vec<&Step> = book.steps.iter().filter(|s| s.title.starts_with(phase)).collect();
            assert!(!steps.is_empty(), "no {phase} steps");
            for step in steps {
                elapsed += step.time_box.unwrap_or_else(|| panic!("{} has no time box", step.title)).get();
            }
            assert_eq!(elapsed, Duration::from_secs(ends_at * 60), "{phase} ends at {ends_at} min");
        }
    }

    #[test]
    fn flags_are_set_in_place_or_appended() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".env");
        std::fs::write(&p, "A=1\r\nUSE_X=true\r\nexport USE_Y=true\r\n").unwrap();
        crate::drivers::envfile::set_values(&p, &["USE_X".into(), "USE_Y".into(), "USE_Z".into()], "false").unwrap();
        // The same writer as the flag driver: CRLF and `export` are kept.
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "A=1\r\nUSE_X=false\r\nexport USE_Y=false\r\nUSE_Z=false\r\n");
        let fresh = dir.path().join("new.env");
        crate::drivers::envfile::set_values(&fresh, &["USE_X".into()], "off").unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "USE_X=off\n");
    }
}
