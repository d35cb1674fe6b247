//! `backout incident open|list|show|close`, `backout runbook ...` and `backout checklist ...`.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use color_eyre::eyre::Result;

use super::output::{self, Exit, Format, or_dash};
use super::{Context, try_exit};
use crate::config::EnvironmentConfig;
use crate::domain::ts;
use crate::incident::runbook::StepMark;
use crate::incident::{self, CloseDetails, Milestone, OpenRequest, Severity, runbook};
use crate::store::Store;

/// What `backout incident` can do.
#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Open an incident by hand.
    Open {
        /// Environment it concerns.
        #[arg(long)]
        env: Option<String>,
        /// Severity [default: from the environment's recovery_time_objective].
        #[arg(long, value_enum)]
        severity: Option<Severity>,
        /// Customer impact assessment.
        #[arg(long)]
        impact: Option<String>,
        /// Runbook file name [default: the environment's `runbook`].
        #[arg(long)]
        runbook: Option<String>,
        /// A drill, not a real incident.
        #[arg(long)]
        drill: bool,
        /// Title.
        #[arg(required = true)]
        title: Vec<String>,
    },
    /// List incidents, newest first.
    List {
        /// Newest N.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One incident: milestones and times against the objective.
    Show {
        /// Incident id.
        id: i64,
    },
    /// Close an open incident (records `resolved`); later rollbacks open a new one.
    Close {
        /// Incident id.
        id: i64,
        /// What to record with it.
        #[command(flatten)]
        fields: PostIncidentArgs,
    },
    /// Record post-incident fields without closing (a root cause, lessons learned).
    Update {
        /// Incident id.
        id: i64,
        /// What to record.
        #[command(flatten)]
        fields: PostIncidentArgs,
    },
}

/// The post-incident fields `close` and `update` record.
#[derive(Debug, Args)]
pub struct PostIncidentArgs {
    /// Customer impact assessment.
    #[arg(long)]
    impact: Option<String>,
    /// Root cause (lets flags its rollbacks turned off be turned on again).
    #[arg(long)]
    root_cause: Option<String>,
    /// Prevention measures.
    #[arg(long)]
    prevention: Option<String>,
    /// Lessons learned: what went well, what could improve.
    #[arg(long)]
    lessons: Option<String>,
}

impl PostIncidentArgs {
    fn details(&self) -> CloseDetails {
        CloseDetails {
            impact: self.impact.clone(),
            root_cause: self.root_cause.clone(),
            prevention: self.prevention.clone(),
            lessons: self.lessons.clone(),
        }
    }
}

fn operator(ctx: &Context) -> String {
    super::operator_name(ctx)
}

/// Runs `backout incident ...`.
pub(super) fn run(ctx: &Context, cmd: &IncidentCommand) -> Result<Exit> {
    match cmd {
        IncidentCommand::Open { env, severity, impact, runbook, drill, title } => {
            let config = try_exit!(ctx.config());
            let env_cfg = match env {
                Some(n) => Some(try_exit!(super::pick_environments(&config, Some(n)))[0]),
                None => None,
            };
            let mut store = try_exit!(ctx.store());
            let row = incident::open(
                &mut store,
                &config.severities,
                env_cfg,
                &OpenRequest {
                    title: title.join(" "),
                    severity: *severity,
                    drill: *drill,
                    by: config.operator(),
                    impact: impact.clone(),
                    runbook: runbook.clone(),
                    detected: Some(incident::Detection::now(&config.operator())),
                },
            )?;
            match ctx.format {
                Format::Json => output::json(&incident::show(&store, row.id)?),
                Format::Table => println!("incident #{} opened ({})", row.id, Severity::word_or_unknown(row.severity)),
            }
            Ok(Exit::Ok)
        }
        IncidentCommand::List { limit } => list(ctx, *limit),
        IncidentCommand::Show { id } => show(ctx, *id),
        IncidentCommand::Update { id, fields } => {
            let mut store = try_exit!(ctx.store());
            if store.incident(*id)?.is_none() {
                eprintln!("backout: there is no incident #{id}; `backout incident list` lists them");
                return Ok(Exit::Usage);
            }
            let details = fields.details();
            if !incident::update(&mut store, *id, &operator(ctx), &details)? {
                eprintln!("backout: nothing to record: give --impact, --root-cause, --prevention or --lessons");
                return Ok(Exit::Usage);
            }
            match ctx.format {
                Format::Json => output::json(&incident::show(&store, *id)?),
                Format::Table => println!("incident #{id} updated"),
            }
            Ok(Exit::Ok)
        }
        IncidentCommand::Close { id, fields } => {
            let mut store = try_exit!(ctx.store());
            let Some(found) = store.incident(*id)? else {
                eprintln!("backout: there is no incident #{id}; `backout incident list` lists them");
                return Ok(Exit::Usage);
            };
            let details = fields.details();
            if !incident::close(&mut store, *id, &operator(ctx), &details)? {
                eprintln!("backout: refused: incident #{id} is already {}", found.status);
                return Ok(Exit::Refused);
            }
            match ctx.format {
                Format::Json => output::json(&incident::show(&store, *id)?),
                Format::Table => println!("incident #{id} closed"),
            }
            Ok(Exit::Ok)
        }
    }
}

