//! `backout action add|done|list`: an incident's follow-up actions (seed 002's
//! "action items"), each with an owner and a due date.

use clap::Subcommand;
use color_eyre::eyre::Result;

use super::output::{self, Exit, Format};
use super::{Context, try_exit};
use crate::store::FollowUpAction;

/// What `backout action` can do.
#[derive(Debug, Subcommand)]
pub enum ActionCommand {
    /// Record a follow-up action of an incident.
    Add {
        /// The incident it follows up.
        #[arg(long)]
        incident: i64,
        /// Who owns it.
        #[arg(long)]
        owner: String,
        /// Due date, YYYY-MM-DD.
        #[arg(long, value_name = "YYYY-MM-DD")]
        due: String,
        /// What is to be done.
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// Mark a follow-up action done.
    Done {
        /// Action id (as `action list` shows it).
        id: i64,
    },
    /// List follow-up actions, of one incident or of all.
    List {
        /// Only this incident's.
        #[arg(long)]
        incident: Option<i64>,
    },
}

/// Runs `backout action ...`.
pub(super) fn run(ctx: &Context, cmd: &ActionCommand) -> Result<Exit> {
    let mut store = try_exit!(ctx.store());
    let by = super::operator_name(ctx);
    match cmd {
        ActionCommand::Add { incident, owner, due, text } => {
            let text = text.join(" ");
            if store.incident(*incident)?.is_none() {
                eprintln!("backout: there is no incident #{incident}; `backout incident list` lists them");
                return Ok(Exit::Usage);
            }
            if chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d").is_err() {
                eprintln!("backout: --due {due:?} is not a date; write it as YYYY-MM-DD, e.g. --due 2026-12-01");
                return Ok(Exit::Usage);
            }
            if owner.trim().is_empty() || text.trim().is_empty() {
                eprintln!("backout: an action needs an owner (--owner) and a text");
                return Ok(Exit::Usage);
            }
            let row = store.add_action(*incident, text.trim(), owner.trim(), due, &by)?;
            match ctx.format {
                Format::Json => output::json(&row),
                Format::Table => println!("action #{} recorded for incident #{incident}", row.id),
            }
            Ok(Exit::Ok)
        }
        ActionCommand::Done { id } => match store.finish_action(*id, &by)? {
            None => {
                eprintln!("backout: there is no action #{id}; `backout action list` lists them");
                Ok(Exit::Usage)
            }
            Some((row, newly)) => {
                match ctx.format {
                    Format::Json => output::json(&row),
                    Format::Table if newly => println!("action #{id} done"),
                    Format::Table => println!(
                        "action #{id} was already done ({} by {})",
                        row.done_at.map_or_else(|| "-".into(), crate::domain::ts::format),
                        row.done_by.as_deref().unwrap_or("-")
                    ),
                }
                Ok(Exit::Ok)
            }
        },
        ActionCommand::List { incident } => {
            let rows = store.actions(*incident)?;
            match ctx.format {
                Format::Json => output::json(&serde_json::json!({ "actions": rows })),
                Format::Table => println!("{}", table(&rows)),
            }
            Ok(Exit::Ok)
        }
    }
}

fn table(rows: &[FollowUpAction]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|a| {
            vec![
                format!("#{}", a.id),
                format!("#{}", a.incident_id),
                a.state().to_string(),
                a.owner.clone(),
                a.due.clone(),
                a.text.clone(),
            ]
        })
        .collect();
    output::table(&["ID", "INCIDENT", "STATE", "OWNER", "DUE", "ACTION"], &cells)
}
