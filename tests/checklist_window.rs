//! `signal_below` checklist items judged over their stability window, from real
//! samples in a real SQLite file: the mean by default, `max` or `p95` per item.
#![allow(clippy::unwrap_used)]

use backout::config::Config;
use backout::domain::Sample;
use backout::incident::{self, ItemState, OpenRequest};
use backout::store::Store;
use chrono::{Duration, Utc};

/// A config whose `web` environment has an `error_rate` signal and `items`.
fn config(dir: &std::path::Path, items: &str) -> Config {
    let path = dir.join("backout.toml");
    // Nothing listens on port 1: the checks that read the service fail fast,
    // and these items are judged from the database alone.
    let text = format!(
        "[[environment]]\nname = \"web\"\nkind = \"standard\"\nbase_url = \"http://127.0.0.1:1\"\ntimeout = \"500ms\"\n\
         checklist_stable_for = \"1m\"\n\n[[environment.signal]]\nname = \"error_rate\"\nsource = \"exposition\"\n\
         derive = \"error-rate\"\n{items}"
    );
    std::fs::write(&path, &text).unwrap();
    Config::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn item(title: &str, keys: &str) -> String {
    format!(
        "\n[[environment.checklist]]\ntitle = \"{title}\"\ncheck = \"signal_below\"\nsignal = \"error_rate\"\n{keys}\n"
    )
}

/// One round of the checklist after storing `values` one second apart, the last one now.
fn round(items: &str, values: &[f64]) -> Vec<ItemState> {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), items);
    let env = config.environment("web").unwrap();
    let mut store = Store::open(&dir.path().join("backout.db")).unwrap();
    let env_id = store.ensure_environment(env.name(), env.kind.as_str(), env.base_url.get_ref()).unwrap();
    let now = Utc::now();
    let n = i64::try_from(values.len()).unwrap();
    let samples: Vec<_> = (0..n)
        .zip(values)
        .map(|(i, v)| (env_id, "error_rate".to_string(), Sample::value(now - Duration::seconds(n - 1 - i), *v)))
        .collect();
    store.append_sample_batch(&samples).unwrap();
    let req = OpenRequest {
        title: "window test".into(),
        severity: None,
        drill: false,
        by: "tester".into(),
        impact: None,
        runbook: None,
        detected: None,
    };
    let incident = incident::open(&mut store, &config.severities, Some(env), &req).unwrap();
    // The checks block on the handle, which only a multi-threaded runtime drives.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    incident::evaluate_checklist(rt.handle(), &mut store, incident.id, env).unwrap().items
}

fn passing(i: &ItemState) -> bool {
    i.passing_since.is_some()
}

fn detail(i: &ItemState) -> &str {
    i.detail.as_deref().unwrap_or("")
}

#[test]
fn one_spike_fails_a_max_item_but_not_a_mean_item() {
    // 59 healthy seconds at 0.3%, then the newest sample spikes to 4%.
    let mut values = vec![0.003; 59];
    values.push(0.04);
    let items = [
        item("Error rate under 1%", "threshold = 0.01"),
        item("Error rate never at 1%", "threshold = 0.01\naggregate = \"max\""),
    ]
    .concat();
    let state = round(&items, &values);
    assert!(passing(&state[0]), "{:?}", state[0]);
    assert_eq!(detail(&state[0]), "error_rate mean over 1m = 0.0036 (needs to be below 0.01)");
    assert!(!passing(&state[1]), "{:?}", state[1]);
    assert_eq!(detail(&state[1]), "error_rate max over 1m = 0.0400 (needs to be below 0.01)");
}

#[test]
fn p95_is_the_nearest_rank_of_the_window() {
    // 0.001, 0.002, ... 0.060 in a shuffled order: the p95 (57th of 60) is 0.057.
    let values: Vec<f64> = (0..60).map(|i| f64::from((i * 37) % 60 + 1) / 1000.0).collect();
    let items = [
        item("p95 under 0.058", "threshold = 0.058\naggregate = \"p95\""),
        item("p95 under 0.057", "threshold = 0.057\naggregate = \"p95\""),
    ]
    .concat();
    let state = round(&items, &values);
    assert!(passing(&state[0]), "{:?}", state[0]);
    assert_eq!(detail(&state[0]), "error_rate p95 over 1m = 0.0570 (needs to be below 0.058)");
    assert!(!passing(&state[1]), "below means below: {:?}", state[1]);
}

#[test]
fn samples_outside_the_window_do_not_count() {
    // A bad minute, then 62 healthy seconds: the window holds only the healthy ones.
    let mut values = vec![0.2; 60];
    values.extend(std::iter::repeat_n(0.002, 62));
    let state = round(&[item("Error rate under 1%", "threshold = 0.01\naggregate = \"max\"")].concat(), &values);
    assert!(passing(&state[0]), "{:?}", state[0]);
}
