//! Running a configured argv without a shell: placeholder substitution, checks on
//! values that came from a server, a time bound, and capped output.
//!
//! Shared by the command driver (its `argv`) and the flag driver (its `restart`).

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::{DriverFailure, DriverRequest};

/// Most bytes of stdout or stderr kept; the rest is cut and the cut is said.
pub(crate) const OUTPUT_CAP: usize = 8 * 1024;

/// Longest version string accepted into an argv.
const MAX_VERSION_LEN: usize = 128;

/// The values an argv template's placeholders stand for.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Placeholders {
    /// `{env}`: the environment's name (from the config, so trusted).
    pub env: String,
    /// `{version}`: the version the rollback goes to, when known.
    pub version: Option<String>,
    /// `{previous_version}`: the version serving before, when known.
    pub previous_version: Option<String>,
    /// `{reason}`: the operator's reason, control characters removed.
    pub reason: String,
    /// `{revision}`: the deployment tool's revision of the target, read from
    /// its history (`[environment.status]`).
    pub revision: Option<String>,
}

impl Placeholders {
    /// The values for a rollback request, as they are. Versions come from a
    /// service's answers (or the operator), so each is checked when a
    /// placeholder puts it into an argv ([`substitute`]), and only then: a
    /// `{previous_version}` the template does not use (an image reference such
    /// as `registry/shop/checkout:2.0.1`) must not stop a rollback.
    pub fn for_request(req: &DriverRequest) -> Placeholders {
        // The target is what must be current afterwards; a blue/green switch has
        // no request version but still has a target.
        let version = req.target_version.clone().or_else(|| req.request_version.clone());
        Placeholders {
            env: req.environment.clone(),
            version,
            previous_version: req.previous_version.clone(),
            reason: clean_reason(&req.reason),
            revision: req.target_revision.clone(),
        }
    }
}

fn failed(message: String) -> DriverFailure {
    DriverFailure { message, ambiguous: false, stale_plan: false, refused: false }
}

/// A value the driver will not put into an argv: nothing ran, nothing changed.
fn refused(message: String) -> DriverFailure {
    DriverFailure { message, ambiguous: false, stale_plan: false, refused: true }
}

/// Accepts a version only if it is 1..=128 of `[A-Za-z0-9._+-]` and does not
/// start with `-`.
pub(crate) fn check_version(what: &str, v: &str) -> Result<(), String> {
    let bad_char = v.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')));
    let problem = if v.is_empty() {
        Some("it is empty".to_string())
    } else if v.len() > MAX_VERSION_LEN {
        Some(format!("it is longer than {MAX_VERSION_LEN} characters"))
    } else if v.starts_with('-') {
        Some("it starts with '-' and would be read as an option".to_string())
    } else {
        bad_char.map(|c| format!("it contains {c:?}; only letters, digits, '.', '_', '+' and '-' are allowed"))
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(format!("refusing to put the {what} {v:?} into the command's argv: {p}; nothing was run")),
    }
}

