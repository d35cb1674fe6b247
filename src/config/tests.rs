use std::path::Path;

use super::*;

const GOOD: &str = r#"
operator = "alice"
poll_interval = "2s"

[[environment]]
name = "checkout"
kind = "blue-green"
base_url = "http://127.0.0.1:8080"

[[environment]]
name = "search"
kind = "standard"
base_url = "http://127.0.0.1:8081"

[[environment.signal]]
name = "errors"
source = "exposition"
derive = "error-rate"

[[environment.trigger]]
signal = "errors"
rule = "above"
threshold = 0.05
for = "2m"
action = "rollback"
"#;

fn errors(text: &str) -> Vec<String> {
    match Config::from_toml(text, Path::new("t.toml")) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn good_config_parses_with_defaults() {
    let c = Config::from_toml(GOOD, Path::new("t.toml")).unwrap();
    assert_eq!(c.environments.len(), 2);
    let checkout = c.environment("checkout").unwrap();
    assert_eq!(checkout.health_path.get_ref(), "/health");
    assert_eq!(checkout.effective_triggers().len(), 5, "seed 001 defaults");
    let search = c.environment("search").unwrap();
    assert_eq!(search.effective_triggers().len(), 1);
    assert_eq!(search.triggers[0].window, Some(HumanDuration::secs(120)));
}

#[test]
fn duplicate_environment_points_at_the_second() {
    let text = GOOD.replace("name = \"search\"", "name = \"checkout\"");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("t.toml:11:8: duplicate environment name"), "{}", e[0]);
    assert!(e[0].contains("first defined on line 6"), "{}", e[0]);
}

#[test]
fn unknown_key_bad_duration_and_bad_url_are_located() {
    let e = errors(&GOOD.replace("poll_interval = \"2s\"", "pol_interval = \"2s\""));
    assert!(e[0].starts_with("t.toml:3:1: unknown field `pol_interval`"), "{e:?}");
    let e = errors(&GOOD.replace("\"2m\"", "\"2 fortnights-ish\""));
    assert!(e[0].starts_with("t.toml:24:7: bad duration"), "{e:?}");
    let e = errors(&GOOD.replace("http://127.0.0.1:8081", "ftp://x"));
    assert!(e[0].starts_with("t.toml:13:12: base_url \"ftp://x\" is not an http"), "{e:?}");
}

