//! The TOML configuration: what to watch and how to roll it back.
//!
//! Parsing keeps the byte span of the values that later checks may complain about,
//! so every error can be shown as `file:line:column`.

mod defaults;
mod duration;
mod limits;
mod validate;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

pub use crate::domain::{CheckKind, ProbeMethod, RuleKind, SignalAggregate};
pub use duration::HumanDuration;
pub use validate::{ConfigError, ConfigErrors, line_column};

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "BACKOUT_CONFIG";

/// The whole config file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who is at the keyboard; defaults to `$USER`.
    #[serde(default)]
    pub operator: Option<String>,
    /// How often signals are polled unless a signal says otherwise.
    #[serde(default = "defaults::poll_interval")]
    pub poll_interval: HumanDuration,
    /// Theme name (`dark`, `light`, `high-contrast`) or a path to a theme file.
    #[serde(default = "defaults::theme")]
    pub theme: String,
    /// The console takes mouse clicks and the wheel (off: the terminal keeps
    /// its own selection by mouse).
    #[serde(default = "defaults::yes")]
    pub mouse: bool,
    /// Folder holding runbook files, relative to the config file.
    #[serde(default)]
    pub runbooks_dir: Option<String>,
    /// Where notifications go.
    #[serde(default)]
    pub notifications: NotificationsConfig,
    /// Key bindings of the console: action name -> key (`rollback = "ctrl-r"`).
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, String>,
    /// Recovery-time objective of each incident severity (seed 001).
    #[serde(default)]
    pub severities: SeverityObjectives,
    /// When an incident is escalated (seed 002's decision time box).
    #[serde(default)]
    pub escalation: EscalationConfig,
    /// How every `prometheus` signal reaches its server: auth, tenant, CA.
    #[serde(default)]
    pub prometheus: PrometheusConfig,
    /// The Alertmanager webhook receiver that `alertmanager` signals read.
    #[serde(default)]
    pub alertmanager: AlertmanagerConfig,
    /// The environments to watch, in display order.
    #[serde(default, rename = "environment")]
    pub environments: Vec<EnvironmentConfig>,
}

/// Recovery-time objective of each incident severity; seed 001's by default.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityObjectives {
    /// Critical issues (default 2 minutes).
    #[serde(default = "defaults::rto_critical")]
    pub critical: HumanDuration,
    /// Performance issues (default 5 minutes).
    #[serde(default = "defaults::rto_performance")]
    pub performance: HumanDuration,
    /// Feature issues (default 15 minutes).
    #[serde(default = "defaults::rto_feature")]
    pub feature: HumanDuration,
    /// Non-critical issues (default 30 minutes).
    #[serde(default = "defaults::rto_non_critical", rename = "non-critical")]
    pub non_critical: HumanDuration,
}

impl Default for SeverityObjectives {
    fn default() -> Self {
        SeverityObjectives {
            critical: defaults::rto_critical(),
            performance: defaults::rto_performance(),
            feature: defaults::rto_feature(),
            non_critical: defaults::rto_non_critical(),
        }
    }
}

/// `[environment.status]`: history, target and readiness read from a
/// deployment tool (helm, kubectl, Argo Rollouts) instead of the playbook API.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatusSourceConfig {
    /// `command`.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// Whose JSON the command prints: `helm`, `kubectl`, `argo-rollouts`;
    /// none: `argv` and `pointers` say.
    #[serde(default)]
    pub preset: Option<Spanned<crate::statuscmd::Preset>>,
    /// The Helm release, Deployment or Rollout (presets).
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The namespace, named explicitly (presets).
    #[serde(default)]
    pub namespace: Option<Spanned<String>>,
    /// The kubeconfig context, named explicitly (presets).
    #[serde(default)]
    pub context: Option<Spanned<String>>,
    /// Without a preset: where each fact sits in the command's JSON.
    #[serde(default)]
    pub pointers: Option<crate::statuscmd::Pointers>,
    /// `kubectl`/`argo-rollouts`: the ReplicaSets' label selector (`app=NAME`).
    #[serde(default)]
    pub selector: Option<Spanned<String>>,
    /// The argv to run instead of the preset's (its output read the same way).
    #[serde(default)]
    pub argv: Option<Spanned<Vec<String>>>,
    /// Longest one run may take (10 s when absent).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
}

