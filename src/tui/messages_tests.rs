//! What the console says matches what it shows: serving markers, runbook
//! messages, the engine's own troubles.

use super::*;

#[test]
fn a_version_deployed_twice_is_marked_serving_once() {
    let mut app = healthy_app(Theme::dark());
    app.update(Msg::Loaded(vec![EnvSnapshot {
        name: "checkout".into(),
        deployments: vec![
            deployment("d-5", "1.4.3", "blue", "succeeded"),
            deployment("d-4", "2.0.0-bad", "green", "rolled_back"),
            deployment("d-3", "1.4.3", "green", "succeeded"),
        ],
        ..EnvSnapshot::default()
    }]));
    let env = app.envs.iter().find(|e| e.name == "checkout").unwrap();
    assert_eq!(crate::tui::panes::serving_row(env), Some(0), "the deployment on the serving colour");
    let screen = draw(&app, 120, 40);
    let marked: Vec<&str> = screen.lines().filter(|l| l.contains("● 1.4.3")).collect();
    assert_eq!(marked.len(), 1, "{screen}");
}

#[test]
fn runbook_messages_match_the_screen() {
    let mut app = healthy_app(Theme::dark());
    // No incident: S does not ask why; it says what is missing.
    app.update(key('S'));
    assert!(app.popup.is_none());
    assert!(app.status.contains("no open incident: i opens one"), "{}", app.status);
    // An incident open on an environment with no runbook configured: the pane and
    // the keys say that, and how to add one, never "no open incident".
    app.envs[0].incident = Some(open_incident(9, "checkout", "2026-11-21T14:00:30.000Z"));
    app.update(key('S'));
    assert!(app.popup.is_none(), "no step to skip, so no reason is asked for");
    assert!(app.status.contains("checkout has no runbook configured: add `runbook"), "{}", app.status);
    let screen = draw(&app, 200, 50);
    assert!(screen.contains("checkout has no runbook configured"), "{screen}");
    assert!(!screen.contains("no open incident"), "{screen}");
    // With a pending step, S asks why.
    app.envs[0].runbook = vec![("Check history".into(), "pending".into())];
    app.update(key('S'));
    assert!(screen_has(&app, "Why skip this step?"));
}

#[test]
fn the_engines_own_troubles_reach_the_status_bar() {
    let mut app = healthy_app(Theme::dark());
    let what = Happened::Lagging { samples: 120, events: 0 };
    app.update(Msg::Engine(EngineEvent::now("", "the reader fell behind: 120 live samples", what)));
    assert!(app.status.starts_with("engine: the reader fell behind"), "{}", app.status);
    app.update(Msg::Engine(EngineEvent::now("", "database write failed (disk full)", Happened::StoreError)));
    assert!(app.status.contains("disk full"), "{}", app.status);
}

#[test]
fn the_version_picker_never_starts_on_the_bad_release() {
    let mut app = healthy_app(Theme::dark());
    // After an automatic rollback: the bad release is newest, marked rolled back.
    app.update(Msg::Loaded(vec![EnvSnapshot {
        name: "checkout".into(),
        deployments: vec![
            deployment("d-6", "2.0.0-bad", "green", "rolled_back"),
            deployment("d-5", "1.4.3", "blue", "succeeded"),
            deployment("d-4", "1.4.3-rc1", "green", "failed"),
            deployment("d-3", "1.4.2", "green", "succeeded"),
        ],
        ..EnvSnapshot::default()
    }]));
    app.update(key('R'));
    let Some(Popup::PickVersion(p)) = &app.popup else { panic!("no picker: {:?}", app.status) };
    let listed: Vec<(&str, &str)> = p.choices.iter().map(|c| (c.version.as_str(), c.status)).collect();
    assert_eq!(
        listed,
        [("2.0.0-bad", "rolled back"), ("1.4.3", "serving"), ("1.4.3-rc1", "failed"), ("1.4.2", "succeeded")]
    );
    assert_eq!(p.choices[p.selected].version, "1.4.2", "starts on the newest known-good version");
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("2.0.0-bad        rolled back  ⚠ not a known-good version"), "{screen}");
    assert!(!screen.contains("serving      ⚠"), "the serving version is not called bad: {screen}");
}
