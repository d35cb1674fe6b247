//! Seed 002's decision time box through the real binary: an incident still
//! open when its (short, configured) time box runs out is escalated once, on
//! its timeline and to the escalation target's webhook on loopback, even with
//! two watchers on one database.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, wait_until};

#[test]
fn an_incident_past_its_decision_time_box_is_escalated_once() {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::Standard, Scenario::Steady)], Timings::default());
    let mut text = std::fs::read_to_string(&d.config).unwrap();
    text.push_str(
        "\n[notifications]\ndesktop = false\nescalation_webhook_url_env = \"TEST_ESCALATION_HOOK\"\n\n\
         [escalation]\ncritical = \"10s\"\ntarget = \"EP21 Tech Lead\"\n\n[severities]\ncritical = \"15s\"\n",
    );
    std::fs::write(&d.config, text).unwrap();
    let (url, got) = common::receiver(Duration::from_secs(90));

    let out = d.run(&["incident", "open", "--env", "checkout", "--severity", "critical", "checkout", "errors"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let opened = Instant::now();

    // Two watchers on the same file: the escalation is recorded and sent once.
    let watch = || {
        d.cmd(&["watch", "--duration", "40s"])
            .env("TEST_ESCALATION_HOOK", &url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (watch(), watch());
    let escalated = wait_until(Duration::from_secs(35), || !got.lock().unwrap().is_empty());
    let waited = opened.elapsed();
    assert!(escalated.is_some(), "no escalation reached the webhook within 35 s");
    assert!(waited >= Duration::from_secs(10), "escalated before its 10 s time box ran out: {waited:?}");
    // Two more rounds of both watchers.
    std::thread::sleep(Duration::from_secs(11));
    let _ = (a.kill(), b.kill());
    let (out_a, out_b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());

    let posts = got.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "escalated once: {posts:?}");
    let post = &posts[0];
    assert_eq!(post["backout"]["kind"], "escalation", "{post}");
    let text = post["text"].as_str().unwrap();
    assert!(text.contains("ESCALATION") && text.contains("Escalated to: EP21 Tech Lead"), "{text}");
    assert!(text.contains("Decision time box: 10s") && text.contains("no rollback has been decided"), "{text}");

    let db = d.db();
    let (count, message, data): (i64, String, String) = db
        .query_row(
            "SELECT count(*), max(message), max(data) FROM timeline_events WHERE kind = 'escalated' AND incident_id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(count, 1, "one escalated event on the timeline");
    assert!(message.contains("incident #1 (checkout) escalated to EP21 Tech Lead"), "{message}");
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["time_box_secs"], 10);
    let told: String = db
        .query_row(
            "SELECT message FROM timeline_events WHERE kind = 'notification' AND incident_id = 1 \
             AND data LIKE '%escalation%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(told.starts_with("notified escalation-webhook"), "{told}");
    // Past its 15 s objective too: recorded once, by one watcher.
    let missed: i64 = db
        .query_row(
            "SELECT count(*) FROM timeline_events WHERE kind = 'objective_missed' AND incident_id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(missed, 1, "objective_missed once on the timeline");
    // The watcher that escalated said so on its output.
    let said = [out_a, out_b].iter().filter(|o| String::from_utf8_lossy(&o.stdout).contains("escalated to")).count();
    assert_eq!(said, 1, "exactly one watcher escalated it");
}
