//! What the console shows and what passes between it and its workers: the
//! view of each environment, effects (work for workers) and messages.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::KeyEvent;

use crate::config::{CheckKind, EnvironmentConfig, RuleKind, TriggerConfig};
use crate::engine::{EngineCommand, EngineEvent, Sample};
use crate::playbook::Health;
use crate::store::{DeploymentRow, IncidentRow, LockHolder, RollbackRow, TimelineEvent};

/// What the console is for right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Watching and acting.
    Live,
    /// Live, on a drill incident.
    Drill,
    /// Replaying a recorded incident.
    Review,
    /// Watching; nothing can be changed.
    ReadOnly,
}

impl Mode {
    /// Header label.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Live => "LIVE",
            Mode::Drill => "DRILL",
            Mode::Review => "REVIEW",
            Mode::ReadOnly => "READ-ONLY",
        }
    }
}

/// The panes, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// Environment list.
    Environments,
    /// Sparklines.
    Signals,
    /// Deployment history.
    Deployments,
    /// Rollback history.
    Rollbacks,
    /// Validation checklist.
    Checklist,
    /// Runbook.
    Runbook,
    /// Notes and timeline.
    Timeline,
}

/// Tab order.
pub const PANES: [Pane; 7] = [
    Pane::Environments,
    Pane::Signals,
    Pane::Deployments,
    Pane::Rollbacks,
    Pane::Checklist,
    Pane::Runbook,
    Pane::Timeline,
];

impl Pane {
    /// Title shown on the border.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Environments => "Environments",
            Pane::Signals => "Signals",
            Pane::Deployments => "Deployments",
            Pane::Rollbacks => "Rollbacks",
            Pane::Checklist => "Validation checklist",
            Pane::Runbook => "Runbook",
            Pane::Timeline => "Notes & timeline",
        }
    }
}

/// Points kept per sparkline: more than the widest sparkline draws (a 300-column
/// terminal leaves about 250), and no more, so a console's memory is set when it
/// opens and does not grow with time (4 KB a signal).
pub const SPARK_POINTS: usize = 512;

/// The trigger rule a signal is judged by, as the console draws it: the one
/// place that knows which way a value breaches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SignalRule {
    /// Breached above this value.
    Above(f64),
    /// Breached below this value.
    Below(f64),
    /// Breached when the value falls by more than this from its pre-deploy baseline.
    Drop(f64),
    /// Breached after this many failed checks in a row.
    ConsecutiveFailures(u32),
    /// Breached while an Alertmanager alert fires (the value is 1).
    Firing,
}

impl SignalRule {
    /// The rule a trigger states, if it states a complete one.
    pub fn of(t: &TriggerConfig) -> Option<SignalRule> {
        match t.rule {
            RuleKind::Above => t.threshold.map(SignalRule::Above),
            RuleKind::Below => t.threshold.map(SignalRule::Below),
            RuleKind::Drop => t.threshold.map(SignalRule::Drop),
            RuleKind::ConsecutiveFailures => Some(SignalRule::ConsecutiveFailures(t.count.unwrap_or(1))),
            RuleKind::Firing => Some(SignalRule::Firing),
        }
    }

    /// The rule for `signal` among `triggers`. A signal may have several; the
    /// one with an absolute limit is the most useful to draw, then a fall.
    pub fn for_signal(triggers: &[TriggerConfig], signal: &str) -> Option<SignalRule> {
        let rules: Vec<SignalRule> =
            triggers.iter().filter(|t| t.signal.get_ref() == signal).filter_map(SignalRule::of).collect();
        let rank = |r: &SignalRule| match r {
            SignalRule::Above(_) | SignalRule::Below(_) | SignalRule::Firing => 0,
            SignalRule::Drop(_) => 1,
            SignalRule::ConsecutiveFailures(_) => 2,
        };
        rules.into_iter().min_by_key(rank)
    }

    /// The absolute value to draw as a limit. A fall has none: its baseline is
    /// the engine's, and a line drawn without it would be a wrong limit.
    pub fn limit(self) -> Option<f64> {
        match self {
            SignalRule::Above(v) | SignalRule::Below(v) => Some(v),
            SignalRule::Drop(_) | SignalRule::ConsecutiveFailures(_) | SignalRule::Firing => None,
        }
    }

    /// The rule as it judges a value now: a fall from a known `baseline` is a
    /// floor `threshold` below it; other rules are themselves.
    pub fn against(self, baseline: Option<f64>) -> SignalRule {
        match (self, baseline) {
            (SignalRule::Drop(fall), Some(b)) if b.is_finite() => SignalRule::Below(b - fall),
            (rule, _) => rule,
        }
    }

