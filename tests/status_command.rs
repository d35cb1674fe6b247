//! Issue 12, item 2, through the real binary: history, target and
//! verification read from the deployment tools' own JSON (recorded in
//! tests/fixtures/tools, sources in its README), by small stand-ins for
//! `kubectl` and `helm` on `PATH` that answer with it and change it when
//! rolled back, as the real tools renumber revisions; and the real `kubectl`
//! binary parses the argv backout builds.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools")
}

/// A folder with a stand-in `tool` on PATH: it prints `state.json` for its
/// read, logs every call, and for its rollback call whose argv contains
/// `expect`, swaps in `after` (any other rollback fails, like a wrong revision).
fn stand_in(dir: &Path, tool: &str, start: &str, after: &str, expect: &str) {
    std::fs::copy(fixtures().join(start), dir.join("state.json")).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{log}'\ncase \"$1 $2\" in\n  'get replicasets'|'history '*) cat '{state}' ;;\n  \
         *) case \"$*\" in *'{expect}'*) cp '{after}' '{state}' ;; *) echo \"unknown revision\" >&2; exit 1 ;; esac ;;\nesac\n",
        log = dir.join("calls.log").display(),
        state = dir.join("state.json").display(),
        after = fixtures().join(after).display(),
    );
    let path = dir.join(tool);
    std::fs::write(&path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn config(dir: &Path, status: &str, driver_argv: &str) -> PathBuf {
    let text = format!(
        "[notifications]\ndesktop = false\n\n[[environment]]\nname = \"checkout\"\nkind = \"standard\"\n\
         base_url = \"http://127.0.0.1:1\"\n\n[environment.status]\ntype = \"command\"\n{status}\n\n\
         [environment.driver]\ntype = \"command\"\nargv = {driver_argv}\nverify_timeout = \"5s\"\n"
    );
    let path = dir.join("backout.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn backout(dir: &Path, config: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(env!("CARGO_BIN_EXE_backout"))
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(dir.join("b.db"))
        .args(["--format", "json"])
        .args(args)
        .env("PATH", path)
        .env("USER", "tester")
        .env("BACKOUT_LOG_DIR", dir.join("logs"))
        .env_remove("BACKOUT_CONFIG")
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), v, String::from_utf8_lossy(&out.stderr).into_owned())
}

const KUBECTL_STATUS: &str = "preset = \"kubectl\"\nname = \"checkout\"\nnamespace = \"shop\"\ncontext = \"prod-eu\"";
const KUBECTL_UNDO: &str = r#"["kubectl", "rollout", "undo", "deployment/checkout", "--to-revision={revision}", "--context", "prod-eu", "--namespace", "shop"]"#;