/// The reason without control characters: line breaks and tabs become spaces so
/// words stay apart, anything else (escape sequences, NULs) is dropped.
pub(crate) fn clean_reason(reason: &str) -> String {
    reason
        .chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Fills in the placeholders of every argv element. One pass from left to right,
/// so text a value brings in (a reason mentioning `{version}`) is never expanded.
/// Unknown `{...}` stays as written: config validation reports those.
///
/// Refused, before anything runs: a version a placeholder uses that is not known
/// or not a plain version, and a value starting with `-` at the start of an
/// element (`{reason}` = `--kubeconfig=/tmp/x` would be read as an option),
/// unless an earlier element is `--`, after which programs read no options.
pub(crate) fn substitute(template: &[String], values: &Placeholders) -> Result<Vec<String>, DriverFailure> {
    let mut options_ended = false;
    let mut out = Vec::with_capacity(template.len());
    for (i, arg) in template.iter().enumerate() {
        // argv[0] is the program, not an option a value could turn into.
        let guard_start = i > 0 && !options_ended;
        out.push(substitute_one(arg, values, guard_start)?);
        options_ended |= i > 0 && arg == "--";
    }
    Ok(out)
}

fn substitute_one(arg: &str, values: &Placeholders, guard_start: bool) -> Result<String, DriverFailure> {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            out.push_str(after);
            return Ok(out);
        };
        let name = &after[..=close];
        let value = match name {
            "{env}" => Some(values.env.as_str()),
            "{reason}" => Some(values.reason.as_str()),
            "{version}" => Some(checked(name, "target version", values.version.as_deref(), arg)?),
            "{previous_version}" => Some(checked(name, "previous version", values.previous_version.as_deref(), arg)?),
            "{revision}" => Some(revision(values.revision.as_deref(), arg)?),
            _ => None,
        };
        match value {
            Some(v) => {
                if guard_start && out.is_empty() && v.starts_with('-') {
                    return Err(option_like(name, v, arg));
                }
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The target's revision: known (the environment reads its history from the
/// tool), and digits only.
fn revision<'a>(value: Option<&'a str>, arg: &str) -> Result<&'a str, DriverFailure> {
    let v = value.ok_or_else(|| {
        refused(format!(
            "the argv element {arg:?} uses {{revision}}, but no revision of the target is known (set \
             [environment.status] so backout reads the tool's history); nothing was run"
        ))
    })?;
    if v.is_empty() || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(refused(format!("the target's revision {v:?} is not a revision number; nothing was run")));
    }
    Ok(v)
}

/// A version a placeholder puts into the argv: known, and a plain version.
fn checked<'a>(placeholder: &str, what: &str, value: Option<&'a str>, arg: &str) -> Result<&'a str, DriverFailure> {
    let v = value.ok_or_else(|| missing(placeholder, arg))?;
    check_version(what, v).map_err(refused)?;
    Ok(v)
}

fn option_like(placeholder: &str, value: &str, arg: &str) -> DriverFailure {
    refused(format!(
        "refusing to run the command: {placeholder} in the argv element {arg:?} would start it with {value:?}, \
         which the program would read as an option; nothing was run (write \"--\" as an element before it \
         so the program reads no options after it, or reword the value)"
    ))
}

fn missing(placeholder: &str, arg: &str) -> DriverFailure {
    refused(format!(
        "the argv element {arg:?} uses {placeholder}, but that version is not known for this rollback \
         (pass --version, or drop the placeholder); nothing was run"
    ))
}

/// What a finished program left behind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunOutput {
    /// How it exited.
    pub status: ExitStatus,
    /// Its stdout, capped.
    pub stdout: Captured,
    /// Its stderr, capped.
    pub stderr: Captured,
}

impl RunOutput {
    /// `exit 0; stdout: ...; stderr: ...`, the form stored as the driver's answer.
    pub fn summary(&self) -> String {
        format!("{}; stdout: {}; stderr: {}", describe_status(&self.status), self.stdout, self.stderr)
    }
}

/// The last `OUTPUT_CAP` bytes of a stream: the end is where programs put their
/// result or their error.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Captured {
    /// The kept bytes, lossily decoded.
    pub text: String,
    /// Bytes dropped from the start.
    pub cut: usize,
}

impl std::fmt::Display for Captured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.text.trim();
        if self.cut > 0 {
            write!(f, "[first {} bytes cut, last {OUTPUT_CAP} kept] ", self.cut)?;
        }
        if text.is_empty() { f.write_str("(empty)") } else { f.write_str(text) }
    }
}

/// Reads a stream to its end, keeping only its last `OUTPUT_CAP` bytes. It must
/// keep reading: a child blocked on a full pipe would never exit.
async fn capture(mut stream: impl AsyncRead + Unpin) -> std::io::Result<Captured> {
    let mut kept: Vec<u8> = Vec::new();
    let mut cut = 0;
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > OUTPUT_CAP {
            let excess = kept.len() - OUTPUT_CAP;
            kept.drain(..excess);
            cut += excess;
        }
    }
    // A program's output may repeat a service's words: kept with nothing that acts on a terminal.
    let text = crate::text::printable_text(&String::from_utf8_lossy(&kept)).into_owned();
    Ok(Captured { text, cut })
}

