//! The command line: clap definitions and the headless commands.

mod action;
mod approve;
mod console;
mod demo;
mod drill;
mod examples;
mod export;
mod history;
mod incident;
mod notes;
pub mod output;
mod package;
mod rollback;
mod simulate;
mod states;
mod status;
mod unblock;
mod watch;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use color_eyre::eyre::Result;

use crate::config::Config;
use crate::store::Store;
pub use output::{Exit, Format, FormatArg};

/// backout: a terminal incident console for deployment rollbacks.
#[derive(Debug, Parser)]
#[command(name = "backout", version, about, long_about = None)]
pub struct Cli {
    /// Config file [default: $BACKOUT_CONFIG, else $XDG_CONFIG_HOME/backout/backout.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// SQLite database [default: $BACKOUT_DB, else $XDG_DATA_HOME/backout/backout.db]
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// What the log file keeps: error, warn, info, debug or trace (BACKOUT_LOG
    /// overrides it; `off` keeps none). The file is
    /// $XDG_STATE_HOME/backout/backout.log.DATE (BACKOUT_LOG_DIR to move it).
    #[arg(long, global = true, value_name = "LEVEL", default_value = "info")]
    pub log_level: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Health, version and in-flight rollback of each environment.
    #[command(after_help = examples::section(examples::STATUS))]
    Status {
        /// Only this environment.
        #[arg(long)]
        env: Option<String>,
    },
    /// Deployment and rollback history.
    #[command(after_help = examples::section(examples::HISTORY))]
    History {
        /// Only this environment.
        #[arg(long)]
        env: Option<String>,
        /// Newest N entries of each list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Roll an environment back.
    #[command(after_help = examples::section(examples::ROLLBACK))]
    Rollback(rollback::RollbackArgs),
    /// Approve (or decline) a rollback another operator planned on an
    /// environment with `approvals = 2`; without REQUEST, list pending ones.
    #[command(after_help = examples::section(examples::APPROVE))]
    Approve(approve::ApproveArgs),
    /// The states kept before an environment's rollbacks, newest first, to
    /// restore with `rollback --to-state N`.
    States {
        /// The environment.
        #[arg(long)]
        env: String,
    },
    /// Let automatic rollback try again what it failed at: clears the block a
    /// failed automatic rollback left (recorded on the timeline).
    Unblock {
        /// The environment.
        #[arg(long)]
        env: String,
    },
    /// Save a note to an incident's timeline.
    Note {
        /// Incident id [default: the open incident of --env, else the newest open one].
        #[arg(long)]
        incident: Option<i64>,
        /// Environment the note is about.
        #[arg(long)]
        env: Option<String>,
        /// The note.
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// List incidents (same as `incident list`).
    Incidents {
        /// Newest N.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// An incident's follow-up actions: add (with owner and due date), done, list.
    Action {
        /// What to do.
        #[command(subcommand)]
        action: action::ActionCommand,
    },
    /// Open, list, show, update or close incidents.
    #[command(after_help = examples::section(examples::INCIDENT))]
    Incident {
        /// What to do.
        #[command(subcommand)]
        action: incident::IncidentCommand,
    },
    /// Follow an incident's runbook: show, done, skip, fail, run a step's action.
    Runbook(incident::RunbookArgs),
    /// An incident's validation checklist: run the automatic checks, tick, untick or waive items.
    Checklist(incident::ChecklistArgs),
    /// Write the post-incident report (markdown, JSON or HTML).
    #[command(after_help = examples::section(examples::EXPORT))]
    Export(export::ExportArgs),
    /// Drill a bad release end to end against a service offering POST /deployment/deploy.
    #[command(after_help = examples::section(examples::DRILL))]
    Drill(drill::DrillArgs),
    /// Past drills with their times against the objective.
    Drills {
        /// Newest N.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Validate the config without touching anything.
    #[command(after_help = examples::section(examples::CHECK))]
    Check,
    /// Watch every environment and act on the trigger rules, without the console.
    #[command(after_help = examples::section(examples::WATCH))]
    Watch(watch::WatchArgs),
    /// Serve the playbook API for simulated services.
    #[command(after_help = examples::section(examples::SIMULATE))]
    Simulate(simulate::SimulateArgs),
    /// Run the console against a built-in simulated fleet.
    #[command(after_help = examples::section(examples::DEMO))]
    Demo(demo::DemoArgs),
    /// Open the interactive console.
    #[command(after_help = examples::section(examples::CONSOLE))]
    Console(console::ConsoleArgs),
    /// Step through a recorded incident in the console, read-only.
    Review(console::ReviewArgs),
    /// Print a shell completion script on stdout (bash, zsh, fish, elvish, powershell).
    #[command(after_help = examples::section(examples::COMPLETIONS))]
    Completions(package::CompletionsArgs),
    /// Print backout's man page (roff) on stdout.
    #[command(after_help = examples::section(examples::MAN))]
    Man,
}

/// What every command needs.
pub struct Context {
    /// `--config` as given.
    pub config_flag: Option<PathBuf>,
    /// `--db` as given.
    pub db_flag: Option<PathBuf>,
    /// Output format.
    pub format: Format,
    /// `--format` as typed (export also takes md and html).
    pub format_arg: FormatArg,
    /// Runtime for network calls.
    pub rt: tokio::runtime::Runtime,
}

impl Context {
    /// Loads the config, printing `file:line:column` errors on failure.
    pub fn config(&self) -> std::result::Result<Config, Exit> {
        let path = crate::config::resolve_path(self.config_flag.as_deref());
        Config::load(&path).map_err(|errors| {
            eprintln!("{errors}");
            Exit::Usage
        })
    }

    /// Opens the database.
    pub fn store(&self) -> std::result::Result<Store, Exit> {
        let path = crate::store::resolve_path(self.db_flag.as_deref());
        let store = Store::open(&path).map_err(|e| {
            eprintln!("backout: {}: {e}", path.display());
            // Locked by another process: nothing was done, and trying again is safe.
            if e.is_busy() { Exit::Refused } else { Exit::Failed }
        })?;
        if let Some(notice) = store.damage_notice() {
            eprintln!("backout: warning: {notice}");
        }
        Ok(store)
    }
}

/// The operator's name: the config's `operator`, else `$USER`; commands that
/// work without a config (notes, incidents) still name someone.
pub(crate) fn operator_name(ctx: &Context) -> String {
    match Config::load(&crate::config::resolve_path(ctx.config_flag.as_deref())) {
        Ok(c) => c.operator(),
        Err(_) => std::env::var("USER").unwrap_or_else(|_| "operator".into()),
    }
}

/// Unwraps a `Result<T, Exit>` inside a command returning `Result<Exit>`.
macro_rules! try_exit {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return Ok(code),
        }
    };
}
pub(crate) use try_exit;

/// The named environment, or a usage error listing the known ones.
pub fn pick_environments<'a>(
    config: &'a Config,
    name: Option<&str>,
) -> std::result::Result<Vec<&'a crate::config::EnvironmentConfig>, Exit> {
    match name {
        None => Ok(config.environments.iter().collect()),
        Some(n) => match config.environment(n) {
            Some(e) => Ok(vec![e]),
            None => {
                let known: Vec<&str> = config.environments.iter().map(|e| e.name()).collect();
                eprintln!("backout: no environment named {n:?} in the config; known: {}", known.join(", "));
                Err(Exit::Usage)
            }
        },
    }
}

