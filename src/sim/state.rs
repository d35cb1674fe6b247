//! One simulated service: its deployment history, which version serves where, and
//! what deploys and rollbacks do to it. No HTTP here; `routes` maps this onto the
//! wire.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::metrics::{Meter, Profile};
use super::noise::Noise;
use super::{RequestCounts, Scenario, ServiceKind, ServiceSpec, Timings};
use crate::playbook::{
    ColourState, DeploymentRecord, DeploymentStatus, DeploymentStatusReport, Health, HealthReport, RollbackRequestBody,
    SwitchAnswer,
};

/// Why a deploy or rollback was refused; `routes` turns each into a status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The request body is not what the contract asks for (400).
    BadRequest(String),
    /// The version is not in the history (404).
    UnknownVersion(String),
    /// There is no earlier version to go back to (409).
    NothingToRollBack,
    /// The scenario makes the rollback itself fail (500).
    RollbackFailed,
    /// `expectedVersion` is not what serves (412); nothing changed.
    NotServing {
        /// What serves.
        serving: String,
        /// What the client expected.
        expected: String,
    },
}

impl Refusal {
    /// The `error` text of the answer.
    pub fn message(&self) -> String {
        match self {
            Refusal::BadRequest(why) => why.clone(),
            Refusal::UnknownVersion(v) => format!("unknown version {v}"),
            Refusal::NothingToRollBack => "nothing to roll back to".into(),
            Refusal::RollbackFailed => "rollback failed: traffic switch timed out".into(),
            Refusal::NotServing { serving, expected } => format!("serving {serving}, not {expected}"),
        }
    }
}

/// A simulated service, shared between the HTTP handlers and the scenario clock.
pub(crate) struct Service {
    name: String,
    scenario: Scenario,
    timings: Timings,
    state: Mutex<ServiceState>,
}

impl Service {
    /// A service as `spec` describes it, started now, its noise drawn from `seed`.
    pub fn new(spec: &ServiceSpec, timings: &Timings, seed: u64) -> Service {
        let noise = Noise::new(seed, &spec.name);
        Service {
            name: spec.name.clone(),
            scenario: spec.scenario,
            timings: timings.clone(),
            state: Mutex::new(ServiceState::new(spec, Instant::now(), Utc::now(), noise)),
        }
    }

    /// Name in URLs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the service does.
    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// How long each answer waits before it is given.
    pub fn answer_delay(&self) -> Option<Duration> {
        (self.scenario == Scenario::Slow).then_some(self.timings.slow_delay)
    }

    /// When the scenario deploys a bad version on its own, if it does.
    pub fn auto_deploy_at(&self) -> Option<Instant> {
        if !self.scenario.deploys_are_bad() {
            return None;
        }
        let after = self.timings.deploy_after?;
        Some(self.lock().started + after)
    }

    /// The scenario's own bad deploy.
    pub fn auto_deploy(&self) {
        let mut st = self.lock();
        let version = st.fresh_version(true);
        st.deploy(version, &self.timings, Instant::now(), Utc::now());
    }

    fn lock(&self) -> MutexGuard<'_, ServiceState> {
        // A panic while holding the lock leaves the state usable (every change is
        // a few plain assignments), and a simulator should keep answering.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a rollback request on arrival, before any delay or refusal.
    pub fn count_rollback(&self) {
        let mut state = self.lock();
        state.counts.rollback_requests += 1;
        state.counts.last_rollback_at = Some(chrono::Utc::now());
    }

    /// Counts a deploy request on arrival, before any delay or refusal.
    pub fn count_deploy(&self) {
        self.lock().counts.deploy_requests += 1;
    }

    /// Requests received so far.
    pub fn counts(&self) -> RequestCounts {
        self.lock().counts
    }

    /// Body of `GET /health`.
    pub fn health_report(&self) -> HealthReport {
        let st = self.lock();
        let now = Instant::now();
        let slot = st.serving_slot();
        HealthReport {
            health: st.health(&self.timings, now),
            environment: Some(slot.name.to_string()),
            version: Some(slot.version.clone()),
        }
    }

