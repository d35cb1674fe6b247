//! The watch engine: polls every signal of every environment, applies the trigger
//! rules, and rolls back, proposes or alerts, with every decision recorded with
//! its evidence. It knows nothing of the terminal: it sends [`EngineEvent`]s.

mod act;
pub mod alerts;
pub mod escalate;
mod event;
mod exposition;
mod persist;
mod rules;
mod sample;
mod sink;
mod sources;
pub(crate) mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use color_eyre::eyre::Result;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

pub use event::{Delivered, EngineEvent, Happened};
pub use exposition::{Series, escape_label_value, parse_exposition};
pub use persist::{StoreCmd, StoreWriter};
pub use rules::{Evidence, baseline, describe, evaluate, rollback_trigger};
pub use sample::{Sample, SampleRing};
pub use sink::{EVENT_QUEUE, OVERFLOW_LIMIT};
pub use sources::{
    Poll, PromAccess, ScrapeCache, SignalPoller, default_metric, json_sample, prometheus_reading, prometheus_value,
};

use crate::config::Config;
use crate::notify::Notifier;
use crate::store::Store;
use state::EnvState;

/// Knobs of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Record what would be done instead of doing it.
    pub dry_run: bool,
    /// Most HTTP requests in flight at once, across all signals.
    pub max_concurrent_requests: usize,
    /// Most samples kept in memory per signal; each ring holds what its rules'
    /// windows need at `min_interval` (or the signal's own interval), up to this.
    pub ring_capacity: usize,
    /// Polling interval assumed when sizing rings of signals without their own
    /// (the config's `poll_interval` is passed in by `run`).
    pub min_interval: Duration,
    /// One sample per signal per this period is written to the database.
    pub persist_every: Duration,
    /// Fraction of the interval by which each poll is randomly moved (0.1 = ±10%).
    pub jitter: f64,
    /// Write samples and events to the database (off for read-only observers).
    pub persist: bool,
    /// Also send every sample and status reading as events (`sample`, `status`),
    /// which the console draws; `watch` leaves this off.
    pub live_samples: bool,
    /// A drill: every notification is marked as one (and so reaches only the
    /// drill channel).
    pub drill: bool,
    /// Every 5 s, run the automatic checklist checks of each open incident, so
    /// items tick themselves after their stability window (off for read-only
    /// observers and for drills, which run their own).
    pub check_incidents: bool,
    /// Where the Alertmanager receiver listens, over `[alertmanager] listen`
    /// (`watch --listen`).
    pub listen: Option<String>,
    /// How often the pollers' punctuality is logged, and said as a
    /// `polling_behind` event when more than 1% of polls came late.
    pub poll_report_every: Duration,
}

impl EngineOptions {
    /// The engine as the console runs it (and `demo --lines`): live samples for
    /// the screen, open incidents' checklist checks; a read-only observer
    /// records nothing, rolls nothing back, and only says what it would do.
    pub fn console(read_only: bool) -> Self {
        EngineOptions {
            dry_run: read_only,
            persist: !read_only,
            live_samples: true,
            check_incidents: !read_only,
            ..EngineOptions::default()
        }
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            dry_run: false,
            max_concurrent_requests: 64,
            ring_capacity: 3600,
            min_interval: Duration::from_secs(1),
            persist_every: Duration::from_secs(5),
            jitter: 0.1,
            persist: true,
            live_samples: false,
            drill: false,
            check_incidents: false,
            listen: None,
            poll_report_every: Duration::from_secs(60),
        }
    }
}