    /// Whether `value` alone breaches the rule; never for rules a value cannot
    /// decide (a fall from an unknown baseline, failed checks).
    pub fn breached_by(self, value: f64) -> bool {
        match self {
            SignalRule::Above(limit) => value > limit,
            SignalRule::Below(limit) => value < limit,
            SignalRule::Firing => value >= 1.0,
            SignalRule::Drop(_) | SignalRule::ConsecutiveFailures(_) => false,
        }
    }
}

/// One signal as drawn.
#[derive(Debug, Clone, Default)]
pub struct SignalView {
    /// Name.
    pub name: String,
    /// Unit from config.
    pub unit: String,
    /// The trigger rule that reads it, if any.
    pub rule: Option<SignalRule>,
    /// What a `drop` rule compares with, as the engine last said.
    pub baseline: Option<f64>,
    /// Recent values; a failed sample is [`super::reduce::FAILED`] (NaN), drawn as a failure mark.
    pub values: VecDeque<f64>,
    /// Newest sample.
    pub latest: Option<Sample>,
    /// How often it is polled, so a sparkline can say what span it covers.
    pub every: std::time::Duration,
}

impl SignalView {
    /// The rule that judges its values now: a `drop` rule becomes a floor
    /// below the engine's baseline once that is known.
    pub fn judged(&self) -> Option<SignalRule> {
        self.rule.map(|r| r.against(self.baseline))
    }
}

/// One checklist item as drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistLine {
    /// What is checked.
    pub title: String,
    /// Manual, or an automatic check.
    pub check: CheckKind,
    /// Needed for validation.
    pub required: bool,
    /// Passed (ticked by a person or held by a check).
    pub passed: bool,
}

/// A rollback being carried out, shown live.
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    /// Current phase.
    pub phase: String,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// One environment as drawn.
#[derive(Debug, Clone)]
pub struct EnvView {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: &'static str,
    /// Needs its name typed to confirm a rollback.
    pub production: bool,
    /// Rolled back by turning a feature flag off (`[environment.driver] type = "flag"`): what `f` does.
    pub flag: Option<String>,
    /// Automatic rollback on.
    pub automatic: bool,
    /// Health, when known.
    pub health: Option<Health>,
    /// Version serving.
    pub version: Option<String>,
    /// Colour serving.
    pub colour: Option<String>,
    /// When the engine last heard from it.
    pub last_seen: Option<DateTime<Utc>>,
    /// Marked stale by the engine.
    pub stale: bool,
    /// Signals.
    pub signals: Vec<SignalView>,
    /// Deployments, newest first.
    pub deployments: Vec<DeploymentRow>,
    /// Rollbacks, newest first.
    pub rollbacks: Vec<RollbackRow>,
    /// Checklist.
    pub checklist: Vec<ChecklistLine>,
    /// Runbook steps (title, state).
    pub runbook: Vec<(String, String)>,
    /// What each runbook step's action does, when it has one.
    pub runbook_actions: Vec<Option<String>>,
    /// The runbook file the environment's config names, if any.
    pub runbook_file: Option<String>,
    /// Recent timeline, newest first.
    pub timeline: Vec<TimelineEvent>,
    /// Open incident.
    pub incident: Option<IncidentRow>,
    /// The open incident's clock.
    pub clock: IncidentClock,
    /// Proposed automatic rollback: deadline and why.
    pub proposal: Option<(DateTime<Utc>, String)>,
    /// A rollback in flight.
    pub in_flight: Option<InFlight>,
    /// Lock holder seen in the store (another process's rollback).
    pub lock: Option<LockHolder>,
}

/// An open incident's clock, from its recorded milestones.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IncidentClock {
    /// When it was detected (its `detected` milestone), else when it was opened.
    pub detected: Option<DateTime<Utc>>,
    /// When its checklist validated the recovery: the clock stops there.
    pub validated: Option<DateTime<Utc>>,
    /// Its own recovery-time objective, as recorded when it opened; none, none shown.
    pub objective: Option<chrono::Duration>,
}

impl IncidentClock {
    /// Time from detection to validation, or to `now` while not validated.
    pub fn elapsed(&self, opened: DateTime<Utc>, now: DateTime<Utc>) -> chrono::Duration {
        self.validated.unwrap_or(now) - self.detected.unwrap_or(opened)
    }

    /// Time left before the objective (negative when over); `None` without one
    /// or once validated.
    pub fn left(&self, opened: DateTime<Utc>, now: DateTime<Utc>) -> Option<chrono::Duration> {
        if self.validated.is_some() {
            return None;
        }
        Some(self.objective? - self.elapsed(opened, now))
    }
}

impl EnvView {
    /// The runbook step `s` and `S` act on: the first pending or overdue one.
    pub fn pending_step(&self) -> Option<usize> {
        self.runbook.iter().position(|(_, s)| s == "pending" || s == "overdue")
    }

