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

/// Widest a table cell is shown; a longer one is cut with `…[N chars]`
/// (`--format json` has it whole).
pub const MAX_CELL: usize = 80;

/// Formats rows under headers with columns padded to their widest cell. Every
/// cell is one printable line of at most [`MAX_CELL`] characters, so a hostile
/// value can neither act on the terminal, forge a row, nor break the layout.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |c: &str| crate::text::bounded(&crate::text::printable_line(c), MAX_CELL);
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| cell(c)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            s.push_str(cell);
            if i + 1 < cells.len() {
                // Padded by hand: `format!`'s width is limited to u16 and panics past it.
                s.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.chars().count()) + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    for row in &rows {
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

    #[test]
    fn item7_a_huge_or_hostile_cell_is_cut_and_escaped_not_a_panic() {
        let huge = "7".repeat(100_000);
        let t =
            super::table(&["VERSION", "X"], &[vec![huge, "1".into()], vec!["2.0\n3.0\u{1b}[2J".into(), "2".into()]]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "a line break in a cell forged no row: {t}");
        assert!(lines[1].starts_with(&"7".repeat(super::MAX_CELL)));
        assert!(lines[1].contains("…[100000 chars]"));
        assert!(lines[2].starts_with("2.0\\u{a}3.0\\u{1b}[2J"), "{}", lines[2]);
        assert!(!t.contains('\u{1b}'));
    }
}
