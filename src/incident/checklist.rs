//! The validation checklist that checks itself: automatic items are read from
//! the live service and tick only after holding for their stability window;
//! manual items are ticked by a person. An incident is `validated` once every
//! required item has passed or been waived with a note.

use std::time::Duration;

use chrono::{DateTime, Utc};
use color_eyre::eyre::{Result, bail, eyre};
use serde::Serialize;
use tokio::runtime::Handle;

use super::Milestone;
use crate::config::{ChecklistItemConfig, EnvironmentConfig};
use crate::domain::{CheckKind, ProbeMethod, RollbackStatus, SignalAggregate};
use crate::drivers::http;
use crate::playbook::{Health, PlaybookClient};
use crate::store::{ChecklistResultRow, NewChecklistResult, Store};

/// How long an automatic item must hold when neither it nor its environment says.
pub const DEFAULT_STABLE_FOR: Duration = Duration::from_secs(60);

/// A stored sample older than this does not count: the engine has stopped
/// sampling, and the signal is read live instead.
const FRESH_FOR: Duration = Duration::from_secs(15);

/// The playbook's core-functionality test query (seed 001).
pub const PROBE_BODY: &str = r#"{"content": "test message", "tenantId": "demo-tenant"}"#;

/// One checklist item as it stands in an incident.
#[derive(Debug, Clone, Serialize)]
pub struct ItemState {
    /// 1-based position in the checklist.
    pub number: usize,
    /// What is checked.
    pub title: String,
    /// Manual, or the automatic check.
    pub check: CheckKind,
    /// Category, if any.
    pub category: Option<String>,
    /// Validation needs it.
    pub required: bool,
    /// Passed (ticked by a person, or held for its window).
    pub passed: bool,
    /// Waived with a note.
    pub waived: bool,
    /// When it passed or was waived.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub since: Option<DateTime<Utc>>,
    /// What the last check saw, or the waiver's note.
    pub detail: Option<String>,
    /// Who ticked or waived it.
    pub actor: Option<String>,
    /// For automatic items: passing without a break since.
    #[serde(serialize_with = "crate::domain::ts::serialize_opt")]
    pub passing_since: Option<DateTime<Utc>>,
    /// For automatic items: how long it must hold, in milliseconds.
    pub stable_for_ms: Option<i64>,
}

impl ItemState {
    /// Passed or waived.
    pub fn settled(&self) -> bool {
        self.passed || self.waived
    }
}

/// How long this item must hold before it ticks itself.
pub fn stable_for(item: &ChecklistItemConfig, env: &EnvironmentConfig) -> Duration {
    item.stable_for.or(env.checklist_stable_for).map_or(DEFAULT_STABLE_FOR, |d| d.get())
}

fn latest<'a>(results: &'a [ChecklistResultRow], title: &str) -> Option<&'a ChecklistResultRow> {
    results.iter().rev().find(|r| r.item == title)
}

/// The checklist of an incident as it stands, from the record.
pub fn checklist_state(store: &Store, incident_id: i64, env: &EnvironmentConfig) -> Result<Vec<ItemState>> {
    let results = store.checklist_results(incident_id)?;
    let mut out = Vec::with_capacity(env.checklist.len());
    for (i, item) in env.checklist.iter().enumerate() {
        let last = latest(&results, &item.title);
        let automatic = item.check != CheckKind::Manual;
        let streak = if automatic { store.checklist_streak(incident_id, &item.title)? } else { None };
        let passed = last.is_some_and(|r| r.passed && !r.waived);
        let waived = last.is_some_and(|r| r.waived);
        out.push(ItemState {
            number: i + 1,
            title: item.title.clone(),
            check: item.check,
            category: item.category.clone(),
            required: item.required,
            passed,
            waived,
            since: last.filter(|r| r.passed || r.waived).map(|r| r.at),
            detail: streak.as_ref().and_then(|s| s.detail.clone()).or_else(|| last.and_then(|r| r.note.clone())),
            actor: last.map(|r| r.actor.clone()),
            passing_since: streak.and_then(|s| s.passing_since),
            stable_for_ms: automatic.then(|| i64::try_from(stable_for(item, env).as_millis()).unwrap_or(i64::MAX)),
        });
    }
    Ok(out)
}

/// Finds an item by 1-based number or exact title (case-insensitive).
pub fn find_item<'a>(env: &'a EnvironmentConfig, key: &str) -> Result<&'a ChecklistItemConfig> {
    if let Ok(n) = key.trim().parse::<usize>()
        && let Some(item) = n.checked_sub(1).and_then(|i| env.checklist.get(i))
    {
        return Ok(item);
    }
    env.checklist.iter().find(|i| i.title.eq_ignore_ascii_case(key.trim())).ok_or_else(|| {
        let known: Vec<String> =
            env.checklist.iter().enumerate().map(|(i, c)| format!("{}. {}", i + 1, c.title)).collect();
        eyre!("no checklist item {key:?} for {}; the items are: {}", env.name(), known.join("; "))
    })
}