impl StatusSourceConfig {
    /// The argv run: the configured one, or the preset's (`check` makes
    /// sure there is one).
    pub fn argv(&self) -> Vec<String> {
        let text = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.get_ref().clone()).unwrap_or_default();
        match (&self.argv, &self.preset) {
            (Some(a), _) => a.get_ref().clone(),
            (None, Some(p)) => p.get_ref().argv(
                &text(&self.name),
                &text(&self.namespace),
                &text(&self.context),
                self.selector.as_ref().map(|s| s.get_ref().as_str()),
            ),
            (None, None) => Vec::new(),
        }
    }

    /// How the output is read: the preset's way, or the pointers.
    pub fn reader(&self) -> crate::statuscmd::Reader {
        match (&self.preset, &self.pointers) {
            (Some(p), _) => crate::statuscmd::Reader::Preset(*p.get_ref()),
            (None, Some(ptr)) => crate::statuscmd::Reader::Pointers(ptr.clone()),
            // `check` refuses a status source with neither.
            (None, None) => crate::statuscmd::Reader::Preset(crate::statuscmd::Preset::Kubectl),
        }
    }
}

/// The Alertmanager webhook receiver (`watch --listen` overrides `listen`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Address to listen on, such as `"127.0.0.1:9095"`; none: no receiver
    /// unless `watch --listen` gives one.
    #[serde(default)]
    pub listen: Option<Spanned<String>>,
    /// Environment variable holding the bearer token a post must carry.
    #[serde(default)]
    pub token_env: Option<Spanned<String>>,
    /// Most bytes of one post (1 MiB when absent).
    #[serde(default)]
    pub max_body: Option<Spanned<u64>>,
}

impl AlertmanagerConfig {
    /// Most bytes of one post.
    pub fn max_body(&self) -> usize {
        self.max_body.as_ref().and_then(|m| usize::try_from(*m.get_ref()).ok()).unwrap_or(crate::net::DEFAULT_MAX_BODY)
    }
}

/// How backout reaches Prometheus-compatible servers (Prometheus, Mimir,
/// Cortex, Thanos): applied to every `source = "prometheus"` signal. Secrets
/// are named by environment variable, never written here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Environment variable holding a bearer token (`Authorization: Bearer`).
    #[serde(default)]
    pub bearer_token_env: Option<Spanned<String>>,
    /// Environment variable holding the basic-auth user name.
    #[serde(default)]
    pub username_env: Option<Spanned<String>>,
    /// Environment variable holding the basic-auth password.
    #[serde(default)]
    pub password_env: Option<Spanned<String>>,
    /// Tenant sent as `X-Scope-OrgID` (Mimir, Cortex, Loki-style setups).
    #[serde(default)]
    pub tenant: Option<Spanned<String>>,
    /// A PEM file of extra root certificates trusted for `https` servers,
    /// relative to the config file's folder.
    #[serde(default)]
    pub ca_file: Option<Spanned<String>>,
    /// The config file's folder, which `ca_file` is relative to.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl PrometheusConfig {
    /// The CA file's path, resolved against the config file's folder.
    pub fn ca_path(&self) -> Option<PathBuf> {
        self.ca_file.as_ref().map(|f| self.base_dir.join(f.get_ref()))
    }
}

/// Seed 002's decision time box: an incident still open and not validated
/// this long after its detection is escalated, once, to the escalation target.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Escalate at all (default on).
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// The time box of every severity without its own (default 1 hour).
    #[serde(default = "defaults::escalate_after")]
    pub after: HumanDuration,
    /// Critical incidents' time box, when not `after`.
    #[serde(default)]
    pub critical: Option<HumanDuration>,
    /// Performance incidents' time box, when not `after`.
    #[serde(default)]
    pub performance: Option<HumanDuration>,
    /// Feature incidents' time box, when not `after`.
    #[serde(default)]
    pub feature: Option<HumanDuration>,
    /// Non-critical incidents' time box, when not `after`.
    #[serde(default, rename = "non-critical")]
    pub non_critical: Option<HumanDuration>,
    /// Who is escalated to, named in the message (`EP21 Tech Lead`).
    #[serde(default)]
    pub target: Option<String>,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            enabled: true,
            after: defaults::escalate_after(),
            critical: None,
            performance: None,
            feature: None,
            non_critical: None,
            target: None,
        }
    }
}

