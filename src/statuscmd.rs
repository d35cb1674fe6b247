//! History, target and verification from the deployment tools themselves
//! (issue 12, item 2): a `command` status source runs `helm history`, or
//! `kubectl get replicasets` (Deployments and Argo Rollouts), and reads
//! versions and revisions from its JSON, in place of the playbook's
//! `GET /deployment/status` and `GET /health`.
//!
//! A version is the chart's app version (Helm) or the first container's
//! image tag (ReplicaSets); revision numbers are never compared: Kubernetes
//! and Helm give a restored template a new number.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{DeploymentStatus, Health};
use crate::playbook::{CallError, DeploymentRecord, DeploymentStatusReport, HealthReport};

/// Which tool's JSON the command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// `helm history RELEASE -o json`.
    Helm,
    /// `kubectl get replicasets -l SELECTOR -o json` of a Deployment
    /// (`deployment.kubernetes.io/revision`).
    Kubectl,
    /// The same for an Argo Rollout (`rollout.argoproj.io/revision`).
    ArgoRollouts,
}

impl Preset {
    /// The argv a preset runs, naming the context and namespace explicitly.
    pub fn argv(self, name: &str, namespace: &str, context: &str, selector: Option<&str>) -> Vec<String> {
        let selector = selector.map_or_else(|| format!("app={name}"), str::to_string);
        let v = |items: &[&str]| items.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        match self {
            Preset::Helm => v(&[
                "helm",
                "history",
                name,
                "--kube-context",
                context,
                "--namespace",
                namespace,
                "--max",
                "20",
                "--output",
                "json",
            ]),
            Preset::Kubectl | Preset::ArgoRollouts => v(&[
                "kubectl",
                "get",
                "replicasets",
                "--context",
                context,
                "--namespace",
                namespace,
                "--selector",
                &selector,
                "--output",
                "json",
            ]),
        }
    }

    fn revision_annotation(self) -> &'static str {
        match self {
            Preset::ArgoRollouts => "rollout.argoproj.io/revision",
            _ => "deployment.kubernetes.io/revision",
        }
    }
}

/// Where each fact sits in a tool's JSON, for a tool without a preset: JSON
/// pointers into the list at `items` and into each of its entries.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pointers {
    /// The list of revisions (`""`: the document itself).
    #[serde(default)]
    pub items: String,
    /// The revision's number (`{revision}`).
    pub revision: String,
    /// The version it runs.
    pub version: String,
    /// When it was made: RFC 3339 text, or seconds since the epoch.
    pub time: String,
    /// Whether it serves: true, a number above 0, or "true"/"yes"/"deployed".
    pub serving: String,
    /// Whether it is ready (healthy); its serving when absent.
    #[serde(default)]
    pub ready: Option<String>,
    /// Whether it failed.
    #[serde(default)]
    pub failed: Option<String>,
}

/// How a command's output is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Reader {
    /// A tool's known JSON.
    Preset(Preset),
    /// JSON pointers.
    Pointers(Pointers),
}

/// One revision the tool reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// The tool's revision number, as text (`{revision}` in a driver's argv).
    pub revision: String,
    /// The version it runs: the app version, or the image tag.
    pub version: String,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// It is the one serving.
    pub serving: bool,
    /// All its replicas are ready (Helm: deployed).
    pub ready: bool,
    /// The tool marked it failed.
    pub failed: bool,
}

/// A command whose JSON gives the deployment history.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusCommand {
    /// The argv, run without a shell.
    pub argv: Vec<String>,
    /// How to read its output.
    pub reader: Reader,
    /// Longest one run may take.
    pub timeout: Duration,
    /// Most bytes of output read.
    pub cap: usize,
}

impl StatusCommand {
    /// Runs the command and reads its revisions, oldest first.
    pub async fn revisions(&self) -> Result<Vec<Revision>, CallError> {
        let out =
            crate::drivers::run_for_output(&self.argv, self.timeout, self.cap).await.map_err(CallError::Command)?;
        read(&self.reader, &out).map_err(CallError::Command)
    }

    /// The deployment status in the playbook's shape.
    pub async fn status(&self) -> Result<DeploymentStatusReport, CallError> {
        let revs = self.revisions().await?;
        report(&revs).map_err(CallError::Command)
    }

    /// Health from readiness: the serving revision all ready is healthy, some
    /// ready degraded, none (or none serving) unhealthy.
    pub async fn health(&self) -> Result<HealthReport, CallError> {
        let revs = self.revisions().await?;
        let serving = revs.iter().rev().find(|r| r.serving);
        Ok(HealthReport {
            health: match serving {
                Some(r) if r.ready && !r.failed => Health::Healthy,
                Some(r) if !r.failed => Health::Degraded,
                _ => Health::Unhealthy,
            },
            environment: None,
            version: serving.map(|r| r.version.clone()),
        })
    }
}

