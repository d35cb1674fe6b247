//! Choosing what to roll back to (seeds 003 and 004), as pure functions of what the
//! service and the store know.

use std::collections::HashSet;

use crate::config::EnvKind;
use crate::playbook::{DeploymentRecord, DeploymentStatus, DeploymentStatusReport};
use crate::store::RollbackType;

/// Where a rollback should end, and how to ask for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackTarget {
    /// Version that must be current afterwards.
    pub version: String,
    /// Version sent in the request body; `None` asks for a blue/green switch.
    pub request_version: Option<String>,
    /// How it was chosen.
    pub rollback_type: RollbackType,
    /// The colour that will serve, for a switch.
    pub colour: Option<String>,
}

/// Why no rollback can be planned.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanRefusal {
    /// The requested version is not in the history.
    UnknownVersion {
        /// What was asked for.
        requested: String,
        /// Versions the history holds.
        known: Vec<String>,
    },
    /// The requested version never deployed successfully.
    BadVersion {
        /// What was asked for.
        requested: String,
        /// Its status.
        status: DeploymentStatus,
    },
    /// The requested version is already serving.
    AlreadyCurrent(String),
    /// No earlier good version exists.
    NothingToRollBackTo {
        /// Versions the history holds.
        known: Vec<String>,
    },
}

impl std::fmt::Display for PlanRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanRefusal::UnknownVersion { requested, known } => write!(
                f,
                "version {requested} is not in the deployment history; known versions: {}",
                join_or_none(known)
            ),
            PlanRefusal::BadVersion { requested, status } => write!(
                f,
                "version {requested} is in the history as {}, never as a good deployment; pick another with --version",
                status.as_str()
            ),
            PlanRefusal::AlreadyCurrent(v) => {
                write!(f, "version {v} is already the current version")
            }
            PlanRefusal::NothingToRollBackTo { known } => write!(
                f,
                "nothing to roll back to: no earlier succeeded deployment that was not itself rolled back (history: {})",
                join_or_none(known)
            ),
        }
    }
}

fn join_or_none(v: &[String]) -> String {
    if v.is_empty() { "none".to_string() } else { v.join(", ") }
}

/// Distinct versions in the history, oldest first.
pub fn known_versions(history: &[DeploymentRecord]) -> Vec<String> {
    let mut seen = HashSet::new();
    history.iter().filter(|d| seen.insert(d.version.as_str())).map(|d| d.version.clone()).collect()
}

/// Versions that were rolled back away from because they failed: marked
/// `rolled_back` by the service, or named in `rolled_back_from` (the store's
/// completed rollbacks).
fn rolled_back_versions<'a>(
    history: &'a [DeploymentRecord],
    rolled_back_from: &'a HashSet<String>,
) -> HashSet<&'a str> {
    history
        .iter()
        .filter(|d| d.status == DeploymentStatus::RolledBack)
        .map(|d| d.version.as_str())
        .chain(rolled_back_from.iter().map(String::as_str))
        .collect()
}

/// The newest succeeded deployment that is not the current version and was never
/// itself rolled back for failing. Never a failed or aborted one.
pub fn last_known_good<'a>(
    history: &'a [DeploymentRecord],
    current_version: &str,
    rolled_back_from: &HashSet<String>,
) -> Option<&'a DeploymentRecord> {
    let bad = rolled_back_versions(history, rolled_back_from);
    history
        .iter()
        .filter(|d| d.status == DeploymentStatus::Succeeded)
        .filter(|d| d.version != current_version && !bad.contains(d.version.as_str()))
        .max_by_key(|d| d.deployed_at)
}

/// Plans a rollback of a service in the state `status`.
pub fn choose_target(
    kind: EnvKind,
    status: &DeploymentStatusReport,
    requested: Option<&str>,
    rolled_back_from: &HashSet<String>,
) -> Result<RollbackTarget, PlanRefusal> {
    let history = &status.deployment_history;
    let known = known_versions(history);
    let idle_colour = idle_colour_holding(status);
    if let Some(v) = requested {
        if v == status.version {
            return Err(PlanRefusal::AlreadyCurrent(v.to_string()));
        }
        let entries: Vec<&DeploymentRecord> = history.iter().filter(|d| d.version == v).collect();
        if entries.is_empty() {
            return Err(PlanRefusal::UnknownVersion { requested: v.to_string(), known });
        }
        let ever_good =
            entries.iter().any(|d| matches!(d.status, DeploymentStatus::Succeeded | DeploymentStatus::RolledBack));
        if !ever_good {
            let status = entries.last().map_or(DeploymentStatus::Failed, |d| d.status);
            return Err(PlanRefusal::BadVersion { requested: v.to_string(), status });
        }
        return Ok(RollbackTarget {
            version: v.to_string(),
            request_version: Some(v.to_string()),
            rollback_type: RollbackType::Specific,
            colour: idle_colour(v),
        });
    }
    let good = last_known_good(history, &status.version, rolled_back_from)
        .ok_or(PlanRefusal::NothingToRollBackTo { known })?;
    let colour = idle_colour(&good.version);
    let (rollback_type, request_version) = match (kind, &colour) {
        // The idle colour already runs the good version: switching traffic is the
        // fastest way back and needs no version in the request.
        (EnvKind::BlueGreen, Some(_)) => (RollbackType::BlueGreenSwitch, None),
        (EnvKind::FeatureFlag, _) => (RollbackType::FlagToggle, Some(good.version.clone())),
        _ => (RollbackType::Previous, Some(good.version.clone())),
    };
    Ok(RollbackTarget { version: good.version.clone(), request_version, rollback_type, colour })
}

