//! The post-incident export of a recorded fixture incident: Markdown against a
//! golden file, JSON against docs/export-schema.json, HTML self-contained.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use backout::config::Config;
use backout::incident::export;
use backout::store::Store;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A real database file with the fixture incident, and a config naming the
/// fixture runbooks and the signals' thresholds.
fn fixture() -> (tempfile::TempDir, Store, Config, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("backout.db");
    let store = Store::open(&db).unwrap();
    let sql = std::fs::read_to_string(root().join("fixtures/incidents/checkout-error-rate.sql")).unwrap();
    rusqlite::Connection::open(&db).unwrap().execute_batch(&sql).unwrap();
    let config_path = dir.path().join("backout.toml");
    let text = format!(
        r#"runbooks_dir = "{}"
[[environment]]
name = "checkout"
kind = "blue-green"
base_url = "http://127.0.0.1:8080/svc/checkout"
runbook = "manual-rollback.toml"
[[environment.signal]]
name = "error_rate"
source = "exposition"
derive = "error-rate"
unit = "ratio"
[[environment.signal]]
name = "latency"
source = "exposition"
derive = "mean-latency"
unit = "s"
[[environment.trigger]]
signal = "error_rate"
rule = "above"
threshold = 0.05
for = "2m"
action = "rollback"
"#,
        root().join("fixtures/runbooks").display()
    );
    std::fs::write(&config_path, text).unwrap();
    let config = Config::load(&config_path).unwrap();
    (dir, store, config, config_path)
}

fn without_generated_at(md: &str) -> String {
    md.lines()
        .map(|l| if l.starts_with("Report generated ") { "Report generated <TIME> (schema version 1)." } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn markdown_export_matches_the_golden_file() {
    let (_dir, mut store, config, path) = fixture();
    let report = export::build(&mut store, 1, Some((&config, &path))).unwrap();
    let md = without_generated_at(&export::to_markdown(&report));
    let golden = root().join("tests/snapshots/incident_export_checkout.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &md).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(md, want, "markdown export changed; rerun with UPDATE_GOLDEN=1 and review the diff");
    // The parts the review needs, checked independently of the golden file.
    assert!(md.contains("| Time to mitigate (detect to rollback completed) | 37s | within objective |"), "{md}");
    assert!(md.contains("| Time to recover (detect to validated) | 2m 40s | OVER objective |"), "{md}");
    assert!(md.contains("Root Cause: connection pool exhausted in 2.0.0"), "{md}");
    assert!(md.contains("customers report checkout works again"));
}

#[test]
fn json_export_is_valid_against_its_schema() {
    let (_dir, mut store, config, path) = fixture();
    let report = export::build(&mut store, 1, Some((&config, &path))).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("docs/export-schema.json")).unwrap()).unwrap();
    let mut errors = Vec::new();
    validate(&schema, &json, "$", &mut errors);
    assert!(errors.is_empty(), "export does not match docs/export-schema.json:\n{}", errors.join("\n"));
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["incident"]["durations"]["time_to_detect_ms"], 125_000);
    assert_eq!(json["signals"].as_array().unwrap().len(), 2);

    // The checker itself rejects what it should: a missing field and a wrong type.
    let mut broken = json.clone();
    broken.as_object_mut().unwrap().remove("timeline");
    broken["incident"]["drill"] = Value::from("no");
    let mut errors = Vec::new();
    validate(&schema, &broken, "$", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:?}");
}

#[test]
fn html_export_is_one_self_contained_page() {
    let (_dir, mut store, config, path) = fixture();
    let report = export::build(&mut store, 1, Some((&config, &path))).unwrap();
    let html = export::to_html(&report);
    assert!(html.starts_with("<!doctype html>"));
    assert_eq!(html.matches("<svg").count(), 2, "one chart per signal");
    assert!(html.contains("threshold 0.05"), "the rule threshold is marked");
    assert!(html.contains(">rollback completed<"), "milestones are marked");
    for external in ["src=\"http", "href=\"http", "<script", "<link"] {
        assert!(!html.contains(external), "needs nothing from the network: found {external}");
    }
}

/// A small JSON Schema checker: `type` (one or a list), `const`, `enum`,
/// `required`, `properties`, `additionalProperties: false` and `items`; enough
/// for docs/export-schema.json, which uses nothing else.
fn validate(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(c) = schema.get("const") {
        if c != v {
            errors.push(format!("{at}: expected {c}, found {v}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errors.push(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.iter().any(|t| *t == actual || (*t == "number" && actual == "integer"));
        if !ok {
            errors.push(format!("{at}: expected {types:?}, found {actual}"));
            return;
        }
    }
    if let (Some(obj), Value::Object(map)) = (schema.get("properties").and_then(Value::as_object), v) {
        for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = r.as_str() {
                if !map.contains_key(name) {
                    errors.push(format!("{at}: missing {name}"));
                }
            }
        }
        for (k, val) in map {
            match obj.get(k) {
                Some(s) => validate(s, val, &format!("{at}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: {k} is not in the schema"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Value::Array(list)) = (schema.get("items"), v) {
        for (i, item) in list.iter().enumerate() {
            validate(items, item, &format!("{at}[{i}]"), errors);
        }
    }
}