impl EscalationConfig {
    /// The time box of an incident of `severity` (`None`: unknown severity).
    pub fn time_box(&self, severity: Option<crate::domain::Severity>) -> std::time::Duration {
        use crate::domain::Severity;
        let own = match severity {
            Some(Severity::Critical) => self.critical,
            Some(Severity::Performance) => self.performance,
            Some(Severity::Feature) => self.feature,
            Some(Severity::NonCritical) => self.non_critical,
            None => None,
        };
        own.unwrap_or(self.after).get()
    }

    /// Who is escalated to, as messages name them.
    pub fn target(&self) -> &str {
        self.target.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("the escalation contact")
    }
}

/// A notification channel, as routes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// The live Slack-compatible webhook (and the escalation webhook).
    Webhook,
    /// PagerDuty's Events API v2.
    Pagerduty,
    /// Desktop notifications.
    Desktop,
    /// Email over SMTP.
    Email,
}

/// Email over SMTP with STARTTLS. Secrets are named by environment variable.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP server (submission).
    pub smtp_host: Spanned<String>,
    /// Its port (587 when absent).
    #[serde(default)]
    pub smtp_port: Option<u16>,
    /// Upgrade with STARTTLS, required (default); `false` is allowed only for
    /// a relay on this machine (loopback).
    #[serde(default)]
    pub starttls: Option<Spanned<bool>>,
    /// The sender, such as `"backout <backout@example.com>"`.
    pub from: Spanned<String>,
    /// The recipients.
    pub to: Vec<Spanned<String>>,
    /// Environment variable holding the SMTP user name.
    #[serde(default)]
    pub username_env: Option<Spanned<String>>,
    /// Environment variable holding the SMTP password.
    #[serde(default)]
    pub password_env: Option<Spanned<String>>,
    /// A PEM file of extra CA certificates trusted for the server, relative
    /// to the config file's folder.
    #[serde(default)]
    pub ca_file: Option<Spanned<String>>,
    /// The config file's folder, which `ca_file` is relative to.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl EmailConfig {
    /// The SMTP port.
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(587)
    }

    /// Whether STARTTLS is required (it is unless turned off).
    pub fn starttls(&self) -> bool {
        self.starttls.as_ref().is_none_or(|s| *s.get_ref())
    }

    /// The CA file's path, resolved against the config file's folder.
    pub fn ca_path(&self) -> Option<PathBuf> {
        self.ca_file.as_ref().map(|f| self.base_dir.join(f.get_ref()))
    }
}

/// Which channels get notifications of each severity. A severity not listed
/// gets every channel that is on; drills go to the drill webhook whatever
/// the routes say.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    /// Critical incidents' channels.
    #[serde(default)]
    pub critical: Option<Vec<Channel>>,
    /// Performance incidents' channels.
    #[serde(default)]
    pub performance: Option<Vec<Channel>>,
    /// Feature incidents' channels.
    #[serde(default)]
    pub feature: Option<Vec<Channel>>,
    /// Non-critical incidents' channels.
    #[serde(default, rename = "non-critical")]
    pub non_critical: Option<Vec<Channel>>,
}

impl Routes {
    /// The channels of `severity` (unknown is critical), or `None`: all.
    pub fn channels(&self, severity: Option<crate::domain::Severity>) -> Option<&[Channel]> {
        use crate::domain::Severity;
        match severity.unwrap_or(Severity::Critical) {
            Severity::Critical => self.critical.as_deref(),
            Severity::Performance => self.performance.as_deref(),
            Severity::Feature => self.feature.as_deref(),
            Severity::NonCritical => self.non_critical.as_deref(),
        }
    }
}

