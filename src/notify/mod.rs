//! Notifications: desktop and webhook.
//!
//! A notification never fails anything else: `send` reports what happened in a [`Delivery`]
//! and returns within the channel timeouts. Webhook URLs are secrets read from environment
//! variables named in config; they appear in no message, error or Debug output.

mod desktop;
mod email;
mod group;
mod pagerduty;
mod render;
mod webhook;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use desktop::DESKTOP_TIMEOUT;
pub use render::{format_duration, headline, render_text};
pub use webhook::WEBHOOK_TIMEOUT;

use group::{AlertGroups, GroupDecision, repeats_line};
use webhook::Webhook;
pub use webhook::slack_escape;

/// What happened, in the words of seed 001's communication templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// A rollback was executed and recovery is being verified.
    RollbackStarted,
    /// A rollback finished and the environment is stable.
    RollbackCompleted,
    /// A rollback could not be carried out; someone must act.
    RollbackFailed,
    /// A signal crossed a threshold; repeats are grouped.
    Alert,
    /// A rollback was planned and waits for a second operator's approval.
    ApprovalRequested,
    /// An incident's decision time box ran out: the escalation target is told.
    Escalation,
    /// An incident is still not validated past its recovery-time objective.
    ObjectiveMissed,
    /// An incident's checklist holds: validated (PagerDuty resolves its page).
    Validated,
}

impl NotificationKind {
    /// The name used in the webhook payload.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::RollbackStarted => "rollback_started",
            NotificationKind::RollbackCompleted => "rollback_completed",
            NotificationKind::RollbackFailed => "rollback_failed",
            NotificationKind::Alert => "alert",
            NotificationKind::ApprovalRequested => "approval_requested",
            NotificationKind::Escalation => "escalation",
            NotificationKind::ObjectiveMissed => "objective_missed",
            NotificationKind::Validated => "validated",
        }
    }
}

/// One message to the people on call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// What happened.
    pub kind: NotificationKind,
    /// Environment name.
    pub environment: String,
    /// Blue/green colour now serving, if any.
    pub colour: Option<String>,
    /// Version that was serving before.
    pub from_version: Option<String>,
    /// Version being rolled back to.
    pub target_version: Option<String>,
    /// Why, e.g. "error rate 7.2% > 5% for 2m".
    pub reason: String,
    /// Customer impact assessment; may be "unknown".
    pub impact: String,
    /// How long the rollback took (completed).
    pub duration: Option<Duration>,
    /// What went wrong (failed).
    pub error: Option<String>,
    /// A person, or "rule:NAME".
    pub actor: String,
    /// A drill: goes only to the drill webhook.
    pub drill: bool,
    /// Alerts with the same key within the group window are grouped.
    pub group_key: String,
    /// The feature flag a flag rollback changed (the version kept serving).
    pub flag: Option<crate::domain::FlagChange>,
    /// Further `label: value` lines, in order (an approval's command, an
    /// escalation's time box).
    pub detail: Vec<(String, String)>,
    /// The severity it is routed by (`[notifications.routes]`); unknown is
    /// routed as critical, so nothing is quieter than it should be.
    pub severity: Option<crate::domain::Severity>,
    /// The incident it is about: PagerDuty's dedup key.
    pub incident_id: Option<i64>,
}

/// What became of one notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// The text as sent (or as it would have been).
    pub text: String,
    /// Channels that accepted it: `webhook`, `drill-webhook`, `desktop`.
    pub channels: Vec<String>,
    /// Held back as a repeat of an alert sent within the group window.
    pub grouped: bool,
    /// One sentence per channel that failed; never contains a webhook URL.
    pub errors: Vec<String>,
}

impl Delivery {
    /// One line for the timeline: where it went, or why it did not.
    pub fn summary(&self) -> String {
        if self.sent() {
            format!("notified {}: {}", self.channels.join(", "), self.text.lines().next().unwrap_or(""))
        } else if self.errors.is_empty() {
            "notification not sent (no channel configured)".to_string()
        } else {
            format!("notification not sent ({})", self.errors.join("; "))
        }
    }
}

impl Notification {
    /// The notice of a recorded rollback's start, completion or failure.
    pub fn for_rollback(kind: NotificationKind, row: &crate::store::RollbackRow) -> Notification {
        Notification {
            kind,
            environment: row.environment.clone(),
            colour: None,
            from_version: row.from_version.clone(),
            target_version: row.target_version.clone(),
            reason: row.reason.clone(),
            impact: "unknown".into(),
            duration: row.duration_ms.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            error: row.error.clone(),
            actor: row.operator.clone(),
            drill: false,
            group_key: format!("{}:rollback:{}", row.environment, row.id),
            flag: row.flag.clone(),
            severity: None,
            incident_id: row.incident_id,
            detail: Vec::new(),
        }
    }
}

