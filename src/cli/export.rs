//! `backout export INCIDENT --format md|json|html [-o FILE]`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use color_eyre::eyre::{Result, WrapErr};

use super::output::Exit;
use super::{Context, try_exit};
use crate::config::Config;
use crate::incident::export;

/// The report's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown.
    Md,
    /// JSON, schema in docs/export-schema.json.
    Json,
    /// One self-contained HTML page with SVG charts.
    Html,
}

/// `backout export`: the post-incident report.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Incident id.
    incident: i64,
    /// Report form [default: json with the global `--format json`, else md].
    #[arg(long = "as", visible_alias = "report-format", value_enum)]
    report: Option<ReportFormat>,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `backout export`.
pub(super) fn run(ctx: &Context, args: &ExportArgs) -> Result<Exit> {
    let mut store = try_exit!(ctx.store());
    if store.incident(args.incident)?.is_none() {
        eprintln!("backout: there is no incident #{}; `backout incident list` lists them", args.incident);
        return Ok(Exit::Usage);
    }
    // The config adds units, thresholds and the runbook; a report is still made without it.
    let config_path = crate::config::resolve_path(ctx.config_flag.as_deref());
    let config = Config::load(&config_path).ok();
    let report = export::build(&mut store, args.incident, config.as_ref().map(|c| (c, config_path.as_path())))?;
    let form = args.report.unwrap_or(match ctx.format_arg {
        super::FormatArg::Json => ReportFormat::Json,
        super::FormatArg::Html => ReportFormat::Html,
        super::FormatArg::Table | super::FormatArg::Md => ReportFormat::Md,
    });
    let text = match form {
        ReportFormat::Md => export::to_markdown(&report),
        ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        ReportFormat::Html => export::to_html(&report),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).wrap_err_with(|| format!("cannot write {}", path.display()))?;
            eprintln!("report of incident #{} written to {}", args.incident, path.display());
        }
        None => print!("{text}"),
    }
    Ok(Exit::Ok)
}