/// Runs a parsed command line and returns the exit code.
pub fn run(cli: Cli) -> Result<Exit> {
    // Packaging reads only the command line's definitions: no config, database or runtime.
    match &cli.command {
        Command::Completions(args) => return package::completions(args),
        Command::Man => return package::man(),
        _ => {}
    }
    // The console's engine is small and mostly waits: one worker thread next to
    // the screen's saves the wake-ups of two (idle CPU 0.52% -> 0.43% of a
    // core). Rollbacks and store work run on blocking threads either way.
    let workers = if matches!(cli.command, Command::Console(_) | Command::Demo(_)) { 1 } else { 2 };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?;
    let format = match (cli.format, &cli.command) {
        (FormatArg::Json, _) => Format::Json,
        (FormatArg::Table, _) | (_, Command::Export(_)) => Format::Table,
        (other, _) => {
            eprintln!("backout: --format {other:?} is a report form for `export`; other commands take table or json");
            return Ok(Exit::Usage);
        }
    };
    // The log file: what a post-mortem needs, never on the screen. Secrets
    // named by the config are redacted from it.
    let secrets = Config::load(&crate::config::resolve_path(cli.config.as_deref()))
        .map(|c| crate::logfile::secrets_of(&c))
        .unwrap_or_default();
    let screen = matches!(cli.command, Command::Console(_) | Command::Demo(_) | Command::Review(_));
    let _log = crate::logfile::init(&cli.log_level, secrets, screen);
    let argv: Vec<String> = std::env::args().skip(1).collect();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "backout {}", argv.join(" "));
    let ctx = Context { config_flag: cli.config, db_flag: cli.db, format, format_arg: cli.format, rt };
    match cli.command {
        Command::Status { env } => status::run(&ctx, env.as_deref()),
        Command::History { env, limit } => history::run(&ctx, env.as_deref(), limit),
        Command::Rollback(args) => rollback::run(&ctx, &args),
        Command::Approve(args) => approve::run(&ctx, &args),
        Command::States { env } => states::run(&ctx, &env),
        Command::Unblock { env } => unblock::run(&ctx, &env),
        Command::Note { incident, env, text } => notes::note(&ctx, incident, env.as_deref(), &text.join(" ")),
        Command::Incidents { limit } => incident::list(&ctx, limit),
        Command::Incident { action } => incident::run(&ctx, &action),
        Command::Action { action } => action::run(&ctx, &action),
        Command::Runbook(args) => incident::runbook_cmd(&ctx, &args),
        Command::Checklist(args) => incident::checklist_cmd(&ctx, &args),
        Command::Export(args) => export::run(&ctx, &args),
        Command::Drill(args) => drill::run(&ctx, &args),
        Command::Drills { limit } => drill::list(&ctx, limit),
        Command::Check => check(&ctx),
        Command::Watch(args) => watch::run(&ctx, &args),
        Command::Simulate(args) => simulate::run(&ctx, &args),
        Command::Demo(args) => demo::run(&ctx, &args),
        Command::Console(args) => console::console(&ctx, &args),
        Command::Review(args) => console::review(&ctx, &args),
        Command::Completions(args) => package::completions(&args),
        Command::Man => package::man(),
    }
}