#[test]
fn trigger_on_unknown_signal_lists_known_ones() {
    let e = errors(&GOOD.replace("signal = \"errors\"", "signal = \"erors\""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("t.toml:21:10: trigger names unknown signal \"erors\""), "{e:?}");
    assert!(e[0].contains("known signals: errors"), "{e:?}");
}

#[test]
fn checklist_check_is_a_known_word_located_when_not() {
    let item = |check: &str| format!("{GOOD}\n[[environment.checklist]]\ntitle = \"up\"\n{check}\n");
    let c = Config::from_toml(&item(""), Path::new("t.toml")).unwrap();
    assert_eq!(c.environment("search").unwrap().checklist[0].check, CheckKind::Manual, "manual by default");
    let c = Config::from_toml(&item("check = \"health_healthy\""), Path::new("t.toml")).unwrap();
    assert_eq!(c.environment("search").unwrap().checklist[0].check, CheckKind::HealthHealthy);
    let e = errors(&item("check = \"healthy\""));
    assert!(e[0].starts_with("t.toml:29:9: unknown variant `healthy`"), "{e:?}");
    assert!(e[0].contains("`signal_below`"), "lists the checks: {e:?}");
}

#[test]
fn probe_method_body_and_status_are_checked_where_they_stand() {
    let item = |keys: &str| {
        format!(
            "{GOOD}\n[[environment.checklist]]\ntitle = \"up\"\ncheck = \"probe\"\npath = \"/api/health\"\n{keys}\n"
        )
    };
    let c = Config::from_toml(&item(""), Path::new("t.toml")).unwrap();
    let probe = &c.environment("search").unwrap().checklist[0];
    assert_eq!((probe.probe_method(), probe.probe_body(), probe.probe_status()), (ProbeMethod::Post, None, 200));
    let c = Config::from_toml(&item("method = \"HEAD\"\nstatus = 204"), Path::new("t.toml")).unwrap();
    let probe = &c.environment("search").unwrap().checklist[0];
    assert_eq!((probe.probe_method(), probe.probe_status()), (ProbeMethod::Head, 204));

    let e = errors(&item("method = \"PUT\""));
    assert!(e[0].starts_with("t.toml:31:10: unknown variant `PUT`"), "{e:?}");
    assert!(e[0].contains("`GET`, `POST`, `HEAD`"), "lists the methods: {e:?}");
    let e = errors(&item("status = 700"));
    assert!(e[0].starts_with("t.toml:31:10: checklist item \"up\" of environment search expects status 700"), "{e:?}");
    let e = errors(&item("status = 302"));
    assert!(e[0].contains("a redirect; probes never follow one"), "{e:?}");
    let e = errors(&item("method = \"GET\"\nbody = \"{}\""));
    assert!(
        e[0].starts_with("t.toml:32:8: checklist item \"up\" of environment search is a GET probe with a `body`"),
        "{e:?}"
    );
    let e = errors(
        &item("")
            .replace("check = \"probe\"", "check = \"health_healthy\"")
            .replace("path = \"/api/health\"", "method = \"GET\""),
    );
    assert!(
        e[0].starts_with(
            "t.toml:30:10: checklist item \"up\" of environment search has `method`, which only a probe uses"
        ),
        "{e:?}"
    );
}

#[test]
fn webhook_url_written_in_config_is_refused() {
    let text = format!("{GOOD}\n[notifications]\nwebhook_url_env = \"https://hooks.example/x\"\n");
    let e = errors(&text);
    assert!(e[0].contains("secrets must not be written"), "{e:?}");
}

#[test]
fn line_column_counts_characters() {
    assert_eq!(validate::line_column("ab\ncé d", 7), (2, 4));
    assert_eq!(validate::line_column("", 5), (1, 1));
}

#[test]
fn checklist_aggregate_is_a_known_word_on_signal_below_only() {
    let item = |keys: &str| {
        format!(
            "{GOOD}\n[[environment.checklist]]\ntitle = \"errors\"\ncheck = \"signal_below\"\nsignal = \"errors\"\n\
             threshold = 0.01\n{keys}\n"
        )
    };
    let c = Config::from_toml(&item(""), Path::new("t.toml")).unwrap();
    assert_eq!(c.environment("search").unwrap().checklist[0].signal_aggregate(), SignalAggregate::Mean);
    let c = Config::from_toml(&item("aggregate = \"p95\""), Path::new("t.toml")).unwrap();
    assert_eq!(c.environment("search").unwrap().checklist[0].signal_aggregate(), SignalAggregate::P95);

    let e = errors(&item("aggregate = \"median\""));
    assert!(e[0].starts_with("t.toml:32:13: unknown variant `median`"), "{e:?}");
    assert!(e[0].contains("`mean`, `max`, `p95`"), "lists the aggregates: {e:?}");
    let e = errors(&item("aggregate = \"max\"").replace("check = \"signal_below\"", "check = \"health_healthy\""));
    assert!(
        e[0].starts_with(
            "t.toml:32:13: checklist item \"errors\" of environment search has `aggregate`, which only signal_below uses"
        ),
        "{e:?}"
    );
}

#[test]
fn item6_max_body_is_a_byte_count_in_range() {
    let with = |v: &str| GOOD.replace("name = \"search\"", &format!("name = \"search\"\nmax_body = {v}"));
    let c = Config::from_toml(&with("4096"), Path::new("t.toml")).unwrap();
    assert_eq!(c.environment("search").unwrap().endpoints().max_body, 4096);
    assert_eq!(c.environment("checkout").unwrap().max_body(), crate::net::DEFAULT_MAX_BODY);
    let e = errors(&with("10"));
    assert!(e[0].starts_with("t.toml:12:12: environment search: max_body = 10 is out of range"), "{e:?}");
    assert!(e[0].contains("from 1024 (1 KiB) to 268435456 (256 MiB)"), "{e:?}");
}

#[test]
fn keep_states_defaults_to_5_and_is_in_range() {
    let with = |v: &str| GOOD.replace("name = \"search\"", &format!("name = \"search\"\nkeep_states = {v}"));
    let c = Config::from_toml(&with("12"), Path::new("t.toml")).unwrap();
    assert_eq!(c.environment("search").unwrap().keep_states(), 12);
    assert_eq!(c.environment("checkout").unwrap().keep_states(), 5);
    assert!(Config::from_toml(&with("1"), Path::new("t.toml")).is_ok());
    assert!(Config::from_toml(&with("100"), Path::new("t.toml")).is_ok());
    for bad in ["0", "101"] {
        let e = errors(&with(bad));
        assert!(
            e[0].starts_with(&format!("t.toml:12:15: environment search: keep_states = {bad} is out of range")),
            "{e:?}"
        );
        assert!(e[0].contains("keep from 1 to 100 states"), "{e:?}");
    }
}

#[test]
fn item11_check_messages_show_control_characters_escaped() {
    let text = GOOD.replace("kind = \"standard\"", "kind = \"\\u001b]0;pwned\\u0007\"");
    let e = errors(&text);
    assert!(!e[0].contains('\u{1b}') && !e[0].contains('\u{7}'), "{e:?}");
    assert!(e[0].contains("\\u{1b}]0;pwned\\u{7}"), "{e:?}");
}

/// GOOD with `extra` appended to the `search` environment's table.
fn search_with(extra: &str) -> String {
    GOOD.replace("base_url = \"http://127.0.0.1:8081\"\n", &format!("base_url = \"http://127.0.0.1:8081\"\n{extra}\n"))
}

#[test]
fn item8_durations_out_of_range_are_located_check_errors() {
    // Too long for any key: refused while parsing, at the value.
    let e = errors(&GOOD.replace("for = \"2m\"", "for = \"300000y\""));
    assert!(e[0].starts_with("t.toml:24:7: bad duration \"300000y\": longer than a year"), "{e:?}");
    // Each key's own range, at the value, with the range and an example.
    let e = errors(&GOOD.replace("poll_interval = \"2s\"", "poll_interval = \"0s\""));
    assert!(e[0].starts_with("t.toml:3:17: poll_interval = \"0s\" is shorter than allowed (100ms to 1h)"), "{e:?}");
    assert!(e[0].contains("e.g. poll_interval = \"5s\""), "{e:?}");
    let e = errors(&GOOD.replace("derive = \"error-rate\"", "derive = \"error-rate\"\ninterval = \"0s\""));
    assert!(e[0].starts_with("t.toml:19:12: interval = \"0s\" is shorter than allowed"), "{e:?}");
    let e = errors(&search_with("timeout = \"10m\"\ncooldown = \"2d\""));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("t.toml:14:11: timeout = \"10m\" is longer than allowed (100ms to 5m)"), "{e:?}");
    assert!(e[1].starts_with("t.toml:15:12: cooldown = \"2d\" is longer than allowed (0s to 1day)"), "{e:?}");
    let e = errors(&search_with("[environment.driver]\nverify_timeout = \"300d\""));
    assert!(e[0].starts_with("t.toml:15:18: verify_timeout = \"300d\" is longer than allowed"), "{e:?}");
    let e = errors(&format!("{GOOD}\n[severities]\ncritical = \"1s\"\n"));
    assert!(e[0].starts_with("t.toml:28:12: critical = \"1s\" is shorter than allowed"), "{e:?}");
    // The bounds themselves pass.
    assert_eq!(errors(&search_with("timeout = \"5m\"\ncooldown = \"0s\"")), Vec::<String>::new());
}