/// Notification settings. Secrets are named here, never written here.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Send desktop notifications (best effort).
    #[serde(default = "defaults::yes")]
    pub desktop: bool,
    /// Name of the environment variable holding a Slack-compatible webhook URL.
    #[serde(default)]
    pub webhook_url_env: Option<Spanned<String>>,
    /// Name of the environment variable holding the webhook URL used for drills.
    #[serde(default)]
    pub drill_webhook_url_env: Option<Spanned<String>>,
    /// Name of the environment variable holding the escalation target's
    /// webhook URL; escalations go to the live webhook when it is not set.
    #[serde(default)]
    pub escalation_webhook_url_env: Option<Spanned<String>>,
    /// Name of the environment variable holding a PagerDuty Events API v2
    /// routing (integration) key; PagerDuty is off without it.
    #[serde(default)]
    pub pagerduty_routing_key_env: Option<Spanned<String>>,
    /// The Events API v2 address (PagerDuty's own when absent; a proxy's).
    #[serde(default)]
    pub pagerduty_url: Option<Spanned<String>>,
    /// Which channels get which severities (seed 001's alert channels).
    #[serde(default)]
    pub routes: Option<Routes>,
    /// Email over SMTP (seed 000): `[notifications.email]`.
    #[serde(default)]
    pub email: Option<EmailConfig>,
    /// Repeats of the same alert within this window are grouped into one.
    #[serde(default = "defaults::group_window")]
    pub group_window: HumanDuration,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            desktop: true,
            webhook_url_env: None,
            drill_webhook_url_env: None,
            escalation_webhook_url_env: None,
            pagerduty_routing_key_env: None,
            pagerduty_url: None,
            routes: None,
            email: None,
            group_window: defaults::group_window(),
        }
    }
}

/// What kind of release mechanism an environment has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvKind {
    /// Two colours; a rollback switches traffic back.
    BlueGreen,
    /// One running version; a rollback redeploys an older one.
    Standard,
    /// A rollback turns a feature flag off.
    FeatureFlag,
    /// Versioned content judged by a quality score.
    Content,
}

impl EnvKind {
    /// The word used in config and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvKind::BlueGreen => "blue-green",
            EnvKind::Standard => "standard",
            EnvKind::FeatureFlag => "feature-flag",
            EnvKind::Content => "content",
        }
    }
}

/// One watched environment.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Unique name, used on the command line (`--env`).
    pub name: Spanned<String>,
    /// Release mechanism.
    pub kind: EnvKind,
    /// Base URL of the service's playbook API.
    pub base_url: Spanned<String>,
    /// Health endpoint path.
    #[serde(default = "defaults::health_path")]
    pub health_path: Spanned<String>,
    /// Deployment status endpoint path.
    #[serde(default = "defaults::status_path")]
    pub status_path: Spanned<String>,
    /// Per-request timeout for this environment's endpoints.
    #[serde(default = "defaults::request_timeout")]
    pub timeout: HumanDuration,
    /// Most bytes read of one answer from this environment's service, its
    /// metrics page or its Prometheus (1 MiB when absent).
    #[serde(default)]
    pub max_body: Option<Spanned<u64>>,
    /// Production environments need their name typed to confirm a rollback.
    #[serde(default)]
    pub production: bool,
    /// Whether rules may roll this environment back on their own.
    #[serde(default)]
    pub auto_rollback: bool,
    /// Time allowed from detection to recovery.
    #[serde(default = "defaults::recovery_time_objective")]
    pub recovery_time_objective: HumanDuration,
    /// No automatic rollback may go past these versions (schema migrations, say).
    #[serde(default)]
    pub irreversible_versions: Vec<String>,
    /// Quiet time after a rollback before rules may act again.
    #[serde(default = "defaults::cooldown")]
    pub cooldown: HumanDuration,
    /// How many states kept before rollbacks are kept (the newest; 5 when
    /// absent); older ones are pruned.
    #[serde(default)]
    pub keep_states: Option<Spanned<u64>>,
    /// Operators a manual rollback needs (seed 002's rollback authority): 1
    /// when absent; 2 means a rollback one operator plans runs only after a
    /// second, different operator approves it (`backout approve N`).
    #[serde(default)]
    pub approvals: Option<Spanned<u64>>,
    /// Runbook file name, looked up in `runbooks_dir`.
    #[serde(default)]
    pub runbook: Option<String>,
    /// Signals to poll. Empty means the defaults (health, error rate, latency, CPU, memory).
    #[serde(default, rename = "signal")]
    pub signals: Vec<SignalConfig>,
    /// Trigger rules. Empty means seed 001's defaults for the signals that exist.
    #[serde(default, rename = "trigger")]
    pub triggers: Vec<TriggerConfig>,
    /// How a rollback is carried out.
    #[serde(default)]
    pub driver: DriverConfig,
    /// The post-rollback validation checklist.
    #[serde(default)]
    pub checklist: Vec<ChecklistItemConfig>,
    /// Where history, target and health come from: the playbook API
    /// (default), or a deployment tool's own JSON (`[environment.status]`).
    #[serde(default)]
    pub status: Option<StatusSourceConfig>,
    /// The config's `[prometheus]`, given to every environment when the
    /// config is read, so every poller of a `prometheus` signal uses it.
    #[serde(skip)]
    pub prometheus: std::sync::Arc<PrometheusConfig>,
    /// How long an automatic checklist item must hold before it ticks itself,
    /// unless the item says otherwise (default 60 s).
    #[serde(default)]
    pub checklist_stable_for: Option<HumanDuration>,
}