impl Delivery {
    /// Whether any channel accepted it.
    pub fn sent(&self) -> bool {
        !self.channels.is_empty()
    }
}

/// A channel that is on, or off with the reason shown in status.
enum Route<T> {
    On(T),
    Off(String),
}

impl<T> Route<T> {
    fn on(&self) -> Option<&T> {
        match self {
            Route::On(t) => Some(t),
            Route::Off(_) => None,
        }
    }
}

/// Desktop state; switched off for good after the first failure.
enum DesktopState {
    On,
    Off(String),
}

struct Inner {
    /// Built once; `Err` holds why it could not be (reported per send on webhook channels).
    client: Result<reqwest::Client, String>,
    live: Route<Webhook>,
    drill: Route<Webhook>,
    escalation: Route<Webhook>,
    pagerduty: Route<pagerduty::PagerDuty>,
    email: Route<email::Email>,
    routes: Option<crate::config::Routes>,
    desktop: Mutex<DesktopState>,
    groups: Mutex<AlertGroups>,
}

/// Sends notifications to the configured channels. Cheap to clone: clones share state.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

impl Notifier {
    /// From config, reading the environment variables it names once. A missing or empty
    /// variable switches that channel off; `describe` says why.
    pub fn from_config(cfg: &crate::config::NotificationsConfig) -> Notifier {
        Self::from_config_with(cfg, |name| std::env::var(name).ok())
    }