    /// Health right now.
    pub fn health(&self) -> Health {
        self.lock().health(&self.timings, Instant::now())
    }

    /// Body of `GET /deployment/status`.
    pub fn status_report(&self) -> DeploymentStatusReport {
        let st = self.lock();
        let health = st.health(&self.timings, Instant::now());
        let environments: BTreeMap<String, ColourState> = st
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let h = if i == st.serving { health } else { Health::Healthy };
                (slot.name.to_string(), ColourState { version: slot.version.clone(), health: h })
            })
            .collect();
        let serving = st.serving_slot();
        DeploymentStatusReport {
            current_environment: Some(serving.name.to_string()),
            version: serving.version.clone(),
            environments,
            deployment_history: st.history.clone(),
        }
    }

    /// Body of `GET /metrics`.
    pub fn metrics_text(&self) -> String {
        self.lock().metrics_text(&self.timings, Instant::now())
    }

    /// `POST /deployment/deploy`.
    pub fn deploy(&self, body: RollbackRequestBody) -> Result<SwitchAnswer, Refusal> {
        let mut st = self.lock();
        let version = match body.version {
            Some(v) if v.trim().is_empty() => {
                return Err(Refusal::BadRequest("version must not be empty".into()));
            }
            Some(v) => v,
            None => st.fresh_version(self.scenario.deploys_are_bad()),
        };
        Ok(st.deploy(version, &self.timings, Instant::now(), Utc::now()))
    }

    /// `POST /deployment/rollback`.
    pub fn rollback(&self, body: RollbackRequestBody) -> Result<SwitchAnswer, Refusal> {
        if self.scenario == Scenario::RollbackFails {
            return Err(Refusal::RollbackFailed);
        }
        let mut st = self.lock();
        // Contract revision 2: a precondition on what serves, checked under the
        // same lock as the switch.
        if let Some(expected) = body.expected_version {
            let serving = st.serving_slot().version.clone();
            if serving != expected {
                return Err(Refusal::NotServing { serving, expected });
            }
        }
        st.rollback(body.version, &self.timings, Instant::now(), Utc::now())
    }
}

/// Where a version is running: a colour, or the one `default` environment.
#[derive(Debug, Clone)]
struct Slot {
    name: &'static str,
    version: String,
    /// Index into the history of the deployment that put `version` here.
    record: usize,
}

#[derive(Debug)]
struct ServiceState {
    scenario: Scenario,
    started: Instant,
    history: Vec<DeploymentRecord>,
    /// `[blue, green]` or `[default]`.
    slots: Vec<Slot>,
    serving: usize,
    /// When the serving version started serving; a bad version ramps from here.
    serving_since: Instant,
    /// Versions that degrade whenever they serve.
    bad_versions: HashSet<String>,
    /// The healthy metrics' noise.
    noise: Noise,
    /// Health is held at degraded until then after a rollback.
    settle_until: Option<Instant>,
    meter: Meter,
    counts: RequestCounts,
}

