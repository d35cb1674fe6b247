//! `backout console` and `backout review`: the interactive screen.

use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::Result;

use super::output::Exit;
use super::{Context, try_exit};
use crate::tui::app::Mode;
use crate::tui::{ConsoleOptions, run_console};

/// Arguments of `backout console`.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Watch only: nothing can be changed (for observers).
    #[arg(long)]
    read_only: bool,
    /// Theme: dark, light, high-contrast, or a theme file [default: the config's].
    #[arg(long)]
    theme: Option<String>,
}

/// Arguments of `backout review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The incident to step through.
    incident: i64,
    /// Theme: dark, light, high-contrast, or a theme file.
    #[arg(long)]
    theme: Option<String>,
}

/// A theme that cannot be loaded is a usage error said in one line, before
/// the terminal is touched.
fn refuse_bad_theme(config: &crate::config::Config, theme: Option<&str>) -> Option<Exit> {
    let name = theme.unwrap_or(&config.theme);
    let e = crate::tui::theme::Theme::load(name, false).err()?;
    eprintln!("backout: {e} (--theme takes dark, light, high-contrast or a theme file)");
    Some(Exit::Usage)
}

fn refuse_without_terminal() -> Option<Exit> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        return None;
    }
    eprintln!("backout: the console needs a terminal; use `backout watch` or `backout status` from scripts");
    Some(Exit::Usage)
}

pub(super) fn console(ctx: &Context, args: &ConsoleArgs) -> Result<Exit> {
    let config = Arc::new(try_exit!(ctx.config()));
    if let Some(code) = refuse_bad_theme(&config, args.theme.as_deref()).or_else(refuse_without_terminal) {
        return Ok(code);
    }
    let db = crate::store::resolve_path(ctx.db_flag.as_deref());
    let mode = if args.read_only { Mode::ReadOnly } else { Mode::Live };
    let config_path = crate::config::resolve_path(ctx.config_flag.as_deref());
    run_console(
        &ctx.rt,
        ConsoleOptions { config, config_path, db, mode, theme: args.theme.clone(), review_incident: None },
    )?;
    Ok(Exit::Ok)
}

pub(super) fn review(ctx: &Context, args: &ReviewArgs) -> Result<Exit> {
    let config = Arc::new(try_exit!(ctx.config()));
    if let Some(code) = refuse_bad_theme(&config, args.theme.as_deref()) {
        return Ok(code);
    }
    let db = crate::store::resolve_path(ctx.db_flag.as_deref());
    let store = try_exit!(ctx.store());
    if store.incident(args.incident)?.is_none() {
        eprintln!(
            "backout: there is no incident #{} in {}; `backout incidents` lists them",
            args.incident,
            db.display()
        );
        return Ok(Exit::Usage);
    }
    drop(store);
    if let Some(code) = refuse_without_terminal() {
        return Ok(code);
    }
    let config_path = crate::config::resolve_path(ctx.config_flag.as_deref());
    let opts = ConsoleOptions {
        config,
        config_path,
        db,
        mode: Mode::Review,
        theme: args.theme.clone(),
        review_incident: Some(args.incident),
    };
    run_console(&ctx.rt, opts)?;
    Ok(Exit::Ok)
}