    /// As `from_config`, with the environment given as a lookup (for tests).
    pub fn from_config_with(
        cfg: &crate::config::NotificationsConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Notifier {
        let route = |kind: &str, var: Option<&str>| -> Route<Webhook> {
            let Some(var) = var.map(str::trim).filter(|v| !v.is_empty()) else {
                return Route::Off("not configured".to_string());
            };
            match env(var) {
                None => Route::Off(format!("{var} is not set")),
                Some(v) if v.trim().is_empty() => Route::Off(format!("{var} is empty")),
                Some(url) => match Webhook::new(kind, url, Some(var)) {
                    Ok(hook) => Route::On(hook),
                    Err(why) => Route::Off(why),
                },
            }
        };
        let live = route("webhook", cfg.webhook_url_env.as_ref().map(|s| s.get_ref().as_str()));
        let drill = route("drill webhook", cfg.drill_webhook_url_env.as_ref().map(|s| s.get_ref().as_str()));
        let escalation =
            route("escalation webhook", cfg.escalation_webhook_url_env.as_ref().map(|s| s.get_ref().as_str()));
        let desktop = if cfg.desktop { DesktopState::On } else { DesktopState::Off("off in config".to_string()) };
        let pagerduty = match cfg.pagerduty_routing_key_env.as_ref().map(|v| v.get_ref().trim()) {
            None | Some("") => Route::Off("not configured".to_string()),
            Some(var) => match env(var).filter(|k| !k.trim().is_empty()) {
                None => Route::Off(format!("{var} is not set")),
                Some(key) => Route::On(pagerduty::PagerDuty::new(
                    key.trim().to_string(),
                    cfg.pagerduty_url.as_ref().map(|u| u.get_ref().clone()),
                )),
            },
        };
        let email = match &cfg.email {
            None => Route::Off("not configured".to_string()),
            Some(e) => match email::Email::from_config(e, &env) {
                Ok(mail) => Route::On(mail),
                Err(why) => Route::Off(why),
            },
        };
        Self::build(live, drill, desktop, cfg.group_window.get())
            .with_escalation(escalation)
            .with_paging(pagerduty, cfg.routes.clone())
            .with_email(email)
    }

    /// Sends nothing (tests, dry runs).
    pub fn disabled() -> Notifier {
        let off = || Route::Off("notifications disabled".to_string());
        Self::build(off(), off(), DesktopState::Off("notifications disabled".to_string()), Duration::ZERO)
    }

    /// With webhook URLs given directly (tests). An empty or non-http URL leaves that channel off.
    pub fn with_webhooks(
        live: Option<String>,
        drill: Option<String>,
        desktop: bool,
        group_window: Duration,
    ) -> Notifier {
        let route = |kind: &str, url: Option<String>| match url.filter(|u| !u.trim().is_empty()) {
            None => Route::Off("not configured".to_string()),
            Some(url) => match Webhook::new(kind, url, None) {
                Ok(hook) => Route::On(hook),
                Err(why) => Route::Off(why),
            },
        };
        let desktop = if desktop { DesktopState::On } else { DesktopState::Off("off".to_string()) };
        Self::build(route("webhook", live), route("drill webhook", drill), desktop, group_window)
    }

    /// With the escalation target's webhook given directly (tests); escalations
    /// go to the live webhook without one.
    pub fn with_escalation_webhook(self, url: String) -> Notifier {
        let route = match Webhook::new("escalation webhook", url, None) {
            Ok(hook) => Route::On(hook),
            Err(why) => Route::Off(why),
        };
        self.with_escalation(route)
    }

    /// With PagerDuty at `url` (its Events API v2) under `key`, and `routes`
    /// (tests; config does this from its variables).
    pub fn with_pagerduty(self, key: String, url: String, routes: Option<crate::config::Routes>) -> Notifier {
        self.with_paging(Route::On(pagerduty::PagerDuty::new(key, Some(url))), routes)
    }

    fn with_paging(self, pagerduty: Route<pagerduty::PagerDuty>, routes: Option<crate::config::Routes>) -> Notifier {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.pagerduty = pagerduty;
                inner.routes = routes;
                Notifier { inner: Arc::new(inner) }
            }
            Err(inner) => Notifier { inner },
        }
    }

    fn with_email(self, email: Route<email::Email>) -> Notifier {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.email = email;
                Notifier { inner: Arc::new(inner) }
            }
            Err(inner) => Notifier { inner },
        }
    }

    fn with_escalation(self, escalation: Route<Webhook>) -> Notifier {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.escalation = escalation;
                Notifier { inner: Arc::new(inner) }
            }
            // Not shared yet when built; a shared one keeps its routes.
            Err(inner) => Notifier { inner },
        }
    }

    fn build(live: Route<Webhook>, drill: Route<Webhook>, desktop: DesktopState, group_window: Duration) -> Notifier {
        let client = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .connect_timeout(WEBHOOK_TIMEOUT)
            // A receiver's redirect is a failed post: the URL (a secret) is not
            // handed to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the HTTP client could not be set up: {e}"));
        Notifier {
            inner: Arc::new(Inner {
                client,
                live,
                drill,
                escalation: Route::Off("not configured".to_string()),
                pagerduty: Route::Off("not configured".to_string()),
                email: Route::Off("not configured".to_string()),
                routes: None,
                desktop: Mutex::new(desktop),
                groups: Mutex::new(AlertGroups::new(group_window)),
            }),
        }
    }

    /// Sends one notification to the channels it belongs on: at most one attempt per channel.
    pub async fn send(&self, n: &Notification) -> Delivery {
        let delivery = self.send_unlogged(n).await;
        if !delivery.grouped {
            tracing::info!(env = %n.environment, kind = n.kind.as_str(), "{}", delivery.summary());
        }
        delivery
    }

    async fn send_unlogged(&self, n: &Notification) -> Delivery {
        let inner = &self.inner;
        let mut delivery = Delivery { text: render_text(n), ..Delivery::default() };

        // Drills go only to the drill webhook, so a drill can never page anyone for real.
        // An escalation goes to its target's webhook when one is set, else to
        // the on-call channel, so it is never dropped for want of a route.
        let (hook, hook_channel) = match (n.drill, n.kind, inner.escalation.on()) {
            (true, _, _) => (inner.drill.on(), "drill-webhook"),
            (false, NotificationKind::Escalation, Some(hook)) => (Some(hook), "escalation-webhook"),
            (false, _, _) => (inner.live.on(), "webhook"),
        };
        // Seed 001's alert channels: routes say which channels a severity
        // reaches; without routes every channel gets everything, except
        // PagerDuty, which pages only critical incidents. A validation only
        // resolves a page.
        let routed = |c: crate::config::Channel| match inner.routes.as_ref().and_then(|r| r.channels(n.severity)) {
            Some(list) => list.contains(&c),
            None => {
                c != crate::config::Channel::Pagerduty
                    || matches!(n.severity, None | Some(crate::domain::Severity::Critical))
            }
        };
        let telling = n.kind != NotificationKind::Validated;
        let hook = hook.filter(|_| telling && (n.drill || routed(crate::config::Channel::Webhook)));
        let use_desktop = telling
            && !n.drill
            && routed(crate::config::Channel::Desktop)
            && matches!(*lock(&inner.desktop), DesktopState::On);
        let page = inner
            .pagerduty
            .on()
            .filter(|_| !n.drill && routed(crate::config::Channel::Pagerduty) && pagerduty::PagerDuty::wants(n));
        let mail = inner.email.on().filter(|_| telling && !n.drill && routed(crate::config::Channel::Email));
        if hook.is_none() && !use_desktop && page.is_none() && mail.is_none() {
            return delivery;
        }

        if n.kind == NotificationKind::Alert {
            // Drills and live alerts are grouped apart, so a drill does not hide a real alert.
            let key = if n.drill { format!("drill\u{0}{}", n.group_key) } else { n.group_key.clone() };
            match lock(&inner.groups).decide(&key, Instant::now()) {
                GroupDecision::Suppress => {
                    delivery.grouped = true;
                    return delivery;
                }
                GroupDecision::Send { repeats } => {
                    if let Some(line) = repeats_line(repeats) {
                        delivery.text.push_str("\n\n");
                        delivery.text.push_str(&line);
                    }
                }
            }
        }

        let text = delivery.text.as_str();
        let to_webhook = async {
            let hook = hook?;
            Some(match &inner.client {
                Ok(client) => hook.post(client, text, n).await,
                Err(why) => Err(format!("{}: {why}", hook.label())),
            })
        };
        let to_desktop = async { if use_desktop { Some(desktop::show(text).await) } else { None } };
        let to_pagerduty = async {
            let page = page?;
            Some(match &inner.client {
                Ok(client) => page.send(client, text, n).await,
                Err(why) => Err(format!("pagerduty: {why}")),
            })
        };
        let to_email = async {
            let mail = mail?;
            Some(mail.send(text, n).await)
        };
        let (webhook_result, desktop_result, page_result, email_result) =
            tokio::join!(to_webhook, to_desktop, to_pagerduty, to_email);
        match email_result {
            Some(Ok(())) => delivery.channels.push("email".to_string()),
            Some(Err(e)) => delivery.errors.push(e),
            None => {}
        }
        match page_result {
            Some(Ok(())) => delivery.channels.push("pagerduty".to_string()),
            Some(Err(e)) => delivery.errors.push(e),
            None => {}
        }

        match webhook_result {
            Some(Ok(())) => delivery.channels.push(hook_channel.to_string()),
            Some(Err(e)) => delivery.errors.push(e),
            None => {}
        }
        match desktop_result {
            Some(Ok(())) => delivery.channels.push("desktop".to_string()),
            Some(Err(e)) => {
                // Report once, then stay off: a machine without a notification service will not grow one.
                let mut state = lock(&inner.desktop);
                if matches!(*state, DesktopState::On) {
                    *state = DesktopState::Off(format!("unavailable: {e}"));
                    delivery.errors.push(format!(
                        "desktop notifications unavailable (no D-Bus session or notification service?): {e}; \
                         they stay off until backout restarts"
                    ));
                }
            }
            None => {}
        }
        delivery
    }

    /// Which channels are on, and why the others are off. Never includes a URL.
    pub fn describe(&self) -> String {
        let inner = &self.inner;
        let hook = |kind: &str, route: &Route<Webhook>| match route {
            Route::On(h) => match h.label().strip_prefix(kind) {
                Some(source) if !source.is_empty() => format!("{kind} on{source}"),
                _ => format!("{kind} on"),
            },
            Route::Off(why) => format!("{kind} off ({why})"),
        };
        let desktop = match &*lock(&inner.desktop) {
            DesktopState::On => "desktop on".to_string(),
            DesktopState::Off(why) => format!("desktop off ({why})"),
        };
        let mailing = match &inner.email {
            Route::On(_) => "email on, ".to_string(),
            Route::Off(why) if why == "not configured" => String::new(),
            Route::Off(why) => format!("email off ({why}), "),
        };
        let paging = match &inner.pagerduty {
            Route::On(_) => "pagerduty on, ".to_string(),
            Route::Off(why) if why == "not configured" => String::new(),
            Route::Off(why) => format!("pagerduty off ({why}), "),
        };
        // Without its own webhook an escalation goes to the live one: said only when set.
        let escalation = match &inner.escalation {
            Route::Off(why) if why == "not configured" => String::new(),
            route => format!("{}, ", hook("escalation webhook", route)),
        };
        format!(
            "{}, {}, {escalation}{paging}{mailing}{desktop}",
            hook("webhook", &inner.live),
            hook("drill webhook", &inner.drill)
        )
    }

    /// Whether desktop notifications are still on.
    pub fn desktop_on(&self) -> bool {
        matches!(*lock(&self.inner.desktop), DesktopState::On)
    }
}

impl fmt::Debug for Notifier {
    // By hand, so a webhook URL can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier").field("channels", &self.describe()).finish_non_exhaustive()
    }
}

/// Locks, carrying on past a poisoned lock: the state inside stays meaningful.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
