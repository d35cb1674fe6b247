//! The ranges a config's values must keep so that a config `check` passes never
//! panics or spins at run time: durations within sane bounds (none added to a
//! clock can overflow it, no poll loop runs without pause), numbers finite,
//! required strings not empty, and no binding of Esc.
//!
//! The config model keeps no span for these values, so the span of each is
//! looked up in the parsed document by its path.

use std::ops::Range;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::validate::Checker;
use super::{Config, EnvironmentConfig, HumanDuration};

const SEC: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Inclusive bounds of one duration key, as the README's reference lists them.
#[derive(Debug, Clone, Copy)]
pub struct DurationRange {
    /// Shortest allowed.
    pub min: Duration,
    /// Longest allowed.
    pub max: Duration,
    /// A value to suggest.
    pub example: &'static str,
}

const fn range(min: Duration, max: Duration, example: &'static str) -> DurationRange {
    DurationRange { min, max, example }
}

/// How often signals are polled: never 0 (a loop without pause), at most an hour.
pub const POLL_INTERVAL: DurationRange = range(Duration::from_millis(100), HOUR, "5s");
/// Per-request timeout.
pub const TIMEOUT: DurationRange = range(Duration::from_millis(100), Duration::from_secs(5 * 60), "2s");
/// How long a rollback has to be verified (it also bounds a command's run).
pub const VERIFY_TIMEOUT: DurationRange = range(SEC, HOUR, "60s");
/// Recovery-time objectives, of an environment or of a severity.
pub const OBJECTIVE: DurationRange = range(Duration::from_secs(10), Duration::from_secs(7 * 24 * 3600), "15m");
/// A decision time box before escalation.
pub const TIME_BOX: DurationRange = range(Duration::from_secs(10), Duration::from_secs(7 * 24 * 3600), "1h");
/// Quiet time after an automatic rollback.
pub const COOLDOWN: DurationRange = range(Duration::ZERO, DAY, "10m");
/// Grouping of repeated alerts.
pub const GROUP_WINDOW: DurationRange = range(Duration::ZERO, DAY, "5m");
/// A trigger's `for` window.
pub const RULE_WINDOW: DurationRange = range(Duration::ZERO, DAY, "2m");
/// A proposal's grace.
pub const GRACE: DurationRange = range(Duration::ZERO, HOUR, "2m");
/// How long an automatic checklist item must hold.
pub const STABLE_FOR: DurationRange = range(Duration::ZERO, HOUR, "60s");
/// Most failures in a row a `consecutive_failures` rule may ask for.
pub const MAX_COUNT: u32 = 1000;

/// One step of a path into the document.
#[derive(Debug, Clone, Copy)]
enum Seg<'k> {
    Key(&'k str),
    Index(usize),
}
use Seg::{Index, Key};

/// Spans of the parsed document, looked up by path.
struct Spans<'t> {
    root: Option<DeTable<'t>>,
}

impl<'t> Spans<'t> {
    fn new(text: &'t str) -> Self {
        Spans { root: DeTable::parse(text).ok().map(toml::Spanned::into_inner) }
    }

