//! What the engine knows about one environment, and the decisions it takes.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::task::JoinSet;

use super::act::{Planned, RunRollback, notify, notify_rollback, run_rollback, unblock};
use super::rules::{self, Evidence};
use super::sample::{Sample, SampleRing};
use super::{EngineCommand, EngineEvent, EngineOptions, Happened, Poll, Shared, StoreCmd};
use crate::config::{EnvironmentConfig, RuleAction, SignalConfig, SignalSource, TriggerConfig};
use crate::notify::{Notification, NotificationKind};
use crate::rollback::RollbackOptions;
use crate::store::{RollbackRow, RollbackStatus};

/// Samples a signal's ring must hold: its longest rule window at its polling
/// interval (plus room for a `drop` rule's pre-deploy baseline), capped by
/// `opts.ring_capacity`.
pub(crate) fn ring_capacity(sig: &SignalConfig, triggers: &[TriggerConfig], opts: &EngineOptions) -> usize {
    let interval = sig.interval.map_or(opts.min_interval, |i| i.get()).max(Duration::from_millis(50));
    let longest = triggers
        .iter()
        .filter(|t| t.signal.get_ref() == sig.name.get_ref())
        .filter_map(|t| t.window.map(|w| w.get()))
        .max()
        .unwrap_or_default();
    let needed = (longest.as_secs_f64() / interval.as_secs_f64()).ceil() as usize + 16;
    needed.clamp(120, opts.ring_capacity.max(120))
}

/// How a rollback run by the engine ended.
#[derive(Debug)]
pub(super) enum RollbackOutcome {
    /// Recorded as completed or failed, with the blue/green colour its notice
    /// names (see [`super::act::notice_colour`]).
    Finished(Box<RollbackRow>, Option<String>),
    /// Not started, and why.
    Refused(String),
    /// The store or runtime failed.
    Error(String),
}

/// A rollback waiting for its grace period to end.
#[derive(Debug, Clone)]
struct Proposal {
    trigger: usize,
    deadline: DateTime<Utc>,
    evidence: Evidence,
}

/// A signal is stale after this many missed intervals.
const STALE_AFTER_INTERVALS: u32 = 3;

/// When a proposed rollback runs unless cancelled.
pub(crate) fn proposal_deadline(now: DateTime<Utc>, grace: Duration) -> DateTime<Utc> {
    crate::domain::ts::after(now, grace)
}

/// How long a signal polled `every` may go without an answer before it is stale.
pub(crate) fn stale_after(every: Duration) -> chrono::Duration {
    crate::domain::ts::delta(every.saturating_mul(STALE_AFTER_INTERVALS))
}

/// One environment as the engine sees it.
pub(super) struct EnvState {
    pub(super) name: String,
    id: i64,
    cfg: EnvironmentConfig,
    signals: Vec<SignalConfig>,
    triggers: Vec<TriggerConfig>,
    rings: Vec<SampleRing>,
    stale: Vec<bool>,
    last_persisted: Vec<Option<DateTime<Utc>>>,
    firing: Vec<bool>,
    version: Option<String>,
    deployed_at: Option<DateTime<Utc>>,
    rules_since: DateTime<Utc>,
    started: DateTime<Utc>,
    rollback_in_flight: bool,
    last_rollback_end: Option<Instant>,
    settled_on: Option<String>,
    /// The version an automatic rollback could not be run from (the store or
    /// runtime failed): no rule may try again from it on its own. A rollback
    /// that ran and failed is blocked in the database instead, for every engine.
    failed_from: Option<String>,
    proposal: Option<Proposal>,
    automatic: bool,
    /// The deployment history last handed to the store, and when: a status poll
    /// that brings the same history writes nothing (it is written again after
    /// [`RESYNC`] in case a write was lost).
    synced: Option<(Vec<crate::playbook::DeploymentRecord>, Instant)>,
    /// When the serving version became one we went back to (a rollback, ours
    /// or anyone's): from then on a `drop` rule compares with that version's
    /// own values once they have settled, not with the release before it.
    restored_since: Option<DateTime<Utc>>,
    /// Per signal, the restored version's settled mean, once known.
    restored_base: Vec<Option<f64>>,
}