/// What an operator can ask of a running engine.
#[derive(Debug, Clone)]
pub enum EngineCommand {
    /// Cancel a proposed rollback.
    Cancel {
        /// Environment name.
        environment: String,
    },
    /// Run a proposed rollback now.
    Confirm {
        /// Environment name.
        environment: String,
    },
    /// Run a rollback an operator planned and confirmed (the console's `r`/`R`):
    /// the engine runs it through the one rollback path, re-checking the plan
    /// under the lock, and reports it like its own.
    Rollback {
        /// Environment name.
        environment: String,
        /// The plan the operator confirmed.
        plan: Box<crate::rollback::Prepared>,
        /// Reason, operator and the rest.
        opts: Box<crate::rollback::RollbackOptions>,
    },
    /// Clear the block a failed automatic rollback left (the console's `u`).
    Unblock {
        /// Environment name.
        environment: String,
    },
    /// Pause (`false`) or resume (`true`) automatic rollback.
    SetAutomatic {
        /// Environment name.
        environment: String,
        /// On or off.
        on: bool,
    },
}

/// Messages into the engine loop.
#[derive(Debug)]
enum Msg {
    Polled { env: usize, signal: Option<usize>, poll: Poll },
    Event(EngineEvent),
}

/// Everything the engine loop shares with its helpers.
struct Shared {
    config: Arc<Config>,
    db_path: PathBuf,
    notifier: Notifier,
    opts: EngineOptions,
    writer: StoreWriter,
    events: sink::EventSink,
    inbox: mpsc::UnboundedSender<Msg>,
    rt: tokio::runtime::Handle,
}