/// `backout incident list` (and `backout incidents`).
pub(super) fn list(ctx: &Context, limit: usize) -> Result<Exit> {
    let store = try_exit!(ctx.store());
    let rows = store.incidents(limit)?;
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({ "incidents": rows })),
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|i| {
                    vec![
                        format!("#{}", i.id),
                        i.status.to_string(),
                        if i.drill { "drill" } else { "live" }.into(),
                        or_dash(i.environment.as_deref()),
                        Severity::word_or_unknown(i.severity).to_string(),
                        ts::format(i.opened_at),
                        i.closed_at.map_or_else(|| "-".to_string(), ts::format),
                        i.title.clone(),
                    ]
                })
                .collect();
            let headers = ["ID", "STATUS", "KIND", "ENVIRONMENT", "SEVERITY", "OPENED", "CLOSED", "TITLE"];
            println!("{}", output::table(&headers, &cells));
        }
    }
    Ok(Exit::Ok)
}

fn show(ctx: &Context, id: i64) -> Result<Exit> {
    let store = try_exit!(ctx.store());
    let Some(s) = incident::show(&store, id)? else {
        eprintln!("backout: there is no incident #{id}; `backout incident list` lists them");
        return Ok(Exit::Usage);
    };
    match ctx.format {
        Format::Json => output::json(&s),
        Format::Table => {
            let i = &s.incident;
            println!("incident #{}{}: {}", i.id, if i.drill { " (drill)" } else { "" }, i.title);
            println!(
                "environment {}, severity {}, {}",
                or_dash(i.environment.as_deref()),
                Severity::word_or_unknown(i.severity),
                i.status
            );
            for m in &s.milestones {
                println!("  {:<20} {}  {}", m.milestone.as_str().replace('_', " "), ts::format(m.at), m.actor);
            }
            for (what, value, verdict) in incident::export::duration_rows_public(&s.durations) {
                println!("  {what}: {value} {verdict}");
            }
            let f = &s.fields;
            for (what, value) in [
                ("impact", &f.impact),
                ("root cause", &f.root_cause),
                ("prevention", &f.prevention),
                ("lessons learned", &f.lessons),
            ] {
                if let Some(v) = value {
                    println!("{what}: {v}");
                }
            }
            if !s.actions.is_empty() {
                println!("follow-up actions:");
                for a in &s.actions {
                    println!("  #{} [{}] {} (owner {}, due {})", a.id, a.state(), a.text, a.owner, a.due);
                }
            }
        }
    }
    Ok(Exit::Ok)
}

/// `backout runbook`: the incident's runbook, step by step.
#[derive(Debug, Args)]
pub struct RunbookArgs {
    /// Incident id.
    #[arg(long)]
    incident: i64,
    /// Runbook file name, recorded on the incident [default: the incident's, else its environment's].
    #[arg(long)]
    runbook: Option<String>,
    /// What to do.
    #[command(subcommand)]
    action: RunbookAction,
}