/// How long an unchanged deployment history goes without being written again.
const RESYNC: Duration = Duration::from_secs(60);

impl EnvState {
    pub(super) fn new(id: i64, cfg: EnvironmentConfig, opts: &EngineOptions) -> Self {
        let signals = cfg.effective_signals();
        let triggers = cfg.effective_triggers();
        let n = signals.len();
        let now = Utc::now();
        EnvState {
            name: cfg.name().to_string(),
            id,
            automatic: cfg.auto_rollback,
            rings: signals.iter().map(|sig| SampleRing::new(ring_capacity(sig, &triggers, opts))).collect(),
            stale: vec![false; n],
            last_persisted: vec![None; n],
            firing: vec![false; triggers.len()],
            signals,
            triggers,
            cfg,
            version: None,
            deployed_at: None,
            rules_since: now,
            started: now,
            rollback_in_flight: false,
            last_rollback_end: None,
            settled_on: None,
            failed_from: None,
            proposal: None,
            synced: None,
            restored_since: None,
            restored_base: vec![None; n],
        }
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "watching {} signals, {} rules; automatic rollback {}",
            self.signals.len(),
            self.triggers.len(),
            if self.automatic { "on" } else { "off" }
        )
    }

    /// Emits an event and records it on the timeline, from the one event value.
    fn record(&self, sh: &Shared, actor: &str, message: String, what: Happened) {
        let event = EngineEvent::now(&self.name, message, what);
        sh.writer.send(StoreCmd::Event(event.to_row(Some(self.id), actor)));
        sh.publish(event);
    }

    pub(super) fn on_poll(
        &mut self,
        e: usize,
        signal: Option<usize>,
        poll: Poll,
        sh: &Shared,
        rb: &mut JoinSet<(usize, RollbackOutcome)>,
    ) {
        if let Some(status) = &poll.status {
            let same =
                self.synced.as_ref().is_some_and(|(h, at)| *h == status.deployment_history && at.elapsed() < RESYNC);
            if !same {
                sh.writer.send(StoreCmd::Sync(self.id, status.deployment_history.clone()));
                self.synced = Some((status.deployment_history.clone(), Instant::now()));
            }
        }
        if let Some(v) = &poll.version {
            self.on_version(v, poll.status.as_ref(), sh);
        }
        if let (true, Some(st)) = (sh.opts.live_samples, &poll.status) {
            let what = Happened::Status {
                version: st.version.clone(),
                current_environment: st.current_environment.clone(),
                environments: st.environments.clone(),
            };
            sh.publish(EngineEvent::now(&self.name, String::new(), what));
        }
        let Some(s) = signal else { return };
        let Some(sample) = poll.sample else { return };
        if self.stale[s] {
            self.stale[s] = false;
            let msg = format!("{} answers again", self.signals[s].name.get_ref());
            self.record(sh, "backout", msg, Happened::SignalFresh(sample.clone()));
        }
        if self.signals[s].source == SignalSource::Health {
            let before = self.rings[s].latest().and_then(|p| p.text.clone().or(p.error.clone()));
            let now = sample.text.clone().or(sample.error.clone());
            if before != now {
                let msg = format!("health: {}", now.as_deref().unwrap_or("unknown"));
                self.record(sh, "backout", msg, Happened::HealthChanged(sample.clone()));
            }
        }
        self.persist(s, &sample, sh);
        let base = self.baseline(s);
        if sh.opts.live_samples {
            let what = Happened::Sample {
                signal: self.signals[s].name.get_ref().clone(),
                sample: sample.clone(),
                baseline: base,
            };
            sh.publish(EngineEvent { at: sample.at, environment: self.name.clone(), message: String::new(), what });
        }
        self.rings[s].push(sample);
        let name = self.signals[s].name.get_ref().clone();
        for t in 0..self.triggers.len() {
            if self.triggers[t].signal.get_ref() == &name {
                self.evaluate(e, t, s, base, sh, rb);
            }
        }
    }

    fn persist(&mut self, s: usize, sample: &Sample, sh: &Shared) {
        let every = chrono::Duration::from_std(sh.opts.persist_every).unwrap_or(chrono::Duration::seconds(5));
        let due = self.last_persisted[s].is_none_or(|t| sample.at - t >= every) || !sample.ok;
        if due {
            self.last_persisted[s] = Some(sample.at);
            sh.writer.send(StoreCmd::Samples {
                env_id: self.id,
                signal: self.signals[s].name.get_ref().clone(),
                samples: vec![sample.clone()],
            });
        }
    }

    fn on_version(&mut self, version: &str, status: Option<&crate::playbook::DeploymentStatusReport>, sh: &Shared) {
        let before = self.deployed_at;
        if let Some(s) = status {
            self.deployed_at = s
                .deployment_history
                .iter()
                .rev()
                .find(|d| d.version == version)
                .map(|d| d.deployed_at)
                .or(self.deployed_at);
        }
        // Serving a release older than the one before is going back (a
        // rollback this engine did not run): its baseline is its own. Judged
        // when the status brings the deployment's time, which may be after the
        // health check brought the version.
        let went_back = matches!((before, self.deployed_at), (Some(b), Some(now)) if now < b);
        if went_back {
            self.restore_baselines();
        }
        if self.version.as_deref() == Some(version) {
            return;
        }
        let first = self.version.is_none();
        self.version = Some(version.to_string());
        // A block is about the version that failed to leave: once another one
        // serves (a new deployment, a rollback by hand), it no longer applies.
        sh.writer.send(StoreCmd::LiftBlock { env_id: self.id, serving: version.to_string() });
        if first {
            return;
        }
        if self.failed_from.as_deref().is_some_and(|v| v != version) {
            self.failed_from = None;
        }
        if self.settled_on.as_deref().is_some_and(|v| v != version) {
            // A new release replaced the version we went back to: rules may act again.
            self.settled_on = None;
        }
        if !went_back && self.settled_on.is_none() {
            // A new release: a fall is judged against what served before it.
            self.restored_since = None;
        }
        let what = Happened::VersionChanged { version: version.to_string() };
        self.record(sh, "backout", format!("now serving {version}"), what);
    }

    /// Starts judging a fall against the serving version's own settled values.
    fn restore_baselines(&mut self) {
        self.restored_since = Some(Utc::now());
        self.restored_base.iter_mut().for_each(|b| *b = None);
    }

    /// What a `drop` rule on signal `s` compares with, when the signal has one
    /// and it is known: before any rollback, the mean of the good samples taken
    /// before the serving version was deployed; after a rollback, the restored
    /// version's own mean over its first [`settle`](Self::settle) period, known
    /// once that period is over (so further degradation still alerts).
    fn baseline(&mut self, s: usize) -> Option<f64> {
        let settle = self.settle(s)?;
        let Some(since) = self.restored_since else {
            return self.deployed_at.and_then(|d| rules::baseline(&self.rings[s], d));
        };
        if let Some(b) = self.restored_base[s] {
            return Some(b);
        }
        let until = since + settle;
        if self.rings[s].latest()?.at < until {
            return None;
        }
        let Some(b) = rules::mean_between(&self.rings[s], since, until) else {
            // No good sample in that window (the service restarting, a slow
            // poll): the next window is tried, so the rule is never off for good.
            self.restored_since = Some(until);
            return None;
        };
        self.restored_base[s] = Some(b);
        Some(b)
    }

    /// How long a restored version's values settle before they are its
    /// baseline: the longest window of a `drop` rule on signal `s`, at least
    /// 30 s; `None` when no `drop` rule reads the signal.
    fn settle(&self, s: usize) -> Option<chrono::Duration> {
        let name = self.signals[s].name.get_ref();
        self.triggers
            .iter()
            .filter(|t| t.rule == crate::config::RuleKind::Drop && t.signal.get_ref() == name)
            .map(|t| t.window.map_or(Duration::ZERO, |w| w.get()))
            .max()
            .map(|w| chrono::Duration::from_std(w.max(Duration::from_secs(30))).unwrap_or(chrono::Duration::MAX))
    }

    fn evaluate(
        &mut self,
        e: usize,
        t: usize,
        s: usize,
        base: Option<f64>,
        sh: &Shared,
        rb: &mut JoinSet<(usize, RollbackOutcome)>,
    ) {
        let trigger = &self.triggers[t];
        let base = if trigger.rule == crate::config::RuleKind::Drop { base } else { None };
        let verdict = rules::evaluate(trigger, &self.rings[s], self.rules_since, base);
        match (verdict, self.firing[t]) {
            (Some(ev), false) => {
                self.firing[t] = true;
                self.on_fire(e, t, ev, sh, rb);
            }
            (None, true) => {
                self.firing[t] = false;
                let msg = format!("cleared: {}", rules::describe(&self.triggers[t]));
                self.record(sh, &self.actor(t), msg, Happened::RuleCleared);
            }
            _ => {}
        }
    }

    fn actor(&self, t: usize) -> String {
        format!("rule:{}", rules::describe(&self.triggers[t]))
    }

    fn on_fire(&mut self, e: usize, t: usize, ev: Evidence, sh: &Shared, rb: &mut JoinSet<(usize, RollbackOutcome)>) {
        let trigger = self.triggers[t].clone();
        let actor = self.actor(t);
        self.record(sh, &actor, ev.summary.clone(), Happened::RuleFired(ev.clone()));
        sh.writer.send(StoreCmd::Detected {
            env_id: self.id,
            detection: crate::incident::Detection { at: ev.first_breach, by: actor.clone() },
        });
        if trigger.action == RuleAction::Alert {
            self.alert(sh, &actor, ev.summary.clone(), format!("rule-{t}"));
            return;
        }
        if let Some(why) = self.blocked(sh) {
            self.alert(sh, &actor, format!("{}; {why}", ev.summary), format!("rule-{t}"));
            return;
        }
        if trigger.action == RuleAction::Propose {
            let grace = trigger.grace.map_or(Duration::from_secs(120), |g| g.get());
            let deadline = proposal_deadline(Utc::now(), grace);
            let msg = format!(
                "rollback proposed: {}; it runs at {} unless cancelled (c), or now if confirmed",
                ev.summary,
                deadline.format("%H:%M:%S")
            );
            let what = Happened::RollbackProposed { deadline, evidence: ev.clone() };
            self.record(sh, &actor, msg.clone(), what);
            self.alert(sh, &actor, msg, format!("proposal-{t}"));
            self.proposal = Some(Proposal { trigger: t, deadline, evidence: ev });
            return;
        }
        self.start_rollback(e, t, ev, sh, rb);
    }

    /// Why an automatic rollback may not run now, if it may not.
    fn blocked(&self, sh: &Shared) -> Option<String> {
        if !self.automatic {
            return Some("automatic rollback is off for this environment: roll back by hand if needed".into());
        }
        if self.rollback_in_flight {
            return Some("a rollback is already in flight".into());
        }
        if let (Some(v), Some(settled)) = (&self.version, &self.settled_on)
            && v == settled
        {
            return Some(format!(
                "{v} is the version automatic rollback went back to; it will not roll back past it on its own"
            ));
        }
        if let (Some(v), Some(failed)) = (&self.version, &self.failed_from)
            && v == failed
        {
            return Some(format!(
                "an automatic rollback from {v} already failed; it is not retried on its own (roll back by hand)"
            ));
        }
        if let Some(end) = self.last_rollback_end {
            let cooldown = self.cfg.cooldown.get();
            if end.elapsed() < cooldown {
                let left = cooldown.saturating_sub(end.elapsed());
                return Some(format!("in cooldown after the last rollback ({}s left)", left.as_secs()));
            }
        }
        if let Some(v) = &self.version
            && self.cfg.irreversible_versions.contains(v)
        {
            return Some(format!("{v} is marked irreversible; automatic rollback past it is blocked"));
        }
        let _ = sh;
        None
    }

    fn alert(&self, sh: &Shared, actor: &str, message: String, group: String) {
        self.record(sh, actor, message.clone(), Happened::Alert);
        let n = Notification {
            kind: NotificationKind::Alert,
            environment: self.name.clone(),
            colour: None,
            from_version: self.version.clone(),
            target_version: None,
            reason: message,
            impact: "unknown".into(),
            duration: None,
            error: None,
            actor: actor.to_string(),
            drill: sh.opts.drill,
            group_key: format!("{}:{group}", self.name),
            flag: None,
            severity: None,
            incident_id: None,
            detail: Vec::new(),
        };
        notify(sh, self.id, self.name.clone(), None, n);
    }

    fn start_rollback(
        &mut self,
        e: usize,
        t: usize,
        ev: Evidence,
        sh: &Shared,
        rb: &mut JoinSet<(usize, RollbackOutcome)>,
    ) {
        let actor = self.actor(t);
        if sh.opts.dry_run {
            let msg = format!("dry run: would roll back {} now ({})", self.name, ev.summary);
            self.record(sh, &actor, msg, Happened::DryRun(ev));
            return;
        }
        self.rollback_in_flight = true;
        self.proposal = None;
        let signal = self.signals.iter().find(|s| s.name.get_ref() == self.triggers[t].signal.get_ref());
        let opts = RollbackOptions {
            version: None,
            state: None,
            force: true,
            skip_validation: false,
            reason: ev.summary.clone(),
            operator: actor.clone(),
            trigger: rules::rollback_trigger(signal, &self.triggers[t]),
            evidence: Some(json!(ev)),
            detected: Some(crate::incident::Detection { at: ev.first_breach, by: actor.clone() }),
            objectives: sh.config.severities.clone(),
            approval: None,
        };
        self.record(sh, &actor, format!("rolling back: {}", ev.summary), Happened::RollbackStarting(Some(ev.clone())));
        let run = RunRollback {
            rt: sh.rt.clone(),
            db: sh.db_path.clone(),
            plan: Planned::Automatic(Box::new(self.cfg.clone())),
            opts,
            note: (sh.notifier.clone(), sh.writer.clone(), sh.inbox.clone(), self.name.clone(), self.id),
            drill: sh.opts.drill,
        };
        rb.spawn_blocking(move || (e, run_rollback(run)));
    }

    pub(super) fn on_rollback_done(&mut self, _e: usize, outcome: RollbackOutcome, sh: &Shared) {
        self.rollback_in_flight = false;
        self.last_rollback_end = Some(Instant::now());
        match outcome {
            RollbackOutcome::Finished(row, colour) if row.status == RollbackStatus::Completed => {
                let to = row.target_version.clone().unwrap_or_default();
                self.settled_on = row.target_version.clone();
                self.version = row.target_version.clone().or(self.version.take());
                // Judge the version we went back to on its own samples only,
                // and a fall against its own settled values.
                self.rules_since = Utc::now();
                self.restore_baselines();
                self.firing.iter_mut().for_each(|f| *f = false);
                let msg = format!("rollback #{} completed: now on {to}; watching it", row.id);
                self.record(sh, &row.operator, msg, Happened::RollbackCompleted(row.clone()));
                notify_rollback(sh, self.id, &self.name, NotificationKind::RollbackCompleted, &row, colour);
            }
            RollbackOutcome::Finished(row, colour) => {
                let mut msg =
                    format!("rollback #{} failed: {}", row.id, row.error.as_deref().unwrap_or("unknown error"));
                if row.trigger != crate::store::RollbackTrigger::Manual {
                    msg.push_str(&format!(
                        "; not tried again on its own until a new deployment, or `backout unblock --env {}` (u)",
                        self.name
                    ));
                }
                self.record(sh, &row.operator, msg.clone(), Happened::RollbackFailed(Some(row.clone())));
                self.record(sh, &row.operator, msg, Happened::Alert);
                notify_rollback(sh, self.id, &self.name, NotificationKind::RollbackFailed, &row, colour);
            }
            RollbackOutcome::Refused(msg) => {
                self.record(sh, "backout", msg.clone(), Happened::RollbackBlocked);
                self.alert(sh, "backout", msg, "refused".into());
            }
            RollbackOutcome::Error(msg) => {
                self.failed_from = self.version.clone();
                self.record(sh, "backout", msg, Happened::RollbackFailed(None));
            }
        }
    }

    pub(super) fn on_tick(
        &mut self,
        e: usize,
        now: DateTime<Utc>,
        sh: &Shared,
        rb: &mut JoinSet<(usize, RollbackOutcome)>,
    ) {
        for s in 0..self.signals.len() {
            let every = self.signals[s].interval.unwrap_or(sh.config.poll_interval).get();
            let limit = stale_after(every);
            let last = self.rings[s].latest().map_or(self.started, |l| l.at);
            if !self.stale[s] && now - last > limit {
                self.stale[s] = true;
                let msg = format!(
                    "{} is stale: no answer for {}s (3 intervals)",
                    self.signals[s].name.get_ref(),
                    (now - last).num_seconds()
                );
                self.record(sh, "backout", msg, Happened::SignalStale);
            }
        }
        if let Some(p) = &self.proposal
            && now >= p.deadline
            && !self.rollback_in_flight
        {
            let p = p.clone();
            self.proposal = None;
            // The grace period is over: decide again on what holds now.
            if let Some(why) = self.blocked(sh) {
                let msg = format!("proposed rollback not run: {why}");
                self.record(sh, "backout", msg, Happened::RollbackCancelled);
            } else if !self.firing[p.trigger] {
                let msg = format!(
                    "proposed rollback not run: {} no longer holds",
                    rules::describe(&self.triggers[p.trigger])
                );
                self.record(sh, "backout", msg, Happened::RollbackCancelled);
            } else {
                self.start_rollback(e, p.trigger, p.evidence, sh, rb);
            }
        }
    }

    pub(super) fn on_command(
        &mut self,
        e: usize,
        cmd: EngineCommand,
        sh: &Shared,
        rb: &mut JoinSet<(usize, RollbackOutcome)>,
    ) {
        match cmd {
            EngineCommand::Cancel { .. } => match self.proposal.take() {
                Some(p) => {
                    let msg = format!("proposed rollback cancelled by the operator ({})", p.evidence.summary);
                    self.record(sh, "operator", msg, Happened::RollbackCancelled);
                }
                None => sh.publish(EngineEvent::now(&self.name, "no rollback is proposed", Happened::NothingToCancel)),
            },
            EngineCommand::Confirm { .. } => match self.proposal.clone() {
                Some(p) if !self.rollback_in_flight => self.start_rollback(e, p.trigger, p.evidence, sh, rb),
                _ => sh.publish(EngineEvent::now(&self.name, "no rollback is proposed", Happened::NothingToConfirm)),
            },
            EngineCommand::Rollback { opts, .. } if self.rollback_in_flight => {
                let msg = format!("rollback by {} refused: a rollback is already in flight", opts.operator);
                self.record(sh, &opts.operator, msg, Happened::RollbackBlocked);
            }
            EngineCommand::Rollback { plan, opts, .. } => {
                self.rollback_in_flight = true;
                self.proposal = None;
                let msg = format!("rolling back by hand ({}): {}", opts.operator, opts.reason);
                self.record(sh, &opts.operator, msg, Happened::RollbackStarting(None));
                let run = RunRollback {
                    rt: sh.rt.clone(),
                    db: sh.db_path.clone(),
                    plan: Planned::Confirmed(plan),
                    opts: *opts,
                    note: (sh.notifier.clone(), sh.writer.clone(), sh.inbox.clone(), self.name.clone(), self.id),
                    drill: sh.opts.drill,
                };
                rb.spawn_blocking(move || (e, run_rollback(run)));
            }
            EngineCommand::Unblock { .. } if !sh.opts.persist => {
                let msg = "read-only: the automatic-rollback block is left as it is";
                sh.publish(EngineEvent::now(&self.name, msg, Happened::AutomaticUnblocked));
            }
            EngineCommand::Unblock { .. } => {
                self.failed_from = None;
                unblock(sh, self.id, self.name.clone());
            }
            EngineCommand::SetAutomatic { on, .. } => {
                self.automatic = on;
                let msg = format!("automatic rollback {}", if on { "resumed" } else { "paused" });
                self.record(sh, "operator", msg, Happened::AutomaticChanged { on });
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{Config, RuleKind};

    fn content_env() -> EnvState {
        let text = "[[environment]]\nname = \"docs\"\nkind = \"content\"\nbase_url = \"http://127.0.0.1:1/svc/docs\"\n";
        let cfg = Config::from_toml(text, std::path::Path::new("t.toml")).unwrap();
        EnvState::new(1, cfg.environments[0].clone(), &EngineOptions::console(false))
    }

    fn push(st: &mut EnvState, s: usize, from: DateTime<Utc>, secs: std::ops::Range<i64>, value: f64) {
        for i in secs {
            let at = from + chrono::Duration::seconds(i);
            st.rings[s].push(Sample { at, value: Some(value), text: None, ok: true, error: None });
        }
    }

    /// Issue 11 item 6 (seed 000): quality monitoring continues after a
    /// rollback, judged against the restored version's own settled score, so
    /// a further fall alerts even where the pre-deploy score would mislead.
    #[test]
    fn after_a_rollback_a_fall_is_judged_against_the_restored_versions_settled_values() {
        let mut st = content_env();
        let q = st.signals.iter().position(|s| s.name.get_ref() == "quality").expect("content gets a quality signal");
        let t = st.triggers.iter().find(|t| t.signal.get_ref() == "quality").unwrap().clone();
        assert_eq!((t.rule, t.action), (RuleKind::Drop, RuleAction::Rollback), "content rolls back on a fall");
        let t0 = DateTime::from_timestamp(Utc::now().timestamp() - 1000, 0).unwrap();
        push(&mut st, q, t0, 0..60, 0.93);
        st.deployed_at = Some(t0 + chrono::Duration::seconds(60));
        push(&mut st, q, t0, 60..70, 0.60);
        let b = st.baseline(q).unwrap();
        assert!((b - 0.93).abs() < 1e-9, "before any rollback: the pre-deploy mean, {b}");

        // Rolled back at +70 to a version that settles at 0.80.
        st.restored_since = Some(t0 + chrono::Duration::seconds(70));
        push(&mut st, q, t0, 70..100, 0.80);
        assert_eq!(st.baseline(q), None, "not settled yet (the rule's 60 s window)");
        push(&mut st, q, t0, 100..140, 0.80);
        let b = st.baseline(q).unwrap();
        assert!((b - 0.80).abs() < 1e-9, "the restored version's own mean, {b}");

        let since = t0 + chrono::Duration::seconds(70);
        push(&mut st, q, t0, 140..210, 0.75);
        let b = st.baseline(q);
        assert!(rules::evaluate(&t, &st.rings[q], since, b).is_none(), "0.05 below 0.80 is allowed");
        assert!(
            rules::evaluate(&t, &st.rings[q], since, Some(0.93)).is_some(),
            "the same values against the pre-deploy 0.93 would fire: the baseline matters"
        );
        push(&mut st, q, t0, 210..280, 0.65);
        let b = st.baseline(q);
        let ev = rules::evaluate(&t, &st.rings[q], since, b).expect("a further fall alerts");
        assert!(ev.summary.contains("below its baseline 0.800"), "{}", ev.summary);

        // A new release is judged against what served before it again.
        st.restored_since = None;
        st.deployed_at = Some(t0 + chrono::Duration::seconds(250));
        let b = st.baseline(q).unwrap();
        assert!(b < 0.80 && b > 0.6, "the mean before the new release, {b}");
    }

    #[test]
    fn a_settle_window_without_good_samples_is_followed_by_the_next() {
        let mut st = content_env();
        let q = st.signals.iter().position(|s| s.name.get_ref() == "quality").unwrap();
        let t0 = DateTime::from_timestamp(Utc::now().timestamp() - 1000, 0).unwrap();
        st.restored_since = Some(t0);
        for i in 0..70 {
            let at = t0 + chrono::Duration::seconds(i);
            st.rings[q].push(Sample::failed(at, "metrics page down"));
        }
        assert_eq!(st.baseline(q), None, "no good sample in the first minute");
        push(&mut st, q, t0, 70..140, 0.85);
        let b = st.baseline(q).expect("the next window gives the baseline");
        assert!((b - 0.85).abs() < 1e-9, "{b}");
    }

    #[test]
    fn a_signal_no_drop_rule_reads_has_no_baseline() {
        let mut st = content_env();
        let e = st.signals.iter().position(|s| s.name.get_ref() == "error_rate").unwrap();
        st.deployed_at = Some(Utc::now());
        push(&mut st, e, Utc::now() - chrono::Duration::seconds(30), 0..20, 0.01);
        assert_eq!(st.baseline(e), None);
    }
}
