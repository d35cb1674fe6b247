//! `backout note` and `backout incidents`.

use color_eyre::eyre::Result;

use super::output::{self, Exit, Format};
use super::{Context, try_exit};
use crate::domain::IncidentStatus;

pub(super) fn note(ctx: &Context, incident: Option<i64>, env: Option<&str>, text: &str) -> Result<Exit> {
    let text = text.trim();
    if text.is_empty() {
        eprintln!("backout: the note is empty; nothing was saved");
        return Ok(Exit::Usage);
    }
    let mut store = try_exit!(ctx.store());
    let env_id = match env {
        Some(name) => match store.environment_id(name)? {
            Some(id) => Some(id),
            None => {
                eprintln!("backout: no environment named {name:?} has been recorded in {}", store.path().display());
                return Ok(Exit::Usage);
            }
        },
        None => None,
    };
    let incident_id = match incident {
        Some(id) => match store.incident(id)? {
            Some(_) => Some(id),
            None => {
                eprintln!("backout: there is no incident #{id}; `backout incidents` lists them");
                return Ok(Exit::Usage);
            }
        },
        None => match env_id {
            Some(e) => store.open_incident_for(e)?.map(|i| i.id),
            None => store.incidents(usize::MAX)?.into_iter().find(|i| i.status == IncidentStatus::Open).map(|i| i.id),
        },
    };
    // A note must never be lost to a config problem: the config only names the
    // operator, and $USER stands in when it cannot be read.
    let config_path = crate::config::resolve_path(ctx.config_flag.as_deref());
    let author = match crate::config::Config::load(&config_path) {
        Ok(c) => c.operator(),
        Err(_) => std::env::var("USER").unwrap_or_else(|_| "operator".into()),
    };
    let saved = match store.add_note(incident_id, env_id, &author, text) {
        Ok(saved) => saved,
        Err(e) => {
            eprintln!("backout: the note was not saved: {e}");
            return Ok(Exit::Failed);
        }
    };
    match ctx.format {
        Format::Json => output::json(&saved),
        Format::Table => match saved.incident_id {
            Some(i) => println!("note #{} saved to incident #{i}", saved.id),
            None => println!("note #{} saved (no open incident; it is on the general timeline)", saved.id),
        },
    }
    Ok(Exit::Ok)
}