#[test]
fn kubectl_replicasets_give_status_health_and_a_rollback_by_revision_verified_by_image() {
    let dir = tempfile::tempdir().unwrap();
    stand_in(
        dir.path(),
        "kubectl",
        "kubectl-replicasets.json",
        "kubectl-replicasets-after-undo.json",
        "--to-revision=2",
    );
    let cfg = config(dir.path(), KUBECTL_STATUS, KUBECTL_UNDO);

    let (code, v, err) = backout(dir.path(), &cfg, &["status", "--env", "checkout"]);
    assert_eq!(code, 0, "{err}");
    let env = &v.as_array().map_or(&v["environments"][0], |a| &a[0]);
    assert_eq!(env["version"], "2.0.0-bad", "{v}");
    assert_eq!(env["health"], "degraded", "1 of 3 replicas ready: {v}");

    let (code, row, err) =
        backout(dir.path(), &cfg, &["rollback", "checkout", "--yes", "--reason", "5xx after 2.0.0-bad"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(row["status"], "completed", "{row}");
    assert_eq!((row["from_version"].as_str(), row["target_version"].as_str()), (Some("2.0.0-bad"), Some("1.4.3")));
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    assert!(
        calls.contains("rollout undo deployment/checkout --to-revision=2 --context prod-eu --namespace shop"),
        "{calls}"
    );
    assert!(
        calls.contains("get replicasets --context prod-eu --namespace shop --selector app=checkout --output json"),
        "the preset names context and namespace: {calls}"
    );
    // Kubernetes renumbered the restored template 4: verified by its image, healthy.
    let (_, v, _) = backout(dir.path(), &cfg, &["status", "--env", "checkout"]);
    let env = &v.as_array().map_or(&v["environments"][0], |a| &a[0]);
    assert_eq!((env["version"].as_str(), env["health"].as_str()), (Some("1.4.3"), Some("healthy")), "{v}");

    // The real kubectl parses both argvs backout builds (a --help round trip:
    // an unknown flag is an error, a known one prints the help).
    if Path::new("/usr/bin/kubectl").exists() {
        for args in [
            vec![
                "rollout",
                "undo",
                "deployment/checkout",
                "--to-revision=2",
                "--context",
                "prod-eu",
                "--namespace",
                "shop",
            ],
            vec![
                "get",
                "replicasets",
                "--context",
                "prod-eu",
                "--namespace",
                "shop",
                "--selector",
                "app=checkout",
                "--output",
                "json",
            ],
        ] {
            let out = Command::new("/usr/bin/kubectl").args(&args).arg("--help").output().unwrap();
            assert!(out.status.success(), "kubectl rejects {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

#[test]
fn helm_history_gives_the_target_revision_and_a_wrong_one_is_a_failed_rollback() {
    let dir = tempfile::tempdir().unwrap();
    stand_in(dir.path(), "helm", "helm-history.json", "helm-history-after-rollback.json", "rollback checkout 2 ");
    let status = "preset = \"helm\"\nname = \"checkout\"\nnamespace = \"shop\"\ncontext = \"prod-eu\"";
    let argv = r#"["helm", "rollback", "checkout", "{revision}", "--kube-context", "prod-eu", "--namespace", "shop", "--wait"]"#;
    let cfg = config(dir.path(), status, argv);
    let (code, row, err) =
        backout(dir.path(), &cfg, &["rollback", "checkout", "--force", "--yes", "--reason", "2.0.0 errors"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(row["target_version"], "1.4.3", "{row}");
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    assert!(calls.contains("rollback checkout 2 --kube-context prod-eu --namespace shop --wait"), "{calls}");
    assert!(
        calls.contains("history checkout --kube-context prod-eu --namespace shop --max 20 --output json"),
        "{calls}"
    );
    // After the rollback Helm serves 1.4.3 as revision 4; 1.4.2 is revision 1.
    let (code, row, err) = backout(
        dir.path(),
        &cfg,
        &["rollback", "checkout", "--version", "1.4.2", "--force", "--yes", "--reason", "older"],
    );
    assert_eq!(code, 1, "the stand-in refuses revision 1 here: {err} {row}");
    assert_eq!(row["status"], "failed", "{row}");
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    assert!(calls.contains("rollback checkout 1 "), "{calls}");
}

#[test]
fn check_refuses_a_status_source_missing_its_context_or_with_an_option_like_name() {
    let dir = tempfile::tempdir().unwrap();
    let run = |status: &str| {
        let cfg = config(dir.path(), status, KUBECTL_UNDO);
        let out = Command::new(env!("CARGO_BIN_EXE_backout")).arg("--config").arg(&cfg).arg("check").output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(run(KUBECTL_STATUS).0, Some(0));
    let (code, err) = run("preset = \"kubectl\"\nname = \"checkout\"\nnamespace = \"shop\"");
    assert_eq!(code, Some(2));
    assert!(err.contains("context"), "{err}");
    let (code, err) = run(&KUBECTL_STATUS.replace("\"checkout\"", "\"--all\""));
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot be passed to the tool"), "{err}");
    let (code, err) = run(&KUBECTL_STATUS.replace("kubectl\"", "kustomize\""));
    assert_eq!(code, Some(2), "{err}");
    // Any other tool: its argv, and pointers into its JSON.
    let custom = "argv = [\"deployctl\", \"history\", \"--json\"]\n\n[environment.status.pointers]\nitems = \"/releases\"\n\
                  revision = \"/rev\"\nversion = \"/image/tag\"\ntime = \"/at\"\nserving = \"/live\"";
    assert_eq!(run(custom).0, Some(0), "{}", run(custom).1);
    let (code, err) = run(&custom.replace("\"/at\"", "\"at\""));
    assert_eq!(code, Some(2));
    assert!(err.contains("is not a JSON pointer"), "{err}");
    let (code, err) = run("argv = [\"deployctl\"]");
    assert_eq!(code, Some(2));
    assert!(err.contains("needs a preset, or argv with pointers"), "{err}");
}
