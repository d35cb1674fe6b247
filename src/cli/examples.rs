//! The `Examples:` section of the main commands' help. Every line is a command
//! line README documents: tests/packaging_cli.rs parses each one with the
//! command line's own definitions and finds each of its flags in README's
//! Commands tables.

use clap::builder::styling::Style;

/// An `Examples:` section, its heading styled like clap's own (`Usage:`, `Options:`).
pub(super) fn section(lines: &[&str]) -> String {
    let heading = Style::new().bold().underline();
    let mut text = format!("{heading}Examples:{heading:#}");
    for line in lines {
        text.push_str("\n  ");
        text.push_str(line);
    }
    text
}

pub(super) const STATUS: &[&str] = &["backout status", "backout status --env checkout --format json"];

pub(super) const HISTORY: &[&str] =
    &["backout history --env checkout --limit 5", "backout --config drill.toml history"];

pub(super) const ROLLBACK: &[&str] = &[
    "backout rollback --env checkout --reason \"error rate up after 2.0.0-bad\"",
    "backout rollback checkout --to-version 1.4.3 --reason \"back to 1.4.3\" --yes",
    "backout rollback checkout --to-state 2 --reason \"restore the kept state\"",
];

pub(super) const APPROVE: &[&str] = &[
    "backout approve                # list the pending requests",
    "backout approve 3",
    "backout approve 3 --decline --reason \"fixed forward instead\"",
];

pub(super) const WATCH: &[&str] = &[
    "backout --config drill.toml --db drill.db watch",
    "backout watch --dry-run --duration 10m",
    "backout watch --format json",
];

pub(super) const DRILL: &[&str] = &[
    "backout --config drill.toml --db drill.db drill --env checkout",
    "backout drill --env checkout --manual --timeout 15m",
];

pub(super) const INCIDENT: &[&str] = &[
    "backout incident open --env checkout --severity critical \"checkout errors\"",
    "backout incident show 1",
    "backout incident close 1 --root-cause \"cache key change in 2.0.0\"",
];

pub(super) const EXPORT: &[&str] =
    &["backout export 1", "backout export 1 --format html -o incident-1.html", "backout export 1 --format json"];

pub(super) const CONSOLE: &[&str] = &[
    "backout console",
    "backout console --read-only --theme high-contrast",
    "backout --config drill.toml --db drill.db console",
];

pub(super) const SIMULATE: &[&str] = &[
    "backout simulate --auto-rollback --write-config drill.toml",
    "backout simulate --scenario bad-deploy --deploy-after 10s --write-config drill.toml",
    "backout simulate --listen 127.0.0.1:0 --service search:standard:flapping --seed 7",
];

pub(super) const DEMO: &[&str] =
    &["backout demo", "backout demo --theme light --bad-deploy-after 30s", "backout demo --lines --duration 2m"];

pub(super) const CHECK: &[&str] =
    &["backout check", "backout --config drill.toml check", "backout check --format json"];

pub(super) const COMPLETIONS: &[&str] = &[
    "backout completions bash > /etc/bash_completion.d/backout",
    "backout completions zsh > ~/.zfunc/_backout",
    "backout completions fish > ~/.config/fish/completions/backout.fish",
];

pub(super) const MAN: &[&str] = &["backout man > backout.1", "backout man | man -l -"];
