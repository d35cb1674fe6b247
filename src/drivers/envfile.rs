//! Turning a flag off in a dotenv-style file, and replacing the file atomically.
//!
//! Blocking file I/O: callers run it on a blocking thread.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file's text with every `KEY=...` (or `export KEY=...`) line set to
/// `KEY=false`; see [`set_value`].
pub(crate) fn set_false(text: &str, key: &str) -> String {
    set_value(text, key, "false")
}

/// The file's text with every `KEY=...` (or `export KEY=...`) line set to
/// `KEY=value`. Everything else is kept byte for byte; without such a line,
/// `KEY=value` is appended in the file's line-ending style, keeping whether the
/// file ended with a line break.
pub(crate) fn set_value(text: &str, key: &str, value: &str) -> String {
    let assignment = format!("{key}={value}");
    let mut out = String::with_capacity(text.len() + assignment.len() + 2);
    let mut found = false;
    for line in text.split_inclusive('\n') {
        let (body, eol) = split_eol(line);
        match assignment_prefix(body, key) {
            Some(prefix) => {
                found = true;
                out.push_str(prefix);
                out.push_str(&assignment);
                out.push_str(eol);
            }
            None => out.push_str(line),
        }
    }
    if !found {
        let crlf = text.contains("\r\n");
        let eol = if crlf { "\r\n" } else { "\n" };
        if text.is_empty() {
            out.push_str(&assignment);
            out.push('\n');
        } else if text.ends_with('\n') {
            out.push_str(&assignment);
            out.push_str(eol);
        } else {
            out.push_str(eol);
            out.push_str(&assignment);
        }
    }
    out
}

/// Every line that assigns `key`, with its line ending, byte for byte: what a
/// kept state holds of an env file (never the rest of it, which may hold
/// secrets).
pub(crate) fn key_lines(text: &str, key: &str) -> String {
    text.split_inclusive('\n').filter(|line| assignment_prefix(split_eol(line).0, key).is_some()).collect()
}

/// The file's text with the lines assigning `key` replaced by `kept` (lines
/// from [`key_lines`]): put where the first of them was, else appended (after a
/// line break if the file lacks a final one). Everything else is kept byte for
/// byte, so a file changed only on `key`'s line comes back exactly as it was.
pub(crate) fn put_key_lines(text: &str, key: &str, kept: &str) -> String {
    let mut out = String::with_capacity(text.len() + kept.len() + 1);
    let mut placed = false;
    for line in text.split_inclusive('\n') {
        if assignment_prefix(split_eol(line).0, key).is_some() {
            if !placed {
                out.push_str(kept);
                placed = true;
            }
        } else {
            out.push_str(line);
        }
    }
    if !placed && !kept.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(if out.contains("\r\n") { "\r\n" } else { "\n" });
        }
        out.push_str(kept);
    }
    out
}

/// The value the last `KEY=...` (or `export KEY=...`) line gives, unquoted and
/// trimmed; `None` when no line sets it.
pub(crate) fn value_of(text: &str, key: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let (body, _) = split_eol(line);
        let prefix = assignment_prefix(body, key)?;
        let value = body[prefix.len() + key.len()..].trim_start_matches([' ', '\t']).strip_prefix('=')?;
        // A ` #` starts a comment, as dotenv readers take it.
        let value = value.split(" #").next().unwrap_or_default();
        Some(value.trim().trim_matches(['"', '\'']).to_string())
    })
}

fn split_eol(line: &str) -> (&str, &str) {
    if let Some(body) = line.strip_suffix("\r\n") {
        (body, "\r\n")
    } else if let Some(body) = line.strip_suffix('\n') {
        (body, "\n")
    } else {
        (line, "")
    }
}

/// For a line assigning `key`, the text before the key (indentation and an
/// `export `), which the rewritten line keeps.
fn assignment_prefix<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let indent = line.len() - line.trim_start().len();
    let mut rest = &line[indent..];
    if let Some(after) = rest.strip_prefix("export")
        && after.starts_with([' ', '\t'])
    {
        rest = after.trim_start();
    }
    let key_at = line.len() - rest.len();
    let after_key = rest.strip_prefix(key)?;
    after_key.trim_start_matches([' ', '\t']).starts_with('=').then_some(&line[..key_at])
}

/// Replaces `path` with `contents` so a reader sees either the old file or the
/// new one, never a half-written one: a temporary file in the same directory,
/// flushed to disk, renamed over the original, then the directory flushed so the
/// rename itself survives a crash. The original's permissions are kept; a
/// symlink is followed so the link stays a link.
pub(crate) fn replace_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let path = fs::canonicalize(path)?;
    let dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let permissions = fs::metadata(&path)?.permissions();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let temp = dir.join(format!(".{name}.backout-{}-{nanos}.tmp", std::process::id()));
    let written = (|| {
        // Created with the original's mode, so its content is never readable
        // by more users than the original's, not even for a moment.
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(permissions.mode() & 0o7777);
        }
        let mut file = options.open(&temp)?;
        file.write_all(contents)?;
        file.set_permissions(permissions)?;
        file.sync_all()?;
        fs::rename(&temp, &path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("{} was replaced, but flushing its directory failed: {e}", path.display()),
        )
    })
}

