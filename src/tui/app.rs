//! The console's state. It changes only in [`App::update`]; drawing reads it;
//! anything that needs I/O leaves as an [`Effect`] for a worker.

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEventKind};

use super::keymap::{Command, Keymap};
use super::popups::{
    self, CloseIncident, ConfirmRollback, ForceRollback, NoteEditor, Outcome, PickVersion, Preparing, Prompt,
};
use super::theme::Theme;
use crate::config::Config;
use crate::engine::{EngineCommand, EngineEvent};
use crate::store::TimelineEvent;

pub use super::model::{
    ChecklistLine, Effect, EnvSnapshot, EnvView, InFlight, IncidentClock, Mode, Msg, PANES, Pane, RefusedPlan,
    SPARK_POINTS, SignalRule, SignalView,
};
pub use super::popups::{Popup, PromptPurpose};

/// Rows a page key (PgUp, PgDn) moves.
pub const PAGE: usize = 10;

/// How long a status message stays in the status bar.
pub const STATUS_FRESH: chrono::TimeDelta = chrono::TimeDelta::seconds(20);
/// Status messages kept for the message log.
pub const MESSAGE_LOG: usize = 200;

/// The console's whole state.
pub struct App {
    /// Mode.
    pub mode: Mode,
    /// Theme.
    pub theme: Theme,
    /// Keys.
    pub keymap: Keymap,
    /// Environments in config order.
    pub envs: Vec<EnvView>,
    /// Selected environment.
    pub selected: usize,
    /// Focused pane.
    pub focus: Pane,
    /// Row selected in the focused list pane (checklist, runbook...).
    pub row: usize,
    /// Zoomed pane.
    pub zoom: Option<Pane>,
    /// Popup.
    pub popup: Option<Popup>,
    /// Result of the last action, for the status bar.
    pub status: String,
    /// When `status` was said; it ages out of the status bar after [`STATUS_FRESH`].
    pub status_at: DateTime<Utc>,
    /// Every status message said, newest last, at most [`MESSAGE_LOG`].
    pub messages: std::collections::VecDeque<(DateTime<Utc>, String)>,
    /// Environment filter.
    pub filter: String,
    /// A filter on one list pane (timeline, deployments or rollbacks).
    pub list_filter: Option<(Pane, String)>,
    /// The clock.
    pub now: DateTime<Utc>,
    /// Set when the console should exit.
    pub quit: bool,
    /// Something changed since the last frame.
    pub dirty: bool,
    /// Review: the incident's events and the position.
    pub review: Option<(Vec<TimelineEvent>, usize)>,
}

impl App {
    /// A console for `config`.
    pub fn new(config: &Config, mode: Mode, theme: Theme, keymap: Keymap) -> Self {
        App {
            mode,
            theme,
            keymap,
            envs: config
                .environments
                .iter()
                .map(|cfg| {
                    let mut env = EnvView::new(cfg);
                    for s in env.signals.iter_mut().filter(|s| s.every.is_zero()) {
                        s.every = config.poll_interval.get();
                    }
                    env
                })
                .collect(),
            selected: 0,
            focus: Pane::Environments,
            row: 0,
            zoom: None,
            popup: None,
            status: String::from("ready; ? shows the keys"),
            status_at: Utc::now(),
            messages: std::collections::VecDeque::new(),
            filter: String::new(),
            list_filter: None,
            now: Utc::now(),
            quit: false,
            dirty: true,
            review: None,
        }
    }

    /// The selected environment.
    pub fn env(&self) -> Option<&EnvView> {
        self.envs.get(self.selected)
    }

    /// The filter on `pane` (empty: none).
    pub fn filter_of(&self, pane: Pane) -> &str {
        match (pane, &self.list_filter) {
            (Pane::Environments, _) => &self.filter,
            (p, Some((fp, text))) if *fp == p => text,
            _ => "",
        }
    }

    /// Filters `pane` by `text` (empty clears it); the selection goes back to
    /// the first row that matches.
    pub fn set_filter(&mut self, pane: Pane, text: String) {
        if pane == Pane::Environments {
            self.filter = text;
            if let Some(first) = self.visible().first() {
                self.selected = *first;
            }
        } else {
            self.list_filter = (!text.is_empty()).then_some((pane, text));
            self.row = 0;
        }
    }

