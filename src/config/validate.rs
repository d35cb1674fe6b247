//! Checks that need the whole file, and errors that point at `file:line:column`.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::{CheckKind, Config, DriverKind, EnvironmentConfig, ProbeMethod, RuleAction, RuleKind, SignalSource};

/// Bytes an environment's `max_body` may be: from 1 KiB to 256 MiB.
const MAX_BODY_RANGE: std::ops::RangeInclusive<u64> = 1024..=256 * 1024 * 1024;

/// States an environment may keep (`keep_states`).
const KEEP_STATES_RANGE: std::ops::RangeInclusive<u64> = 1..=100;

/// Operators a manual rollback may need (`approvals`).
const APPROVALS_RANGE: std::ops::RangeInclusive<u64> = 1..=2;

/// Placeholders a command driver's argv may use.
pub const ARGV_PLACEHOLDERS: [&str; 5] = ["{env}", "{version}", "{previous_version}", "{reason}", "{revision}"];

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl ConfigError {
    /// An error about the file as a whole (it cannot be read, say).
    pub fn whole_file(file: &Path, message: String, hint: &str) -> Self {
        ConfigError { file: file.to_path_buf(), line: 1, column: 1, message, hint: hint.to_string() }
    }

    fn at(file: &Path, text: &str, span: Range<usize>, message: String, hint: String) -> Self {
        let (line, column) = line_column(text, span.start);
        ConfigError { file: file.to_path_buf(), line, column, message, hint }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A value quoted from the file may hold an ESC or a line break: shown escaped.
        let shown = crate::text::printable_line;
        write!(
            f,
            "{}:{}:{}: {}",
            shown(&self.file.display().to_string()),
            self.line,
            self.column,
            shown(&self.message)
        )?;
        if !self.hint.is_empty() {
            write!(f, " ({})", shown(&self.hint))?;
        }
        Ok(())
    }
}