/// What a checklist result says about an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Passed,
    NotPassed,
    Waived,
}

fn record(
    store: &mut Store,
    (incident_id, env_id): (i64, i64),
    item: &str,
    verdict: Verdict,
    by: &str,
    note: Option<String>,
) -> Result<()> {
    store.record_checklist_result(&NewChecklistResult {
        incident_id,
        environment_id: env_id,
        item: item.to_string(),
        passed: verdict == Verdict::Passed,
        waived: verdict == Verdict::Waived,
        actor: by.to_string(),
        note,
    })?;
    Ok(())
}

fn env_id(store: &Store, env: &EnvironmentConfig) -> Result<i64> {
    Ok(store.ensure_environment(env.name(), env.kind.as_str(), env.base_url.get_ref())?)
}

/// A person ticks an item (manual or automatic). Returns whether the incident is now validated.
pub fn tick_item(store: &mut Store, incident_id: i64, env: &EnvironmentConfig, key: &str, by: &str) -> Result<bool> {
    let item = find_item(env, key)?;
    let id = env_id(store, env)?;
    record(store, (incident_id, id), &item.title, Verdict::Passed, by, Some("ticked by hand".into()))?;
    mark_validated_if_done(store, incident_id, env, by)
}

/// A person unticks an item.
pub fn untick_item(store: &mut Store, incident_id: i64, env: &EnvironmentConfig, key: &str, by: &str) -> Result<()> {
    let item = find_item(env, key)?;
    let id = env_id(store, env)?;
    record(store, (incident_id, id), &item.title, Verdict::NotPassed, by, Some("unticked by hand".into()))
}

/// A person waives an item; the note saying why is required.
pub fn waive_item(
    store: &mut Store,
    incident_id: i64,
    env: &EnvironmentConfig,
    key: &str,
    note: &str,
    by: &str,
) -> Result<bool> {
    let note = note.trim();
    if note.is_empty() {
        bail!("waiving a checklist item needs a note saying why");
    }
    let item = find_item(env, key)?;
    let id = env_id(store, env)?;
    record(store, (incident_id, id), &item.title, Verdict::Waived, by, Some(note.to_string()))?;
    mark_validated_if_done(store, incident_id, env, by)
}

/// Records `validated` when every required item has passed or been waived.
fn mark_validated_if_done(store: &mut Store, incident_id: i64, env: &EnvironmentConfig, by: &str) -> Result<bool> {
    let state = checklist_state(store, incident_id, env)?;
    if state.is_empty() || !state.iter().filter(|i| i.required).all(ItemState::settled) {
        return Ok(false);
    }
    store.set_milestone(incident_id, Milestone::Validated, Utc::now(), by)?;
    Ok(true)
}

/// What one round of automatic checks did.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    /// The checklist after the round.
    pub items: Vec<ItemState>,
    /// The incident is validated (now or before).
    pub validated: bool,
}

/// Runs every automatic item once against the live service, ticks those that
/// have held for their window, unticks those that broke before validation,
/// and records `validated` when the checklist is complete.
pub fn evaluate_checklist(rt: &Handle, store: &mut Store, incident_id: i64, env: &EnvironmentConfig) -> Result<Round> {
    let id = env_id(store, env)?;
    let already = store.milestones(incident_id)?.iter().any(|m| m.milestone == Milestone::Validated);
    let facts = Facts::gather(rt, store, incident_id, env)?;
    let results = store.checklist_results(incident_id)?;
    for item in env.checklist.iter().filter(|i| i.check != CheckKind::Manual) {
        let last = latest(&results, &item.title);
        if last.is_some_and(|r| r.waived || (r.passed && r.actor != "backout")) {
            continue;
        }
        let now = Utc::now();
        let (passing, detail) = facts.check(rt, store, id, item, env);
        let streak = store.observe_checklist_item(incident_id, &item.title, passing, now, &detail)?;
        let held = streak.passing_since.map(|since| (now - since).to_std().unwrap_or(Duration::ZERO));
        let window = stable_for(item, env);
        let ticked = last.is_some_and(|r| r.passed);
        match held {
            Some(h) if h >= window && !ticked => {
                let note = format!("held for {}: {detail}", crate::notify::format_duration(h));
                record(store, (incident_id, id), &item.title, Verdict::Passed, "backout", Some(note))?;
            }
            None if ticked && !already => {
                record(
                    store,
                    (incident_id, id),
                    &item.title,
                    Verdict::NotPassed,
                    "backout",
                    Some(format!("failed again: {detail}")),
                )?;
            }
            _ => {}
        }
    }
    let validated = already || mark_validated_if_done(store, incident_id, env, "backout")?;
    Ok(Round { items: checklist_state(store, incident_id, env)?, validated })
}