/// `exit 3`, or `killed by signal 9`.
pub(crate) fn describe_status(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("killed by signal {sig}");
        }
    }
    status.to_string()
}

/// Runs `argv` with no shell, stdin closed, and the whole run bounded by `limit`.
/// A non-zero exit is an `Ok` here; the caller decides what it means.
pub(crate) async fn run(argv: &[String], limit: Duration) -> Result<RunOutput, DriverFailure> {
    let Some((program, args)) = argv.split_first() else {
        return Err(failed("the argv is empty; nothing to run".to_string()));
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A timeout drops the future mid-way; the child must not outlive it.
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot start {program:?}: {e}; nothing was run")))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let finished = async {
        let out = async {
            match stdout {
                Some(s) => capture(s).await,
                None => Ok(Captured::default()),
            }
        };
        let err = async {
            match stderr {
                Some(s) => capture(s).await,
                None => Ok(Captured::default()),
            }
        };
        let (status, out, err) = tokio::join!(child.wait(), out, err);
        Ok::<_, std::io::Error>(RunOutput { status: status?, stdout: out?, stderr: err? })
    };
    match tokio::time::timeout(limit, finished).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(e)) => Err(DriverFailure {
            message: format!("lost track of {program:?} while it ran: {e}; check whether it took effect"),
            ambiguous: true,
            stale_plan: false,
            refused: false,
        }),
        Err(_) => {
            // Only the direct child is killed; anything it started in the
            // background is its own business, as with a terminal's Ctrl-C.
            let killed = match child.kill().await {
                Ok(()) => "killed it".to_string(),
                Err(e) => format!("could not kill it: {e}"),
            };
            Err(DriverFailure {
                message: format!(
                    "{program:?} did not finish within {} and backout {killed}; it may or may not have \
                     taken effect, check the service by hand",
                    humantime::format_duration(limit)
                ),
                ambiguous: true,
                stale_plan: false,
                refused: false,
            })
        }
    }
}

/// Runs `argv` and turns a non-zero exit into a failure naming the exit status
/// and the end of stderr (or of stdout, when stderr is empty).
pub(crate) async fn run_to_success(argv: &[String], limit: Duration) -> Result<RunOutput, DriverFailure> {
    let output = run(argv, limit).await?;
    if output.status.success() {
        return Ok(output);
    }
    let program = argv.first().map(String::as_str).unwrap_or_default();
    let (which, tail) =
        if output.stderr.text.trim().is_empty() { ("stdout", &output.stdout) } else { ("stderr", &output.stderr) };
    Err(failed(format!("{program:?} failed ({}); {which}: {tail}", describe_status(&output.status))))
}