impl ServiceState {
    fn new(spec: &ServiceSpec, now: Instant, wall: DateTime<Utc>, noise: Noise) -> ServiceState {
        let wall = DateTime::from_timestamp(wall.timestamp(), 0).unwrap_or(wall);
        let n = spec.history.max(1);
        let blue_green = spec.kind == ServiceKind::BlueGreen;
        // Succeeded versions 1.4.0.., the newest serving; one failed release
        // candidate just before it gives last-known-good logic something to skip.
        let mut plan: Vec<(String, DeploymentStatus)> =
            (0..n).map(|i| (format!("1.4.{i}"), DeploymentStatus::Succeeded)).collect();
        if n >= 3 {
            plan.insert(n - 1, (format!("1.4.{}-rc1", n - 1), DeploymentStatus::Failed));
        }
        let total = plan.len();
        let mut history = Vec::with_capacity(total);
        for (i, (version, status)) in plan.into_iter().enumerate() {
            let age = chrono::Duration::hours(1) + chrono::Duration::days((total - 1 - i) as i64);
            history.push(DeploymentRecord {
                id: format!("d-{}", i + 1),
                version,
                environment: None,
                deployed_at: wall - age,
                status,
            });
        }
        // Colours are assigned backwards from the newest, which serves on blue. A
        // failed deploy never took traffic: it went to the colour that the next
        // succeeded deploy (its fix) later used.
        let mut next_colour = "blue";
        let mut colour_after = "blue";
        for rec in history.iter_mut().rev() {
            let colour = if !blue_green {
                "default"
            } else if rec.status == DeploymentStatus::Succeeded {
                colour_after = next_colour;
                next_colour = if next_colour == "blue" { "green" } else { "blue" };
                colour_after
            } else {
                colour_after
            };
            rec.environment = Some(colour.to_string());
        }
        let current = total - 1;
        let slot_of =
            |name: &'static str, record: usize| Slot { name, version: history[record].version.clone(), record };
        let slots = if blue_green {
            // Green holds the previous succeeded version, or the current one when
            // there is none, so a blind switch has nowhere to go.
            let previous =
                history[..current].iter().rposition(|r| r.status == DeploymentStatus::Succeeded).unwrap_or(current);
            vec![slot_of("blue", current), slot_of("green", previous)]
        } else {
            vec![slot_of("default", current)]
        };
        ServiceState {
            scenario: spec.scenario,
            started: now,
            history,
            slots,
            serving: 0,
            serving_since: now,
            bad_versions: HashSet::new(),
            noise,
            settle_until: None,
            meter: Meter::new(now),
            counts: RequestCounts::default(),
        }
    }

    fn serving_slot(&self) -> &Slot {
        &self.slots[self.serving]
    }

    fn idle(&self) -> Option<usize> {
        (self.slots.len() == 2).then(|| 1 - self.serving)
    }

    fn serving_bad(&self) -> bool {
        self.bad_versions.contains(&self.serving_slot().version)
    }

    /// When a bad serving version stops getting worse.
    fn ramp_end(&self, timings: &Timings) -> Option<Instant> {
        self.serving_bad().then(|| self.serving_since + timings.ramp)
    }