/// What `backout runbook` can do.
#[derive(Debug, Subcommand)]
pub enum RunbookAction {
    /// Show the steps, which is current and which are overdue.
    Show,
    /// Mark a step done [default: the current step].
    Done {
        /// Step number, from 1.
        step: Option<usize>,
    },
    /// Skip a step, with the reason.
    Skip {
        /// Step number, from 1 [default: the current step].
        #[arg(long)]
        step: Option<usize>,
        /// Why it is skipped.
        #[arg(long, required = true)]
        reason: String,
    },
    /// Mark a step failed, with the reason.
    Fail {
        /// Step number, from 1 [default: the current step].
        #[arg(long)]
        step: Option<usize>,
        /// What went wrong.
        #[arg(long, required = true)]
        reason: String,
    },
    /// Run a step's action after confirmation; its output goes to the timeline.
    Run {
        /// Step number, from 1 [default: the current step].
        step: Option<usize>,
        /// Confirm without asking (required from a script).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// Runs `backout runbook ...`.
pub(super) fn runbook_cmd(ctx: &Context, args: &RunbookArgs) -> Result<Exit> {
    let config = try_exit!(ctx.config());
    let config_path = crate::config::resolve_path(ctx.config_flag.as_deref());
    let mut store = try_exit!(ctx.store());
    let id = args.incident;
    if store.incident(id)?.is_none() {
        eprintln!("backout: there is no incident #{id}; `backout incident list` lists them");
        return Ok(Exit::Usage);
    }
    if let Some(name) = &args.runbook {
        let fields = crate::store::IncidentFields { runbook: Some(name.clone()), ..Default::default() };
        store.update_incident_fields(id, &fields)?;
    }
    let Some(file) = runbook::runbook_name(&store, &config, id)? else {
        eprintln!("backout: incident #{id} has no runbook; pass --runbook NAME or set `runbook` on its environment");
        return Ok(Exit::Usage);
    };
    let path = runbook::runbook_path(&config, &config_path, &file)?;
    let book = match runbook::Runbook::load(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("backout: {e:#}");
            return Ok(Exit::Usage);
        }
    };
    let view = runbook::view(&store, id, &file, &book, chrono::Utc::now())?;
    let pick = |step: Option<usize>| -> std::result::Result<usize, Exit> {
        match step {
            Some(0) => {
                eprintln!("backout: steps are numbered from 1");
                Err(Exit::Usage)
            }
            Some(n) => Ok(n - 1),
            None => view.current.ok_or_else(|| {
                eprintln!("backout: every step of {file} is done or skipped");
                Exit::Refused
            }),
        }
    };
    let by = config.operator();
    let mark = |store: &mut Store, step: Option<usize>, how: StepMark<'_>| -> Result<Exit> {
        let index = try_exit!(pick(step));
        match runbook::mark(store, id, &file, &book, index, how, &by) {
            Ok(row) => {
                match ctx.format {
                    Format::Json => output::json(&row),
                    Format::Table => println!("step {} ({}) {}", index + 1, row.step_title, row.state),
                }
                Ok(Exit::Ok)
            }
            Err(e) => {
                eprintln!("backout: {e:#}");
                Ok(Exit::Usage)
            }
        }
    };
    match &args.action {
        RunbookAction::Show => {
            match ctx.format {
                Format::Json => output::json(&view),
                Format::Table => print_runbook(&view),
            }
            Ok(Exit::Ok)
        }
        RunbookAction::Done { step } => mark(&mut store, *step, StepMark::Done),
        RunbookAction::Skip { step, reason } => mark(&mut store, *step, StepMark::Skipped(reason)),
        RunbookAction::Fail { step, reason } => mark(&mut store, *step, StepMark::Failed(reason)),
        RunbookAction::Run { step, yes } => {
            let index = try_exit!(pick(*step));
            let Some(action) = book.steps.get(index).and_then(|s| s.action.as_ref()) else {
                eprintln!("backout: step {} has no action; mark it done when it is done", index + 1);
                return Ok(Exit::Usage);
            };
            let confirmed = *yes || confirm(&format!("Step {}: {}. Run it? [y/N] ", index + 1, action.summary()));
            if !confirmed {
                eprintln!("backout: refused: the action runs only when confirmed (--yes from a script)");
                return Ok(Exit::Refused);
            }
            let incident = store.incident(id)?;
            let env: Option<&EnvironmentConfig> =
                incident.and_then(|i| i.environment).and_then(|n| config.environment(&n));
            let dir = path.parent().unwrap_or(std::path::Path::new(".")).to_path_buf();
            let actx = runbook::ActionContext {
                rt: ctx.rt.handle(),
                env,
                runbook_dir: &dir,
                by: &by,
                objectives: &config.severities,
            };
            let outcome = runbook::run_action(&mut store, &actx, id, &file, &book, index, true)?;
            match ctx.format {
                Format::Json => output::json(&outcome),
                Format::Table => {
                    println!("{}\nstep {} {}", outcome.output, index + 1, if outcome.ok { "done" } else { "failed" })
                }
            }
            Ok(if outcome.ok { Exit::Ok } else { Exit::Failed })
        }
    }
}

fn confirm(prompt: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes")
}