/// A function telling which idle colour (not serving) holds a version.
fn idle_colour_holding(status: &DeploymentStatusReport) -> impl Fn(&str) -> Option<String> + '_ {
    move |version: &str| {
        status
            .environments
            .iter()
            .find(|(name, c)| Some(name.as_str()) != status.current_environment.as_deref() && c.version == version)
            .map(|(name, _)| name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::{ColourState, Health};

    fn dep(id: &str, version: &str, day: u32, status: DeploymentStatus) -> DeploymentRecord {
        DeploymentRecord {
            id: id.into(),
            version: version.into(),
            environment: None,
            deployed_at: format!("2026-11-{day:02}T10:00:00Z").parse().unwrap(),
            status,
        }
    }

    fn report(current: &str, history: Vec<DeploymentRecord>) -> DeploymentStatusReport {
        let mut environments = std::collections::BTreeMap::new();
        environments.insert("blue".into(), ColourState { version: current.into(), health: Health::Degraded });
        environments.insert("green".into(), ColourState { version: "1.4.1".into(), health: Health::Healthy });
        DeploymentStatusReport {
            current_environment: Some("blue".into()),
            version: current.into(),
            environments,
            deployment_history: history,
        }
    }

    fn history() -> Vec<DeploymentRecord> {
        use DeploymentStatus::*;
        vec![
            dep("d-1", "1.4.0", 1, Succeeded),
            dep("d-2", "1.4.1", 2, Succeeded),
            dep("d-3", "1.4.2-rc1", 3, Failed),
            dep("d-4", "1.4.2", 4, Succeeded),
        ]
    }

    #[test]
    fn last_known_good_skips_current_failed_and_rolled_back() {
        let h = history();
        assert_eq!(last_known_good(&h, "1.4.2", &HashSet::new()).unwrap().version, "1.4.1");
        let rolled: HashSet<String> = ["1.4.1".to_string()].into();
        assert_eq!(last_known_good(&h, "1.4.2", &rolled).unwrap().version, "1.4.0");
        let mut h2 = h.clone();
        h2[1].status = DeploymentStatus::RolledBack;
        assert_eq!(last_known_good(&h2, "1.4.2", &HashSet::new()).unwrap().version, "1.4.0");
        assert!(last_known_good(&h[..1], "1.4.0", &HashSet::new()).is_none());
    }

    #[test]
    fn blue_green_switches_when_idle_colour_is_good() {
        let t = choose_target(EnvKind::BlueGreen, &report("1.4.2", history()), None, &HashSet::new()).unwrap();
        assert_eq!(t.rollback_type, RollbackType::BlueGreenSwitch);
        assert_eq!(t.request_version, None);
        assert_eq!(t.colour.as_deref(), Some("green"));
        let t = choose_target(EnvKind::Standard, &report("1.4.2", history()), None, &HashSet::new()).unwrap();
        assert_eq!((t.rollback_type, t.request_version.as_deref()), (RollbackType::Previous, Some("1.4.1")));
    }

    #[test]
    fn requested_versions_are_checked_against_history() {
        let r = report("1.4.2", history());
        let e = choose_target(EnvKind::BlueGreen, &r, Some("9.9.9"), &HashSet::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "version 9.9.9 is not in the deployment history; known versions: 1.4.0, 1.4.1, 1.4.2-rc1, 1.4.2"
        );
        let e = choose_target(EnvKind::BlueGreen, &r, Some("1.4.2-rc1"), &HashSet::new()).unwrap_err();
        assert!(matches!(e, PlanRefusal::BadVersion { .. }));
        assert_eq!(
            choose_target(EnvKind::BlueGreen, &r, Some("1.4.2"), &HashSet::new()).unwrap_err(),
            PlanRefusal::AlreadyCurrent("1.4.2".into())
        );
        let t = choose_target(EnvKind::BlueGreen, &r, Some("1.4.0"), &HashSet::new()).unwrap();
        assert_eq!((t.rollback_type, t.version.as_str()), (RollbackType::Specific, "1.4.0"));
    }
}