/// Runs the engine until `shutdown` completes, then stops polling, waits for any
/// rollback in flight to be fully recorded, and flushes the database.
pub async fn run(
    config: Arc<Config>,
    db_path: PathBuf,
    notifier: Notifier,
    opts: EngineOptions,
    events: mpsc::Sender<EngineEvent>,
    mut commands: mpsc::UnboundedReceiver<EngineCommand>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let opts = EngineOptions { min_interval: config.poll_interval.get(), ..opts };
    // Opening (and perhaps migrating) the file blocks: not on a runtime worker.
    let (store, ids) = {
        let (config, db_path) = (Arc::clone(&config), db_path.clone());
        tokio::task::spawn_blocking(move || -> Result<(Store, Vec<i64>)> {
            let store = Store::open(&db_path)?;
            let ids = config
                .environments
                .iter()
                .map(|env| match store.damaged() {
                    // Read only: an environment the file never saw gets no row (and no id).
                    Some(_) => store.environment_id(env.name()).map(Option::unwrap_or_default),
                    None => store.ensure_environment(env.name(), env.kind.as_str(), env.base_url.get_ref()),
                })
                .collect::<std::result::Result<Vec<i64>, _>>()?;
            Ok((store, ids))
        })
        .await??
    };
    // A damaged file records nothing, and without a record no rollback starts:
    // watch and say what would be done, as a read-only console does.
    let damage = store.damage_notice();
    let opts = match damage {
        Some(_) => EngineOptions { dry_run: true, persist: false, check_incidents: false, ..opts },
        None => opts,
    };
    let mut envs: Vec<EnvState> =
        config.environments.iter().zip(ids).map(|(env, id)| EnvState::new(id, env.clone(), &opts)).collect();
    let (err_tx, mut err_rx) = mpsc::unbounded_channel::<String>();
    let (writer, writer_thread) = StoreWriter::start(store, err_tx, opts.persist);
    let (inbox, mut rx) = mpsc::unbounded_channel::<Msg>();
    let shared = Shared {
        config: Arc::clone(&config),
        db_path,
        notifier,
        opts: opts.clone(),
        writer: writer.clone(),
        events: sink::EventSink::new(events),
        inbox: inbox.clone(),
        rt: tokio::runtime::Handle::current(),
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    // A receiver `watch` was asked to run must run; the console's (from the
    // config) says why it does not and the engine goes on without it.
    let board = match start_receiver(&config, &opts, &inbox, &stop_rx).await {
        Ok(board) => board,
        Err(e) if opts.listen.is_some() => return Err(e),
        Err(e) => {
            let why = format!("{e:#}; alertmanager signals read nothing");
            let _ = inbox.send(Msg::Event(EngineEvent::now("", why, Happened::AlertsDown)));
            None
        }
    };
    let mut pollers = JoinSet::new();
    let stats = Arc::new(PollStats::default());
    spawn_pollers(&config, &opts, board.as_ref(), (&inbox, &stop_rx), &stats, &mut pollers);
    let mut last_stats = tokio::time::Instant::now();
    for env in &envs {
        shared.publish(EngineEvent::now(&env.name, env.describe(), Happened::Watching));
    }
    if let Some(notice) = damage {
        shared.emit_global(Happened::StoreError, format!("{notice}; watching only (dry run)"));
    }

    let mut rollbacks = JoinSet::new();
    let mut checks: JoinSet<()> = JoinSet::new();
    let mut last_check = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(msg) = rx.recv() => match msg {
                Msg::Polled { env, signal, poll } => {
                    envs[env].on_poll(env, signal, poll, &shared, &mut rollbacks);
                }
                Msg::Event(e) => shared.publish(e),
            },
            Some(joined) = rollbacks.join_next(), if !rollbacks.is_empty() => match joined {
                Ok((env, outcome)) => envs[env].on_rollback_done(env, outcome, &shared),
                Err(e) => shared.emit_global(Happened::RollbackTaskFailed, format!("a rollback task ended abnormally: {e}")),
            },
            Some(cmd) = commands.recv() => {
                if let Some(i) = envs.iter().position(|e| e.name == command_env(&cmd)) {
                    envs[i].on_command(i, cmd, &shared, &mut rollbacks);
                }
            }
            Some(e) = err_rx.recv() => shared.emit_global(Happened::StoreError, e),
            _ = tick.tick() => {
                shared.events.tick();
                if last_stats.elapsed() >= shared.opts.poll_report_every {
                    last_stats = tokio::time::Instant::now();
                    report_polling(&stats, &shared);
                }
                let now = Utc::now();
                for (i, env) in envs.iter_mut().enumerate() {
                    env.on_tick(i, now, &shared, &mut rollbacks);
                }
                if shared.opts.check_incidents && last_check.elapsed() >= CHECKLIST_EVERY && checks.is_empty() {
                    last_check = tokio::time::Instant::now();
                    let (config, db, inbox, rt) =
                        (Arc::clone(&shared.config), shared.db_path.clone(), shared.inbox.clone(), shared.rt.clone());
                    let notifier = shared.notifier.clone();
                    checks.spawn_blocking(move || {
                        check_open_incidents(&rt, &config, &db, &notifier, &inbox);
                        escalate_open_incidents(&rt, &config, &db, &notifier, &inbox);
                    });
                }
            }
            Some(_) = checks.join_next(), if !checks.is_empty() => {}
        }
    }
    let _ = stop_tx.send(true);
    while checks.join_next().await.is_some() {}
    pollers.shutdown().await;
    // A rollback in flight is seen through to its recorded end: stopping the
    // console must never leave one half-recorded.
    while let Some(joined) = rollbacks.join_next().await {
        if let Ok((env, outcome)) = joined {
            envs[env].on_rollback_done(env, outcome, &shared);
        }
    }
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Event(e) = msg {
            shared.publish(e);
        }
    }
    // The last events (a rollback's end) reach a reader that is still reading.
    shared.events.tick();
    shared.events.drain().await;
    drop(shared);
    // Flushing waits on the writer thread: do it off the runtime's workers.
    let _ = tokio::task::spawn_blocking(move || writer.flush()).await;
    drop(inbox);
    let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
    Ok(())
}

/// How often open incidents' automatic checklist checks run.
const CHECKLIST_EVERY: Duration = Duration::from_secs(5);

