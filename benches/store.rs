//! Store benchmarks behind BENCHMARKS.md: batched timeline inserts, and reading
//! one incident's timeline out of 1,000,000 stored events.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use backout::store::{NewEvent, Store};
use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BATCH: usize = 1_000;
const TOTAL_EVENTS: usize = 1_000_000;
const INCIDENTS: usize = 10_000;

fn event(incident: Option<i64>, env: i64, i: usize) -> NewEvent {
    NewEvent {
        at: Utc::now(),
        incident_id: incident,
        environment_id: Some(env),
        rollback_id: None,
        actor: "rule:error_rate".into(),
        kind: "sample_breach".into(),
        message: format!("error rate 7.{i}% > 5% (sample {i})"),
        data: Some(format!("{{\"value\":0.07{i},\"threshold\":0.05}}")),
    }
}

fn batched_insert(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("bench.db")).unwrap();
    let env = store.ensure_environment("checkout", "blue-green", "http://127.0.0.1:1").unwrap();
    let batch: Vec<NewEvent> = (0..BATCH).map(|i| event(None, env, i)).collect();
    let mut g = c.benchmark_group("timeline");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("insert_batch_1000", |b| b.iter(|| store.append_events(black_box(&batch)).unwrap()));
    g.finish();
}

fn read_one_incident(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("bench.db")).unwrap();
    let env = store.ensure_environment("checkout", "blue-green", "http://127.0.0.1:1").unwrap();
    let ids: Vec<i64> = (0..INCIDENTS)
        .map(|i| {
            store
                .open_incident(Some(env), &format!("incident {i}"), backout::domain::Severity::Critical, false, "bench")
                .unwrap()
                .id
        })
        .collect();
    // Events interleaved across incidents, as a long-lived console writes them.
    let per_batch = 10_000;
    for chunk in 0..(TOTAL_EVENTS - INCIDENTS) / per_batch {
        let events: Vec<NewEvent> = (0..per_batch)
            .map(|i| {
                let n = chunk * per_batch + i;
                event(Some(ids[n % INCIDENTS]), env, n)
            })
            .collect();
        store.append_events(&events).unwrap();
    }
    let target = ids[INCIDENTS / 2];
    let expected = store.incident_timeline(target).unwrap().len();
    assert_eq!(expected, TOTAL_EVENTS / INCIDENTS, "100 events per incident, its opening included");
    c.bench_function("timeline/read_incident_of_1m_events", |b| {
        b.iter(|| {
            let events = store.incident_timeline(black_box(target)).unwrap();
            assert_eq!(events.len(), expected);
        })
    });
}

criterion_group!(benches, batched_insert, read_one_incident);
criterion_main!(benches);