#[test]
fn item8_non_finite_numbers_empty_strings_and_esc_are_located_check_errors() {
    let e = errors(&GOOD.replace("threshold = 0.05", "threshold = nan"));
    assert!(e[0].starts_with("t.toml:23:13: trigger on \"errors\" in environment search has threshold NaN"), "{e:?}");
    assert!(e[0].contains("give a finite number"), "{e:?}");
    let e = errors(&GOOD.replace("threshold = 0.05", "threshold = inf"));
    assert!(e[0].starts_with("t.toml:23:13:"), "{e:?}");
    let e = errors(&GOOD.replace("derive = \"error-rate\"", "derive = \"gauge\"\nmetric = \"\""));
    assert!(e[0].starts_with("t.toml:19:10: environment search: `metric` is empty"), "{e:?}");
    let e = errors(&search_with("[environment.driver]\ntype = \"command\"\nargv = [\"\", \"x\"]"));
    assert!(e[0].starts_with("t.toml:16:9: environment search: `argv[0]` is empty"), "{e:?}");
    let e = errors(&search_with("[environment.driver]\ntype = \"flag\"\nflag = \" \"\nenv_file = \"\""));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].contains("`flag` is empty") && e[1].contains("`env_file` is empty"), "{e:?}");
    let prom =
        "[[environment.signal]]\nname = \"p\"\nsource = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\nquery = \"\"";
    let e = errors(&format!("{GOOD}{prom}\n"));
    assert!(e[0].contains("`query` is empty"), "{e:?}");
    let e = errors(&format!("{GOOD}\n[keys]\nrollback = \"esc\"\n"));
    assert!(e[0].starts_with("t.toml:28:12: [keys] binds rollback to \"esc\", which is Esc"), "{e:?}");
    let e = errors(&GOOD.replace("name = \"search\"", "name = \"-search\""));
    assert!(e[0].contains("starts with '-'"), "{e:?}");
}

#[test]
fn approvals_default_to_1_and_take_1_or_2() {
    let with = |v: &str| GOOD.replace("name = \"search\"", &format!("name = \"search\"\napprovals = {v}"));
    let c = Config::from_toml(&with("2"), Path::new("t.toml")).unwrap();
    assert_eq!(c.environment("search").unwrap().approvals(), 2);
    assert_eq!(c.environment("checkout").unwrap().approvals(), 1);
    for bad in ["0", "3"] {
        let e = errors(&with(bad));
        assert!(
            e[0].starts_with(&format!("t.toml:12:13: environment search: approvals = {bad} is out of range")),
            "{e:?}"
        );
        assert!(e[0].contains("backout approve N"), "{e:?}");
    }
}