    /// The span of the value at `path`, or of its nearest ancestor present.
    fn of(&self, path: &[Seg<'_>]) -> Range<usize> {
        let Some(root) = &self.root else { return 0..0 };
        let mut best = 0..0;
        let mut table = Some(root);
        let mut value: Option<&DeValue<'t>> = None;
        for seg in path {
            let next = match (*seg, table, value) {
                (Key(k), Some(t), _) => t.iter().find(|(name, _)| name.get_ref().as_ref() == k).map(|(_, v)| v),
                (Index(i), _, Some(DeValue::Array(a))) => a.get(i),
                _ => None,
            };
            let Some(next) = next else { break };
            best = next.span();
            value = Some(next.get_ref());
            table = match next.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        best
    }
}

/// Checks every range of `config` and reports each value outside its range.
pub(super) fn check(c: &mut Checker<'_>, config: &Config) {
    let spans = Spans::new(c.text);
    let d = |c: &mut Checker<'_>, path: &[Seg<'_>], key: &str, value: HumanDuration, r: DurationRange| {
        let v = value.get();
        if v < r.min || v > r.max {
            let span = spans.of(path);
            let bound = if v < r.min { "shorter" } else { "longer" };
            // As written: humantime would show "300d" as "9months 26days ...".
            let written = c
                .text
                .get(span.clone())
                .filter(|w| w.starts_with('"'))
                .map_or_else(|| format!("\"{value}\""), str::to_string);
            c.err(
                span,
                format!(
                    "{key} = {written} is {bound} than allowed ({} to {})",
                    HumanDuration(r.min),
                    HumanDuration(r.max)
                ),
                format!(
                    "give a duration from {} to {}, e.g. {key} = \"{}\"",
                    HumanDuration(r.min),
                    HumanDuration(r.max),
                    r.example
                ),
            );
        }
    };
    d(c, &[Key("poll_interval")], "poll_interval", config.poll_interval, POLL_INTERVAL);
    d(c, &[Key("notifications"), Key("group_window")], "group_window", config.notifications.group_window, GROUP_WINDOW);
    let s = &config.severities;
    for (key, v) in [
        ("critical", s.critical),
        ("performance", s.performance),
        ("feature", s.feature),
        ("non-critical", s.non_critical),
    ] {
        d(c, &[Key("severities"), Key(key)], key, v, OBJECTIVE);
    }
    let e = &config.escalation;
    d(c, &[Key("escalation"), Key("after")], "after", e.after, TIME_BOX);
    for (key, v) in [
        ("critical", e.critical),
        ("performance", e.performance),
        ("feature", e.feature),
        ("non-critical", e.non_critical),
    ] {
        if let Some(v) = v {
            d(c, &[Key("escalation"), Key(key)], key, v, TIME_BOX);
        }
    }
    for (key, binding) in &config.keys {
        if is_escape(binding) {
            c.err(
                spans.of(&[Key("keys"), Key(key)]),
                format!("[keys] binds {key} to {binding:?}, which is Esc"),
                "Esc cancels popups, and terminals send it at the start of other keys; bind another key",
            );
        }
    }
    for (e, env) in config.environments.iter().enumerate() {
        let at = |rest: &[Seg<'static>]| -> Vec<Seg<'static>> {
            let mut p = vec![Key("environment"), Index(e)];
            p.extend_from_slice(rest);
            p
        };
        d(c, &at(&[Key("timeout")]), "timeout", env.timeout, TIMEOUT);
        d(c, &at(&[Key("recovery_time_objective")]), "recovery_time_objective", env.recovery_time_objective, OBJECTIVE);
        d(c, &at(&[Key("cooldown")]), "cooldown", env.cooldown, COOLDOWN);
        if let Some(v) = env.checklist_stable_for {
            d(c, &at(&[Key("checklist_stable_for")]), "checklist_stable_for", v, STABLE_FOR);
        }
        d(c, &at(&[Key("driver"), Key("verify_timeout")]), "verify_timeout", env.driver.verify_timeout, VERIFY_TIMEOUT);
        for (i, s) in env.signals.iter().enumerate() {
            if let Some(v) = s.interval {
                d(c, &at(&[Key("signal"), Index(i), Key("interval")]), "interval", v, POLL_INTERVAL);
            }
        }
        for (i, t) in env.triggers.iter().enumerate() {
            if let Some(v) = t.window {
                d(c, &at(&[Key("trigger"), Index(i), Key("for")]), "for", v, RULE_WINDOW);
            }
            if let Some(v) = t.grace {
                d(c, &at(&[Key("trigger"), Index(i), Key("grace")]), "grace", v, GRACE);
            }
        }
        for (i, item) in env.checklist.iter().enumerate() {
            if let Some(v) = item.stable_for {
                d(c, &at(&[Key("checklist"), Index(i), Key("stable_for")]), "stable_for", v, STABLE_FOR);
            }
        }
        numbers(c, &spans, env, &at);
        strings(c, &spans, env, &at);
    }
}

/// Esc, by name or as the control character terminals send for `ctrl-[`.
fn is_escape(binding: &str) -> bool {
    let b = binding.trim().to_ascii_lowercase();
    b == "esc" || b == "ctrl-[" || b == "\u{1b}"
}

fn numbers(
    c: &mut Checker<'_>,
    spans: &Spans<'_>,
    env: &EnvironmentConfig,
    at: &dyn Fn(&[Seg<'static>]) -> Vec<Seg<'static>>,
) {
    let name = env.name();
    for (i, t) in env.triggers.iter().enumerate() {
        if let Some(v) = t.threshold.filter(|v| !v.is_finite()) {
            c.err(
                spans.of(&at(&[Key("trigger"), Index(i), Key("threshold")])),
                format!(
                    "trigger on {:?} in environment {name} has threshold {v}, which no value can be compared with",
                    t.signal.get_ref()
                ),
                "give a finite number, e.g. threshold = 0.05",
            );
        }
        if let Some(n) = t.count.filter(|n| *n > MAX_COUNT) {
            c.err(
                spans.of(&at(&[Key("trigger"), Index(i), Key("count")])),
                format!("trigger on {:?} in environment {name} counts {n} failures in a row", t.signal.get_ref()),
                format!("give a count from 1 to {MAX_COUNT}, e.g. count = 3"),
            );
        }
    }
    for (i, item) in env.checklist.iter().enumerate() {
        if let Some(v) = item.threshold.filter(|v| !v.is_finite()) {
            c.err(
                spans.of(&at(&[Key("checklist"), Index(i), Key("threshold")])),
                format!("checklist item {:?} of environment {name} has threshold {v}", item.title),
                "give a finite number, e.g. threshold = 0.01",
            );
        }
    }
}

fn strings(
    c: &mut Checker<'_>,
    spans: &Spans<'_>,
    env: &EnvironmentConfig,
    at: &dyn Fn(&[Seg<'static>]) -> Vec<Seg<'static>>,
) {
    let name = env.name();
    if name.starts_with('-') {
        c.err(
            env.name.span(),
            format!("environment name {name:?} starts with '-'"),
            "a name filling an argv element would be read as an option; start it with a letter or digit",
        );
    }
    let empty = |c: &mut Checker<'_>, path: Vec<Seg<'static>>, key: &str, value: Option<&str>, hint: &str| {
        if value.is_some_and(|v| v.trim().is_empty()) {
            c.err(spans.of(&path), format!("environment {name}: `{key}` is empty"), hint.to_string());
        }
    };
    for (i, s) in env.signals.iter().enumerate() {
        let p = |k: &'static str| at(&[Key("signal"), Index(i), Key(k)]);
        empty(
            c,
            p("metric"),
            "metric",
            s.metric.as_deref(),
            "name the metric, e.g. metric = \"http_requests_total\", or remove the key",
        );
        empty(
            c,
            p("query"),
            "query",
            s.query.as_deref(),
            "write a PromQL instant query, e.g. query = 'sum(rate(errors[5m]))'",
        );
        if let Some(ptr) = s.pointer.as_deref().filter(|p| !p.starts_with('/')) {
            c.err(
                spans.of(&p("pointer")),
                format!("environment {name}: pointer {ptr:?} is not a JSON pointer"),
                "start it with /, e.g. pointer = \"/data/quality\"",
            );
        }
    }
    let d = &env.driver;
    empty(
        c,
        at(&[Key("driver"), Key("flag")]),
        "flag",
        d.flag.as_deref(),
        "name the flag, e.g. flag = \"NEW_CHECKOUT_ENABLED\"",
    );
    empty(
        c,
        at(&[Key("driver"), Key("env_file")]),
        "env_file",
        d.env_file.as_deref(),
        "give the env file's path, e.g. env_file = \"checkout.env\"",
    );
    let argv = d.argv.as_ref().map(|a| a.get_ref().as_slice());
    for (key, list) in [("argv", argv), ("restart", d.restart.as_deref())] {
        // The program, argv[0]: an empty one cannot be started.
        if let Some(program) = list.and_then(<[String]>::first) {
            empty(
                c,
                at(&[Key("driver"), Key(key), Index(0)]),
                &format!("{key}[0]"),
                Some(program.as_str()),
                "the first element is the program to run, e.g. \"kubectl\"",
            );
        }
    }
}