    /// Why no runbook step can be marked, in words that match the screen.
    pub fn why_no_step(&self) -> String {
        match (&self.incident, &self.runbook_file, self.runbook.is_empty()) {
            (None, _, _) => "no open incident: i opens one, and its runbook shows here".into(),
            (Some(_), None, _) => format!(
                "{} has no runbook configured: add `runbook = \"FILE.toml\"` to the environment (files in runbooks_dir)",
                self.name
            ),
            (Some(i), Some(file), true) => {
                format!("runbook {file} could not be read; `backout runbook --incident {} show` says why", i.id)
            }
            (Some(_), Some(_), false) => "every runbook step is done or skipped".into(),
        }
    }

    /// An environment before anything is known about it.
    pub fn new(cfg: &EnvironmentConfig) -> Self {
        let triggers = cfg.effective_triggers();
        let signals = cfg
            .effective_signals()
            .iter()
            .filter(|s| s.source != crate::config::SignalSource::Status)
            .map(|s| SignalView {
                name: s.name.get_ref().clone(),
                unit: s.unit.clone().unwrap_or_default(),
                rule: SignalRule::for_signal(&triggers, s.name.get_ref()),
                baseline: None,
                values: VecDeque::with_capacity(SPARK_POINTS),
                latest: None,
                // The global poll interval is filled in by the console when the signal has none.
                every: s.interval.as_ref().map_or(std::time::Duration::ZERO, |i| i.get()),
            })
            .collect();
        EnvView {
            name: cfg.name().to_string(),
            kind: cfg.kind.as_str(),
            production: cfg.production,
            flag: (cfg.driver.kind == crate::config::DriverKind::Flag)
                .then(|| cfg.driver.flag.clone().unwrap_or_default()),
            automatic: cfg.auto_rollback,
            health: None,
            version: None,
            colour: None,
            last_seen: None,
            stale: false,
            signals,
            deployments: Vec::new(),
            rollbacks: Vec::new(),
            checklist: cfg
                .checklist
                .iter()
                .map(|c| ChecklistLine { title: c.title.clone(), check: c.check, required: c.required, passed: false })
                .collect(),
            runbook: Vec::new(),
            runbook_actions: Vec::new(),
            runbook_file: cfg.runbook.clone(),
            timeline: Vec::new(),
            incident: None,
            clock: IncidentClock::default(),
            proposal: None,
            in_flight: None,
            lock: None,
        }
    }
}

/// What the store says about one environment (loaded by a worker).
#[derive(Debug, Clone, Default)]
pub struct EnvSnapshot {
    /// Environment name.
    pub name: String,
    /// Deployments, newest first.
    pub deployments: Vec<DeploymentRow>,
    /// Rollbacks, newest first.
    pub rollbacks: Vec<RollbackRow>,
    /// Recent events, newest first.
    pub timeline: Vec<TimelineEvent>,
    /// Open incident.
    pub incident: Option<IncidentRow>,
    /// The open incident's clock.
    pub clock: IncidentClock,
    /// Checklist items that passed or were waived (by title).
    pub checklist_passed: Vec<String>,
    /// Runbook steps of the open incident: title and state (`pending`,
    /// `overdue`, `done`, `skipped`, `failed`).
    pub runbook: Vec<(String, String)>,
    /// What each runbook step's action does, when it has one.
    pub runbook_actions: Vec<Option<String>>,
    /// Lock holder.
    pub lock: Option<LockHolder>,
    /// Signals from stored samples (review mode).
    pub samples: Vec<(String, Vec<Sample>)>,
}

/// Work for the I/O workers.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Read the service and plan a rollback, for confirmation.
    PrepareRollback {
        /// Environment.
        env: String,
        /// Specific version, else last known-good.
        version: Option<String>,
        /// The operator typed FORCE: plan past a healthy service or a target reported down.
        force: bool,
    },
    /// Plan the pending rollback request of an environment again, for its
    /// approval by this operator.
    PrepareApproval {
        /// Environment.
        env: String,
    },
    /// Run the rollback that was prepared.
    Rollback {
        /// Environment.
        env: String,
        /// Why.
        reason: String,
    },
    /// Forget a prepared rollback (cancelled).
    DropPrepared {
        /// Environment.
        env: String,
    },
    /// Save a note.
    SaveNote {
        /// Environment.
        env: String,
        /// Text.
        text: String,
    },
    /// Record a checklist tick.
    Checklist {
        /// Environment.
        env: String,
        /// Item title.
        item: String,
        /// Ticked or unticked.
        passed: bool,
    },
    /// Run a runbook step's action (the operator pressed `x` for it).
    RunStep {
        /// Environment.
        env: String,
        /// Step index.
        step: usize,
    },
    /// Record a runbook step.
    RunbookStep {
        /// Environment.
        env: String,
        /// Step index.
        step: usize,
        /// done or skipped.
        state: String,
        /// Reason when skipped.
        reason: Option<String>,
    },
    /// Open an incident on the environment.
    OpenIncident {
        /// Environment.
        env: String,
    },
    /// Close the environment's incident (records `resolved`).
    CloseIncident {
        /// Environment.
        env: String,
        /// The incident asked about: a newer one is not closed by this answer.
        id: i64,
        /// Why it is closed before it validated; recorded on its timeline.
        reason: Option<String>,
    },
    /// Tell the engine.
    Engine(EngineCommand),
    /// Put text on the terminal's clipboard (OSC 52); written by the loop that owns the terminal.
    Copy(String),
    /// Reload from the store (review: as of a time).
    Refresh {
        /// Review position.
        at: Option<DateTime<Utc>>,
    },
}