/// One round of the automatic checklist checks of every open incident. Runs on a
/// blocking thread with its own connection; results are recorded by the checks.
fn check_open_incidents(
    rt: &tokio::runtime::Handle,
    config: &Config,
    db: &std::path::Path,
    notifier: &Notifier,
    inbox: &mpsc::UnboundedSender<Msg>,
) {
    let Ok(mut store) = Store::open(db) else { return };
    for env in &config.environments {
        if env.checklist.iter().all(|c| c.check == crate::domain::CheckKind::Manual) {
            continue;
        }
        let Ok(Some(env_id)) = store.environment_id(env.name()) else { continue };
        let Ok(Some(incident)) = store.open_incident_for(env_id) else { continue };
        let already = store
            .milestones(incident.id)
            .is_ok_and(|m| m.iter().any(|m| m.milestone == crate::domain::Milestone::Validated));
        match crate::incident::evaluate_checklist(rt, &mut store, incident.id, env) {
            Ok(round) if round.validated && !already => {
                let msg = format!("incident #{}: every required checklist item holds: validated", incident.id);
                let _ = inbox.send(Msg::Event(EngineEvent::now(env.name(), msg.clone(), Happened::Validated)));
                // Resolves the incident's page (PagerDuty); other channels are not told.
                let _ = crate::incident::announce_validated(rt, &mut store, notifier, incident.id, &msg);
            }
            Ok(_) => {}
            Err(e) => {
                let msg = format!("checklist checks of incident #{} failed: {e:#}", incident.id);
                let _ = inbox.send(Msg::Event(EngineEvent::now(env.name(), msg, Happened::ChecklistError)));
            }
        }
    }
}

/// One round of escalations (seed 002's decision time box), on the same
/// blocking thread as the checklist checks, with its own connection.
fn escalate_open_incidents(
    rt: &tokio::runtime::Handle,
    config: &Config,
    db: &std::path::Path,
    notifier: &Notifier,
    inbox: &mpsc::UnboundedSender<Msg>,
) {
    let Ok(mut store) = Store::open(db) else { return };
    match escalate::escalate_overdue(rt, config, &mut store, notifier, Utc::now()) {
        Ok(done) => {
            for e in done {
                let what = if e.kind == "escalated" { Happened::Escalated } else { Happened::ObjectiveMissed };
                let _ = inbox.send(Msg::Event(EngineEvent::now(&e.environment, e.message, what)));
            }
        }
        Err(e) => {
            let msg = format!("escalating overdue incidents failed: {e:#}");
            let _ = inbox.send(Msg::Event(EngineEvent::now("", msg, Happened::StoreError)));
        }
    }
}

fn command_env(cmd: &EngineCommand) -> &str {
    match cmd {
        EngineCommand::Cancel { environment }
        | EngineCommand::Confirm { environment }
        | EngineCommand::Rollback { environment, .. }
        | EngineCommand::Unblock { environment }
        | EngineCommand::SetAutomatic { environment, .. } => environment,
    }
}

/// Starts the Alertmanager receiver when one is asked for (`watch --listen`,
/// else `[alertmanager] listen`) and returns the board its alerts go to. A
/// receiver that cannot listen, or whose token variable is not set, stops
/// the start with the reason: an engine that silently hears no alerts would
/// roll nothing back when it should.
async fn start_receiver(
    config: &Config,
    opts: &EngineOptions,
    inbox: &mpsc::UnboundedSender<Msg>,
    stop: &watch::Receiver<bool>,
) -> Result<Option<alerts::AlertBoard>> {
    let am = &config.alertmanager;
    let Some(addr) = opts.listen.clone().or_else(|| am.listen.as_ref().map(|l| l.get_ref().clone())) else {
        return Ok(None);
    };
    let token = match &am.token_env {
        Some(var) => match std::env::var(var.get_ref()).ok().filter(|t| !t.is_empty()) {
            Some(t) => Some(t),
            None => color_eyre::eyre::bail!(
                "[alertmanager] token_env names {}, which is not set: the receiver would take anyone's alerts; set it \
                 (and the same token in Alertmanager's http_config authorization), or remove token_env",
                var.get_ref()
            ),
        },
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        color_eyre::eyre::eyre!("the Alertmanager receiver cannot listen on {addr}: {e} (choose another address)")
    })?;
    let local = listener.local_addr()?;
    let board = alerts::AlertBoard::default();
    let (news_tx, mut news) = mpsc::unbounded_channel();
    let app = alerts::router(board.clone(), alerts::ReceiverOptions { token, max_body: am.max_body() }, news_tx);
    let mut stopped = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
    });
    let out = inbox.clone();
    tokio::spawn(async move {
        while let Some(n) = news.recv().await {
            let (what, message) = match n {
                alerts::ReceiverNews::Received(r) => (
                    Happened::AlertsReceived,
                    format!("alertmanager: {} alert(s) started firing, {} resolved", r.firing, r.resolved),
                ),
                alerts::ReceiverNews::Refused(why) => {
                    (Happened::AlertsRefused, format!("alertmanager post refused: {why}"))
                }
            };
            if out.send(Msg::Event(EngineEvent::now("", message, what))).is_err() {
                break;
            }
        }
    });
    let _ = inbox.send(Msg::Event(EngineEvent::now(
        "",
        format!("receiving Alertmanager webhooks on http://{local}/alertmanager"),
        Happened::AlertsListening,
    )));
    Ok(Some(board))
}