/// Sets each of `keys` to `value` in the env file at `path` (see [`set_value`]),
/// replacing it atomically, or creating it (flushed to disk) when it does not exist.
pub(crate) fn set_values(path: &Path, keys: &[String], value: &str) -> std::io::Result<()> {
    let existing = match fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let text = keys.iter().fold(existing.clone().unwrap_or_default(), |text, key| set_value(&text, key, value));
    if existing.is_some() {
        return replace_atomically(path, text.as_bytes());
    }
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    File::open(dir)?.sync_all()
}

/// Whether the flag file can be rewritten: it exists and is writable, and its
/// directory takes a new file (the temporary one the rename needs).
pub(crate) fn check_writable(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let real = fs::canonicalize(path).map_err(|e| format!("env file {shown}: {e}"))?;
    if !real.is_file() {
        return Err(format!("env file {shown} is not a regular file"));
    }
    // Opening for append changes nothing but fails the way the write would.
    OpenOptions::new().append(true).open(&real).map_err(|e| format!("env file {shown} is not writable: {e}"))?;
    let dir = real.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let probe = dir.join(format!(".backout-write-check-{}.tmp", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("directory {} of env file {shown} takes no new file: {e}", dir.display()))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_before_is_read_as_dotenv_readers_do() {
        let text = "A=1\r\nexport USE_X = \"true\" # on for the launch\r\nUSE_XY=9\nUSE_X=on\n";
        assert_eq!(value_of(text, "USE_X").as_deref(), Some("on"), "the last assignment wins");
        assert_eq!(value_of("export USE_X = \"true\" # launch\r\n", "USE_X").as_deref(), Some("true"));
        assert_eq!(value_of(text, "USE"), None, "a key is matched whole");
        assert_eq!(value_of(text, "MISSING"), None);
    }

    #[test]
    fn kept_key_lines_put_back_give_the_file_byte_for_byte() {
        let original = "# flags\r\nexport USE_X=\"true\" # on\r\nDB_PASSWORD=s3cret\r\nOTHER=1";
        let kept = key_lines(original, "USE_X");
        assert_eq!(kept, "export USE_X=\"true\" # on\r\n", "only the flag's line, never a secret");
        let turned_off = set_false(original, "USE_X");
        assert_ne!(turned_off, original);
        assert_eq!(put_key_lines(&turned_off, "USE_X", &kept), original);
        // A line added since the state was kept stays.
        let later = format!("{turned_off}\r\nNEW=2");
        assert_eq!(put_key_lines(&later, "USE_X", &kept), format!("{original}\r\nNEW=2"));
        // A key gone since is put back at the end, on a line of its own.
        assert_eq!(put_key_lines("A=1", "USE_X", "USE_X=true\n"), "A=1\nUSE_X=true\n");
    }

    #[test]
    fn the_key_line_is_replaced_and_everything_else_kept() {
        let text = "# flags for checkout\nOTHER=1\n\nNEW_CHECKOUT_ENABLED=true # rolled out 2024-05\nNEW_CHECKOUT_ENABLED_V2=true\n# NEW_CHECKOUT_ENABLED=true\nLAST=x\n";
        assert_eq!(
            set_false(text, "NEW_CHECKOUT_ENABLED"),
            "# flags for checkout\nOTHER=1\n\nNEW_CHECKOUT_ENABLED=false\nNEW_CHECKOUT_ENABLED_V2=true\n# NEW_CHECKOUT_ENABLED=true\nLAST=x\n"
        );
    }

    #[test]
    fn export_form_indentation_spaces_and_crlf_are_kept() {
        assert_eq!(set_false("export FLAG=\"on\"\r\nA=1\r\n", "FLAG"), "export FLAG=false\r\nA=1\r\n");
        assert_eq!(set_false("  export\tFLAG = yes", "FLAG"), "  export\tFLAG=false");
        assert_eq!(set_false("exportFLAG=1\n", "FLAG"), "exportFLAG=1\nFLAG=false\n", "not an export");
        assert_eq!(set_false("FLAG=1\nFLAG=2\n", "FLAG"), "FLAG=false\nFLAG=false\n", "no copy left on");
    }

    #[test]
    fn a_missing_key_is_appended_keeping_the_trailing_newline_state() {
        assert_eq!(set_false("A=1\n", "FLAG"), "A=1\nFLAG=false\n");
        assert_eq!(set_false("A=1", "FLAG"), "A=1\nFLAG=false");
        assert_eq!(set_false("A=1\r\n", "FLAG"), "A=1\r\nFLAG=false\r\n");
        assert_eq!(set_false("", "FLAG"), "FLAG=false\n");
        assert_eq!(set_false("FLAG\n", "FLAG"), "FLAG\nFLAG=false\n", "a bare word is not an assignment");
    }

    #[test]
    fn replacing_keeps_the_mode_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flags.env");
        fs::write(&path, "A=1\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        }
        replace_atomically(&path, b"A=2\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "A=2\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        }
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["flags.env"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_written_through_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.env");
        let link = dir.path().join("link.env");
        fs::write(&real, "A=1\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        replace_atomically(&link, b"A=2\n").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "A=2\n");
    }

    #[test]
    fn writability_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flags.env");
        assert!(check_writable(&path).unwrap_err().contains("flags.env"));
        fs::write(&path, "").unwrap();
        assert_eq!(check_writable(&path), Ok(()));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "the probe is removed");
        assert!(check_writable(dir.path()).unwrap_err().contains("not a regular file"));
    }
}