/// Why a rollback was not planned.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedPlan {
    /// The refusal, as the CLI says it.
    pub why: String,
    /// The CLI would go on with `--force`: the console asks for FORCE typed.
    pub forceable: bool,
    /// The version that was asked for, to plan again with force.
    pub version: Option<String>,
}

/// Everything that can change the console.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// The clock.
    Tick(DateTime<Utc>),
    /// The terminal was resized.
    Resize,
    /// The engine saw or did something.
    Engine(EngineEvent),
    /// The store was read.
    Loaded(Vec<EnvSnapshot>),
    /// A rollback was planned and awaits confirmation.
    Prepared {
        /// Environment.
        env: String,
        /// The plan, or why there is none.
        plan: Result<String, RefusedPlan>,
    },
    /// A rollback request was planned again and awaits this operator's approval.
    PreparedApproval {
        /// Environment.
        env: String,
        /// The plan, or why it may not be approved.
        plan: Result<String, String>,
        /// The request's reason, recorded with the rollback.
        reason: String,
    },
    /// A mouse click or wheel turn, with the screen it happened on.
    Mouse {
        /// What the mouse did.
        kind: ratatui::crossterm::event::MouseEventKind,
        /// Column.
        column: u16,
        /// Row.
        row: u16,
        /// The whole terminal, to find the pane under the pointer.
        screen: ratatui::layout::Rect,
    },
    /// Text pasted into the terminal (bracketed paste): only ever text in a
    /// field, never a key, so a pasted newline confirms nothing.
    Paste(String),
    /// A worker finished something; the sentence for the status bar.
    Done(String),
    /// A confirmed rollback was recorded as a request for a second operator:
    /// nothing runs, so nothing is in flight.
    Requested {
        /// Environment.
        env: String,
        /// The sentence for the status bar.
        text: String,
    },
    /// Review: the incident's timeline to step through.
    ReviewTimeline(Vec<TimelineEvent>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(signal: &str, rule: &str, extra: &str) -> TriggerConfig {
        toml::from_str(&format!("signal = {signal:?}\nrule = {rule:?}\n{extra}")).unwrap()
    }

    #[test]
    fn a_signal_is_drawn_by_its_most_telling_rule() {
        let triggers = vec![
            trigger("health", "consecutive_failures", "count = 3"),
            trigger("latency", "consecutive_failures", "count = 2"),
            trigger("latency", "drop", "threshold = 0.5"),
            trigger("latency", "below", "threshold = 0.1\nfor = \"1m\""),
            trigger("quality", "drop", "threshold = 0.2"),
        ];
        assert_eq!(SignalRule::for_signal(&triggers, "health"), Some(SignalRule::ConsecutiveFailures(3)));
        assert_eq!(SignalRule::for_signal(&triggers, "latency"), Some(SignalRule::Below(0.1)));
        assert_eq!(SignalRule::for_signal(&triggers, "quality"), Some(SignalRule::Drop(0.2)));
        assert_eq!(SignalRule::for_signal(&triggers, "cpu"), None);
    }

    #[test]
    fn only_absolute_rules_have_a_limit_and_a_breaching_value() {
        assert!(SignalRule::Above(0.5).breached_by(0.6) && !SignalRule::Above(0.5).breached_by(0.4));
        assert!(SignalRule::Below(0.5).breached_by(0.4) && !SignalRule::Below(0.5).breached_by(0.6));
        assert!(!SignalRule::Drop(0.2).breached_by(0.0), "the baseline is not known here");
        assert!(!SignalRule::ConsecutiveFailures(3).breached_by(0.0));
        assert_eq!(SignalRule::Below(0.5).limit(), Some(0.5));
        assert_eq!(SignalRule::Drop(0.2).limit(), None);
    }
}
