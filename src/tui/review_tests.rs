//! Review replays the record through the same fold as the live console: a real
//! rollback against the simulated fleet, recorded in a real SQLite file, then
//! stepped through in review.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::app::{App, EnvView, Mode, Msg};
use super::keymap::Keymap;
use super::theme::Theme;
use super::worker::load_snapshots;
use crate::config::Config;
use crate::drivers::Phase;
use crate::engine::{EngineEvent, Happened};
use crate::sim::{GeneratedConfig, Scenario, ServiceKind, ServiceSpec, SimOptions, Timings, ready_config};
use crate::store::{RollbackRow, Store, TimelineEvent};

struct Recorded {
    _sim: crate::sim::SimHandle,
    _dir: tempfile::TempDir,
    config: Config,
    store: Store,
    incident: i64,
    row: RollbackRow,
}

/// A bad release on a blue/green service, rolled back by hand through the one
/// rollback path, with everything recorded.
fn record_a_rollback() -> Recorded {
    let spec = ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::BadDeploy);
    let timings =
        Timings { deploy_after: Some(Duration::ZERO), ramp: Duration::from_millis(100), ..Timings::default() };
    let sim = crate::sim::spawn(SimOptions { services: vec![spec.clone()], timings, seed: None }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = ready_config(&GeneratedConfig {
        poll_interval: Duration::from_secs(1),
        rule_window: None,
        auto_rollback: false,
        verify_timeout: Duration::from_secs(10),
        services: &[(spec, sim.base_url("checkout"))],
    });
    let path = dir.path().join("c.toml");
    let config = Config::from_toml(&text, &path).unwrap();
    let mut store = Store::open(&dir.path().join("d.db")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let env = config.environment("checkout").unwrap();
    let opts = crate::rollback::RollbackOptions {
        version: None,
        state: None,
        force: true,
        skip_validation: false,
        reason: "error rate".into(),
        operator: "tester".into(),
        trigger: crate::store::RollbackTrigger::Manual,
        evidence: None,
        detected: None,
        objectives: config.severities.clone(),
        approval: None,
    };
    // The simulator ships its bad release at once; wait (bounded) until it serves.
    let mut plan = None;
    for _ in 0..100 {
        let p = crate::rollback::prepare(rt.handle(), &mut store, env, &opts).unwrap().unwrap();
        if p.from_version.as_deref().is_some_and(|v| v.contains("bad")) {
            plan = Some(p);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let plan = plan.expect("the bad release serves");
    let row = crate::rollback::execute(rt.handle(), &mut store, plan, &opts).unwrap().unwrap();
    assert_eq!(row.status, crate::domain::RollbackStatus::Completed, "{:?}", row.error);
    let incident = row.incident_id.unwrap();
    Recorded { _sim: sim, _dir: dir, config, store, incident, row }
}

fn at(ev: &TimelineEvent) -> DateTime<Utc> {
    ev.at
}

/// Review at position `i`: the screen's state as it was after that event.
fn review_at(r: &Recorded, events: &[TimelineEvent], i: usize) -> App {
    let mut app = App::new(&r.config, Mode::Review, Theme::dark(), Keymap::default());
    app.update(Msg::ReviewTimeline(events.to_vec()));
    if let Some((_, pos)) = &mut app.review {
        *pos = i;
    }
    let snaps = load_snapshots(&r.store, &r.config, Some(at(&events[i])), Some(r.incident)).unwrap();
    app.update(Msg::Loaded(snaps));
    app
}

fn checkout(app: &App) -> &EnvView {
    app.envs.iter().find(|e| e.name == "checkout").unwrap()
}

#[test]
fn review_shows_each_moment_as_it_was() {
    let r = record_a_rollback();
    let events = r.store.incident_timeline(r.incident).unwrap();
    let bad = r.row.from_version.clone().unwrap();
    let good = r.row.target_version.clone().unwrap();

    // Just after the rollback was requested: the bad release still serves and
    // is not yet marked rolled back; the rollback is in flight.
    let requested = events.iter().position(|e| e.kind == "rollback_requested").unwrap();
    let app = review_at(&r, &events, requested);
    let env = checkout(&app);
    assert_eq!(env.version.as_deref(), Some(bad.as_str()), "before the rollback ends, the bad release serves");
    let bad_row = env.deployments.iter().find(|d| d.version == bad).unwrap();
    assert_ne!(bad_row.status, crate::domain::DeploymentStatus::RolledBack, "not rolled back yet at this moment");
    assert!(env.in_flight.is_some(), "the rollback is in flight");
    assert_eq!(app.now, at(&events[requested]), "the clock is the event's");

    // The clock stays frozen on the recorded moment.
    let mut frozen = review_at(&r, &events, requested);
    frozen.update(Msg::Tick(Utc::now()));
    assert_eq!(frozen.now, at(&events[requested]));

    // At the last event: the version rolled back to serves, nothing in flight.
    let last = events.len() - 1;
    let app = review_at(&r, &events, last);
    let env = checkout(&app);
    assert_eq!(env.version.as_deref(), Some(good.as_str()), "after the rollback the target serves");
    assert!(env.in_flight.is_none());

    // The live console, fed the same rollback as the engine reports it, ends
    // in the same state as review at the last event: one fold for both.
    let mut live = App::new(&r.config, Mode::Live, Theme::dark(), Keymap::default());
    let status = Happened::Status {
        version: bad.clone(),
        current_environment: Some("blue".into()),
        environments: Default::default(),
    };
    for what in [
        status,
        Happened::RollbackStarting(None),
        Happened::RollbackPhase(Phase::Requested),
        Happened::RollbackPhase(Phase::VerifyingHealth),
        Happened::RollbackCompleted(Box::new(r.row.clone())),
    ] {
        live.update(Msg::Engine(EngineEvent::now("checkout", "", what)));
    }
    live.update(Msg::Loaded(load_snapshots(&r.store, &r.config, None, None).unwrap()));
    let (l, v) = (checkout(&live), checkout(&app));
    assert_eq!((&l.version, &l.in_flight, &l.proposal), (&v.version, &v.in_flight, &v.proposal));
    assert_eq!(
        l.deployments.iter().map(|d| (&d.version, &d.status)).collect::<Vec<_>>(),
        v.deployments.iter().map(|d| (&d.version, &d.status)).collect::<Vec<_>>()
    );
}
