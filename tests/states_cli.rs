//! Keep the last N states (seed 003) through the real binary, against the
//! simulated fleet on loopback, with a real env file and database.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, stderr};

/// `checkout` (a feature flag in an env file) and `search` (standard, http).
fn fleet(env_file_text: &[u8]) -> (Drill, PathBuf) {
    let d = Drill::start(
        vec![
            ServiceSpec::new("checkout", ServiceKind::Standard, Scenario::Steady),
            ServiceSpec::new("search", ServiceKind::Standard, Scenario::Steady),
        ],
        Timings::default(),
    );
    let env_file = d.dir.path().join("checkout.env");
    std::fs::write(&env_file, env_file_text).unwrap();
    let text = std::fs::read_to_string(&d.config).unwrap();
    let driver = format!(
        "type = \"flag\"\nenv_file = {}\nflag = \"NEW_CHECKOUT_ENABLED\"",
        toml::Value::String(env_file.display().to_string())
    );
    // checkout is the first environment: only its driver becomes a flag driver.
    let text =
        text.replacen("type = \"http\"", &driver, 1).replacen("kind = \"standard\"", "kind = \"feature-flag\"", 1);
    std::fs::write(&d.config, text).unwrap();
    (d, env_file)
}

fn state_ids(d: &Drill, env: &str) -> Vec<i64> {
    let (code, v) = d.json(&["states", "--env", env]);
    assert_eq!(code, 0, "{v}");
    v["states"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect()
}

fn refused(d: &Drill, args: &[&str]) -> String {
    let out = d.run(args);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    stderr(&out)
}

#[test]
fn six_rollbacks_keep_five_states_and_older_or_foreign_ones_are_refused() {
    let (d, _) = fleet(b"NEW_CHECKOUT_ENABLED=true\n");
    let (code, v) = d.json(&["rollback", "search", "--version", "1.4.1", "--force", "--yes", "--reason", "search"]);
    assert_eq!(code, 0, "{v}");
    let search_state = state_ids(&d, "search");
    assert_eq!(search_state.len(), 1);

    let mut rollbacks = Vec::new();
    for i in 1..=6 {
        let reason = format!("flag rollback {i}");
        let (code, v) = d.json(&["rollback", "checkout", "--force", "--yes", "--reason", &reason]);
        assert_eq!(code, 0, "{v}");
        rollbacks.push(v["id"].as_i64().unwrap());
    }
    let all: Vec<(i64, i64, bool)> = d
        .db()
        .prepare(
            "SELECT s.id, s.rollback_id, s.pruned_at IS NOT NULL FROM rollback_states s
             JOIN environments e ON e.id = s.environment_id WHERE e.name = 'checkout' ORDER BY s.id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(all.iter().map(|s| s.1).collect::<Vec<_>>(), rollbacks, "one state before each rollback");
    assert_eq!(all.iter().map(|s| s.2).collect::<Vec<_>>(), [true, false, false, false, false, false]);
    let newest_first: Vec<i64> = all[1..].iter().rev().map(|s| s.0).collect();
    assert_eq!(state_ids(&d, "checkout"), newest_first, "the newest 5, newest first");
    let (_, v) = d.json(&["states", "--env", "checkout"]);
    assert_eq!(v["keep_states"], 5);
    assert_eq!(v["states"][0]["rollback_id"], rollbacks[5]);
    assert_eq!(v["states"][0]["flag"]["value"], "false", "{v}");
    assert_eq!(v["states"][0]["flag"]["env_file_bytes"], "NEW_CHECKOUT_ENABLED=false\n".len(), "{v}");
    let blob: Option<Vec<u8>> =
        d.db().query_row("SELECT env_file FROM rollback_states WHERE id = ?1", [all[0].0], |r| r.get(0)).unwrap();
    assert_eq!(blob, None, "the pruned state's file content is gone");

    let out = d.run(&["states", "--env", "checkout"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.lines().next().unwrap().starts_with("STATE"), "{table}");
    assert_eq!(table.lines().filter(|l| l.starts_with('#')).count(), 5, "{table}");
    assert!(table.contains("NEW_CHECKOUT_ENABLED=false in env file"), "{table}");

    let pruned = all[0].0.to_string();
    let err = refused(&d, &["rollback", "checkout", "--to-state", &pruned, "--force", "--yes", "--reason", "x"]);
    assert!(err.contains(&format!("state #{pruned} was pruned")) && err.contains("keep_states = 5"), "{err}");
    assert!(err.contains("backout states --env checkout"), "the fix is named: {err}");
    let err = refused(&d, &["rollback", "checkout", "--to-state", "999", "--force", "--yes", "--reason", "x"]);
    assert!(err.contains("there is no state #999"), "{err}");
    let foreign = search_state[0].to_string();
    let err = refused(&d, &["rollback", "checkout", "--to-state", &foreign, "--force", "--yes", "--reason", "x"]);
    assert!(err.contains("kept for environment search, not checkout"), "{err}");
    assert!(err.contains(&format!("backout rollback search --to-state {foreign}")), "{err}");
    let count: i64 = d.db().query_row("SELECT count(*) FROM rollbacks", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 7, "a refused state starts no rollback");

    // A lowered keep_states holds at once, before the next rollback prunes.
    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(&d.config, text.replacen("timeout = \"2s\"\n", "timeout = \"2s\"\nkeep_states = 2\n", 1)).unwrap();
    assert_eq!(state_ids(&d, "checkout"), newest_first[..2]);
    let older = newest_first[2].to_string();
    let err = refused(&d, &["rollback", "checkout", "--to-state", &older, "--force", "--yes", "--reason", "x"]);
    assert!(err.contains("older than the newest 2"), "{err}");
}

#[test]
fn to_state_restores_a_flag_env_file_byte_for_byte() {
    let original: &[u8] =
        b"# checkout flags\r\nexport NEW_CHECKOUT_ENABLED=\"true\" # launch\r\n\r\n  OTHER_FLAG = on\r\nDB_PASSWORD=s3cret-pw\r\nLAST=x";
    let (d, env_file) = fleet(original);
    let (code, v) = d.json(&["rollback", "checkout", "--force", "--yes", "--reason", "checkout errors"]);
    assert_eq!(code, 0, "{v}");
    let changed = std::fs::read(&env_file).unwrap();
    assert_ne!(changed, original, "the rollback turned the flag off");
    let kept = state_ids(&d, "checkout");
    assert_eq!(kept.len(), 1);
    let state = kept[0].to_string();
    // Only the flag's own line is kept: never the rest of the file (a secret).
    let stored: Vec<u8> = d.db().query_row("SELECT env_file FROM rollback_states", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, b"export NEW_CHECKOUT_ENABLED=\"true\" # launch\r\n");
    // A line added since the state was kept is not undone by restoring it.
    let mut later = changed.clone();
    later.extend_from_slice(b"\r\nADDED_LATER=1");
    std::fs::write(&env_file, &later).unwrap();
    let changed = later;

    // A healthy environment needs --force, as any rollback does.
    let err = refused(&d, &["rollback", "checkout", "--to-state", &state, "--yes", "--reason", "put it back"]);
    assert!(err.contains("healthy") && err.contains("--force"), "{err}");
    let out = d.run(&["rollback", "checkout", "--to-state", &state, "--version", "1.4.1", "--yes", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(2), "--to-state and --version exclude each other: {}", stderr(&out));
    // The plan to confirm says what goes back; from a script it needs --yes.
    let err = refused(&d, &["rollback", "checkout", "--to-state", &state, "--force", "--reason", "put it back"]);
    assert!(err.contains("confirmation needed"), "{err}");
    assert!(err.contains("put back NEW_CHECKOUT_ENABLED=true in env file"), "{err}");
    assert!(err.contains(&format!("restores state #{state}")), "{err}");
    assert_eq!(std::fs::read(&env_file).unwrap(), changed, "nothing was written");

    // Seed 002: the flag the rollback turned off stays off through backout
    // until its incident records a root cause.
    let (code, v) =
        d.json(&["rollback", "checkout", "--to-state", &state, "--force", "--yes", "--reason", "flag was fine"]);
    assert_eq!(code, 3, "{v}");
    let why = v["reason"].as_str().unwrap();
    assert!(why.contains("stays off") && why.contains("backout incident update 1 --root-cause"), "{why}");
    assert_eq!(std::fs::read(&env_file).unwrap(), changed, "nothing was written");
    // Nor through a runbook step that sets it.
    let book = format!(
        "name = \"flags back on\"\n[[step]]\ntitle = \"Turn it on\"\n[step.action]\ntype = \"flag\"\nenv_file = {}\nflags = [\"NEW_CHECKOUT_ENABLED\"]\nvalue = \"true\"\n",
        toml::Value::String(env_file.display().to_string())
    );
    std::fs::write(d.dir.path().join("on.toml"), book).unwrap();
    let config = std::fs::read_to_string(&d.config).unwrap();
    let dir = toml::Value::String(d.dir.path().display().to_string());
    std::fs::write(&d.config, format!("runbooks_dir = {dir}\n{config}")).unwrap();
    let out = d.run(&["runbook", "--incident", "1", "--runbook", "on.toml", "run", "1", "--yes"]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("stays off"), "{said}");
    assert_eq!(std::fs::read(&env_file).unwrap(), changed, "the runbook wrote nothing");
    let out = d.run(&["incident", "update", "1", "--root-cause", "flag was not the cause"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let (code, v) =
        d.json(&["rollback", "checkout", "--to-state", &state, "--force", "--yes", "--reason", "flag was fine"]);
    assert_eq!(code, 0, "{v}");
    let mut expected = original.to_vec();
    expected.extend_from_slice(b"\r\nADDED_LATER=1");
    assert_eq!(std::fs::read(&env_file).unwrap(), expected, "the flag's line restored byte for byte, the rest kept");
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["type"], "flag_toggle");
    assert_eq!(v["reason"], "flag was fine");
    assert_eq!((v["flag"]["before"].as_str(), v["flag"]["after"].as_str()), (Some("false"), Some("true")), "{v}");
    let restore: String = d
        .db()
        .query_row(
            "SELECT message FROM timeline_events WHERE rollback_id = ?1 AND kind = 'state_restore'",
            [v["id"].as_i64().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(restore.contains(&format!("restores state #{state}")), "{restore}");
    // The restore kept the state it replaced, so it can be undone the same way.
    let kept = state_ids(&d, "checkout");
    assert_eq!(kept.len(), 2);
    let (code, v) =
        d.json(&["rollback", "checkout", "--to-state", &kept[0].to_string(), "--force", "--yes", "--reason", "undo"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(std::fs::read(&env_file).unwrap(), changed);
    assert_eq!(d.sim.rollback_requests("checkout"), 0, "a flag state sends no deployment rollback");
}

#[test]
fn to_state_restores_the_version_a_state_kept_like_to_version() {
    let (d, _) = fleet(b"NEW_CHECKOUT_ENABLED=true\n");
    let (code, v) = d.json(&["rollback", "search", "--to-version", "1.4.1", "--force", "--yes", "--reason", "older"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!((v["type"].as_str(), v["target_version"].as_str()), (Some("specific"), Some("1.4.1")));
    let (_, v) = d.json(&["states", "--env", "search"]);
    assert_eq!(v["states"][0]["version"], "1.4.3", "the version serving before: {v}");
    assert_eq!(v["states"][0]["driver"], "http");
    let state = v["states"][0]["id"].as_i64().unwrap().to_string();

    let (code, v) =
        d.json(&["rollback", "search", "--to-state", &state, "--force", "--yes", "--reason", "it was fine"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!((v["type"].as_str(), v["from_version"].as_str()), (Some("specific"), Some("1.4.1")), "{v}");
    assert_eq!(v["target_version"], "1.4.3");
    let (_, s) = d.json(&["status", "--env", "search"]);
    assert_eq!(s["environments"][0]["version"], "1.4.3");
    assert_eq!(d.sim.rollback_requests("search"), 2);
}