fn check(ctx: &Context) -> Result<Exit> {
    let path = crate::config::resolve_path(ctx.config_flag.as_deref());
    let result = Config::load(&path);
    // The console's keys and theme are checked here too, so a typo shows now
    // and not when the console opens during an incident.
    let result = result.and_then(|config| {
        let mut problems = Vec::new();
        if let Err(e) = crate::tui::keymap::Keymap::with_overrides(&config.keys) {
            problems.push(crate::config::ConfigError::whole_file(&path, e, "see README's keys table"));
        }
        if let Err(e) = crate::tui::theme::Theme::load(&config.theme, false) {
            problems.push(crate::config::ConfigError::whole_file(
                &path,
                e,
                "dark, light, high-contrast or a theme file",
            ));
        }
        if problems.is_empty() { Ok(config) } else { Err(crate::config::ConfigErrors(problems)) }
    });
    if ctx.format == Format::Json {
        let errors: Vec<serde_json::Value> = match &result {
            Ok(_) => vec![],
            Err(e) => {
                e.0.iter()
                    .map(|e| {
                        serde_json::json!({
                            "file": e.file, "line": e.line, "column": e.column,
                            "message": e.message, "hint": e.hint,
                        })
                    })
                    .collect()
            }
        };
        output::json(&serde_json::json!({ "ok": result.is_ok(), "file": path, "errors": errors }));
    }
    match result {
        Ok(config) => {
            if ctx.format == Format::Table {
                println!("{}: ok, {} environment(s)", path.display(), config.environments.len());
            }
            Ok(Exit::Ok)
        }
        Err(errors) => {
            eprintln!("{errors}");
            Ok(Exit::Usage)
        }
    }
}