/// Whether a program can be started: a path containing `/` must be an executable
/// file; a bare name must be one in some `$PATH` directory.
pub(crate) fn find_program(program: &str) -> Result<(), String> {
    if program.is_empty() {
        return Err("the argv's program is empty".to_string());
    }
    if program.contains('/') {
        return if is_executable(Path::new(program)) {
            Ok(())
        } else {
            Err(format!("{program} is not an executable file"))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program))) {
        Ok(())
    } else {
        Err(format!("{program} is not on PATH ({})", path.to_string_lossy()))
    }
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Runs `argv` (no shell) within `limit` and returns its whole stdout, for a
/// program whose output is a document (a status command's JSON): an exit
/// other than 0, or more than `cap` bytes, is an error saying so.
pub async fn run_for_output(argv: &[String], limit: Duration, cap: usize) -> Result<String, String> {
    use tokio::io::AsyncReadExt;
    let Some((program, args)) = argv.split_first() else {
        return Err("the argv is empty; nothing to run".to_string());
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {program:?}: {e}"))?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let run = async {
        // Never more than `cap` + 1 bytes held: the extra byte says it was longer.
        let mut out = Vec::new();
        if let Some(s) = stdout {
            s.take(u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1)).read_to_end(&mut out).await?;
        }
        if out.len() > cap {
            // Nobody reads the rest: the program is stopped, not waited out.
            let _ = child.start_kill();
        }
        let err = match stderr {
            Some(s) => capture(s).await?,
            None => Captured::default(),
        };
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, out, err))
    };
    let (status, out, err) = match tokio::time::timeout(limit, run).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => return Err(format!("{program:?} could not be read: {e}")),
        Err(_) => return Err(format!("{program:?} did not finish within {}", humantime::format_duration(limit))),
    };
    if out.len() > cap {
        return Err(format!(
            "{program:?} printed more than the {} this environment reads (max_body)",
            crate::net::human_bytes(cap)
        ));
    }
    if !status.success() {
        return Err(format!("{program:?} failed ({}): {err}", describe_status(&status)));
    }
    String::from_utf8(out).map_err(|_| format!("{program:?} printed text that is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Placeholders {
        Placeholders {
            env: "checkout".into(),
            version: Some("1.4.2".into()),
            previous_version: Some("2.0.0-bad".into()),
            reason: "errors {version} $(rm -rf /)".into(),
            revision: Some("4".into()),
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn placeholders_are_filled_inside_elements_and_values_are_not_reexpanded() {
        let argv =
            strings(&["kubectl", "deployment/{env}", "--to={version}", "{previous_version}->{version}", "{reason}"]);
        let got = substitute(&argv, &values()).unwrap();
        assert_eq!(
            got,
            ["kubectl", "deployment/checkout", "--to=1.4.2", "2.0.0-bad->1.4.2", "errors {version} $(rm -rf /)"]
        );
    }

    #[test]
    fn unknown_and_unclosed_braces_stay_literal() {
        let argv = strings(&["{nope}", "a{b", "{{env}}", "}{env}"]);
        assert_eq!(substitute(&argv, &values()).unwrap(), ["{nope}", "a{b", "{checkout}", "}checkout"]);
    }

    #[test]
    fn an_unknown_version_placeholder_is_refused() {
        let v = Placeholders { version: None, ..values() };
        let e = substitute(&strings(&["x", "--to={version}"]), &v).unwrap_err();
        assert!(!e.ambiguous);
        assert!(e.message.contains("{version}") && e.message.contains("--version"), "{}", e.message);
        assert_eq!(substitute(&strings(&["{env}"]), &v).unwrap(), ["checkout"], "not needed, not refused");
    }

    #[test]
    fn versions_are_checked_strictly() {
        for ok in ["1.4.2", "2.0.0-bad", "v1_2+build.7", "a"] {
            assert!(check_version("target version", ok).is_ok(), "{ok}");
        }
        let long = "1".repeat(129);
        for bad in ["", "-rf", "1.0 2", "1;rm", "a/b", "a:b", "$(x)", "1.0\n", "ünï", long.as_str()] {
            let e = check_version("target version", bad).unwrap_err();
            assert!(e.contains("target version") && e.contains("nothing was run"), "{e}");
        }
        assert!(check_version("v", &"1".repeat(128)).is_ok());
    }

    #[test]
    fn request_values_are_checked_when_used_and_the_reason_cleaned() {
        let req = DriverRequest {
            environment: "checkout".into(),
            target_version: None,
            request_version: Some("1.4.2".into()),
            previous_version: Some("--evil".into()),
            reason: "line one\nline two\u{1b}[31m\u{0}".into(),
            restore: None,
            target_revision: None,
        };
        let p = Placeholders::for_request(&req);
        let e = substitute(&strings(&["x", "from={previous_version}"]), &p).unwrap_err();
        assert!(e.message.contains("\"--evil\"") && e.message.contains("previous version"), "{}", e.message);
        assert!(e.refused && !e.ambiguous);
        assert_eq!(p.version.as_deref(), Some("1.4.2"), "the request version stands in for a missing target");
        assert_eq!(p.reason, "line one line two[31m");
    }

    #[test]
    fn item5_unused_placeholder_is_not_validated() {
        let req = DriverRequest {
            environment: "checkout".into(),
            target_version: Some("1.4.2".into()),
            request_version: Some("1.4.2".into()),
            previous_version: Some("registry/shop/checkout:2.0.1".into()),
            reason: "errors".into(),
            restore: None,
            target_revision: None,
        };
        let p = Placeholders::for_request(&req);
        let argv = strings(&["kubectl", "rollout", "undo", "deployment/{env}", "--to-revision={version}"]);
        assert_eq!(
            substitute(&argv, &p).unwrap()[4],
            "--to-revision=1.4.2",
            "an unused image reference is no obstacle"
        );
        // Used, the same value is still refused: it is not a plain version.
        let e = substitute(&strings(&["helm", "{previous_version}"]), &p).unwrap_err();
        assert!(e.refused && e.message.contains("registry/shop/checkout:2.0.1"), "{}", e.message);
    }

    #[test]
    fn item5_reason_never_becomes_an_option() {
        let v = Placeholders { reason: "--kubeconfig=/tmp/x".into(), env: "-n".into(), ..values() };
        for argv in [&["kubectl", "{reason}"][..], &["kubectl", "{reason} and more"], &["kubectl", "{env}"]] {
            let e = substitute(&strings(argv), &v).unwrap_err();
            assert!(e.refused && !e.ambiguous, "{argv:?}");
            assert!(e.message.contains("read as an option") && e.message.contains("nothing was run"), "{}", e.message);
        }
        // Inside an element, or after `--`, the value is an operand, not an option.
        let ok = substitute(&strings(&["kubectl", "--reason={reason}", "--", "{reason}", "{env}"]), &v).unwrap();
        assert_eq!(ok, ["kubectl", "--reason=--kubeconfig=/tmp/x", "--", "--kubeconfig=/tmp/x", "-n"]);
        // A `--` that a placeholder produced does not end the options.
        let dashes = Placeholders { reason: "--".into(), ..v.clone() };
        assert!(substitute(&strings(&["p", "x{reason}", "{env}"]), &dashes).is_err());
    }

    #[tokio::test]
    async fn output_exit_status_and_cuts_are_reported() {
        let out = run(&strings(&["sh", "-c", "echo hello; echo oops >&2"]), Duration::from_secs(10)).await.unwrap();
        assert_eq!(out.summary(), "exit 0; stdout: hello; stderr: oops");
        let out = run(&strings(&["printf", "rolled \\033[2J back\\nok"]), Duration::from_secs(10)).await.unwrap();
        assert_eq!(out.stdout.text, "rolled \\u{1b}[2J back\nok", "item 11: output is kept inert");

        let script = format!("head -c {} /dev/zero | tr '\\0' x; echo END", OUTPUT_CAP + 100);
        let out = run(&strings(&["sh", "-c", &script]), Duration::from_secs(10)).await.unwrap();
        assert_eq!(out.stdout.cut, 104, "8 KiB + 100 x's + \"END\\n\" minus the cap");
        assert!(out.stdout.text.ends_with("END\n"));
        assert!(out.stdout.to_string().starts_with("[first 104 bytes cut"), "{}", out.stdout);

        let e = run_to_success(
            &strings(&["sh", "-c", "echo to-stdout; echo 'no such deployment' >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
        assert!(!e.ambiguous);
        assert!(e.message.contains("exit 3") && e.message.contains("stderr: no such deployment"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_command_past_its_time_is_killed_and_ambiguous() {
        let started = std::time::Instant::now();
        let e = run(&strings(&["sleep", "5"]), Duration::from_millis(200)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(e.ambiguous);
        assert!(e.message.contains("did not finish within 200ms") && e.message.contains("killed"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_missing_program_is_not_ambiguous() {
        let e = run(&strings(&["/nonexistent/backout-test-program"]), Duration::from_secs(1)).await.unwrap_err();
        assert!(!e.ambiguous);
        assert!(e.message.contains("cannot start"), "{}", e.message);
    }

    #[test]
    fn programs_are_found_on_path_or_by_path() {
        assert!(find_program("sh").is_ok());
        assert!(find_program("/bin/sh").is_ok());
        assert!(find_program("backout-no-such-program").unwrap_err().contains("not on PATH"));
        let dir = tempfile::tempdir().unwrap();
        assert!(find_program(dir.path().to_str().unwrap()).unwrap_err().contains("not an executable file"));
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        assert!(find_program(plain.to_str().unwrap()).unwrap_err().contains("not an executable file"));
    }
}
