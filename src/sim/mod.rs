//! The simulated fleet: an HTTP server that speaks the playbook API
//! (`../shared/contracts/playbook-api.md`) for one or more made-up services, each
//! following a [`Scenario`]. Tests run it in-process with [`spawn`]; `backout
//! simulate` and `backout demo` run it with [`serve`].
//!
//! Every service is served under `/svc/{name}/...`, and the first one also at the
//! root so the playbook's curl commands work unchanged.

mod config;
mod metrics;
mod noise;
mod routes;
mod state;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use color_eyre::eyre::{WrapErr, bail, eyre};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

pub use config::{GeneratedConfig, ready_config};
pub use noise::seed_from_clock;
use state::Service;

/// How long in-flight requests get to finish once shutdown is asked for; a Slow
/// scenario would otherwise hold shutdown for a whole `slow_delay`.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// How a simulated service lays out its environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// Two colours, `blue` and `green`; rollbacks switch traffic between them.
    BlueGreen,
    /// One environment named `default`; rollbacks redeploy an older version.
    Standard,
}

impl ServiceKind {
    /// The word used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            ServiceKind::BlueGreen => "blue-green",
            ServiceKind::Standard => "standard",
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ServiceKind {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "blue-green" | "bluegreen" => Ok(ServiceKind::BlueGreen),
            "standard" => Ok(ServiceKind::Standard),
            _ => Err(ParseNameError { what: "service kind", given: s.to_string(), valid: &["blue-green", "standard"] }),
        }
    }
}

/// What a simulated service does over its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Healthy, with baseline metrics and their noise; a deployed version whose
    /// name contains `bad` still degrades (as in every scenario).
    Steady,
    /// Every deploy is bad: it degrades over `ramp` until rolled back.
    BadDeploy,
    /// Health alternates healthy/unhealthy every `flap_period`.
    Flapping,
    /// Every answer is delayed by `slow_delay`.
    Slow,
    /// Every playbook endpoint answers 200 with a body that does not parse.
    Garbage,
    /// Like `BadDeploy`, but every rollback answers 500 and changes nothing.
    RollbackFails,
}

impl Scenario {
    /// Every scenario, in the order the help text lists them.
    pub const ALL: [Scenario; 6] = [
        Scenario::Steady,
        Scenario::BadDeploy,
        Scenario::Flapping,
        Scenario::Slow,
        Scenario::Garbage,
        Scenario::RollbackFails,
    ];

    /// The word used on the command line and in configs.
    pub const fn name(&self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::BadDeploy => "bad-deploy",
            Scenario::Flapping => "flapping",
            Scenario::Slow => "slow",
            Scenario::Garbage => "garbage",
            Scenario::RollbackFails => "rollback-fails",
        }
    }

    /// Whether every version deployed under this scenario goes bad (in every
    /// scenario, one whose name contains `bad` does).
    pub fn deploys_are_bad(&self) -> bool {
        matches!(self, Scenario::BadDeploy | Scenario::RollbackFails)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every scenario's name, built from `ALL` so the error message cannot drift from the parser.
const SCENARIO_NAMES: [&str; 6] = {
    let mut names = [""; 6];
    let mut i = 0;
    while i < names.len() {
        names[i] = Scenario::ALL[i].name();
        i += 1;
    }
    names
};

impl FromStr for Scenario {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL.into_iter().find(|sc| sc.name() == s).ok_or_else(|| ParseNameError {
            what: "scenario",
            given: s.to_string(),
            valid: &SCENARIO_NAMES,
        })
    }
}

/// A name given on the command line that is not one of the valid ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseNameError {
    what: &'static str,
    given: String,
    valid: &'static [&'static str],
}

impl fmt::Display for ParseNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}; use one of: {}", self.what, self.given, self.valid.join(", "))
    }
}

impl std::error::Error for ParseNameError {}

/// One simulated service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Name in URLs (`/svc/{name}`): letters, digits, `-`, `_` and `.` only.
    pub name: String,
    /// Blue/green or a single environment.
    pub kind: ServiceKind,
    /// What the service does.
    pub scenario: Scenario,
    /// Succeeded deployments already in the history, the current one included (min 1).
    pub history: usize,
}

impl ServiceSpec {
    /// Default history length.
    pub const DEFAULT_HISTORY: usize = 4;

    /// A service with the default history length.
    pub fn new(name: impl Into<String>, kind: ServiceKind, scenario: Scenario) -> Self {
        ServiceSpec { name: name.into(), kind, scenario, history: Self::DEFAULT_HISTORY }
    }
}

/// The clocks the scenarios run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timings {
    /// BadDeploy/RollbackFails: deploy a bad version on its own this long after start
    /// (`None`: only on `POST /deployment/deploy`).
    pub deploy_after: Option<Duration>,
    /// How long a bad deploy takes to reach full degradation.
    pub ramp: Duration,
    /// After a successful rollback, health reports `degraded` for this long.
    pub settle: Duration,
    /// Slow scenario: every answer is delayed this long.
    pub slow_delay: Duration,
    /// Flapping scenario: health flips between healthy and unhealthy this often.
    pub flap_period: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            deploy_after: None,
            ramp: Duration::from_secs(20),
            settle: Duration::ZERO,
            slow_delay: Duration::from_secs(3),
            flap_period: Duration::from_secs(2),
        }
    }
}