impl EnvironmentConfig {
    /// The environment's name.
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// The playbook endpoints of this environment.
    pub fn endpoints(&self) -> crate::playbook::Endpoints {
        let mut e = crate::playbook::Endpoints::new(self.base_url.get_ref());
        e.health.clone_from(self.health_path.get_ref());
        e.status.clone_from(self.status_path.get_ref());
        e.rollback.clone_from(self.driver.rollback_path.get_ref());
        e.max_body = self.max_body();
        e.status_command = self.status.as_ref().map(|s| {
            std::sync::Arc::new(crate::statuscmd::StatusCommand {
                argv: s.argv(),
                reader: s.reader(),
                timeout: s.timeout.map_or(std::time::Duration::from_secs(10), HumanDuration::get),
                cap: self.max_body(),
            })
        });
        e
    }

    /// Most bytes read of one answer from this environment.
    pub fn max_body(&self) -> usize {
        self.max_body.as_ref().and_then(|m| usize::try_from(*m.get_ref()).ok()).unwrap_or(crate::net::DEFAULT_MAX_BODY)
    }

    /// How many states kept before rollbacks this environment keeps.
    pub fn keep_states(&self) -> usize {
        self.keep_states.as_ref().and_then(|k| usize::try_from(*k.get_ref()).ok()).unwrap_or(defaults::KEEP_STATES)
    }

    /// How many different operators a manual rollback of this environment
    /// needs: the one who plans it, and approvers after.
    pub fn approvals(&self) -> u64 {
        self.approvals.as_ref().map_or(1, |a| *a.get_ref())
    }

    /// The signals actually polled: the configured ones, or the defaults.
    pub fn effective_signals(&self) -> Vec<SignalConfig> {
        if self.signals.is_empty() { defaults::signals(self.kind) } else { self.signals.clone() }
    }

    /// The rules actually applied: the configured ones, or seed 001's defaults
    /// for the signals that exist.
    pub fn effective_triggers(&self) -> Vec<TriggerConfig> {
        if !self.triggers.is_empty() {
            return self.triggers.clone();
        }
        let signals = self.effective_signals();
        defaults::triggers()
            .into_iter()
            .filter(|t| signals.iter().any(|s| s.name.get_ref() == t.signal.get_ref()))
            .collect()
    }
}

/// Where a signal's samples come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignalSource {
    /// The playbook `GET /health`: a check that passes or fails.
    Health,
    /// A number or string read by JSON pointer from a GET.
    Json,
    /// An instant query against a Prometheus server.
    Prometheus,
    /// A Prometheus text endpoint scraped directly, rates derived between scrapes.
    Exposition,
    /// The playbook `GET /deployment/status`.
    Status,
    /// Alerts received from Alertmanager's webhook that match `matchers`:
    /// 1 while one fires, 0 when none does.
    Alertmanager,
}

