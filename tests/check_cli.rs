//! `backout check` on every fixture: the working ones pass, each malformed one
//! fails with exit 2 at the `file:line:column` its `# expect:` line names.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn check(path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_backout"))
        .args(["check", "--config"])
        .arg(path)
        .env_remove("BACKOUT_CONFIG")
        .output()
        .unwrap()
}

fn tomls(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn working_fixtures_pass() {
    let files = tomls("fixtures");
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let out = check(&f);
        assert_eq!(out.status.code(), Some(0), "{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn malformed_fixtures_are_located_and_exit_2() {
    let files = tomls("tests/fixtures/bad");
    assert!(files.len() >= 10, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect: LINE:COLUMN` line", f.display()))
            .trim();
        let out = check(&f);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", f.display());
        let prefix = format!("{}:{expect}: ", f.display());
        assert!(stderr.starts_with(&prefix), "{} expected {prefix:?}, got {stderr}", f.display());
        assert!(stderr.trim_end().ends_with(')'), "every error carries a hint in parentheses: {stderr}");
    }
}

#[test]
fn missing_config_is_a_usage_error_that_says_what_to_do() {
    let out = check(Path::new("/nonexistent/backout.toml"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
}

#[test]
fn bad_key_binding_and_theme_are_caught_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    std::fs::write(&path, "theme = \"neon\"\n[keys]\nexplode = \"x\"\n").unwrap();
    let out = check(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown action \"explode\""), "{stderr}");
    assert!(stderr.contains("theme \"neon\""), "{stderr}");
}

/// Issue 10 item 12: a bad `--theme` is a usage error in one line, no backtrace,
/// for the console and for review alike.
#[test]
fn item12_a_bad_theme_flag_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[[environment]]\nname = \"a\"\nkind = \"standard\"\nbase_url = \"http://127.0.0.1:9\"\n")
        .unwrap();
    for args in [&["console", "--theme", "neon"][..], &["review", "1", "--theme", "neon"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_backout"))
            .arg("--config")
            .arg(&path)
            .arg("--db")
            .arg(dir.path().join("d.db"))
            .args(args)
            .env_remove("BACKOUT_CONFIG")
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(stderr.contains("theme \"neon\"") && stderr.contains("--theme takes dark"), "{stderr}");
    }
}

/// Every README block that starts `# NAME.toml` is a complete config: it
/// passes `check` as written.
#[test]
fn readme_configs_named_as_files_pass_check() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = Vec::new();
    for block in readme.split("```toml\n").skip(1) {
        let body = block.split("\n```").next().unwrap();
        let Some(name) = body.lines().next().and_then(|l| l.strip_prefix("# ")).filter(|n| n.ends_with(".toml")) else {
            continue;
        };
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let out = check(&path);
        assert_eq!(out.status.code(), Some(0), "README's {name}: {}", String::from_utf8_lossy(&out.stderr));
        checked.push(name.to_string());
    }
    assert!(checked.contains(&"alertmanager.toml".to_string()), "{checked:?}");
    assert!(checked.contains(&"kubernetes.toml".to_string()), "{checked:?}");
}