/// Everything the simulated fleet needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimOptions {
    /// The services, the first of which is also served at the root.
    pub services: Vec<ServiceSpec>,
    /// Scenario clocks, shared by all services.
    pub timings: Timings,
    /// Seed of the healthy metrics' noise: the same seed gives the same values
    /// second by second. `None` draws one from the clock.
    pub seed: Option<u64>,
}

/// The services being simulated, in the order they were given.
pub(crate) struct Fleet {
    services: Vec<Arc<Service>>,
}

impl Fleet {
    fn new(opts: &SimOptions) -> color_eyre::Result<Fleet> {
        if opts.services.is_empty() {
            bail!("the simulated fleet needs at least one service");
        }
        let seed = opts.seed.unwrap_or_else(seed_from_clock);
        let mut services: Vec<Arc<Service>> = Vec::with_capacity(opts.services.len());
        for spec in &opts.services {
            let valid =
                !spec.name.is_empty() && spec.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid {
                bail!(
                    "simulated service name {:?} cannot be used in a URL; use letters, digits, '-', '_' or '.'",
                    spec.name
                );
            }
            if services.iter().any(|s| s.name() == spec.name) {
                bail!("simulated service {:?} is listed twice; give each service its own name", spec.name);
            }
            services.push(Arc::new(Service::new(spec, &opts.timings, seed)));
        }
        Ok(Fleet { services })
    }

    fn get(&self, name: &str) -> Option<&Arc<Service>> {
        self.services.iter().find(|s| s.name() == name)
    }
}

/// Serves the simulated fleet on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    opts: SimOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> color_eyre::Result<()> {
    let fleet = Arc::new(Fleet::new(&opts)?);
    run(listener, fleet, shutdown).await
}

async fn run(
    listener: tokio::net::TcpListener,
    fleet: Arc<Fleet>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> color_eyre::Result<()> {
    // Dropping the set at the end aborts the scenario clocks with the server.
    let mut background = JoinSet::new();
    for svc in &fleet.services {
        if let Some(at) = svc.auto_deploy_at() {
            let svc = Arc::clone(svc);
            background.spawn(async move {
                tokio::time::sleep_until(at).await;
                svc.auto_deploy();
            });
        }
    }
    // The shutdown signal is needed twice (graceful stop and its deadline), and a
    // watch channel is the one-sender-many-listeners tool tokio has.
    let (stop_tx, stop_rx) = watch::channel(());
    background.spawn(async move {
        shutdown.await;
        stop_tx.send_replace(());
    });
    let app = routes::router(&fleet);
    let server = axum::serve(listener, app).with_graceful_shutdown(stopped(stop_rx.clone()));
    let deadline = async move {
        stopped(stop_rx).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = async { server.await } => served.wrap_err("the simulated fleet's HTTP server failed")?,
        () = deadline => {}
    }
    Ok(())
}

/// Resolves once a stop is signalled or the signalling side is gone.
async fn stopped(mut rx: watch::Receiver<()>) {
    // Either outcome means "stop": a send, or the sender dropped.
    let _ = rx.changed().await;
}

/// Starts the fleet on 127.0.0.1 (a free port) on its own thread and runtime.
pub fn spawn(opts: SimOptions) -> color_eyre::Result<SimHandle> {
    let fleet = Arc::new(Fleet::new(&opts)?);
    // Binding here, before the thread starts, means the port is listening (and
    // errors are reported) by the time we return.
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .wrap_err("could not open a port on 127.0.0.1 for the simulated fleet")?;
    listener.set_nonblocking(true).wrap_err("could not make the simulated fleet's socket non-blocking")?;
    let addr = listener.local_addr().wrap_err("could not read the simulated fleet's address")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("could not start a tokio runtime for the simulated fleet")?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let served = Arc::clone(&fleet);
    let thread = std::thread::Builder::new()
        .name("backout-sim".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .wrap_err("could not hand the simulated fleet's socket to tokio")?;
                run(listener, served, async move {
                    // A dropped handle stops the server as surely as stop() does.
                    let _ = stop_rx.await;
                })
                .await
            })
        })
        .map_err(|e| eyre!("could not start the simulated fleet's thread: {e}"))?;
    Ok(SimHandle { addr, fleet, stop: Some(stop_tx), thread: Some(thread) })
}

/// A running fleet started by [`spawn`]; dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    fleet: Arc<Fleet>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<color_eyre::Result<()>>>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// How many requests a simulated service has received, for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `POST /deployment/rollback` requests, whatever their answer.
    pub rollback_requests: usize,
    /// `POST /deployment/deploy` requests, whatever their answer.
    pub deploy_requests: usize,
    /// When the latest rollback request arrived (for latency benchmarks).
    pub last_rollback_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl SimHandle {
    /// The address the fleet listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of one service, e.g. `http://127.0.0.1:PORT/svc/api`.
    pub fn base_url(&self, service: &str) -> String {
        format!("http://{}/svc/{service}", self.addr)
    }

    /// Base URL of the root, which serves the first service.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Rollback requests `service` has received (0 for an unknown service).
    pub fn rollback_requests(&self, service: &str) -> usize {
        self.requests(service).map_or(0, |c| c.rollback_requests)
    }

    /// Request counters of `service`, none for an unknown service.
    pub fn requests(&self, service: &str) -> Option<RequestCounts> {
        self.fleet.get(service).map(|s| s.counts())
    }

    /// Stops the server and waits for its thread.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // An Err means the server already stopped on its own; nothing to signal.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Drop cannot report an error, and a stopped simulator has nothing left to clean up.
            let _ = thread.join();
        }
    }
}