/// What to derive from an exposition scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Derivation {
    /// Share of `http_requests_total` with a 5xx code between two scrapes.
    ErrorRate,
    /// `_sum` / `_count` between two scrapes.
    MeanLatency,
    /// The current value of a gauge.
    Gauge,
}

/// One signal.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignalConfig {
    /// Name used by triggers and on screen.
    pub name: Spanned<String>,
    /// Where samples come from.
    pub source: SignalSource,
    /// URL for `json` (the document), `prometheus` (the server) and `exposition`
    /// (defaults to the environment's `base_url` + `/metrics`).
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// JSON pointer for `json`, such as `/data/quality`.
    #[serde(default)]
    pub pointer: Option<String>,
    /// PromQL for `prometheus`.
    #[serde(default)]
    pub query: Option<String>,
    /// What to compute for `exposition`.
    #[serde(default)]
    pub derive: Option<Derivation>,
    /// Metric name for `exposition` (the histogram or counter prefix, or the gauge).
    #[serde(default)]
    pub metric: Option<String>,
    /// Unit shown beside the value (`%`, `s`, `ratio`).
    #[serde(default)]
    pub unit: Option<String>,
    /// Polling interval for this signal; defaults to `poll_interval`.
    #[serde(default)]
    pub interval: Option<HumanDuration>,
    /// For `alertmanager`: label matchers every alert counted must satisfy,
    /// Prometheus style (`alertname="HighErrorRate"`, `service=~"checkout.*"`).
    #[serde(default)]
    pub matchers: Vec<Spanned<String>>,
}

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Tell people.
    #[default]
    Alert,
    /// Prepare a rollback that runs after a grace period unless cancelled.
    Propose,
    /// Roll back at once (when automatic rollback is on).
    Rollback,
}

/// A trigger rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfig {
    /// Signal the rule reads.
    pub signal: Spanned<String>,
    /// How it compares.
    pub rule: RuleKind,
    /// Threshold for `above`, `below` and `drop`.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Window the condition must hold for (`above`, `below`).
    #[serde(default, rename = "for")]
    pub window: Option<HumanDuration>,
    /// Failures in a row for `consecutive_failures`.
    #[serde(default)]
    pub count: Option<u32>,
    /// What happens when it fires.
    #[serde(default)]
    pub action: RuleAction,
    /// For `propose`: how long an operator has to cancel.
    #[serde(default)]
    pub grace: Option<HumanDuration>,
}

/// Which mechanism carries a rollback out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DriverKind {
    /// The playbook `POST /deployment/rollback`.
    #[default]
    Http,
    /// An argv run without a shell (kubectl, helm, Argo Rollouts).
    Command,
    /// A feature flag turned off in an env file or a flag service.
    Flag,
}

/// The rollback driver of an environment.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DriverConfig {
    /// Which mechanism.
    #[serde(default, rename = "type")]
    pub kind: DriverKind,
    /// Rollback endpoint path for `http`.
    #[serde(default = "defaults::rollback_path")]
    pub rollback_path: Spanned<String>,
    /// How long to wait for the target to be current and healthy.
    #[serde(default = "defaults::verify_timeout")]
    pub verify_timeout: HumanDuration,
    /// argv for `command`; placeholders `{env}`, `{version}`, `{previous_version}`, `{reason}`.
    #[serde(default)]
    pub argv: Option<Spanned<Vec<String>>>,
    /// Env file for `flag`.
    #[serde(default)]
    pub env_file: Option<String>,
    /// Flag key for `flag`.
    #[serde(default)]
    pub flag: Option<String>,
    /// Flag service URL for `flag`, instead of an env file.
    #[serde(default)]
    pub flag_url: Option<Spanned<String>>,
    /// Optional argv run after a flag change (a restart).
    #[serde(default)]
    pub restart: Option<Vec<String>>,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            kind: DriverKind::Http,
            rollback_path: defaults::rollback_path(),
            verify_timeout: defaults::verify_timeout(),
            argv: None,
            env_file: None,
            flag: None,
            flag_url: None,
            restart: None,
        }
    }
}