/// The playbook-shaped status of `revs`: serving version, and history with
/// each revision's number as its id.
pub fn report(revs: &[Revision]) -> Result<DeploymentStatusReport, String> {
    let serving = revs
        .iter()
        .rev()
        .find(|r| r.serving)
        .ok_or("no revision is serving (none has replicas, or none is deployed)")?;
    Ok(DeploymentStatusReport {
        current_environment: None,
        version: serving.version.clone(),
        environments: Default::default(),
        deployment_history: revs
            .iter()
            .map(|r| DeploymentRecord {
                id: r.revision.clone(),
                version: r.version.clone(),
                environment: None,
                deployed_at: r.at,
                status: if r.failed { DeploymentStatus::Failed } else { DeploymentStatus::Succeeded },
            })
            .collect(),
    })
}

/// Reads a tool's JSON into revisions, oldest first.
pub fn parse(preset: Preset, json: &str) -> Result<Vec<Revision>, String> {
    read(&Reader::Preset(preset), json)
}

/// Reads a command's JSON as `reader` says, oldest first.
pub fn read(reader: &Reader, json: &str) -> Result<Vec<Revision>, String> {
    let doc: Value = serde_json::from_str(json)
        .map_err(|e| format!("the status command's output is not JSON: {e}: {}", crate::text::excerpt(json, 120)))?;
    let mut revs = match reader {
        Reader::Preset(Preset::Helm) => helm(&doc)?,
        Reader::Preset(p @ (Preset::Kubectl | Preset::ArgoRollouts)) => replicasets(&doc, p.revision_annotation())?,
        Reader::Pointers(p) => pointed(&doc, p)?,
    };
    revs.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| num(&a.revision).cmp(&num(&b.revision))));
    Ok(revs)
}

fn num(revision: &str) -> u64 {
    revision.parse().unwrap_or(0)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(crate::text::service_text(s)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Truthy as a status command says it: true, a number above 0, or a word.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f > 0.0),
        Value::String(s) => {
            matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1" | "deployed" | "serving")
        }
        _ => false,
    }
}

/// Revisions read through JSON pointers.
fn pointed(doc: &Value, p: &Pointers) -> Result<Vec<Revision>, String> {
    let list = doc
        .pointer(&p.items)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no list at {:?} in the status command's output", p.items))?;
    list.iter()
        .map(|e| {
            let revision = e
                .pointer(&p.revision)
                .and_then(text)
                .ok_or_else(|| format!("an entry has no revision at {}", p.revision))?;
            let version = e
                .pointer(&p.version)
                .and_then(text)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("revision {revision} has no version at {}", p.version))?;
            let at = match e.pointer(&p.time) {
                Some(Value::String(t)) => DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc)),
                Some(Value::Number(n)) => n.as_i64().and_then(|s| DateTime::from_timestamp(s, 0)),
                _ => None,
            }
            .ok_or_else(|| format!("revision {revision} has no time at {} (RFC 3339 or epoch seconds)", p.time))?;
            let serving = e.pointer(&p.serving).is_some_and(truthy);
            let ready = p.ready.as_deref().map_or(serving, |r| e.pointer(r).is_some_and(truthy));
            let failed = p.failed.as_deref().is_some_and(|f| e.pointer(f).is_some_and(truthy));
            Ok(Revision { revision, version, at, serving, ready, failed })
        })
        .collect()
}

/// `helm history -o json`: `[{revision, updated, status, chart, app_version, description}]`.
fn helm(doc: &Value) -> Result<Vec<Revision>, String> {
    let list = doc.as_array().ok_or("helm history's output is not a list")?;
    list.iter()
        .map(|r| {
            let revision = text(&r["revision"]).ok_or("a helm revision without a number")?;
            let status = r["status"].as_str().unwrap_or("");
            // The chart's version when the chart declares no app version.
            let version = text(&r["app_version"])
                .filter(|v| !v.is_empty())
                .or_else(|| text(&r["chart"]))
                .ok_or_else(|| format!("helm revision {revision} has no app_version or chart"))?;
            let at = r["updated"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| format!("helm revision {revision} has no readable updated time"))?;
            Ok(Revision {
                revision,
                version,
                at,
                serving: status == "deployed",
                ready: status == "deployed",
                failed: status == "failed",
            })
        })
        .collect()
}