/// Every problem found in a config file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// One error.
    pub fn single(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }

    /// From the TOML parser's error, which stops at the first problem.
    pub fn from_parse(file: &Path, text: &str, e: &toml::de::Error) -> Self {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_string();
        let hint = if message.contains("unknown field") {
            "check the spelling; README's configuration reference lists every key"
        } else if message.contains("missing field") {
            "add the key; README's configuration reference shows an example"
        } else if message.contains("invalid type") || message.contains("unknown variant") {
            "README's configuration reference gives each key's type and allowed values"
        } else if message.contains("bad duration") {
            ""
        } else {
            "this is not valid TOML at this point"
        };
        ConfigErrors::single(ConfigError::at(file, text, span, message, hint.to_string()))
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// 1-based line and character column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Collects the problems of one file.
pub(super) struct Checker<'a> {
    file: &'a Path,
    /// The file's text, for spans.
    pub(super) text: &'a str,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    /// Records a problem at `span` with a hint saying how to fix it.
    pub(super) fn err(&mut self, span: Range<usize>, message: String, hint: impl Into<String>) {
        let e = ConfigError::at(self.file, self.text, span, message, hint.into());
        self.errors.push(e);
    }

    fn url(&mut self, url: &Spanned<String>, what: &str) {
        match reqwest::Url::parse(url.get_ref()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(u) => self.err(
                url.span(),
                format!("{what} {:?} is not an http or https URL (scheme {:?})", url.get_ref(), u.scheme()),
                "write it like \"http://127.0.0.1:8080\"",
            ),
            Err(e) => self.err(
                url.span(),
                format!("{what} {:?} does not parse: {e}", url.get_ref()),
                "write it like \"http://127.0.0.1:8080\"",
            ),
        }
    }

    /// A path key must be a path (starting with `/`) that keeps the request on
    /// `base_url`'s scheme, host and port: `@other/...` or `health` glued to the
    /// base would send an action somewhere else.
    fn path_under(&mut self, base: &Spanned<String>, path: &Spanned<String>, key: &str) {
        let p = path.get_ref();
        // Defaults carry no span: point at the environment's base_url then.
        let span = if path.span().is_empty() { base.span() } else { path.span() };
        if !p.starts_with('/') || p.starts_with("//") {
            self.err(
                span,
                format!("{key} {p:?} is not a path under base_url"),
                format!("start it with a single /, e.g. {key} = \"/health\""),
            );
            return;
        }
        let (Ok(b), Ok(joined)) =
            (reqwest::Url::parse(base.get_ref()), reqwest::Url::parse(&format!("{}{p}", base.get_ref())))
        else {
            return;
        };
        if (b.scheme(), b.host_str(), b.port_or_known_default())
            != (joined.scheme(), joined.host_str(), joined.port_or_known_default())
        {
            self.err(
                span,
                format!(
                    "{key} {p:?} moves requests to {} instead of base_url's host",
                    joined.host_str().unwrap_or("another host")
                ),
                "a path key is only a path; put the host in base_url",
            );
        }
    }

    /// `[prometheus]`: env var names, one kind of auth, a usable tenant and
    /// CA file (read now, so a file that is not a CA bundle is found here).
    fn prometheus(&mut self, p: &super::PrometheusConfig) {
        for (key, name) in [
            ("bearer_token_env", &p.bearer_token_env),
            ("username_env", &p.username_env),
            ("password_env", &p.password_env),
        ] {
            if let Some(n) = name {
                self.env_var_name(n, key);
            }
        }
        if let Some(b) = &p.bearer_token_env
            && (p.username_env.is_some() || p.password_env.is_some())
        {
            self.err(
                b.span(),
                "[prometheus] names both a bearer token and basic auth".into(),
                "use one: bearer_token_env, or username_env with password_env",
            );
        }
        match (&p.username_env, &p.password_env) {
            (Some(n), None) | (None, Some(n)) => self.err(
                n.span(),
                "[prometheus] basic auth needs both username_env and password_env".into(),
                "name the variable holding the other one too",
            ),
            _ => {}
        }
        if let Some(t) = &p.tenant
            && (t.get_ref().trim().is_empty() || !t.get_ref().chars().all(|c| c.is_ascii_graphic()))
        {
            self.err(
                t.span(),
                format!("[prometheus] tenant {:?} cannot be sent as an X-Scope-OrgID header", t.get_ref()),
                "give the tenant id as printable ASCII without spaces, e.g. tenant = \"team-payments\"",
            );
        }
        if let (Some(f), Some(path)) = (&p.ca_file, p.ca_path()) {
            let problem = match std::fs::read(&path) {
                Err(e) => Some(format!("cannot read ca_file {}: {e}", path.display())),
                Ok(pem) => crate::net::client_trusting(&pem).err().map(|e| format!("ca_file {}: {e}", path.display())),
            };
            if let Some(problem) = problem {
                self.err(
                    f.span(),
                    problem,
                    "give a PEM file of the CA certificates that signed your Prometheus server's certificate, relative \
                     to the config file",
                );
            }
        }
    }

    /// `[notifications.email]`: addresses that parse, a login named whole,
    /// STARTTLS unless the relay is on this machine, a usable CA file.
    fn email(&mut self, e: &super::EmailConfig) {
        for (key, addr) in std::iter::once(("from", &e.from)).chain(e.to.iter().map(|t| ("to", t))) {
            if let Err(why) = addr.get_ref().parse::<lettre::message::Mailbox>() {
                self.err(
                    addr.span(),
                    format!("[notifications.email] {key} {:?} is not an email address: {why}", addr.get_ref()),
                    "write it like \"oncall@example.com\" or \"On call <oncall@example.com>\"",
                );
            }
        }
        if e.to.is_empty() {
            self.err(
                e.from.span(),
                "[notifications.email] has no recipient".into(),
                "add to = [\"oncall@example.com\"]",
            );
        }
        for (key, name) in [("username_env", &e.username_env), ("password_env", &e.password_env)] {
            if let Some(n) = name {
                self.env_var_name(n, key);
            }
        }
        match (&e.username_env, &e.password_env) {
            (Some(n), None) | (None, Some(n)) => self.err(
                n.span(),
                "[notifications.email] a login needs both username_env and password_env".into(),
                "name the variable holding the other one too",
            ),
            _ => {}
        }
        let loopback = matches!(e.smtp_host.get_ref().as_str(), "localhost" | "127.0.0.1" | "::1");
        if let Some(t) = &e.starttls
            && !*t.get_ref()
            && !loopback
        {
            self.err(
                t.span(),
                format!(
                    "[notifications.email] starttls = false would send mail in clear text to {}",
                    e.smtp_host.get_ref()
                ),
                "keep STARTTLS (remove the line); only a relay on this machine (localhost) may go without it",
            );
        }
        if let (Some(f), Some(path)) = (&e.ca_file, e.ca_path()) {
            let problem = match std::fs::read(&path) {
                Err(err) => Some(format!("cannot read ca_file {}: {err}", path.display())),
                Ok(pem) => lettre::transport::smtp::client::Certificate::from_pem(&pem)
                    .err()
                    .map(|err| format!("ca_file {}: not a PEM certificate: {err}", path.display())),
            };
            if let Some(problem) = problem {
                self.err(f.span(), problem, "give a PEM file of the CA that signed the SMTP server's certificate");
            }
        }
    }

    /// `[environment.status]`: a command, with the release, namespace and
    /// context named (never a kubeconfig's default), none of them an option.
    fn status_source(&mut self, env: &str, st: &super::StatusSourceConfig) {
        if st.kind.get_ref() != "command" {
            self.err(
                st.kind.span(),
                format!("environment {env}: [environment.status] type = {:?} is not known", st.kind.get_ref()),
                "type = \"command\" (leave the table out to read the playbook API)",
            );
        }
        match (&st.preset, &st.pointers, &st.argv) {
            (Some(p), Some(_), _) => self.err(
                p.span(),
                format!("environment {env}: [environment.status] has both a preset and pointers"),
                "a preset reads its tool's JSON itself; use pointers (with argv) only for another tool",
            ),
            (Some(p), None, _) => {
                for (key, v) in [("name", &st.name), ("namespace", &st.namespace), ("context", &st.context)] {
                    if v.is_none() {
                        self.err(
                            p.span(),
                            format!("environment {env}: [environment.status] preset needs `{key}`"),
                            "name the release or workload, its namespace and the kubeconfig context explicitly",
                        );
                    }
                }
            }
            (None, Some(ptr), Some(_)) => {
                let items = std::iter::once(("items", ptr.items.as_str()))
                    .filter(|(_, v)| !v.is_empty())
                    .chain([("revision", ptr.revision.as_str()), ("version", &ptr.version), ("time", &ptr.time), ("serving", &ptr.serving)])
                    .chain(ptr.ready.as_deref().map(|v| ("ready", v)))
                    .chain(ptr.failed.as_deref().map(|v| ("failed", v)));
                for (key, v) in items {
                    if !v.starts_with('/') {
                        self.err(
                            st.kind.span(),
                            format!("environment {env}: [environment.status.pointers] {key} = {v:?} is not a JSON pointer"),
                            "a JSON pointer starts with \"/\", e.g. version = \"/app_version\"",
                        );
                    }
                }
            }
            (None, _, _) => self.err(
                st.kind.span(),
                format!("environment {env}: [environment.status] needs a preset, or argv with pointers"),
                "preset = \"helm\", \"kubectl\" or \"argo-rollouts\"; or argv = [...] with [environment.status.pointers]",
            ),
        }
        for (key, v) in
            [("name", &st.name), ("namespace", &st.namespace), ("context", &st.context), ("selector", &st.selector)]
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        {
            let text = v.get_ref();
            if text.trim().is_empty() || text.starts_with('-') || text.chars().any(char::is_whitespace) {
                self.err(
                    v.span(),
                    format!("environment {env}: [environment.status] {key} = {text:?} cannot be passed to the tool"),
                    "give it without spaces, not starting with \"-\" (the tool would read it as an option)",
                );
            }
        }
        if let Some(argv) = &st.argv
            && argv.get_ref().first().is_none_or(|p| p.trim().is_empty())
        {
            self.err(
                argv.span(),
                format!("environment {env}: [environment.status] argv is empty"),
                "the first element is the program",
            );
        }
        if let Some(t) = st.timeout
            && !(std::time::Duration::from_millis(100)..=std::time::Duration::from_secs(300)).contains(&t.get())
        {
            self.err(
                st.kind.span(),
                format!("environment {env}: [environment.status] timeout = \"{t}\" is out of range"),
                "give 100ms to 5m, e.g. timeout = \"10s\"",
            );
        }
    }

    fn env_var_name(&mut self, name: &Spanned<String>, key: &str) {
        let n = name.get_ref();
        if n.contains("://") {
            self.err(
                name.span(),
                format!("{key} holds a URL; secrets must not be written in the config"),
                format!(
                    "put the URL in an environment variable and name it here, e.g. {key} = \"BACKOUT_WEBHOOK_URL\""
                ),
            );
        } else if n.is_empty()
            || !n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            || n.starts_with(|c: char| c.is_ascii_digit())
        {
            self.err(
                name.span(),
                format!("{key} {n:?} is not an environment variable name"),
                "use capitals, digits and underscores, e.g. \"BACKOUT_WEBHOOK_URL\"",
            );
        }
    }

    fn environment(&mut self, env: &EnvironmentConfig) {
        let name = env.name();
        if name.is_empty() || name.contains(char::is_whitespace) {
            self.err(
                env.name.span(),
                format!("environment name {name:?} is empty or has spaces"),
                "use a short name like \"checkout-prod\"; it is typed with --env",
            );
        }
        self.url(&env.base_url, "base_url");
        for (path, key) in [
            (&env.health_path, "health_path"),
            (&env.status_path, "status_path"),
            (&env.driver.rollback_path, "rollback_path"),
        ] {
            self.path_under(&env.base_url, path, key);
        }
        if let Some(m) = &env.max_body
            && !MAX_BODY_RANGE.contains(m.get_ref())
        {
            self.err(
                m.span(),
                format!("environment {name}: max_body = {} is out of range", m.get_ref()),
                "give a byte count from 1024 (1 KiB) to 268435456 (256 MiB); the default is 1048576 (1 MiB)",
            );
        }
        if let Some(k) = &env.keep_states
            && !KEEP_STATES_RANGE.contains(k.get_ref())
        {
            self.err(
                k.span(),
                format!("environment {name}: keep_states = {} is out of range", k.get_ref()),
                "keep from 1 to 100 states; the default is 5",
            );
        }
        if let Some(a) = &env.approvals
            && !APPROVALS_RANGE.contains(a.get_ref())
        {
            self.err(
                a.span(),
                format!("environment {name}: approvals = {} is out of range", a.get_ref()),
                "give 1 (the operator who plans a rollback runs it) or 2 (a second, different operator approves it \
                 with `backout approve N`); the default is 1",
            );
        }

        let mut signal_names: HashMap<&str, Range<usize>> = HashMap::new();
        for s in &env.signals {
            let sname = s.name.get_ref().as_str();
            if let Some(first) = signal_names.insert(sname, s.name.span()) {
                let (line, _) = line_column(self.text, first.start);
                self.err(
                    s.name.span(),
                    format!("signal {sname:?} is defined twice in environment {name}"),
                    format!("first defined on line {line}; rename one"),
                );
            }
            let need = |field: &str| format!("signal {sname:?} with source {:?} needs `{field}`", s.source);
            match s.source {
                SignalSource::Json => {
                    if s.url.is_none() {
                        self.err(s.name.span(), need("url"), "the URL of the JSON document");
                    }
                    if s.pointer.is_none() {
                        self.err(s.name.span(), need("pointer"), "a JSON pointer such as \"/data/quality\"");
                    }
                }
                SignalSource::Prometheus => {
                    if s.url.is_none() {
                        self.err(s.name.span(), need("url"), "the Prometheus server, e.g. \"http://127.0.0.1:9090\"");
                    }
                    if s.query.is_none() {
                        self.err(s.name.span(), need("query"), "a PromQL instant query");
                    }
                }
                SignalSource::Exposition => match (s.derive, &s.metric) {
                    (None, _) => {
                        self.err(s.name.span(), need("derive"), "one of \"error-rate\", \"mean-latency\", \"gauge\"")
                    }
                    (Some(super::Derivation::Gauge), None) => {
                        self.err(s.name.span(), need("metric"), "the gauge's name, e.g. \"process_cpu_ratio\"")
                    }
                    _ => {}
                },
                SignalSource::Alertmanager => {
                    if s.matchers.is_empty() {
                        self.err(
                            s.name.span(),
                            need("matchers"),
                            "label matchers, e.g. matchers = ['alertname=\"HighErrorRate\"', 'service=\"checkout\"']",
                        );
                    }
                    for m in &s.matchers {
                        if let Err(why) = crate::engine::alerts::Matcher::parse(m.get_ref()) {
                            self.err(m.span(), why, "write it like alertname=\"HighErrorRate\" (=, !=, =~, !~)");
                        }
                    }
                }
                SignalSource::Health | SignalSource::Status => {}
            }
            if let Some(url) = &s.url {
                self.url(url, "url");
            }
        }

        let effective = env.effective_signals();
        let known: Vec<&str> = effective.iter().map(|s| s.name.get_ref().as_str()).collect();
        for t in &env.triggers {
            let sig = t.signal.get_ref();
            if !known.contains(&sig.as_str()) {
                self.err(
                    t.signal.span(),
                    format!("trigger names unknown signal {sig:?} in environment {name}"),
                    format!("known signals: {}", known.join(", ")),
                );
            }
            let what = format!("trigger on {sig:?}");
            match t.rule {
                RuleKind::Above | RuleKind::Below => {
                    if t.threshold.is_none() {
                        self.err(t.signal.span(), format!("{what} needs `threshold`"), "e.g. threshold = 0.05");
                    }
                    if t.window.is_none() {
                        self.err(t.signal.span(), format!("{what} needs `for`"), "e.g. for = \"2m\"");
                    }
                }
                RuleKind::Drop => {
                    if t.threshold.is_none() {
                        self.err(
                            t.signal.span(),
                            format!("{what} needs `threshold` (the largest allowed fall)"),
                            "e.g. threshold = 0.1",
                        );
                    }
                }
                RuleKind::ConsecutiveFailures => {
                    if t.count.unwrap_or(0) == 0 {
                        self.err(t.signal.span(), format!("{what} needs `count` of at least 1"), "e.g. count = 3");
                    }
                }
                RuleKind::Firing => {
                    let source = effective.iter().find(|s| s.name.get_ref() == sig).map(|s| s.source);
                    if source.is_some_and(|s| s != SignalSource::Alertmanager) {
                        self.err(
                            t.signal.span(),
                            format!(
                                "{what}: rule \"firing\" reads alerts, but signal {sig:?} is not an alertmanager signal"
                            ),
                            "give the signal source = \"alertmanager\" with matchers, or use above/below",
                        );
                    }
                }
            }
            if t.action == RuleAction::Propose && t.grace.is_none() {
                self.err(
                    t.signal.span(),
                    format!("{what} proposes a rollback but has no `grace`"),
                    "e.g. grace = \"2m\": how long an operator has to cancel",
                );
            }
        }

        self.driver(env);
        if let Some(st) = &env.status {
            self.status_source(name, st);
        }

        for item in &env.checklist {
            let what = format!("checklist item {:?} of environment {name}", item.title);
            match item.check {
                CheckKind::SignalBelow => match &item.signal {
                    None => self.err(
                        env.name.span(),
                        format!("{what} needs `signal`"),
                        "the signal to compare, e.g. \"error_rate\"",
                    ),
                    Some(s) if !known.contains(&s.as_str()) => self.err(
                        env.name.span(),
                        format!("{what} names unknown signal {s:?}"),
                        format!("known signals: {}", known.join(", ")),
                    ),
                    Some(_) if item.threshold.is_none() => {
                        self.err(env.name.span(), format!("{what} needs `threshold`"), "e.g. threshold = 0.01")
                    }
                    Some(_) => {}
                },
                CheckKind::Probe if item.path.is_none() => self.err(
                    env.name.span(),
                    format!("{what} needs `path`"),
                    "the path under base_url, e.g. \"/api/health\"",
                ),
                // An unknown check word does not parse (serde names the allowed ones).
                _ => {}
            }
            self.probe_keys(item, &what);
            if let (Some(aggregate), false) = (&item.aggregate, item.check == CheckKind::SignalBelow) {
                self.err(
                    aggregate.span(),
                    format!("{what} has `aggregate`, which only signal_below uses"),
                    format!(
                        "remove it, or set check = \"signal_below\" (this item's check is {:?})",
                        item.check.as_str()
                    ),
                );
            }
        }
    }

    /// `method`, `body` and `status` of a checklist item: only on a probe, a body
    /// only where it is sent, a status a server can answer that is not a redirect.
    fn probe_keys(&mut self, item: &super::ChecklistItemConfig, what: &str) {
        let keys = [
            ("method", item.method.as_ref().map(Spanned::span)),
            ("body", item.body.as_ref().map(Spanned::span)),
            ("status", item.status.as_ref().map(Spanned::span)),
        ];
        if item.check != CheckKind::Probe {
            for (key, span) in keys {
                if let Some(span) = span {
                    self.err(
                        span,
                        format!("{what} has `{key}`, which only a probe uses"),
                        format!("remove it, or set check = \"probe\" (this item's check is {:?})", item.check.as_str()),
                    );
                }
            }
            return;
        }
        let method = item.probe_method();
        if let (Some(body), ProbeMethod::Get | ProbeMethod::Head) = (&item.body, method) {
            self.err(
                body.span(),
                format!("{what} is a {method} probe with a `body`; {method} sends none"),
                "remove `body`, or use method = \"POST\"",
            );
        }
        if let Some(status) = &item.status {
            let code = *status.get_ref();
            if !(100..=599).contains(&code) {
                self.err(
                    status.span(),
                    format!("{what} expects status {code}, which is not an HTTP status"),
                    "a code from 100 to 599, e.g. status = 200",
                );
            } else if (300..=399).contains(&code) {
                self.err(
                    status.span(),
                    format!("{what} expects status {code}, a redirect; probes never follow one, and a 3xx fails them"),
                    "probe the address the redirect points to, expecting its status",
                );
            }
        }
    }

    fn driver(&mut self, env: &EnvironmentConfig) {
        let d = &env.driver;
        let name = env.name();
        match d.kind {
            DriverKind::Http => {}
            DriverKind::Command => match &d.argv {
                None => self.err(
                    env.name.span(),
                    format!("environment {name}: driver type \"command\" needs `argv`"),
                    "e.g. argv = [\"kubectl\", \"rollout\", \"undo\", \"deployment/{env}\"]",
                ),
                Some(argv) if argv.get_ref().is_empty() => {
                    self.err(argv.span(), "argv is empty".to_string(), "the first element is the program to run")
                }
                Some(argv) => {
                    for arg in argv.get_ref() {
                        if let Some(bad) = unknown_placeholder(arg) {
                            self.err(
                                argv.span(),
                                format!("argv uses unknown placeholder {bad}"),
                                format!("known: {}", ARGV_PLACEHOLDERS.join(", ")),
                            );
                        }
                    }
                }
            },
            DriverKind::Flag => {
                if d.flag.is_none() {
                    self.err(
                        env.name.span(),
                        format!("environment {name}: driver type \"flag\" needs `flag`"),
                        "the flag's key, e.g. flag = \"NEW_CHECKOUT_ENABLED\"",
                    );
                }
                match (&d.env_file, &d.flag_url) {
                    (None, None) => self.err(
                        env.name.span(),
                        format!("environment {name}: driver type \"flag\" needs `env_file` or `flag_url`"),
                        "where the flag lives",
                    ),
                    (Some(_), Some(url)) => self.err(
                        url.span(),
                        "give either `env_file` or `flag_url`, not both".to_string(),
                        "pick where the flag lives",
                    ),
                    (None, Some(url)) => self.url(url, "flag_url"),
                    (Some(_), None) => {}
                }
            }
        }
    }
}