/// One item of the post-rollback validation checklist.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItemConfig {
    /// What is being checked, as a person reads it.
    pub title: String,
    /// `manual`, or an automatic check: `health_healthy`, `environment_switched`,
    /// `version_matches`, `probe`, `signal_below`.
    #[serde(default)]
    pub check: CheckKind,
    /// Category (functional, data integrity, observability, security, performance).
    #[serde(default)]
    pub category: Option<String>,
    /// Signal for `signal_below`.
    #[serde(default)]
    pub signal: Option<String>,
    /// Threshold for `signal_below`.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// How `signal_below` sums up the signal over the stability window: `mean`
    /// (default), `max` or `p95`.
    #[serde(default)]
    pub aggregate: Option<Spanned<SignalAggregate>>,
    /// Path for `probe`, under the environment's `base_url`.
    #[serde(default)]
    pub path: Option<String>,
    /// Method for `probe`: `GET`, `POST` (default) or `HEAD`.
    #[serde(default)]
    pub method: Option<Spanned<ProbeMethod>>,
    /// Body a `probe` sends (as JSON); a `POST` without one sends the playbook's test query.
    #[serde(default)]
    pub body: Option<Spanned<String>>,
    /// The status a `probe` expects (default 200).
    #[serde(default)]
    pub status: Option<Spanned<i64>>,
    /// Whether validation needs it.
    #[serde(default = "defaults::yes")]
    pub required: bool,
    /// How long an automatic check must hold before it ticks itself; defaults to
    /// the environment's `checklist_stable_for`.
    #[serde(default)]
    pub stable_for: Option<HumanDuration>,
}

/// The status a `probe` expects when the item does not say.
pub const DEFAULT_PROBE_STATUS: u16 = 200;

impl ChecklistItemConfig {
    /// The method a `probe` uses.
    pub fn probe_method(&self) -> ProbeMethod {
        self.method.as_ref().map(|m| *m.get_ref()).unwrap_or_default()
    }

    /// How a `signal_below` item sums up its signal over its window.
    pub fn signal_aggregate(&self) -> SignalAggregate {
        self.aggregate.as_ref().map(|a| *a.get_ref()).unwrap_or_default()
    }

    /// The body a `probe` sends, if the item gives one.
    pub fn probe_body(&self) -> Option<&str> {
        self.body.as_ref().map(|b| b.get_ref().as_str())
    }

    /// The status a `probe` expects (`check` refuses one outside 100..=599).
    pub fn probe_status(&self) -> u16 {
        self.status.as_ref().and_then(|s| u16::try_from(*s.get_ref()).ok()).unwrap_or(DEFAULT_PROBE_STATUS)
    }
}

impl Config {
    /// The environment with this name.
    pub fn environment(&self, name: &str) -> Option<&EnvironmentConfig> {
        self.environments.iter().find(|e| e.name() == name)
    }

    /// The operator name: config, else `$USER`, else `operator`.
    pub fn operator(&self) -> String {
        self.operator.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "operator".to_string())
    }

    /// Parses and checks config text; `file` names it in errors.
    pub fn from_toml(text: &str, file: &Path) -> Result<Config, ConfigErrors> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigErrors::from_parse(file, text, &e))?;
        config.prometheus.base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(email) = &mut config.notifications.email {
            email.base_dir.clone_from(&config.prometheus.base_dir);
        }
        validate::check(&config, file, text)?;
        let shared = std::sync::Arc::new(config.prometheus.clone());
        for env in &mut config.environments {
            env.prometheus = std::sync::Arc::clone(&shared);
        }
        Ok(config)
    }

    /// Reads, parses and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::single(ConfigError::whole_file(
                path,
                format!("cannot read config: {e}"),
                "pass --config FILE, set BACKOUT_CONFIG, or run `backout simulate --write-config FILE`",
            ))
        })?;
        Config::from_toml(&text, path)
    }
}

/// The config path: `--config`, else `$BACKOUT_CONFIG`, else
/// `$XDG_CONFIG_HOME/backout/backout.toml`.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    match directories::ProjectDirs::from("", "", "backout") {
        Some(dirs) => dirs.config_dir().join("backout.toml"),
        None => PathBuf::from("backout.toml"),
    }
}

#[cfg(test)]
mod runtime_tests;
#[cfg(test)]
mod tests;