fn spawn_pollers(
    config: &Config,
    opts: &EngineOptions,
    board: Option<&alerts::AlertBoard>,
    (inbox, stop): (&mpsc::UnboundedSender<Msg>, &watch::Receiver<bool>),
    stats: &Arc<PollStats>,
    set: &mut JoinSet<()>,
) {
    // Every poller shares one client: one pool, one TLS configuration. Its
    // idle pool holds as many connections as may be in flight, so a busy
    // fleet behind one host (a proxy, the simulator) reuses them instead of
    // opening a connection per request.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.max_concurrent_requests.max(1))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    let permits = Arc::new(Semaphore::new(opts.max_concurrent_requests.max(1)));
    let pages = Arc::new(sources::ScrapeCache::default());
    for (e, env) in config.environments.iter().enumerate() {
        // Signals read from one page at one interval are polled by one task, one
        // after another: the first scrapes the page, the others reuse it. (One
        // task per signal scraped each page about twice a second and woke the
        // runtime once per signal.)
        let mut groups: Vec<PollGroup> = Vec::new();
        for (s, sig) in env.effective_signals().iter().enumerate() {
            let every = sig.interval.unwrap_or(config.poll_interval).get();
            // A page is reused for up to half the interval, so a signal never
            // sees the same scrape twice and rates stay between real scrapes.
            let mut poller = SignalPoller::new(env, sig, http.clone()).with_cache(Arc::clone(&pages), every / 2);
            if let Some(board) = board {
                poller = poller.with_alerts(board);
            }
            let page = poller.page().map(str::to_string);
            match groups.iter_mut().find(|(p, ev, _)| page.is_some() && *p == page && *ev == every) {
                Some((_, _, members)) => members.push((Some(s), poller)),
                None => groups.push((page, every, vec![(Some(s), poller)])),
            }
        }
        // Every environment's deployment status is followed, rules or not: it
        // tells the engine which version is serving and feeds the history.
        groups.push((None, config.poll_interval.get(), vec![(None, SignalPoller::status(env, http.clone()))]));
        for (_, every, mut members) in groups {
            let inbox = inbox.clone();
            let mut stop = stop.clone();
            let permits = Arc::clone(&permits);
            let jitter = opts.jitter.clamp(0.0, 0.5);
            let first = members.first().and_then(|m| m.0);
            let stats = Arc::clone(stats);
            set.spawn(async move {
                // Spread the first polls so a thousand signals do not fire at once.
                let mut next = tokio::time::Instant::now() + every.mul_f64(fastrand_unit(e, first));
                let mut last: Option<tokio::time::Instant> = None;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep_until(next) => {}
                        _ = stop.changed() => return,
                    }
                    let round = tokio::time::Instant::now();
                    stats.count(last.map(|l| round - l), every, members.len());
                    last = Some(round);
                    for (signal, poller) in &mut members {
                        let poll = {
                            let Ok(_permit) = permits.acquire().await else { return };
                            // Boxed: an HTTP request's future is about 5 KB, and
                            // held inline it would sit in every idle task (four
                            // per environment); boxed, only the requests in
                            // flight (at most the permits) hold one.
                            Box::pin(poller.poll()).await
                        };
                        if inbox.send(Msg::Polled { env: e, signal: *signal, poll }).is_err() {
                            return;
                        }
                    }
                    // The next round is due an interval after this one began, not
                    // after it ended: a slow answer does not push every later
                    // poll back. A round longer than the interval starts the
                    // next at once (and is counted late).
                    let spread = 1.0 + jitter * (2.0 * fastrand_unit(e, first) - 1.0);
                    next = (round + every.mul_f64(spread.max(0.05))).max(tokio::time::Instant::now());
                }
            });
        }
    }
}

