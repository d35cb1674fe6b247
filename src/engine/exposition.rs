//! The text a service's `/metrics` page holds: the Prometheus exposition format
//! and OpenMetrics (`# EOF`, exemplars after ` # `, timestamps).
//!
//! Label values are quoted strings with escapes, so a value may hold `}`, `,`,
//! `=` or `"`; the parser reads them character by character instead of splitting
//! on those characters, which dropped series such as `route="/users/{id}"`.

use std::collections::HashMap;

/// One series of a page: `(name, labels, value)`.
pub type Series = (String, HashMap<String, String>, f64);

/// Series of an exposition page. Lines that do not parse are skipped (a page
/// is read for the series asked for; one odd line must not hide the others);
/// nothing after OpenMetrics' `# EOF` counts. Values are kept as written,
/// NaN and infinities included: what they mean is the reader's decision.
pub fn parse_exposition(body: &str) -> Vec<Series> {
    let mut out = Vec::new();
    for line in body.lines() {
        let line = line.trim();
        if line == "# EOF" {
            break;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(series) = parse_line(line) {
            out.push(series);
        }
    }
    out
}

/// Writes a label value the way the format quotes it (the inverse of the
/// parser's unescaping), for tests and simulated pages.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn parse_line(line: &str) -> Option<Series> {
    let mut rest = line;
    let name = take_name(&mut rest)?;
    let labels = if rest.starts_with('{') { parse_labels(&mut rest)? } else { HashMap::new() };
    // The value must be set apart from the series by whitespace.
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next()?.parse::<f64>().ok()?;
    // What may follow: a timestamp, then an OpenMetrics exemplar after `#`.
    match fields.next() {
        None => {}
        Some(t) if t.starts_with('#') => {}
        Some(t) => {
            t.parse::<f64>().ok()?;
            if fields.next().is_some_and(|e| !e.starts_with('#')) {
                return None;
            }
        }
    }
    Some((name.to_string(), labels, value))
}

/// A metric or label name: `[a-zA-Z_:][a-zA-Z0-9_:]*`, taken off the front of `rest`.
fn take_name<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let s = *rest;
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(s.len());
    let name = &s[..end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    *rest = &s[end..];
    Some(name)
}

/// `{name="value",...}` with optional spaces and a trailing comma, taken off the
/// front of `rest`.
fn parse_labels(rest: &mut &str) -> Option<HashMap<String, String>> {
    let mut s = rest.strip_prefix('{')?;
    let mut labels = HashMap::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            *rest = after;
            return Some(labels);
        }
        let key = take_name(&mut s)?;
        s = s.trim_start().strip_prefix('=')?.trim_start().strip_prefix('"')?;
        let (value, after) = take_quoted(s)?;
        labels.insert(key.to_string(), value);
        s = after.trim_start();
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return None;
        }
    }
}

/// The value of a quoted string whose opening quote is already read, with
/// `\\`, `\"` and `\n` unescaped, and what follows the closing quote.
fn take_quoted(s: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                '\\' => value.push('\\'),
                '"' => value.push('"'),
                'n' => value.push('\n'),
                _ => return None,
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn exposition_lines_parse() {
        let page = "# HELP x\n# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 10234\n\
                    http_requests_total{code=\"500\",path=\"/a\"} 12\nprocess_cpu_ratio 0.31\nbad line\n";
        let s = parse_exposition(page);
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].1.get("code").map(String::as_str), Some("500"));
        assert_eq!(s[2], ("process_cpu_ratio".to_string(), HashMap::new(), 0.31));
    }

    #[test]
    fn item18_label_values_with_braces_are_kept() {
        let page = "http_requests_total{code=\"200\",route=\"/users/{id}\"} 100\n\
                    http_requests_total{code=\"500\",route=\"/users/{id}\"} 7\n\
                    http_requests_total{route=\"/orders/{order}/items/{item}\",code=\"503\"} 3\n";
        let s = parse_exposition(page);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[0].1, labels(&[("code", "200"), ("route", "/users/{id}")]));
        assert_eq!(s[2].1, labels(&[("route", "/orders/{order}/items/{item}"), ("code", "503")]));
        assert_eq!(s.iter().map(|x| x.2).sum::<f64>(), 110.0);
    }

    #[test]
    fn item18_escapes_commas_and_equals_inside_values() {
        let page = r#"m{a="x\"y",b="back\\slash",c="line\nbreak",d="a,b=c} d"} 1"#;
        let s = parse_exposition(page);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].1, labels(&[("a", "x\"y"), ("b", "back\\slash"), ("c", "line\nbreak"), ("d", "a,b=c} d")]));
        // An unknown escape or an unclosed quote makes the line malformed.
        assert!(parse_exposition(r#"m{a="x\q"} 1"#).is_empty());
        assert!(parse_exposition(r#"m{a="x} 1"#).is_empty());
        assert!(parse_exposition(r#"m{a=x} 1"#).is_empty());
        // Spaces and a trailing comma are allowed.
        assert_eq!(parse_exposition("m{ a = \"1\" , } 2")[0].1, labels(&[("a", "1")]));
    }

    #[test]
    fn item18_openmetrics_timestamps_exemplars_and_eof() {
        let page = "# TYPE http_requests counter\n\
                    http_requests_total{code=\"200\"} 10 1700000000.123\n\
                    http_requests_total{code=\"500\"} 2 # {trace_id=\"a}b\"} 1 1700000000\n\
                    http_requests_total{code=\"502\"} 1 1700000000 # {trace_id=\"c\"} 1\n\
                    process_cpu_ratio 0.5 not-a-timestamp\n\
                    # EOF\n\
                    http_requests_total{code=\"200\"} 99999\n";
        let s = parse_exposition(page);
        assert_eq!(s.iter().map(|x| x.2).collect::<Vec<_>>(), [10.0, 2.0, 1.0], "{s:?}");
    }

    #[test]
    fn special_values_are_kept_as_written() {
        let s = parse_exposition("a NaN\nb +Inf\nc -Inf\nd 1e999\n");
        assert!(s[0].2.is_nan());
        assert_eq!(s[1..].iter().map(|x| x.2).collect::<Vec<_>>(), [f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY]);
    }

    proptest! {
        #[test]
        fn item18_label_values_round_trip(
            values in proptest::collection::vec(any::<String>(), 1..4),
            value in any::<f64>().prop_filter("finite", |v| v.is_finite()),
        ) {
            let pairs: Vec<(String, String)> =
                values.iter().enumerate().map(|(i, v)| (format!("l{i}"), v.clone())).collect();
            let inner: Vec<String> =
                pairs.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v))).collect();
            let page = format!("# TYPE m gauge\nm{{{}}} {value:e}\nother 1\n", inner.join(","));
            let s = parse_exposition(&page);
            prop_assert_eq!(s.len(), 2, "{:?}", page);
            prop_assert_eq!(&s[0].0, "m");
            prop_assert_eq!(&s[0].1, &pairs.into_iter().collect::<HashMap<_, _>>());
            prop_assert_eq!(s[0].2, value);
        }
    }
}
