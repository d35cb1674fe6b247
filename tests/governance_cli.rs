//! Seed 002's governance through the real binary, against the simulated fleet
//! on loopback and a real database file: follow-up actions and lessons learned,
//! rollbacks needing a second operator, flags kept off until a root cause is
//! recorded, and escalation when the decision time box runs out.
#![allow(clippy::unwrap_used)]

mod common;

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, stderr};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn follow_up_actions_and_lessons_reach_incident_show_and_every_export() {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::Steady)], Timings::default());
    let (code, v) = d.json(&["incident", "open", "--env", "checkout", "pool exhausted"]);
    assert_eq!(code, 0, "{v}");
    let incident = v["id"].as_i64().unwrap().to_string();

    let (code, first) = d.json(&[
        "action",
        "add",
        "--incident",
        &incident,
        "--owner",
        "dana",
        "--due",
        "2026-12-01",
        "load-test",
        "the",
        "pool",
    ]);
    assert_eq!(code, 0, "{first}");
    assert_eq!((first["owner"].as_str(), first["due"].as_str()), (Some("dana"), Some("2026-12-01")));
    assert_eq!(first["text"], "load-test the pool");
    assert!(first["done_at"].is_null());
    let (code, second) = d.json(&[
        "action",
        "add",
        "--incident",
        &incident,
        "--owner",
        "erik",
        "--due",
        "2026-11-28",
        "alert on saturation",
    ]);
    assert_eq!(code, 0, "{second}");
    // A due date that is not one, or an incident that does not exist, is a usage error.
    let out = d.run(&["action", "add", "--incident", &incident, "--owner", "x", "--due", "next week", "y"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("YYYY-MM-DD"), "{}", stderr(&out));
    let out = d.run(&["action", "add", "--incident", "99", "--owner", "x", "--due", "2026-12-01", "y"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let second_id = second["id"].as_i64().unwrap().to_string();
    let (code, done) = d.json(&["action", "done", &second_id]);
    assert_eq!(code, 0, "{done}");
    assert_eq!(done["done_by"], "tester");
    assert!(done["done_at"].is_string());
    let out = d.run(&["action", "done", "99"]);
    assert_eq!(out.status.code(), Some(2));

    let (code, list) = d.json(&["action", "list", "--incident", &incident]);
    assert_eq!(code, 0);
    let states: Vec<bool> = list["actions"].as_array().unwrap().iter().map(|a| a["done_at"].is_null()).collect();
    assert_eq!(states, [true, false], "{list}");

    let out = d.run(&["incident", "update", &incident, "--lessons", "pool size was never load-tested"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = d.run(&["incident", "update", &incident]);
    assert_eq!(out.status.code(), Some(2), "nothing to record is a usage error");

    let show = stdout(&d.run(&["incident", "show", &incident]));
    assert!(show.contains("lessons learned: pool size was never load-tested"), "{show}");
    assert!(show.contains("[open] load-test the pool (owner dana, due 2026-12-01)"), "{show}");
    assert!(show.contains("[done] alert on saturation (owner erik, due 2026-11-28)"), "{show}");

    let (code, json) = d.json(&["export", &incident]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["incident"]["lessons"], "pool size was never load-tested");
    let actions = json["incident"]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{json}");
    assert_eq!((actions[0]["owner"].as_str(), actions[1]["done_by"].as_str()), (Some("dana"), Some("tester")));
    let md = stdout(&d.run(&["export", &incident, "--as", "md"]));
    assert!(md.contains("## Lessons learned\n\npool size was never load-tested"), "{md}");
    assert!(md.contains("| load-test the pool | dana | 2026-12-01 | open | - |"), "{md}");
    assert!(md.contains("| alert on saturation | erik | 2026-11-28 | done |"), "{md}");
    let html = stdout(&d.run(&["export", &incident, "--as", "html"]));
    assert!(html.contains("<h2>Lessons learned</h2><p>pool size was never load-tested</p>"), "{html}");
    assert!(html.contains("<td>load-test the pool</td><td>dana</td><td>2026-12-01</td><td>open</td>"), "{html}");
    assert!(html.contains("<td>alert on saturation</td><td>erik</td><td>2026-11-28</td><td>done</td>"), "{html}");
}