/// Share of late polls over which the engine says it is falling behind.
const LATE_SHARE_WARN: f64 = 0.01;

/// Polls made and polls late since the last report, counted by the pollers. A
/// poll is late when it began more than one and a half intervals after its
/// signal's previous poll: a second without a sample at a 1 s interval.
#[derive(Debug, Default)]
pub struct PollStats {
    polls: std::sync::atomic::AtomicU64,
    late: std::sync::atomic::AtomicU64,
    /// Longest gap between two polls of one signal, in milliseconds.
    worst_ms: std::sync::atomic::AtomicU64,
}

impl PollStats {
    /// Counts a round of `signals` polls that began `gap` after the previous
    /// round (`None` for the first).
    fn count(&self, gap: Option<Duration>, every: Duration, signals: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(gap) = gap else { return };
        let n = signals as u64;
        self.polls.fetch_add(n, Relaxed);
        if gap > every.mul_f64(1.5) {
            self.late.fetch_add(n, Relaxed);
        }
        self.worst_ms.fetch_max(u64::try_from(gap.as_millis()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Polls, late polls and the longest gap since the last call, which starts the count again.
    fn take(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.polls.swap(0, Relaxed), self.late.swap(0, Relaxed), self.worst_ms.swap(0, Relaxed))
    }
}

/// Writes the last minute's polling to the log, and says so as an event when
/// more than 1% of polls were late: the samples the rules judge are older
/// than their interval, and an engine that cannot keep up must not look as if it did.
fn report_polling(stats: &PollStats, shared: &Shared) {
    let (polls, late, worst_ms) = stats.take();
    if polls == 0 {
        return;
    }
    let share = late as f64 / polls as f64;
    tracing::info!(
        polls,
        late,
        worst_ms,
        "polling: {polls} polls, {late} late ({:.2}%), longest gap {worst_ms} ms",
        share * 100.0
    );
    if share > LATE_SHARE_WARN {
        shared.emit_global(
            Happened::PollingBehind,
            format!(
                "polling is falling behind: {late} of {polls} polls since the last report came more than 1.5 intervals \
                 after the one before (longest gap {worst_ms} ms); samples are older than their interval. Fewer \
                 signals, a longer poll_interval, or a faster machine"
            ),
        );
    }
}

/// Signals polled by one task: the page they share (if any), their interval,
/// and each signal's index (`None` for the status poller) with its poller.
type PollGroup = (Option<String>, Duration, Vec<(Option<usize>, SignalPoller)>);

/// A cheap pseudo-random number in [0, 1), good enough to spread polls.
fn fastrand_unit(a: usize, b: Option<usize>) -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(a);
    h.write_usize(b.map_or(usize::MAX, |b| b));
    (h.finish() % 10_000) as f64 / 10_000.0
}

impl Shared {
    fn publish(&self, e: EngineEvent) {
        // Every decision and outcome the engine announces, in the log file;
        // the console's live readings are not (the database keeps them).
        if !matches!(e.what, Happened::Sample { .. } | Happened::Status { .. }) {
            tracing::info!(env = %e.environment, kind = e.kind(), "{}", e.message);
        }
        self.events.publish(e);
    }

    fn emit_global(&self, what: Happened, message: String) {
        self.publish(EngineEvent::now("", message, what));
    }
}