/// What the service shows now, read once per round.
struct Facts {
    health: std::result::Result<Health, String>,
    status: std::result::Result<crate::playbook::DeploymentStatusReport, String>,
    from_version: Option<String>,
    from_colour: Option<String>,
    target_version: Option<String>,
    since: Option<DateTime<Utc>>,
}

impl Facts {
    fn gather(rt: &Handle, store: &Store, incident_id: i64, env: &EnvironmentConfig) -> Result<Facts> {
        let client = PlaybookClient::new(env.endpoints(), env.timeout.get());
        let (status, health) = rt.block_on(async { tokio::join!(client.status(), client.health()) });
        let rollbacks = store.incident_rollbacks(incident_id)?;
        let done = rollbacks.iter().rev().find(|r| r.status == RollbackStatus::Completed);
        let from_version = done.and_then(|r| r.from_version.clone());
        let env_id = store.ensure_environment(env.name(), env.kind.as_str(), env.base_url.get_ref())?;
        let from_colour = match &from_version {
            Some(v) => store.deployments(env_id)?.into_iter().rev().find(|d| &d.version == v).and_then(|d| d.colour),
            None => None,
        };
        Ok(Facts {
            health: health.map(|h| h.health).map_err(|e| e.to_string()),
            status: status.map_err(|e| e.to_string()),
            from_version,
            from_colour,
            target_version: done.and_then(|r| r.target_version.clone()),
            since: done.and_then(|r| r.completed_at),
        })
    }

    fn check(
        &self,
        rt: &Handle,
        store: &Store,
        env_id: i64,
        item: &ChecklistItemConfig,
        env: &EnvironmentConfig,
    ) -> (bool, String) {
        match item.check {
            CheckKind::HealthHealthy => match &self.health {
                Ok(h) => (*h == Health::Healthy, format!("/health says {h}")),
                Err(e) => (false, format!("/health: {e}")),
            },
            CheckKind::EnvironmentSwitched => match (&self.status, &self.from_version) {
                (Err(e), _) => (false, format!("status: {e}")),
                (Ok(_), None) => (false, "no completed rollback in this incident yet".into()),
                (Ok(s), Some(from)) => match (&s.current_environment, &self.from_colour) {
                    (Some(now), Some(before)) => (now != before, format!("serving {now} (was {before})")),
                    _ => (&s.version != from, format!("serving {} (was {from})", s.version)),
                },
            },
            CheckKind::VersionMatches => match (&self.status, &self.target_version) {
                (Err(e), _) => (false, format!("status: {e}")),
                (Ok(_), None) => (false, "no completed rollback in this incident yet".into()),
                (Ok(s), Some(t)) => (&s.version == t, format!("serving {} (expected {t})", s.version)),
            },
            CheckKind::Probe => probe(rt, env, item),
            CheckKind::SignalBelow => self.signal_below(rt, store, env_id, item, env),
            CheckKind::Manual => (false, "a person checks this item".into()),
        }
    }