    /// Indexes of `pane`'s rows of `e` that its filter lets through, in order.
    pub fn shown_rows(&self, e: &EnvView, pane: Pane) -> Vec<usize> {
        let f = self.filter_of(pane).to_lowercase();
        if f.is_empty() {
            // No filter (the usual case, every frame): nothing to format.
            return (0..super::panes::rows_of(e, pane)).collect();
        }
        let keep = |text: String| text.to_lowercase().contains(&f);
        match pane {
            Pane::Timeline => (0..e.timeline.len())
                .filter(|i| {
                    let ev = &e.timeline[*i];
                    keep(format!("{} {} {}", ev.actor, ev.kind, ev.message))
                })
                .collect(),
            Pane::Rollbacks => (0..e.rollbacks.len())
                .filter(|i| {
                    let r = &e.rollbacks[*i];
                    let what =
                        format!("#{} {} {} {}", r.id, crate::rollback::from_to(r), r.status, crate::rollback::who(r));
                    keep(format!("{what} {} {}", r.reason, r.error.as_deref().unwrap_or("")))
                })
                .collect(),
            Pane::Deployments => (0..e.deployments.len())
                .filter(|i| {
                    let d = &e.deployments[*i];
                    keep(format!("{} {} {}", d.version, d.colour.as_deref().unwrap_or(""), d.status))
                })
                .collect(),
            _ => (0..super::panes::rows_of(e, pane)).collect(),
        }
    }

    /// Indexes of environments the filter lets through.
    pub fn visible(&self) -> Vec<usize> {
        let f = self.filter.to_lowercase();
        (0..self.envs.len()).filter(|i| f.is_empty() || self.envs[*i].name.to_lowercase().contains(&f)).collect()
    }

    /// The environment called `name`, to change.
    pub(super) fn env_mut(&mut self, name: &str) -> Option<&mut EnvView> {
        self.envs.iter_mut().find(|e| e.name == name)
    }

    /// Whether changes are allowed.
    pub fn can_act(&self) -> bool {
        matches!(self.mode, Mode::Live | Mode::Drill)
    }