    /// The noise's second that `t` falls in.
    fn second(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.started).as_secs()
    }

    fn profile_at(&self, timings: &Timings, t: Instant) -> Profile {
        let healthy = self.noise.healthy(self.second(t));
        if !self.serving_bad() {
            return healthy;
        }
        if timings.ramp.is_zero() {
            return Profile::DEGRADED;
        }
        let elapsed = t.saturating_duration_since(self.serving_since);
        Profile::ramping(healthy, elapsed.as_secs_f64() / timings.ramp.as_secs_f64())
    }

    fn health(&self, timings: &Timings, now: Instant) -> Health {
        if self.scenario == Scenario::Flapping {
            let period = timings.flap_period.max(Duration::from_millis(1)).as_nanos();
            let phase = now.saturating_duration_since(self.started).as_nanos() / period;
            return if phase.is_multiple_of(2) { Health::Healthy } else { Health::Unhealthy };
        }
        let health = self.profile_at(timings, now).health();
        let settling = self.settle_until.is_some_and(|until| now < until);
        if health == Health::Healthy && settling { Health::Degraded } else { health }
    }

    /// Must run before anything changes what serves, so traffic up to now is
    /// counted under the version that served it.
    fn advance_meter(&mut self, timings: &Timings, now: Instant) {
        let kink = self.ramp_end(timings);
        // The profile is linear between the noise's second boundaries and the ramp's end.
        let next_break = |t: Instant| {
            let boundary = self.started + Duration::from_secs(self.second(t).saturating_add(1));
            kink.filter(|k| *k > t).map_or(boundary, |k| k.min(boundary))
        };
        let mut meter = self.meter.clone();
        meter.advance(now, next_break, |t| self.profile_at(timings, t));
        self.meter = meter;
    }

    /// `/metrics` as read at `now`.
    fn metrics_text(&mut self, timings: &Timings, now: Instant) -> String {
        self.advance_meter(timings, now);
        let p = self.profile_at(timings, now);
        self.meter.exposition(&p)
    }

    /// A version not yet in the history: `2.0.x-bad` for bad deploys, `1.5.x` otherwise.
    fn fresh_version(&self, bad: bool) -> String {
        (0..)
            .map(|k| if bad { format!("2.0.{k}-bad") } else { format!("1.5.{k}") })
            .find(|v| !self.history.iter().any(|r| &r.version == v))
            .unwrap_or_else(|| "9.9.9".into())
    }

    fn push_record(&mut self, version: &str, slot: usize, wall: DateTime<Utc>) -> usize {
        self.history.push(DeploymentRecord {
            id: format!("d-{}", self.history.len() + 1),
            version: version.to_string(),
            environment: Some(self.slots[slot].name.to_string()),
            deployed_at: wall,
            status: DeploymentStatus::Succeeded,
        });
        self.history.len() - 1
    }

    /// Puts `version` on the idle colour (or the only environment) and serves it.
    fn put_and_serve(&mut self, version: &str, wall: DateTime<Utc>) {
        let target = self.idle().unwrap_or(self.serving);
        let record = self.push_record(version, target, wall);
        self.slots[target].version = version.to_string();
        self.slots[target].record = record;
        self.serving = target;
    }

    fn answer(&self, previous: &Slot) -> SwitchAnswer {
        let now = self.serving_slot();
        SwitchAnswer {
            success: true,
            current_environment: Some(now.name.to_string()),
            version: now.version.clone(),
            previous_environment: Some(previous.name.to_string()),
            previous_version: Some(previous.version.clone()),
        }
    }

    fn deploy(&mut self, version: String, timings: &Timings, now: Instant, wall: DateTime<Utc>) -> SwitchAnswer {
        self.advance_meter(timings, now);
        let previous = self.serving_slot().clone();
        self.put_and_serve(&version, wall);
        if self.scenario.deploys_are_bad() || is_bad_name(&version) {
            self.bad_versions.insert(version);
        }
        self.serving_since = now;
        self.settle_until = None;
        self.answer(&previous)
    }

    fn rollback(
        &mut self,
        version: Option<String>,
        timings: &Timings,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Result<SwitchAnswer, Refusal> {
        let previous = self.serving_slot().clone();
        match version {
            Some(v) => {
                if !self.history.iter().any(|r| r.version == v) {
                    return Err(Refusal::UnknownVersion(v));
                }
                if v == previous.version {
                    // Already there: answering 200 makes a retried rollback (say,
                    // after a client timeout) safe.
                    return Ok(self.answer(&previous));
                }
                self.advance_meter(timings, now);
                match self.idle() {
                    Some(idle) if self.slots[idle].version == v => self.serving = idle,
                    _ => self.put_and_serve(&v, wall),
                }
            }
            None => match self.idle() {
                Some(idle) => {
                    let slot = &self.slots[idle];
                    let usable = slot.version != previous.version
                        && self.history[slot.record].status == DeploymentStatus::Succeeded;
                    if !usable {
                        return Err(Refusal::NothingToRollBack);
                    }
                    self.advance_meter(timings, now);
                    self.serving = idle;
                }
                None => {
                    let target = self.last_known_good(&previous.version).ok_or(Refusal::NothingToRollBack)?;
                    self.advance_meter(timings, now);
                    self.put_and_serve(&target, wall);
                }
            },
        }
        self.history[previous.record].status = DeploymentStatus::RolledBack;
        self.serving_since = now;
        self.settle_until = Some(now + timings.settle);
        Ok(self.answer(&previous))
    }

    /// The newest succeeded version other than `current` whose latest deployment
    /// was neither failed nor rolled back.
    fn last_known_good(&self, current: &str) -> Option<String> {
        let mut latest_status: BTreeMap<&str, DeploymentStatus> = BTreeMap::new();
        for r in &self.history {
            latest_status.insert(&r.version, r.status);
        }
        self.history
            .iter()
            .rev()
            .filter(|r| r.version != current)
            .find(|r| latest_status.get(r.version.as_str()) == Some(&DeploymentStatus::Succeeded))
            .map(|r| r.version.clone())
    }
}