    fn signal_below(
        &self,
        rt: &Handle,
        store: &Store,
        env_id: i64,
        item: &ChecklistItemConfig,
        env: &EnvironmentConfig,
    ) -> (bool, String) {
        let (Some(name), Some(threshold)) = (&item.signal, item.threshold) else {
            return (false, "signal_below needs `signal` and `threshold`".into());
        };
        let Some(signal) = env.effective_signals().into_iter().find(|s| s.name.get_ref() == name) else {
            return (false, format!("{name} is not a signal of {}", env.name()));
        };
        // Judged over the stored samples of its window, taken after the rollback.
        let window = stable_for(item, env);
        let now = Utc::now();
        if let Some(judged) =
            judge_stored(store, env_id, (name, item.signal_aggregate(), threshold), window, self.since, now)
        {
            return judged;
        }
        // The engine is not sampling this signal: read it live, one value.
        let http = crate::net::shared_client(crate::net::Use::Read);
        let mut poller = crate::engine::SignalPoller::new(env, &signal, http);
        let sample = rt.block_on(async {
            // Rates need two scrapes; the second one, a second later, gives the sample.
            if let Some(s) = poller.poll().await.sample {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            poller.poll().await.sample
        });
        match sample {
            Some(s) => match s.value {
                Some(v) if s.ok || v.is_finite() => below(name, v, threshold),
                // A failed read says why; no data (nothing matched) says so.
                _ => (false, format!("{name}: {}", s.error.or(s.text).unwrap_or_else(|| "no value".into()))),
            },
            None => (false, format!("{name}: no fresh sample")),
        }
    }
}

/// Judges a `signal_below` item on the stored samples of `name` in its window
/// (`now - window` to `now`, none from before `since`, the rollback's end), or
/// `None` when the engine has no fresh sample there and the caller reads live.
fn judge_stored(
    store: &Store,
    env_id: i64,
    (name, aggregate, threshold): (&str, SignalAggregate, f64),
    window: Duration,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<(bool, String)> {
    let window_start = crate::domain::ts::before(now, window);
    let from = since.map_or(window_start, |s| s.max(window_start));
    let stored = store.samples_between(env_id, name, from, now).ok()?;
    let fresh_after = crate::domain::ts::before(now, FRESH_FOR);
    if stored.last().is_none_or(|s| s.at < fresh_after) {
        return None;
    }
    let values: Vec<f64> = stored.iter().filter(|s| s.ok).filter_map(|s| s.value).filter(|v| v.is_finite()).collect();
    let Some(value) = aggregate_of(aggregate, &values) else {
        let why = stored.iter().rev().find_map(|s| s.error.clone()).unwrap_or_else(|| "no value".into());
        return Some((false, format!("{name}: {why}")));
    };
    let over = (now - from).to_std().unwrap_or(Duration::ZERO);
    let span = if over + Duration::from_secs(1) < window {
        // After a recent rollback only part of the window holds samples of the version now serving.
        format!("{} of {}", crate::notify::format_duration(over), crate::notify::format_duration(window))
    } else {
        crate::notify::format_duration(window)
    };
    Some((value < threshold, format!("{name} {aggregate} over {span} = {value:.4} (needs to be below {threshold})")))
}

/// `values` summed up as `aggregate` says; `None` when there are none. The p95
/// is the nearest-rank one: the smallest value at least 95% of them do not exceed.
fn aggregate_of(aggregate: SignalAggregate, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(match aggregate {
        SignalAggregate::Mean => values.iter().sum::<f64>() / values.len() as f64,
        SignalAggregate::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        SignalAggregate::P95 => {
            let mut sorted = values.to_vec();
            sorted.sort_by(f64::total_cmp);
            let rank = (values.len() * 95).div_ceil(100);
            sorted[rank.saturating_sub(1)]
        }
    })
}

/// Whether `value` of signal `name` is below `threshold`, and the detail saying
/// what was seen against what is needed.
fn below(name: &str, value: f64, threshold: f64) -> (bool, String) {
    (value < threshold, format!("{name} = {value:.4} (needs to be below {threshold})"))
}

/// Runs a `probe` item: its method on its path under `base_url`, under the rules
/// of a runbook step's HTTP action (no redirect followed, answer capped, bounded
/// by the environment's `timeout`). It passes on the expected status; a `POST`
/// without a `body` sends the playbook's test query and also needs its answer.
fn probe(rt: &Handle, env: &EnvironmentConfig, item: &ChecklistItemConfig) -> (bool, String) {
    let path = item.path.as_deref().unwrap_or("/api/ai/query");
    let url = format!("{}{path}", env.base_url.get_ref().trim_end_matches('/'));
    let method = item.probe_method();
    let test_query = method == ProbeMethod::Post && item.probe_body().is_none();
    let body = if test_query { Some(PROBE_BODY) } else { item.probe_body() };
    let expected = item.probe_status();
    let started = std::time::Instant::now();
    let sent = rt.block_on(http::send(method.as_str(), &url, body.map(str::to_string), env.timeout.get()));
    let answer = match sent {
        Ok(a) => a,
        Err(e) => return (false, e),
    };
    let seen = format!("{method} {path} -> {} in {}ms", answer.status, started.elapsed().as_millis());
    if answer.status != expected {
        return (false, format!("{seen} (needs to be {expected})"));
    }
    if test_query && !serde_json::from_str::<serde_json::Value>(&answer.text).is_ok_and(|v| v.get("response").is_some())
    {
        return (false, format!("{seen}, but the answer to the test query has no \"response\""));
    }
    (true, seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_are_mean_max_and_nearest_rank_p95() {
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(aggregate_of(SignalAggregate::Mean, &twenty), Some(10.5));
        assert_eq!(aggregate_of(SignalAggregate::Max, &twenty), Some(20.0));
        assert_eq!(aggregate_of(SignalAggregate::P95, &twenty), Some(19.0));
        let hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(aggregate_of(SignalAggregate::P95, &hundred), Some(95.0), "order does not matter");
        assert_eq!(aggregate_of(SignalAggregate::P95, &[7.0]), Some(7.0));
        assert_eq!(aggregate_of(SignalAggregate::Mean, &[]), None);
    }

    #[test]
    fn signal_detail_says_what_the_value_needs_to_be() {
        assert_eq!(below("error_rate", 0.0156, 0.01), (false, "error_rate = 0.0156 (needs to be below 0.01)".into()));
        assert_eq!(below("latency", 0.2, 3.0), (true, "latency = 0.2000 (needs to be below 3)".into()));
    }
}
