//! Console benchmarks behind BENCHMARKS.md: drawing a full 200x60 frame with 50
//! environments holding an hour of 1-second samples each, and the start-up path
//! to the first full frame (open the database, read every pane's data, draw) on a
//! database of 1,000,000 timeline events.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use backout::config::Config;
use backout::engine::{EngineEvent, Happened, Sample};
use backout::store::{NewEvent, Store};
use backout::tui::app::{App, Mode, Msg};
use backout::tui::keymap::Keymap;
use backout::tui::theme::Theme;
use backout::tui::{ui, worker};
use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn config(envs: usize) -> Config {
    let mut text = String::new();
    for i in 0..envs {
        text.push_str(&format!(
            "[[environment]]\nname = \"service-{i:02}\"\nkind = \"blue-green\"\nbase_url = \"http://127.0.0.1:1/svc/s{i}\"\n\
             [[environment.checklist]]\ntitle = \"health\"\ncheck = \"health_healthy\"\n"
        ));
    }
    Config::from_toml(&text, std::path::Path::new("bench.toml")).unwrap()
}

fn full_app(envs: usize) -> App {
    let config = config(envs);
    let mut app = App::new(&config, Mode::Live, Theme::dark(), Keymap::default());
    let start = Utc::now() - chrono::Duration::hours(1);
    for env in &config.environments {
        for s in 0..3600 {
            let at = start + chrono::Duration::seconds(s);
            for (signal, v) in [("health", 1.0), ("error_rate", 0.01), ("latency", 0.2), ("cpu", 0.3), ("memory", 0.5)]
            {
                let sample =
                    Sample { at, value: Some(v + (s % 13) as f64 / 1000.0), text: None, ok: true, error: None };
                app.update(Msg::Engine(EngineEvent {
                    at,
                    environment: env.name().to_string(),
                    message: String::new(),
                    what: Happened::Sample { signal: signal.into(), sample, baseline: None },
                }));
            }
        }
    }
    app
}

fn render_full_frame(c: &mut Criterion) {
    let app = full_app(50);
    c.bench_function("console/render_200x60_50_envs_1h_samples", |b| {
        let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
        b.iter(|| {
            terminal.draw(|f| ui::render(black_box(&app), f)).unwrap();
        })
    });
}

fn first_full_frame_1m_events(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.db");
    let config = config(50);
    {
        let mut store = Store::open(&db).unwrap();
        let ids: Vec<i64> = config
            .environments
            .iter()
            .map(|e| store.ensure_environment(e.name(), "blue-green", "http://127.0.0.1:1").unwrap())
            .collect();
        let start = Utc::now() - chrono::Duration::days(30);
        for chunk in 0..100 {
            let events: Vec<NewEvent> = (0..10_000)
                .map(|i| {
                    let n = chunk * 10_000 + i;
                    NewEvent {
                        at: start + chrono::Duration::milliseconds(n as i64 * 2_500),
                        incident_id: None,
                        environment_id: Some(ids[n % ids.len()]),
                        rollback_id: None,
                        actor: "backout".into(),
                        kind: "health_changed".into(),
                        message: format!("health: event {n}"),
                        data: None,
                    }
                })
                .collect();
            store.append_events(&events).unwrap();
        }
    }
    c.bench_function("console/start_to_first_full_frame_1m_events", |b| {
        let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
        b.iter(|| {
            let store = Store::open(&db).unwrap();
            let mut app = App::new(&config, Mode::Live, Theme::dark(), Keymap::default());
            let snaps = worker::load_snapshots(&store, &config, None, None).unwrap();
            app.update(Msg::Loaded(snaps));
            terminal.draw(|f| ui::render(&app, f)).unwrap();
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = render_full_frame, first_full_frame_1m_events
}
criterion_main!(benches);