/// A version named as bad (`2.0.0-bad`, `1.5.0-BAD-fix`) degrades whatever the
/// scenario, so `backout drill` works against a steady simulator too.
fn is_bad_name(version: &str) -> bool {
    version.to_ascii_lowercase().contains("bad")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ServiceKind;

    /// The error rate between consecutive `/metrics` reads every `every`, as a
    /// scraper derives it from the whole-number counters.
    fn scraped_error_rates(
        st: &mut ServiceState,
        timings: &Timings,
        from: Instant,
        every: Duration,
        n: u32,
    ) -> Vec<f64> {
        let counters = |text: &str| -> (f64, f64) {
            let value = |series: &str| -> f64 {
                let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_default();
                line[series.len()..].trim().parse().unwrap_or(f64::NAN)
            };
            (value("http_requests_total{code=\"200\"} "), value("http_requests_total{code=\"500\"} "))
        };
        let mut before = counters(&st.metrics_text(timings, from));
        (1..=n)
            .map(|k| {
                let now = counters(&st.metrics_text(timings, from + every * k));
                let (ok, errors) = (now.0 - before.0, now.1 - before.1);
                before = now;
                errors / (ok + errors)
            })
            .collect()
    }

    fn service(scenario: Scenario, seed: u64, t0: Instant) -> ServiceState {
        let spec = ServiceSpec::new("checkout", ServiceKind::BlueGreen, scenario);
        ServiceState::new(&spec, t0, Utc::now(), Noise::new(seed, &spec.name))
    }

    #[test]
    fn healthy_scraped_error_rate_sits_well_under_one_percent() {
        let timings = Timings::default();
        for seed in [1, 2, 3] {
            let t0 = Instant::now();
            let mut st = service(Scenario::Steady, seed, t0);
            let rates = scraped_error_rates(&mut st, &timings, t0, Duration::from_secs(1), 600);
            let mean = rates.iter().sum::<f64>() / rates.len() as f64;
            assert!((0.001..=0.004).contains(&mean), "seed {seed}: mean {mean}");
            let worst = rates.iter().copied().fold(0.0, f64::max);
            assert!(worst < 0.01, "seed {seed}: a healthy sample of {worst}");
            // Polled twice as often, whole-number counts are coarser and still stay under 1%.
            let t1 = t0 + Duration::from_secs(700);
            let rates = scraped_error_rates(&mut st, &timings, t1, Duration::from_millis(500), 600);
            assert!(rates.iter().all(|r| *r < 0.01), "seed {seed}: {rates:?}");
        }
    }

    #[test]
    fn the_same_seed_scrapes_the_same_sequence() {
        let timings = Timings::default();
        let t0 = Instant::now();
        let run = |seed: u64| {
            let mut st = service(Scenario::Steady, seed, t0);
            scraped_error_rates(&mut st, &timings, t0, Duration::from_millis(1300), 100)
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }

    #[test]
    fn a_bad_name_degrades_past_the_default_error_threshold_in_steady() {
        let timings = Timings::default();
        let t0 = Instant::now();
        let mut st = service(Scenario::Steady, 9, t0);
        st.deploy("2.1.0-bad".into(), &timings, t0, Utc::now());
        let rates = scraped_error_rates(&mut st, &timings, t0, Duration::from_secs(1), 40);
        // The default rule fires above 5%; after the 20 s ramp it is 12%.
        assert!(rates[25..].iter().all(|r| *r > 0.05), "{rates:?}");
        assert_eq!(st.health(&timings, t0 + Duration::from_secs(40)), Health::Unhealthy);
        st.deploy("2.1.1".into(), &timings, t0 + Duration::from_secs(40), Utc::now());
        assert_eq!(st.health(&timings, t0 + Duration::from_secs(41)), Health::Healthy);
    }
}
