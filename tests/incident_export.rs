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
    assert_eq!(json["incident"]["actions"].as_array().unwrap().len(), 2, "the follow-up actions are exported");
    assert_eq!(json["incident"]["actions"][1]["done_by"], "erik");
    assert!(json["incident"]["lessons"].as_str().unwrap().contains("never load-tested"));

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

/// One part of a fact: a whole table cell, or text within a cell (or a line).
#[derive(Debug, Clone)]
enum Part {
    Cell(String),
    Text(String),
}

/// A fact of the report: parts that must stand together in one table row, list
/// item or line of a rendering, as the JSON export states them.
type Fact = (String, Vec<Part>);

fn cell(s: impl ToString) -> Part {
    Part::Cell(s.to_string())
}

fn text(s: impl ToString) -> Part {
    Part::Text(s.to_string().replace('\n', " "))
}

fn s(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

fn human(v: &Value) -> String {
    v.as_i64().map_or_else(|| "-".into(), backout::text::human_ms)
}

/// Numbers as the report tables show them: four decimals at most, trailing zeros cut.
fn num(v: &Value) -> String {
    v.as_f64().map_or_else(|| "-".into(), |v| format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string())
}

/// Every fact the JSON export states that a person reading the report needs
/// (not the bookkeeping: row ids of notes, holder host and pid, raw samples).
fn facts(j: &Value) -> Vec<Fact> {
    let mut out: Vec<Fact> = Vec::new();
    let mut add = |what: String, parts: Vec<Part>| out.push((what, parts));
    let i = &j["incident"];
    add("title".into(), vec![text(format!("Incident #{}", i["id"])), text(s(&i["title"]))]);
    add("generated_at".into(), vec![text(s(&j["generated_at"]))]);
    for key in [
        "environment",
        "severity",
        "status",
        "opened_by",
        "opened_at",
        "closed_at",
        "impact",
        "root_cause",
        "prevention",
        "lessons",
    ] {
        if !i[key].is_null() {
            add(format!("incident.{key}"), vec![text(s(&i[key]))]);
        }
    }
    let w = &j["impact_window"];
    add("impact window".into(), vec![text(s(&w["start"])), text(s(&w["end"])), text(human(&w["duration_ms"]))]);
    for m in i["milestones"].as_array().unwrap() {
        let name = s(&m["milestone"]).replace('_', " ");
        add(format!("milestone {name}"), vec![cell(&name), cell(s(&m["at"])), cell(s(&m["actor"]))]);
    }
    let d = &i["durations"];
    for key in ["time_to_detect_ms", "time_to_mitigate_ms", "time_to_validate_ms", "time_to_recover_ms", "objective_ms"]
    {
        if !d[key].is_null() {
            add(format!("durations.{key}"), vec![cell(human(&d[key]))]);
        }
    }
    for (span, met) in
        [("time_to_mitigate_ms", "mitigated_within_objective"), ("time_to_recover_ms", "recovered_within_objective")]
    {
        if let Some(met) = d[met].as_bool() {
            let verdict = if met { "within objective" } else { "OVER objective" };
            add(format!("durations.{met}"), vec![cell(human(&d[span])), cell(verdict)]);
        }
    }
    for b in j["rollbacks"].as_array().unwrap() {
        add(
            format!("rollback #{}", b["id"]),
            vec![
                cell(&b["id"]),
                cell(s(&b["from_version"])),
                cell(s(&b["target_version"])),
                cell(s(&b["type"])),
                cell(s(&b["trigger"])),
                cell(s(&b["status"])),
                cell(s(&b["operator"])),
                cell(human(&b["duration_ms"])),
                text(s(&b["reason"])),
            ],
        );
    }
    for a in i["actions"].as_array().unwrap() {
        let mut parts = vec![
            cell(&a["id"]),
            cell(s(&a["text"])),
            cell(s(&a["owner"])),
            cell(s(&a["due"])),
            cell(if a["done_at"].is_null() { "open" } else { "done" }),
        ];
        if !a["done_at"].is_null() {
            parts.push(text(s(&a["done_at"])));
            parts.push(text(s(&a["done_by"])));
        }
        add(format!("action #{}", a["id"]), parts);
    }
    for sig in j["signals"].as_array().unwrap() {
        let mut parts = vec![text(s(&sig["name"]))];
        if !sig["unit"].is_null() {
            parts.push(text(s(&sig["unit"])));
        }
        for key in ["baseline", "at_detection", "peak_during", "after_rollback"] {
            parts.push(cell(num(&sig[key])));
        }
        for t in sig["thresholds"].as_array().unwrap() {
            parts.push(text(num(t)));
        }
        parts.push(text(s(&sig["sparkline"])));
        add(format!("signal {}", sig["name"]), parts);
    }
    for c in j["checklist"].as_array().unwrap() {
        let mut parts = vec![text(s(&c["item"])), text(s(&c["actor"])), text(s(&c["at"]))];
        if !c["note"].is_null() {
            parts.push(text(s(&c["note"])));
        }
        if c["waived"] == Value::Bool(true) {
            parts.push(text("waived"));
        }
        add(format!("checklist item {}", c["item"]), parts);
    }
    if !j["runbook"].is_null() {
        let rb = &j["runbook"];
        add("runbook".into(), vec![text(s(&rb["name"])), text(s(&rb["file"]))]);
        for st in rb["steps"].as_array().unwrap() {
            let mut parts = vec![text(s(&st["title"])), cell(s(&st["state"])), cell(human(&st["time_box_ms"]))];
            if !st["finished_at"].is_null() {
                parts.push(cell(s(&st["finished_at"])));
            }
            if !st["reason"].is_null() {
                parts.push(text(s(&st["reason"])));
            } else if let Some(first) = st["output"].as_str().and_then(|o| o.lines().next()) {
                parts.push(text(first));
            }
            add(format!("runbook step {}", st["title"]), parts);
        }
    }
    for e in j["timeline"].as_array().unwrap() {
        add(
            format!("timeline {} {}", s(&e["at"]), s(&e["kind"])),
            vec![cell(s(&e["at"])), cell(s(&e["actor"])), cell(s(&e["kind"])), cell(s(&e["message"]))],
        );
    }
    for n in j["notes"].as_array().unwrap() {
        add(format!("note {}", n["id"]), vec![text(s(&n["created_at"])), text(s(&n["author"])), text(s(&n["body"]))]);
    }
    for n in j["notifications"].as_array().unwrap() {
        let mut parts = vec![text(s(&n["at"]))];
        parts.extend(n["channels"].as_array().unwrap().iter().map(|c| text(s(c))));
        add(format!("notification at {}", s(&n["at"])), parts);
        for line in s(&n["text"]).lines().filter(|l| !l.trim().is_empty()) {
            add(format!("notification text {line:?}"), vec![text(line)]);
        }
    }
    for line in s(&j["summary_text"]).lines().filter(|l| !l.trim().is_empty()) {
        add(format!("summary text {line:?}"), vec![text(line)]);
    }
    out
}

/// The Markdown as records: a table row is its cells, any other line one cell.
/// Entities decoded, as a renderer shows them.
fn markdown_records(md: &str) -> Vec<Vec<String>> {
    let md = md.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    md.lines()
        .map(|l| {
            let l = l.trim();
            match l.strip_prefix('|').and_then(|r| r.strip_suffix('|')) {
                Some(row) => row.replace("\\|", "\u{1}").split('|').map(|c| c.trim().replace('\u{1}', "|")).collect(),
                None => vec![l.replace("\\|", "|")],
            }
        })
        .collect()
}

/// The HTML as records (charts left out): a table row is its cells; a list
/// item, heading, paragraph or preformatted line is one cell. Entities decoded.
fn html_records(html: &str) -> Vec<Vec<String>> {
    let mut rest = html.to_string();
    while let (Some(a), Some(b)) = (rest.find("<svg"), rest.find("</svg>")) {
        rest.replace_range(a..b + "</svg>".len(), "");
    }
    for t in ["</td>", "</th>"] {
        rest = rest.replace(t, "\u{1f}");
    }
    for t in ["<tr>", "</tr>", "<li>", "</li>", "</h1>", "</h2>", "</h3>", "<p>", "</p>", "<pre>", "</pre>"] {
        rest = rest.replace(t, "\n");
    }
    let mut plain = String::new();
    let mut in_tag = false;
    for ch in rest.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let plain = plain
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    plain
        .lines()
        .map(|l| l.split('\u{1f}').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect::<Vec<_>>())
        .filter(|r| !r.is_empty())
        .collect()
}

fn stated(fact: &[Part], records: &[Vec<String>]) -> bool {
    records.iter().any(|cells| {
        fact.iter().all(|p| match p {
            Part::Cell(want) => cells.iter().any(|c| c == want),
            Part::Text(want) => cells.iter().any(|c| c.contains(want.as_str())),
        })
    })
}

#[test]
fn markdown_and_html_state_every_fact_of_the_json_export() {
    let (_dir, mut store, config, path) = fixture();
    let report = export::build(&mut store, 1, Some((&config, &path))).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    let facts = facts(&json);
    assert!(facts.len() > 40, "the fixture incident has many facts: {}", facts.len());
    for (name, records) in [
        ("markdown", markdown_records(&export::to_markdown(&report))),
        ("html", html_records(&export::to_html(&report))),
    ] {
        let missing: Vec<String> = facts
            .iter()
            .filter(|(_, parts)| !stated(parts, &records))
            .map(|(what, p)| format!("{what}: {p:?}"))
            .collect();
        assert!(
            missing.is_empty(),
            "the {name} export misses {} facts of the JSON export:\n{}",
            missing.len(),
            missing.join("\n")
        );
    }
}

#[test]
fn every_text_is_escaped_in_html_and_still_stated() {
    let (_dir, mut store, config, path) = fixture();
    let mut report = export::build(&mut store, 1, Some((&config, &path))).unwrap();
    let nasty = |s: &str| format!("{s} <i>a|b & \"c\" 'd'</i>");
    report.incident.incident.title = nasty(&report.incident.incident.title);
    report.incident.fields.root_cause = Some(nasty("pool"));
    report.incident.milestones[0].actor = nasty("bob");
    report.rollbacks[0].reason = nasty("errors");
    report.rollbacks[0].operator = nasty("carol");
    report.checklist[0].item = nasty("health");
    report.checklist[0].note = Some(nasty("held"));
    let rb = report.runbook.as_mut().unwrap();
    rb.name = nasty("book");
    rb.steps[0].title = nasty("step");
    rb.steps[1].reason = Some(nasty("why"));
    report.timeline[0].message = nasty("now");
    report.notes[0].body = nasty("note");
    report.notifications[0].text = nasty("sent");
    report.summary_text = nasty("summary");
    let html = export::to_html(&report);
    assert!(!html.contains("<i>"), "raw markup from the record reached the page");
    let md = export::to_markdown(&report);
    let outside_fences: String = md.split("```").step_by(2).collect();
    assert!(!outside_fences.contains("<i>"), "raw markup reached the markdown: {md}");
    assert!(html.contains("&lt;i&gt;a|b &amp; &quot;c&quot; &#39;d&#39;&lt;/i&gt;"), "{html}");
    let json = serde_json::to_value(&report).unwrap();
    for (name, records) in
        [("markdown", markdown_records(&export::to_markdown(&report))), ("html", html_records(&html))]
    {
        let missing: Vec<String> =
            facts(&json).into_iter().filter(|(_, p)| !stated(p, &records)).map(|(what, _)| what).collect();
        assert!(missing.is_empty(), "{name} lost facts with markup in them: {missing:?}");
    }
}

/// A note with `<script>` and a title with escape sequences: the Markdown shows
/// them, inert, and a fence inside a notification cannot close its block.
#[test]
fn item11_markdown_export_escapes_html_and_control_characters() {
    let (_dir, mut store, config, path) = fixture();
    let mut report = export::build(&mut store, 1, Some((&config, &path))).unwrap();
    report.notes[0].body = "see <script>alert(1)</script>\nline two".into();
    report.incident.incident.title = "checkout \u{1b}]0;pwned\u{7}down\u{202e}".into();
    report.notifications[0].text = "```\n<b>closed the fence</b>".into();
    let md = export::to_markdown(&report);
    assert!(md.contains("see &lt;script&gt;alert(1)&lt;/script&gt; line two"), "{md}");
    assert!(!md.contains("<script>"));
    assert!(md.contains("# Incident #1: checkout \\u{1b}]0;pwned\\u{7}down\\u{202e}"), "{md}");
    assert!(!md.contains('\u{1b}') && !md.contains('\u{7}') && !md.contains('\u{202e}'));
    assert!(md.contains("````\n```\n<b>closed the fence</b>\n````"), "a longer fence holds the text: {md}");
}

#[test]
fn fact_records_match_only_within_one_row() {
    let records = markdown_records("| 1 | 2.0.0 | 1.4.3 |\n| 2 | 1.4.3 | 1.4.2 |\n- alice: a \\| b");
    assert!(stated(&[cell(1), cell("2.0.0"), cell("1.4.3")], &records));
    assert!(!stated(&[cell(1), cell("1.4.2")], &records), "parts from two rows are not one fact");
    assert!(!stated(&[cell("1.4")], &records), "a cell part is a whole cell");
    let records = html_records(
        "<table><tr><th>a</th><td>x &amp; y</td></tr></table><svg><text>b</text></svg><ul><li>b &lt;c&gt;</li></ul>",
    );
    assert_eq!(records, vec![vec!["a".to_string(), "x & y".to_string()], vec!["b <c>".to_string()]]);
}

/// A small JSON Schema checker: `type` (one or a list), `const`, `enum`,
/// `required`, `properties`, `additionalProperties: false` and `items`; enough
/// for docs/export-schema.json, which uses nothing else.
fn validate(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(c) = schema.get("const")
        && c != v
    {
        errors.push(format!("{at}: expected {c}, found {v}"));
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {e:?}"));
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
            if let Some(name) = r.as_str()
                && !map.contains_key(name)
            {
                errors.push(format!("{at}: missing {name}"));
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