fn print_runbook(v: &runbook::RunbookView) {
    println!("{} ({})", v.name, v.file);
    for s in &v.steps {
        let here = if v.current == Some(s.index) { ">" } else { " " };
        let tb = s.time_box_ms.map(|t| format!(" [{}]", incident::human_ms(t))).unwrap_or_default();
        let overdue = if s.overdue { " OVERDUE" } else { "" };
        println!("{here} {}. [{}] {}{tb}{overdue}", s.index + 1, s.state.as_str(), s.title);
        if let Some(a) = &s.action {
            println!("      action: {a}");
        }
        if let Some(r) = &s.reason {
            println!("      reason: {r}");
        }
    }
}

/// `backout checklist`: the incident's validation checklist.
#[derive(Debug, Args)]
pub struct ChecklistArgs {
    /// Incident id.
    #[arg(long)]
    incident: i64,
    /// Run the automatic checks again every second until validated or this many seconds pass.
    #[arg(long, value_name = "SECONDS")]
    watch: Option<u64>,
    /// What to do [default: run the automatic checks once and show the list].
    #[command(subcommand)]
    action: Option<ChecklistAction>,
}

/// What a person can do to a checklist item.
#[derive(Debug, Subcommand)]
pub enum ChecklistAction {
    /// Tick an item (number or title).
    Tick {
        /// Item number (from 1) or title.
        item: String,
    },
    /// Untick an item.
    Untick {
        /// Item number (from 1) or title.
        item: String,
    },
    /// Waive an item, saying why.
    Waive {
        /// Item number (from 1) or title.
        item: String,
        /// Why it is waived (required).
        #[arg(long, required = true)]
        note: String,
    },
}

/// Runs `backout checklist ...`.
pub(super) fn checklist_cmd(ctx: &Context, args: &ChecklistArgs) -> Result<Exit> {
    let config = try_exit!(ctx.config());
    let mut store = try_exit!(ctx.store());
    let id = args.incident;
    let Some(row) = store.incident(id)? else {
        eprintln!("backout: there is no incident #{id}; `backout incident list` lists them");
        return Ok(Exit::Usage);
    };
    let Some(env) = row.environment.as_deref().and_then(|n| config.environment(n)) else {
        eprintln!("backout: incident #{id} concerns no environment in the config; its checklist cannot be read");
        return Ok(Exit::Usage);
    };
    let by = config.operator();
    let done = match &args.action {
        Some(ChecklistAction::Tick { item }) => incident::tick_item(&mut store, id, env, item, &by).map(Some),
        Some(ChecklistAction::Untick { item }) => incident::untick_item(&mut store, id, env, item, &by).map(|()| None),
        Some(ChecklistAction::Waive { item, note }) => {
            incident::waive_item(&mut store, id, env, item, note, &by).map(Some)
        }
        None => Ok(None),
    };
    let validated = match done {
        Ok(v) => v == Some(true),
        Err(e) => {
            eprintln!("backout: {e:#}");
            return Ok(Exit::Usage);
        }
    };
    // Validated by hand: the incident's page (PagerDuty) is resolved.
    if validated {
        let notifier = crate::notify::Notifier::from_config(&config.notifications);
        let why = format!("incident #{id}: every required checklist item holds (by {by}): validated");
        if let Err(e) = incident::announce_validated(ctx.rt.handle(), &mut store, &notifier, id, &why) {
            eprintln!("backout: incident #{id} is validated, but recording its notice failed: {e:#}");
        }
    }
    let items = if args.action.is_some() {
        incident::checklist_state(&store, id, env)?
    } else {
        let deadline = crate::domain::ts::instant_after(
            std::time::Instant::now(),
            std::time::Duration::from_secs(args.watch.unwrap_or(0)),
        );
        loop {
            let round = incident::evaluate_checklist(ctx.rt.handle(), &mut store, id, env)?;
            if round.validated || std::time::Instant::now() >= deadline {
                break round.items;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    };
    let validated = store.milestones(id)?.iter().any(|m| m.milestone == Milestone::Validated);
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({ "incident": id, "validated": validated, "items": items })),
        Format::Table => {
            for i in &items {
                let mark = if i.waived {
                    "~"
                } else if i.passed {
                    "x"
                } else {
                    " "
                };
                let req = if i.required { "" } else { " (optional)" };
                let hold = match (&i.passing_since, i.stable_for_ms, i.passed) {
                    (Some(since), Some(w), false) => {
                        format!(" passing since {}, needs {}", ts::format(*since), incident::human_ms(w))
                    }
                    _ => String::new(),
                };
                println!("[{mark}] {}. {}{req} ({}){hold}", i.number, i.title, i.check);
                if let Some(d) = &i.detail {
                    println!("      {d}");
                }
            }
            println!("{}", if validated { "validated" } else { "not validated yet" });
        }
    }
    Ok(Exit::Ok)
}