/// `kubectl get replicasets -o json`: a List of ReplicaSets, each with its
/// revision annotation, first container image and replica counts.
fn replicasets(doc: &Value, annotation: &str) -> Result<Vec<Revision>, String> {
    let items = doc["items"].as_array().ok_or("kubectl's output has no items list")?;
    items
        .iter()
        .filter_map(|rs| {
            // A ReplicaSet without the annotation belongs to no rollout history.
            let revision = text(&rs["metadata"]["annotations"][annotation])?;
            Some((revision, rs))
        })
        .map(|(revision, rs)| {
            let image = rs["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .ok_or_else(|| format!("ReplicaSet revision {revision} has no container image"))?;
            // `registry:5000/checkout:1.4.3` → `1.4.3`; an image by digest keeps it whole.
            let name = image.rsplit('/').next().unwrap_or(image);
            let version = match name.split_once('@') {
                Some(_) => image.to_string(),
                None => name.rsplit_once(':').map_or(image, |(_, tag)| tag).to_string(),
            };
            let at = rs["metadata"]["creationTimestamp"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| format!("ReplicaSet revision {revision} has no creationTimestamp"))?;
            let want = rs["spec"]["replicas"].as_u64().unwrap_or(0);
            let ready = rs["status"]["readyReplicas"].as_u64().unwrap_or(0);
            Ok(Revision {
                revision,
                version: crate::text::service_text(&version),
                at,
                serving: want > 0,
                ready: want > 0 && ready >= want,
                failed: false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools").join(name),
        )
        .unwrap_or_default()
    }

    #[test]
    fn helm_history_gives_versions_not_revision_numbers_and_a_rollback_is_a_new_revision() {
        let revs = parse(Preset::Helm, &fixture("helm-history-after-rollback.json")).unwrap_or_default();
        let pairs: Vec<(&str, &str, bool)> =
            revs.iter().map(|r| (r.revision.as_str(), r.version.as_str(), r.serving)).collect();
        assert_eq!(pairs, [("1", "1.4.2", false), ("2", "1.4.3", false), ("3", "2.0.0", false), ("4", "1.4.3", true)]);
        let report = report(&revs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.version, "1.4.3");
        assert_eq!(report.deployment_history[2].status, DeploymentStatus::Succeeded);
        let failed = parse(Preset::Helm, &fixture("helm-history-failed.json")).unwrap_or_default();
        assert!(failed.last().is_some_and(|r| r.failed && !r.serving), "{failed:?}");
    }

    #[test]
    fn replicasets_give_the_serving_image_tag_and_kubernetes_renumbering_keeps_the_version() {
        let before = parse(Preset::Kubectl, &fixture("kubectl-replicasets.json")).unwrap_or_default();
        let serving: Vec<(&str, &str)> =
            before.iter().filter(|r| r.serving).map(|r| (r.revision.as_str(), r.version.as_str())).collect();
        assert_eq!(serving, [("3", "2.0.0-bad")]);
        let after = parse(Preset::Kubectl, &fixture("kubectl-replicasets-after-undo.json")).unwrap_or_default();
        // `rollout undo --to-revision=2` renumbers the restored template 4.
        let serving = after.iter().find(|r| r.serving).map(|r| (r.revision.clone(), r.version.clone()));
        assert_eq!(serving, Some(("4".to_string(), "1.4.3".to_string())));
        assert!(!after.iter().any(|r| r.revision == "2"), "revision 2 is gone: it became 4");
        let argo = parse(Preset::ArgoRollouts, &fixture("argo-replicasets.json")).unwrap_or_default();
        assert_eq!(argo.iter().find(|r| r.serving).map(|r| r.version.as_str()), Some("1.4.3"));
        assert!(parse(Preset::Kubectl, "{\"items\": 3}").is_err());
        // Any tool, through pointers.
        let p = Pointers {
            items: "/releases".into(),
            revision: "/rev".into(),
            version: "/image/tag".into(),
            time: "/at".into(),
            serving: "/live".into(),
            ready: Some("/ok".into()),
            failed: None,
        };
        let doc = r#"{"releases":[{"rev":7,"image":{"tag":"1.4.3"},"at":1795305026,"live":false,"ok":true},
                                  {"rev":8,"image":{"tag":"2.0.0"},"at":"2026-11-22T08:01:18Z","live":"yes","ok":false}]}"#;
        let revs = read(&Reader::Pointers(p.clone()), doc).unwrap_or_default();
        let got: Vec<(&str, &str, bool, bool)> =
            revs.iter().map(|r| (r.revision.as_str(), r.version.as_str(), r.serving, r.ready)).collect();
        // 1795305026 is 2026-11-21T..., before revision 8's time: oldest first.
        assert_eq!(got, [("7", "1.4.3", false, true), ("8", "2.0.0", true, false)], "sorted by time");
        assert!(read(&Reader::Pointers(p), r#"{"releases":[{"rev":1}]}"#).unwrap_err().contains("no version"));
        assert!(parse(Preset::Helm, "not json").is_err());
    }
}
