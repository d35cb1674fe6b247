//! The command and flag drivers through the real binary, against the simulated
//! fleet on loopback, with real child processes and real files.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use backout::sim::{Scenario, ServiceKind, ServiceSpec, Timings};
use common::{Drill, bad_at_once, stderr};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scripts").join(name)
}

/// A TOML string holding `s`, quoted and escaped.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// Replaces the generated config's `type = "http"` driver line with `driver`,
/// and applies any other plain replacements.
fn rewrite_config(d: &Drill, driver: &str, more: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(&d.config).unwrap();
    assert!(text.contains("type = \"http\""));
    text = text.replace("type = \"http\"", driver);
    for (from, to) in more {
        assert!(text.contains(from), "{from} not in the generated config");
        text = text.replace(from, to);
    }
    std::fs::write(&d.config, text).unwrap();
}

fn driver_of(d: &Drill, id: i64) -> String {
    d.db().query_row("SELECT driver FROM rollbacks WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn command_driver_runs_the_argv_without_a_shell_and_verifies() {
    let d = Drill::start(vec![ServiceSpec::new("search", ServiceKind::Standard, Scenario::BadDeploy)], bad_at_once());
    let recorded = d.dir.path().join("argv.txt");
    let base = d.sim.base_url("search");
    // record-argv.sh records its argv, then (its 2nd argument being a URL) asks
    // the simulated service to roll back to its 3rd, standing in for kubectl.
    let argv = [
        script("record-argv.sh").display().to_string(),
        recorded.display().to_string(),
        base.clone(),
        "{version}".into(),
        "--env={env}".into(),
        "from {previous_version}".into(),
        "{reason}".into(),
    ];
    rewrite_config(&d, &format!("type = \"command\"\nargv = {}", toml_list(&argv)), &[]);
    d.wait_health("search", "unhealthy");

    let reason = "5xx at 12%; $(touch /tmp/backout-pwned) `id` {version}";
    let (code, v) = d.json(&["rollback", "--env", "search", "--version", "1.4.2", "--yes", "--reason", reason]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["from_version"], "2.0.0-bad");
    assert_eq!(v["target_version"], "1.4.2");
    assert_eq!(
        lines(&recorded),
        [
            recorded.display().to_string(),
            base,
            "1.4.2".into(),
            "--env=search".into(),
            "from 2.0.0-bad".into(),
            reason.into()
        ],
        "placeholders filled in, the reason passed as one untouched argument"
    );
    assert!(!Path::new("/tmp/backout-pwned").exists(), "no shell ran the reason");
    assert_eq!(d.sim.rollback_requests("search"), 1, "only the script's own request reached the service");
    assert_eq!(driver_of(&d, v["id"].as_i64().unwrap()), "command");
    let verified: String = d
        .db()
        .query_row(
            "SELECT message FROM timeline_events WHERE rollback_id = ?1 AND kind = 'rollback_verified'",
            [v["id"].as_i64().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(verified.starts_with("exit 0; stdout: "), "{verified}");
    assert!(verified.contains("1.4.2 current and healthy"), "{verified}");
    let (_, s) = d.json(&["status", "--env", "search"]);
    assert_eq!(s["environments"][0]["version"], "1.4.2");
}

#[test]
fn command_driver_failure_carries_the_exit_status_and_stderr() {
    let d = Drill::start(vec![ServiceSpec::new("search", ServiceKind::Standard, Scenario::BadDeploy)], bad_at_once());
    let argv = [script("fail-with-stderr.sh").display().to_string(), "{env}".into()];
    rewrite_config(&d, &format!("type = \"command\"\nargv = {}", toml_list(&argv)), &[]);
    d.wait_health("search", "unhealthy");

    let out = d.run(&["--format", "json", "rollback", "--env", "search", "--yes", "--reason", "errors"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("exit 3"), "{err}");
    assert!(err.contains("deployments.apps \"search\" is forbidden: rollback denied by policy"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "failed");
    assert!(v["error"].as_str().unwrap().contains("rollback denied by policy"), "{v}");
    assert_eq!(driver_of(&d, v["id"].as_i64().unwrap()), "command");
    assert_eq!(d.sim.rollback_requests("search"), 0);
}

#[test]
fn item5_a_value_that_would_be_an_option_is_refused_with_exit_3_and_recorded() {
    let d = Drill::start(vec![ServiceSpec::new("search", ServiceKind::Standard, Scenario::BadDeploy)], bad_at_once());
    let recorded = d.dir.path().join("argv.txt");
    let argv = [script("record-argv.sh").display().to_string(), recorded.display().to_string(), "{reason}".into()];
    rewrite_config(&d, &format!("type = \"command\"\nargv = {}", toml_list(&argv)), &[]);
    d.wait_health("search", "unhealthy");

    let out = d.run(&["--format", "json", "rollback", "--env", "search", "--yes", "--reason=--kubeconfig=/tmp/x"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "a refusal, not a failed rollback: {err}");
    assert!(err.contains("refused") && err.contains("read as an option"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["refused"], true, "{v}");
    assert!(!recorded.exists(), "nothing ran");
    let (status, error): (String, String) = d
        .db()
        .query_row("SELECT status, error FROM rollbacks ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(status, "failed");
    assert!(error.starts_with("refused before anything ran: "), "{error}");

    // After `--` the same reason is an operand and reaches the program as one.
    let argv = [
        script("record-argv.sh").display().to_string(),
        recorded.display().to_string(),
        d.sim.base_url("search"),
        "{version}".into(),
        "--".into(),
        "{reason}".into(),
    ];
    let text = std::fs::read_to_string(&d.config).unwrap();
    let start = text.find("argv = ").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    std::fs::write(&d.config, format!("{}argv = {}{}", &text[..start], toml_list(&argv), &text[end..])).unwrap();
    let (code, v) =
        d.json(&["rollback", "--env", "search", "--version", "1.4.2", "--yes", "--reason=--kubeconfig=/tmp/x"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(lines(&recorded)[3..], ["--".to_string(), "--kubeconfig=/tmp/x".into()]);
}

#[test]
fn flag_driver_turns_the_flag_off_in_the_env_file_and_restarts() {
    let d =
        Drill::start(vec![ServiceSpec::new("checkout", ServiceKind::Standard, Scenario::Steady)], Timings::default());
    let env_file = d.dir.path().join("checkout.env");
    let original = "# checkout flags\nexport NEW_CHECKOUT_ENABLED=true\n\nOTHER_FLAG=true # keep me\nPAYMENTS_V2=on";
    std::fs::write(&env_file, original).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let restarted = d.dir.path().join("restart.txt");
    let restart = [
        script("record-argv.sh").display().to_string(),
        restarted.display().to_string(),
        "restart".into(),
        "{env}".into(),
        "{reason}".into(),
    ];
    let driver = format!(
        "type = \"flag\"\nenv_file = {}\nflag = \"NEW_CHECKOUT_ENABLED\"\nrestart = {}",
        toml_str(&env_file.display().to_string()),
        toml_list(&restart)
    );
    rewrite_config(&d, &driver, &[("kind = \"standard\"", "kind = \"feature-flag\"")]);

    // The service is healthy, so only --force lets the flag be turned off.
    let (code, v) = d.json(&["rollback", "--env", "checkout", "--force", "--yes", "--reason", "checkout errors"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["type"], "flag_toggle");
    // The record says what happened: a flag changed, the version kept serving.
    assert_eq!(v["target_version"], v["from_version"], "{v}");
    assert_eq!(v["flag"]["key"], "NEW_CHECKOUT_ENABLED", "{v}");
    assert_eq!((v["flag"]["before"].as_str(), v["flag"]["after"].as_str()), (Some("true"), Some("false")), "{v}");
    assert!(v["flag"]["where"].as_str().unwrap().starts_with("env file "), "{v}");
    let out = d.run(&["history", "--env", "checkout"]);
    let history = String::from_utf8_lossy(&out.stdout);
    assert!(history.contains("flag NEW_CHECKOUT_ENABLED true → false in env file"), "{history}");
    // The incident's report says the same, in every format.
    let incident = v["incident_id"].as_i64().unwrap().to_string();
    for format in ["md", "html"] {
        let out = d.run(&["export", &incident, "--as", format]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("flag NEW_CHECKOUT_ENABLED true → false in env file"), "{format}: {text}");
    }
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        "# checkout flags\nexport NEW_CHECKOUT_ENABLED=false\n\nOTHER_FLAG=true # keep me\nPAYMENTS_V2=on",
        "only the flag's line changed; no trailing newline added"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777, 0o640);
    }
    let leftovers: Vec<_> = std::fs::read_dir(d.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(
        lines(&restarted),
        [restarted.display().to_string(), "restart".into(), "checkout".into(), "checkout errors".into()]
    );
    assert_eq!(driver_of(&d, v["id"].as_i64().unwrap()), "flag");
    assert_eq!(d.sim.rollback_requests("checkout"), 0, "a flag rollback sends no deployment rollback");
}
