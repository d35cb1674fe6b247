//! What a package installs, from the real binary: completion scripts (one of
//! them run in a real bash), the man page, and the `Examples:` of every
//! command's help parsed by the command line's own definitions.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output, Stdio};

fn backout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backout")).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn every_shell_gets_a_script_naming_the_commands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = backout(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {:?} {}", out.status, stderr(&out));
        let script = stdout(&out);
        assert!(script.contains("backout"), "{shell}: {script}");
        assert!(script.contains("rollback"), "{shell}: {script}");
        assert!(script.contains("skip-validation"), "{shell} completes rollback's flags");
    }
    assert!(stdout(&backout(&["completions", "zsh"])).starts_with("#compdef backout"));
}

/// The bash script, sourced in a real bash, completes a command and its flags.
#[test]
fn bash_completes_commands_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("backout.bash");
    let out = backout(&["completions", "bash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(&script, &out.stdout).unwrap();
    let complete = |words: &str| -> Vec<String> {
        // COMP_WORDS is the line so far; the function gets (command, word, previous word).
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _backout backout \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash").args(["--norc", "--noprofile", "-c", &program]).output().unwrap();
        assert!(out.status.success(), "{words}: {}", stderr(&out));
        stdout(&out).lines().map(str::to_string).collect()
    };
    assert_eq!(complete("backout roll"), ["rollback"]);
    assert_eq!(complete("backout rollback --skip"), ["--skip-validation"]);
    assert_eq!(complete("backout completions p"), ["powershell"]);
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = backout(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("[possible values: bash, elvish, fish, powershell, zsh]"), "{}", stderr(&out));
}

#[test]
fn man_prints_a_roff_page_naming_the_commands() {
    let out = backout(&["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.starts_with('.'), "a roff page starts with a request: {page}");
    let lines: Vec<&str> = page.lines().collect();
    assert!(lines.iter().take(5).any(|l| l.starts_with(".TH backout 1 ")), "{page}");
    assert!(lines.contains(&".SH NAME") && lines.contains(&".SH SYNOPSIS"), "{page}");
    assert!(lines.contains(&"backout\\-rollback(1)"), "{page}");
    assert!(page.contains("Roll an environment back"), "{page}");
    assert!(!page.contains("backout\\-help(1)"), "`help` is not a command of its own: {page}");
}

/// Packaging runs on a build machine: no config, no database, nothing written.
#[test]
fn packaging_needs_no_config_or_database() {
    let home = tempfile::tempdir().unwrap();
    for args in [&["completions", "fish"][..], &["man"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_backout"))
            .args(args)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("BACKOUT_CONFIG", home.path().join("missing/backout.toml"))
            .env("BACKOUT_DB", home.path().join("db/backout.db"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(!out.stdout.is_empty(), "{args:?}");
        let written: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
        assert!(written.is_empty(), "{args:?} wrote {written:?}");
    }
}

/// `backout man | head` closes the pipe early: exit 141 as other commands do, no panic report.
#[test]
fn a_closed_stdout_ends_quietly() {
    for args in [&["completions", "bash"][..], &["man"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_backout"))
            .args(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(141), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}: {}", stderr(&out));
    }
}

/// The main commands: each shows two or three examples in its help.
const MAIN_COMMANDS: [&str; 12] = [
    "rollback", "approve", "status", "history", "watch", "drill", "incident", "export", "console", "simulate", "demo",
    "check",
];

/// The lines of the `Examples:` section of `backout COMMAND --help`.
fn examples_of(command: &str) -> Vec<String> {
    let out = backout(&[command, "--help"]);
    assert!(out.status.success(), "{command} --help: {}", stderr(&out));
    let help = stdout(&out);
    let mut lines = help.lines().skip_while(|l| *l != "Examples:");
    if lines.next().is_none() {
        return Vec::new();
    }
    lines.take_while(|l| l.starts_with("  ")).map(|l| l.trim().to_string()).collect()
}

/// An example as its argv, the way a shell would split it here: whitespace
/// separates words, double quotes group them; a bare `#`, `>` or `|` ends the command.
fn argv(line: &str) -> Vec<String> {
    let mut words: Vec<(String, bool)> = Vec::new();
    let mut word: Option<(String, bool)> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.get_or_insert_with(|| (String::new(), false)).1 = false;
            }
            c if c.is_whitespace() && !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(|| (String::new(), true)).0.push(c),
        }
    }
    assert!(!quoted, "unbalanced quotes in {line:?}");
    words.extend(word);
    let end =
        words.iter().position(|(w, bare)| *bare && (w.starts_with('#') || w == ">" || w == "|")).unwrap_or(words.len());
    words.truncate(end);
    words.into_iter().map(|(w, _)| w).collect()
}

/// The flags README documents for `backout COMMAND`: those in the first cell
/// of every Commands table row about it, and the global flags.
fn documented_flags(readme: &str, command: &str) -> Vec<String> {
    let mut flags = Vec::new();
    for line in readme.lines() {
        let Some(row) = line.strip_prefix("| `") else { continue };
        let cell = row.split(" | ").next().unwrap_or_default();
        let about_command = cell
            .strip_prefix("backout ")
            .and_then(|rest| rest.strip_prefix(command))
            .is_some_and(|rest| rest.starts_with([' ', '`']));
        if about_command || cell.starts_with("--") {
            let words = cell.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'));
            flags.extend(words.filter(|w| w.starts_with('-') && w.len() > 1).map(str::to_string));
        }
    }
    flags
}

#[test]
fn rollback_help_shows_examples() {
    for flag in ["--help", "-h"] {
        let out = backout(&["rollback", flag]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("\nExamples:\n  backout rollback "), "{}", stdout(&out));
    }
}

/// Every example of every command parses with the command line's own
/// definitions, as that command, and uses only flags README documents for it.
#[test]
fn every_example_is_a_command_line_readme_documents() {
    use clap::{CommandFactory, FromArgMatches};

    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut checked = 0;
    for command in backout::cli::Cli::command().get_subcommands() {
        let name = command.get_name();
        let examples = examples_of(name);
        if MAIN_COMMANDS.contains(&name) {
            assert!((2..=3).contains(&examples.len()), "`{name} --help` shows {examples:?}");
        }
        let documented = documented_flags(&readme, name);
        for example in &examples {
            let argv = argv(example);
            assert_eq!(argv.first().map(String::as_str), Some("backout"), "{example}");
            let matches = backout::cli::Cli::command()
                .try_get_matches_from(&argv)
                .unwrap_or_else(|e| panic!("`{example}` does not parse:\n{e}"));
            assert_eq!(matches.subcommand_name(), Some(name), "`{example}` is an example of `{name}`");
            backout::cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| panic!("`{example}`:\n{e}"));
            for flag in argv.iter().filter(|w| w.starts_with('-')) {
                let flag = flag.split('=').next().unwrap_or_default();
                assert!(
                    documented.iter().any(|d| d == flag),
                    "`{example}`: README does not document {flag} for {name}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 2 * MAIN_COMMANDS.len(), "only {checked} examples");
}