/// The first `{...}` in `arg` that is not a known placeholder.
fn unknown_placeholder(arg: &str) -> Option<String> {
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let close = after.find('}')?;
        let ph = &after[..=close];
        if !ARGV_PLACEHOLDERS.contains(&ph) {
            return Some(ph.to_string());
        }
        rest = &after[close + 1..];
    }
    None
}

/// Checks what the parser cannot: references, duplicates, URLs, required fields
/// that depend on other fields.
pub(super) fn check(config: &Config, file: &Path, text: &str) -> Result<(), ConfigErrors> {
    let mut c = Checker { file, text, errors: Vec::new() };
    super::limits::check(&mut c, config);
    if let Some(n) = &config.notifications.webhook_url_env {
        c.env_var_name(n, "webhook_url_env");
    }
    if let Some(n) = &config.notifications.drill_webhook_url_env {
        c.env_var_name(n, "drill_webhook_url_env");
    }
    if let Some(n) = &config.notifications.escalation_webhook_url_env {
        c.env_var_name(n, "escalation_webhook_url_env");
    }
    if let Some(n) = &config.notifications.pagerduty_routing_key_env {
        c.env_var_name(n, "pagerduty_routing_key_env");
    }
    if let Some(u) = &config.notifications.pagerduty_url {
        c.url(u, "pagerduty_url");
    }
    if let Some(email) = &config.notifications.email {
        c.email(email);
    }
    c.prometheus(&config.prometheus);
    let am = &config.alertmanager;
    if let Some(l) = &am.listen
        && l.get_ref().parse::<std::net::SocketAddr>().is_err()
    {
        c.err(
            l.span(),
            format!("[alertmanager] listen = {:?} is not an address to listen on", l.get_ref()),
            "give an IP and port, e.g. listen = \"127.0.0.1:9095\" (0.0.0.0:9095 for every interface)",
        );
    }
    if let Some(n) = &am.token_env {
        c.env_var_name(n, "token_env");
    }
    if let Some(m) = &am.max_body
        && !MAX_BODY_RANGE.contains(m.get_ref())
    {
        c.err(
            m.span(),
            format!("[alertmanager] max_body = {} is out of range", m.get_ref()),
            "give a byte count from 1024 (1 KiB) to 268435456 (256 MiB); the default is 1048576 (1 MiB)",
        );
    }
    let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
    for env in &config.environments {
        if let Some(first) = seen.insert(env.name(), env.name.span()) {
            let (line, _) = line_column(text, first.start);
            c.err(
                env.name.span(),
                format!("duplicate environment name {:?}", env.name()),
                format!("first defined on line {line}; names must be unique"),
            );
        }
        c.environment(env);
    }
    if c.errors.is_empty() {
        Ok(())
    } else {
        c.errors.sort_by_key(|e| (e.line, e.column));
        Err(ConfigErrors(c.errors))
    }
}
