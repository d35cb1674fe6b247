//! Printing results as aligned tables or stable JSON.

use clap::ValueEnum;
use serde::Serialize;

/// Output format of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document (shapes in docs/cli-json.md).
    Json,
}

/// The global `--format` as typed: `md` and `html` are report forms that only
/// `export` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FormatArg {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document (shapes in docs/cli-json.md).
    Json,
    /// Markdown (export only).
    Md,
    /// A self-contained HTML page (export only).
    Html,
}

/// Process exit codes (documented in README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// The operation failed.
    Failed = 1,
    /// Usage or config error.
    Usage = 2,
    /// Refused (for example it needs `--force`).
    Refused = 3,
}

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("backout: could not encode JSON output: {e}"),
    }
}

/// Formats rows under headers with columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `-` for a missing value.
pub fn or_dash(v: Option<&str>) -> String {
    v.map_or_else(|| "-".to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_pads_columns() {
        let t = super::table(&["A", "LONG"], &[vec!["xyz".into(), "1".into()], vec!["é".into(), "22".into()]]);
        assert_eq!(t, "A    LONG\nxyz  1\né    22");
    }
}