    /// Applies a message; returns the I/O it asks for.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let before = self.status.clone();
        let effects = self.apply(msg);
        // Whatever said something new, it is timed and kept in the message log.
        if self.status != before && !self.status.is_empty() {
            self.status_at = self.now;
            if self.messages.len() == MESSAGE_LOG {
                self.messages.pop_front();
            }
            self.messages.push_back((self.now, self.status.clone()));
        }
        effects
    }

    /// The status message while it is fresh; an old one is not shown as news.
    pub fn fresh_status(&self) -> Option<&str> {
        (self.now - self.status_at <= STATUS_FRESH && !self.status.is_empty()).then_some(self.status.as_str())
    }

    fn apply(&mut self, msg: Msg) -> Vec<Effect> {
        // A tick never clears what an earlier message of the same batch made dirty.
        let was_dirty = self.dirty;
        self.dirty = true;
        match msg {
            Msg::Key(k) => self.on_key(k),
            // Review shows the recorded moment: its clock is the event's, not the wall's.
            Msg::Tick(_) if self.mode == Mode::Review => {
                self.dirty = was_dirty;
                Vec::new()
            }
            Msg::Tick(now) => {
                // Redraw on the clock only when the second changes.
                self.dirty = was_dirty || now.timestamp() != self.now.timestamp();
                self.now = now;
                Vec::new()
            }
            Msg::Resize => Vec::new(),
            Msg::Engine(e) => {
                self.on_engine(e);
                Vec::new()
            }
            Msg::Loaded(snaps) => {
                self.on_loaded(snaps);
                Vec::new()
            }
            Msg::PreparedApproval { env, plan, reason } => {
                if !matches!(&self.popup, Some(Popup::Preparing(p)) if p.env == env) {
                    return vec![Effect::DropPrepared { env }];
                }
                match plan {
                    Ok(plan) => {
                        let production = self.envs.iter().any(|e| e.name == env && e.production);
                        let mut confirm = ConfirmRollback::new(env, plan, production);
                        // The request's reason is the one recorded; shown, not asked again.
                        confirm.reason = popups::field::Field::with_text(&reason);
                        self.popup = Some(confirm.into());
                    }
                    Err(why) => {
                        self.popup = None;
                        // Short: the status bar is narrow; the message log keeps it whole.
                        self.status = why;
                    }
                }
                Vec::new()
            }
            Msg::Prepared { env, plan } => {
                if !matches!(&self.popup, Some(Popup::Preparing(p)) if p.env == env) {
                    return vec![Effect::DropPrepared { env }];
                }
                match plan {
                    Ok(plan) => {
                        let production = self.envs.iter().any(|e| e.name == env && e.production);
                        self.popup = Some(ConfirmRollback::new(env, plan, production).into());
                    }
                    Err(refused) if refused.forceable => {
                        self.status = format!("rollback of {env} refused: {}", refused.why);
                        let force = ForceRollback {
                            env,
                            version: refused.version,
                            why: refused.why,
                            typed: popups::field::Field::one_line(),
                        };
                        self.popup = Some(force.into());
                    }
                    Err(refused) => {
                        self.popup = None;
                        self.status = format!("rollback of {env} refused: {}", refused.why);
                    }
                }
                Vec::new()
            }
            Msg::Mouse { kind, column, row, screen } => {
                // A move or a release changes nothing: it must not cost a
                // frame, nor cancel one an earlier message of the batch asked for.
                let changed = self.on_mouse(kind, column, row, screen);
                self.dirty = was_dirty || changed;
                Vec::new()
            }
            Msg::Paste(text) => {
                let mut popup = self.popup.take();
                let typed = popup.as_mut().is_some_and(|p| popups::paste(p, self, &text));
                self.popup = popup;
                if !typed {
                    self.status = "pasted text ignored: no text field is open (n writes a note)".into();
                }
                Vec::new()
            }
            Msg::Done(text) => {
                self.status = text;
                vec![Effect::Refresh { at: self.review_time() }]
            }
            Msg::Requested { env, text } => {
                if let Some(e) = self.env_mut(&env) {
                    e.in_flight = None;
                }
                self.status = text;
                vec![Effect::Refresh { at: self.review_time() }]
            }
            Msg::ReviewTimeline(events) => {
                let last = events.len().saturating_sub(1);
                self.review = Some((events, last));
                vec![Effect::Refresh { at: self.review_time() }]
            }
        }
    }

    /// Review: the time of the current timeline position.
    pub fn review_time(&self) -> Option<DateTime<Utc>> {
        let (events, i) = self.review.as_ref()?;
        Some(events.get(*i)?.at)
    }

    fn on_engine(&mut self, e: EngineEvent) {
        // The engine's own troubles (a failed database write, a screen that fell
        // behind) belong to no environment and must not pass unseen.
        if e.environment.is_empty() {
            self.status = format!("engine: {}", e.message);
            return;
        }
        let Some(env) = self.env_mut(&e.environment) else { return };
        super::reduce::apply(env, e.at, &e.message, &e.what);
        if super::reduce::announces(&e.what) {
            self.status = format!("{}: {}", e.environment, e.message);
        }
    }

    fn on_loaded(&mut self, snaps: Vec<EnvSnapshot>) {
        let reviewing = self.mode == Mode::Review;
        for s in snaps {
            let Some(env) = self.env_mut(&s.name) else { continue };
            env.deployments = s.deployments;
            env.rollbacks = s.rollbacks;
            env.timeline = s.timeline;
            env.incident = s.incident;
            env.clock = s.clock;
            env.lock = s.lock;
            env.runbook = s.runbook;
            env.runbook_actions = s.runbook_actions;
            for item in &mut env.checklist {
                item.passed = s.checklist_passed.contains(&item.title);
            }
            if reviewing {
                for (name, samples) in s.samples {
                    if let Some(sig) = env.signals.iter_mut().find(|x| x.name == name) {
                        sig.values = samples.iter().map(super::reduce::point).collect();
                        sig.latest = samples.last().cloned();
                    }
                }
            }
        }
        if reviewing {
            self.replay();
        }
    }

    /// Review: every environment's state as it was at the current position:
    /// what the record held then, with the recorded events up to the position
    /// folded in by the same fold the live console uses. The clock is frozen
    /// at the position's time.
    fn replay(&mut self) {
        let Some((events, i)) = &self.review else { return };
        let (events, i) = (events.clone(), *i);
        if let Some(ev) = events.get(i) {
            self.now = ev.at;
        }
        for env in &mut self.envs {
            env.in_flight = None;
            env.proposal = None;
            // Before any event: the newest deploy that had not failed by then.
            env.version = env
                .deployments
                .iter()
                .find(|d| d.status != crate::domain::DeploymentStatus::Failed)
                .map(|d| d.version.clone());
            let name = env.name.clone();
            let mine = events.iter().take(i + 1).filter(|ev| ev.environment.as_deref() == Some(name.as_str()));
            let folded: Vec<_> =
                mine.filter_map(|ev| Some((ev.at, ev, super::reduce::from_row(ev, &env.rollbacks)?))).collect();
            for (at, ev, what) in folded {
                super::reduce::apply(env, at, &ev.message, &what);
            }
        }
        if let Some(ev) = events.get(i) {
            let at = crate::domain::ts::format(ev.at);
            self.status = format!("{} / {}  {at}  {}: {}", i + 1, events.len(), ev.actor, ev.message);
        }
    }

    /// A click focuses the pane under the pointer and selects the row there;
    /// the wheel moves the selection of the focused pane. Ignored while a box
    /// is open: a click never answers a question. Says whether it changed anything.
    fn on_mouse(&mut self, kind: MouseEventKind, column: u16, row: u16, screen: ratatui::layout::Rect) -> bool {
        if self.popup.is_some() {
            return false;
        }
        match kind {
            MouseEventKind::Down(MouseButton::Left) => {
                let pos = ratatui::layout::Position { x: column, y: row };
                let Some((pane, area)) = super::ui::pane_areas(self, screen).into_iter().find(|(_, a)| a.contains(pos))
                else {
                    return false;
                };
                let at = super::panes::row_at(self, pane, area, row);
                if pane != self.focus {
                    self.focus = pane;
                    self.row = 0;
                }
                match (pane, at) {
                    (Pane::Environments, Some(i)) => {
                        if let Some(env) = self.visible().get(i) {
                            self.selected = *env;
                            self.row = 0;
                        }
                    }
                    (_, Some(i)) if i < self.rows_in_focus() => self.row = i,
                    _ => {}
                }
            }
            MouseEventKind::ScrollDown => {
                self.on_command(Command::Down);
            }
            MouseEventKind::ScrollUp => {
                self.on_command(Command::Up);
            }
            _ => return false,
        }
        true
    }

    fn on_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.quit = true;
            return Vec::new();
        }
        if let Some(p) = self.popup.take() {
            return self.on_popup_key(p, k);
        }
        let Some(cmd) = self.keymap.lookup(&k) else {
            // Every key says something: a key that does nothing here says so.
            self.status = format!("{} does nothing here; ? shows the keys", super::keymap::describe_key(&k));
            return Vec::new();
        };
        self.on_command(cmd)
    }

    fn needs_live(&mut self, what: &str) -> bool {
        if self.can_act() {
            return true;
        }
        self.status = format!("{what}: not possible in {} mode", self.mode.label());
        false
    }

    fn on_command(&mut self, cmd: Command) -> Vec<Effect> {
        let env_name = self.env().map(|e| e.name.clone()).unwrap_or_default();
        match cmd {
            Command::Down | Command::Up | Command::PageDown | Command::PageUp | Command::Top | Command::Bottom => {
                // Where the selection goes, from where it is, in a list of `n`.
                let moved = |pos: usize, n: usize| {
                    let last = n.saturating_sub(1);
                    match cmd {
                        Command::Down => (pos + 1).min(last),
                        Command::Up => pos.saturating_sub(1),
                        Command::PageDown => (pos + PAGE).min(last),
                        Command::PageUp => pos.saturating_sub(PAGE),
                        Command::Top => 0,
                        _ => last,
                    }
                };
                if self.focus == Pane::Environments {
                    let visible = self.visible();
                    let pos = visible.iter().position(|i| *i == self.selected).unwrap_or(0);
                    if let Some(i) = visible.get(moved(pos, visible.len())) {
                        self.selected = *i;
                        self.row = 0;
                    }
                } else {
                    self.row = moved(self.row, self.rows_in_focus());
                }
                Vec::new()
            }
            Command::NextPane | Command::PrevPane => {
                let i = PANES.iter().position(|p| *p == self.focus).unwrap_or(0);
                let n = PANES.len();
                self.focus = PANES[if cmd == Command::NextPane { (i + 1) % n } else { (i + n - 1) % n }];
                self.row = 0;
                Vec::new()
            }
            Command::Zoom => {
                self.zoom = if self.zoom.is_some() { None } else { Some(self.focus) };
                Vec::new()
            }
            Command::Help => {
                self.popup = Some(Popup::Help);
                Vec::new()
            }
            Command::Copy => {
                let text = popups::details::of(self);
                let lines = text.lines().count();
                self.status = format!(
                    "copied {} characters ({lines} line{}) to the clipboard; a terminal that does not allow OSC 52 ignores it",
                    text.chars().count(),
                    if lines == 1 { "" } else { "s" }
                );
                vec![Effect::Copy(text)]
            }
            Command::Messages => {
                let mut text = String::from("Message log, newest first\n");
                for (at, m) in self.messages.iter().rev() {
                    text.push_str(&format!("{}  {m}\n", at.format("%H:%M:%S")));
                }
                if self.messages.is_empty() {
                    text.push_str("nothing said yet");
                }
                self.popup = Some(Popup::Details(text));
                Vec::new()
            }
            Command::Details => {
                self.popup = Some(Popup::Details(popups::details::of(self)));
                Vec::new()
            }
            Command::Filter => {
                let pane = match self.focus {
                    p @ (Pane::Timeline | Pane::Deployments | Pane::Rollbacks) => p,
                    _ => Pane::Environments,
                };
                let now = self.filter_of(pane).to_string();
                let text = popups::field::Field::with_text(&now);
                self.popup = Some(Prompt { purpose: PromptPurpose::Filter(pane), text }.into());
                Vec::new()
            }
            Command::Quit => {
                if self.mode != Mode::Review && self.envs.iter().any(|e| e.incident.is_some()) {
                    self.popup = Some(Popup::ConfirmQuit);
                } else {
                    self.quit = true;
                }
                Vec::new()
            }
            Command::Rollback | Command::ToggleFlag => {
                if !self.needs_live("roll back") || env_name.is_empty() {
                    return Vec::new();
                }
                // f only ever turns a flag off: where the rollback is something
                // else, it says so and does nothing.
                if cmd == Command::ToggleFlag && self.env().is_some_and(|e| e.flag.is_none()) {
                    self.status = format!(
                        "{env_name} has no feature flag to turn off: its rollback is not a flag rollback \
                         ([environment.driver] type = \"flag\"); r rolls it back"
                    );
                    return Vec::new();
                }
                self.popup = Some(Preparing { env: env_name.clone() }.into());
                vec![Effect::PrepareRollback { env: env_name, version: None, force: false }]
            }
            Command::Approve => {
                if !self.needs_live("approve a rollback") || env_name.is_empty() {
                    return Vec::new();
                }
                self.popup = Some(Preparing { env: env_name.clone() }.into());
                vec![Effect::PrepareApproval { env: env_name }]
            }
            Command::RollbackPick => {
                if !self.needs_live("roll back") {
                    return Vec::new();
                }
                let Some(env) = self.env() else { return Vec::new() };
                let choices = popups::pick_version::choices(env);
                // Start on a version that can be trusted: never the one serving, one
                // rolled back from, or one that failed.
                match choices.iter().position(|c| c.good) {
                    Some(selected) => {
                        self.popup = Some(PickVersion { env: env_name, choices, selected }.into());
                    }
                    None => self.status = format!("{env_name}: no earlier good version in the history to pick"),
                }
                Vec::new()
            }
            Command::CancelProposal | Command::ConfirmProposal => {
                let cancel = cmd == Command::CancelProposal;
                if !self.needs_live(if cancel { "cancel" } else { "confirm" }) {
                    return Vec::new();
                }
                if self.env().is_none_or(|e| e.proposal.is_none()) {
                    self.status =
                        format!("no proposed rollback of {env_name} to {}", if cancel { "cancel" } else { "confirm" });
                    return Vec::new();
                }
                if cancel {
                    self.status = format!("cancelling the proposed rollback of {env_name}…");
                    vec![Effect::Engine(EngineCommand::Cancel { environment: env_name })]
                } else {
                    self.status = format!("running the proposed rollback of {env_name} now…");
                    vec![Effect::Engine(EngineCommand::Confirm { environment: env_name })]
                }
            }
            Command::ToggleAutomatic => {
                if !self.needs_live("automatic rollback") {
                    return Vec::new();
                }
                let on = !self.env().is_some_and(|e| e.automatic);
                let verb = if on { "resuming" } else { "pausing" };
                self.status = format!("{verb} automatic rollback of {env_name}…");
                vec![Effect::Engine(EngineCommand::SetAutomatic { environment: env_name, on })]
            }
            Command::Unblock => {
                if self.needs_live("unblock") && !env_name.is_empty() {
                    vec![Effect::Engine(EngineCommand::Unblock { environment: env_name })]
                } else {
                    Vec::new()
                }
            }
            Command::Note => {
                if self.needs_live("add a note") {
                    self.popup = Some(NoteEditor { text: popups::field::Field::multi_line() }.into());
                }
                Vec::new()
            }
            Command::TickChecklist => {
                if !self.needs_live("tick") {
                    return Vec::new();
                }
                let row = if self.focus == Pane::Checklist { self.row } else { 0 };
                let Some(item) = self.env().and_then(|e| e.checklist.get(row)).cloned() else {
                    self.status = "no checklist item selected (Tab to the checklist)".into();
                    return Vec::new();
                };
                if let Some(e) = self.envs.get_mut(self.selected)
                    && let Some(it) = e.checklist.get_mut(row)
                {
                    it.passed = !item.passed;
                }
                vec![Effect::Checklist { env: env_name, item: item.title, passed: !item.passed }]
            }
            Command::StepDone => {
                // A step with an action asks: run it now, or done elsewhere.
                let asked = self.env().and_then(|e| {
                    let step = e.pending_step()?;
                    let action = e.runbook_actions.get(step).cloned().flatten()?;
                    Some(popups::StepAction { env: env_name.clone(), step, title: e.runbook[step].0.clone(), action })
                });
                match asked {
                    Some(p) if self.can_act() => {
                        self.popup = Some(p.into());
                        Vec::new()
                    }
                    _ => self.step_effect(env_name, "done", None),
                }
            }
            Command::StepSkip => {
                if !self.needs_live("skip") {
                    return Vec::new();
                }
                // Ask why only when there is a step to skip.
                match self.env().map(|e| (e.pending_step(), e.why_no_step())) {
                    Some((Some(_), _)) => {
                        self.popup = Some(
                            Prompt { purpose: PromptPurpose::SkipReason, text: popups::field::Field::one_line() }
                                .into(),
                        );
                    }
                    Some((None, why)) => self.status = why,
                    None => self.status = "no environment".into(),
                }
                Vec::new()
            }
            Command::ToggleIncident => {
                if !self.needs_live("incident") || env_name.is_empty() {
                    return Vec::new();
                }
                match self.env().and_then(|e| e.incident.as_ref().map(|i| (i.id, e.clock.validated.is_some()))) {
                    Some((id, validated)) => {
                        self.popup = Some(
                            CloseIncident { env: env_name, id, validated, reason: popups::field::Field::one_line() }
                                .into(),
                        );
                        Vec::new()
                    }
                    None => {
                        self.status = format!("opening an incident on {env_name}…");
                        vec![Effect::OpenIncident { env: env_name }]
                    }
                }
            }
            Command::StepBack | Command::StepForward => {
                let Some((events, i)) = &mut self.review else { return Vec::new() };
                *i = if cmd == Command::StepForward {
                    (*i + 1).min(events.len().saturating_sub(1))
                } else {
                    i.saturating_sub(1)
                };
                vec![Effect::Refresh { at: self.review_time() }]
            }
        }
    }

    /// Records the current runbook step of `env` as `state`.
    pub(super) fn step_effect(&mut self, env: String, state: &str, reason: Option<String>) -> Vec<Effect> {
        if !self.needs_live("runbook") {
            return Vec::new();
        }
        let Some(step) = self.env().and_then(EnvView::pending_step) else {
            self.status = self.env().map_or_else(|| "no environment".into(), EnvView::why_no_step);
            return Vec::new();
        };
        vec![Effect::RunbookStep { env, step, state: state.to_string(), reason }]
    }

    fn rows_in_focus(&self) -> usize {
        match (self.focus, self.env()) {
            (Pane::Environments, _) => self.envs.len(),
            (pane, Some(e)) => self.shown_rows(e, pane).len(),
            (_, None) => 0,
        }
    }

    fn on_popup_key(&mut self, popup: Popup, k: KeyEvent) -> Vec<Effect> {
        match popups::handle_key(popup, self, k) {
            Outcome::Open(popup, effects) => {
                self.popup = Some(popup);
                effects
            }
            Outcome::Closed(effects) => effects,
        }
    }
}
