//! Snapshot tests of whole screens on ratatui's `TestBackend`, one per state the
//! console must show, plus the key handling that leads to them.

use chrono::{DateTime, TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, EnvSnapshot, Mode, Msg, Pane, Popup};
use super::keymap::Keymap;
use super::theme::Theme;
use super::ui;
use crate::config::Config;
use crate::domain::{DeploymentStatus, IncidentStatus, RollbackStatus, RollbackTrigger, RollbackType, Severity};
use crate::drivers::Phase;
use crate::engine::{EngineEvent, Evidence, Happened, Sample};
use crate::store::{DeploymentRow, IncidentRow, RollbackRow, TimelineEvent};

/// A stored-form time.
fn at(text: &str) -> DateTime<Utc> {
    crate::domain::ts::parse(text).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 14, 2, 0).single().unwrap()
}

fn config() -> Config {
    let text = r#"
[[environment]]
name = "checkout"
kind = "blue-green"
base_url = "http://127.0.0.1:1/svc/checkout"
auto_rollback = true
production = true
recovery_time_objective = "2m"
[[environment.checklist]]
title = "/health returns healthy"
check = "health_healthy"
[[environment.checklist]]
title = "All metrics back to normal"
[[environment]]
name = "search"
kind = "standard"
base_url = "http://127.0.0.1:1/svc/search"
"#;
    Config::from_toml(text, std::path::Path::new("t.toml")).unwrap()
}

fn event(env: &str, what: Happened, at: DateTime<Utc>, message: &str) -> Msg {
    Msg::Engine(EngineEvent { at, environment: env.into(), message: message.into(), what })
}

fn sample(env: &str, signal: &str, at: DateTime<Utc>, value: f64, text: Option<&str>) -> Msg {
    let s = Sample { at, value: Some(value), text: text.map(str::to_string), ok: true, error: None };
    event(env, Happened::Sample { signal: signal.into(), sample: s, baseline: None }, at, "")
}

fn status(env: &str, version: &str, colour: &str) -> Msg {
    let what = Happened::Status {
        version: version.into(),
        current_environment: Some(colour.into()),
        environments: Default::default(),
    };
    event(env, what, t0(), "")
}

fn deployment(id: &str, version: &str, colour: &str, status: &str) -> DeploymentRow {
    DeploymentRow {
        id: 1,
        external_id: id.into(),
        version: version.into(),
        colour: Some(colour.into()),
        deployed_at: at("2026-11-21T13:55:00.000Z"),
        status: DeploymentStatus::parse(status).unwrap(),
    }
}

fn rollback(id: i64, status: &str, error: Option<&str>) -> RollbackRow {
    RollbackRow {
        id,
        environment: "checkout".into(),
        incident_id: Some(7),
        from_version: Some("2.0.0-bad".into()),
        target_version: Some("1.4.3".into()),
        rollback_type: RollbackType::Automatic,
        trigger: RollbackTrigger::ErrorRate,
        status: RollbackStatus::parse(status).unwrap(),
        operator: "rule:error_rate above 0.05 for 2m".into(),
        reason: "error_rate 7.2% > 5% for 2m".into(),
        driver: "http".into(),
        error: error.map(str::to_string),
        started_at: at("2026-11-21T14:01:00.000Z"),
        completed_at: Some(at("2026-11-21T14:01:04.000Z")),
        duration_ms: Some(4000),
        notification_sent: true,
        holder_host: "host".into(),
        holder_pid: 1,
        flag: None,
        approved_by: None,
    }
}

/// An open critical incident `id` on `env`, opened at `opened` by a rule.
fn open_incident(id: i64, env: &str, opened: &str) -> IncidentRow {
    IncidentRow {
        id,
        environment: Some(env.into()),
        title: "t".into(),
        severity: Some(Severity::Critical),
        status: IncidentStatus::Open,
        drill: false,
        opened_by: "rule".into(),
        opened_at: at(opened),
        closed_at: None,
    }
}

/// A console with an hour of healthy samples and a recorded history.
fn healthy_app(theme: Theme) -> App {
    let mut app = App::new(&config(), Mode::Live, theme, Keymap::default());
    app.update(Msg::Tick(t0()));
    for env in ["checkout", "search"] {
        app.update(status(env, "1.4.3", if env == "checkout" { "blue" } else { "default" }));
        for i in 0..120 {
            let at = t0() - chrono::Duration::seconds(120 - i);
            let wobble = (i % 7) as f64 / 1000.0;
            app.update(sample(env, "health", at, 1.0, Some("healthy")));
            app.update(sample(env, "error_rate", at, 0.004 + wobble, None));
            app.update(sample(env, "latency", at, 0.2 + wobble * 10.0, None));
            app.update(sample(env, "cpu", at, 0.3 + wobble, None));
            app.update(sample(env, "memory", at, 0.5, None));
        }
    }
    app.update(Msg::Loaded(vec![EnvSnapshot {
        name: "checkout".into(),
        deployments: vec![
            deployment("d-5", "1.4.3", "blue", "succeeded"),
            deployment("d-4", "1.4.3-rc1", "green", "failed"),
        ],
        rollbacks: vec![],
        timeline: vec![TimelineEvent {
            id: 1,
            at: at("2026-11-21T13:55:00.000Z"),
            incident_id: None,
            environment: Some("checkout".into()),
            rollback_id: None,
            actor: "backout".into(),
            kind: "health_changed".into(),
            message: "health: healthy".into(),
            data: None,
        }],
        ..EnvSnapshot::default()
    }]));
    app.status = "ready".into();
    app
}

fn draw(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn snap(name: &str, screen: String) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{2}:\d{2}:\d{2}( UTC)?", "[clock]");
    settings.add_filter(r"#\d+", "#[id]");
    settings.bind(|| insta::assert_snapshot!(name, screen));
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

#[test]
fn all_healthy() {
    snap("all_healthy", draw_styled(&healthy_app(Theme::dark()), 120, 40));
}

#[test]
fn small_terminal_80x24_and_too_small() {
    let app = healthy_app(Theme::dark());
    snap("small_80x24", draw_styled(&app, 80, 24));
    let tiny = draw(&app, 60, 20);
    assert!(tiny.contains("Enlarge the terminal"), "{tiny}");
}

fn degraded_app() -> App {
    let mut app = healthy_app(Theme::dark());
    for i in 0..30 {
        let at = t0() + chrono::Duration::seconds(i);
        app.update(sample("checkout", "health", at, 0.5, Some("degraded")));
        app.update(sample("checkout", "error_rate", at, 0.02 + i as f64 * 0.002, None));
        app.update(sample("checkout", "latency", at, 1.0 + i as f64 * 0.1, None));
    }
    app.update(status("checkout", "2.0.0-bad", "green"));
    app.status = "ready".into();
    app
}

#[test]
fn degraded() {
    snap("degraded", draw_styled(&degraded_app(), 120, 40));
}

#[test]
fn stale() {
    let mut app = healthy_app(Theme::dark());
    app.update(event("checkout", Happened::SignalStale, t0(), "health is stale: no answer for 16s (3 intervals)"));
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(20)));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("⧗ STALE"), "{screen}");
    snap("stale", draw_styled(&app, 120, 40));
}

#[test]
fn automatic_rollback_proposed() {
    let mut app = degraded_app();
    let deadline = t0() + chrono::Duration::seconds(90);
    let evidence = Evidence {
        rule: "error_rate above 0.05 for 2m".into(),
        window_secs: 120,
        samples: Vec::new(),
        baseline: None,
        summary: "error_rate 0.072 > 0.050 for 2m".into(),
        first_breach: t0(),
    };
    let what = Happened::RollbackProposed { deadline, evidence };
    app.update(event("checkout", what, t0(), "rollback proposed: error_rate 7.2% > 5% for 2m"));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("ROLLBACK PROPOSED: runs in 90s"), "{screen}");
    assert!(screen.contains("⚠ rollback in 90s (c cancels)"), "{screen}");
    snap("proposed", draw_styled(&app, 120, 40));
    // c cancels through the engine.
    let effects = app.update(key('c'));
    assert!(matches!(&effects[..], [super::app::Effect::Engine(crate::engine::EngineCommand::Cancel { .. })]));
}

#[test]
fn rollback_in_progress_shows_phase_and_time() {
    let mut app = degraded_app();
    app.update(event("checkout", Happened::RollbackStarting(None), t0(), "rolling back"));
    app.update(event("checkout", Happened::RollbackPhase(Phase::VerifyingHealth), t0(), "verifying health"));
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(3)));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("ROLLBACK IN PROGRESS: verifying health — 00:03 elapsed"), "{screen}");
    snap("in_progress", draw_styled(&app, 120, 40));
}

#[test]
fn rollback_failed() {
    let mut app = degraded_app();
    let incident = IncidentRow {
        id: 7,
        environment: Some("checkout".into()),
        title: "rollback of checkout".into(),
        severity: Some(Severity::Critical),
        status: IncidentStatus::Open,
        drill: false,
        opened_by: "rule".into(),
        opened_at: at("2026-11-21T14:00:30.000Z"),
        closed_at: None,
    };
    app.update(Msg::Loaded(vec![EnvSnapshot {
        name: "checkout".into(),
        deployments: vec![deployment("d-6", "2.0.0-bad", "green", "succeeded")],
        rollbacks: vec![rollback(
            3,
            "failed",
            Some("service refused the rollback: HTTP 500: traffic switch timed out"),
        )],
        incident: Some(incident),
        clock: super::app::IncidentClock { objective: Some(chrono::Duration::minutes(2)), ..Default::default() },
        ..EnvSnapshot::default()
    }]));
    app.update(event("checkout", Happened::RollbackFailed(None), t0(), "rollback #3 failed: HTTP 500"));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("✖ #3 2.0.0-bad → 1.4.3 automatic failed"), "{screen}");
    assert!(screen.contains("incident #7 checkout 01:30 / RTO 02:00"), "{screen}");
    snap("failed", draw_styled(&app, 120, 40));
}

#[test]
fn confirmation_dialog_needs_reason_and_production_name() {
    let mut app = degraded_app();
    let effects = app.update(key('r'));
    assert!(
        matches!(&effects[..], [super::app::Effect::PrepareRollback { env, version: None, force: false }] if env == "checkout")
    );
    app.update(Msg::Prepared {
        env: "checkout".into(),
        plan: Ok("checkout: 2.0.0-bad → 1.4.3 (blue) via the http driver (blue_green_switch); current health degraded"
            .into()),
    });
    for c in "errors up".chars() {
        app.update(key(c));
    }
    snap("confirm", draw_styled(&app, 120, 40));
    // Production: Enter without the name is refused and moves to the name field.
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    assert!(app.status.contains("type \"checkout\""), "{}", app.status);
    for c in "checkout".chars() {
        app.update(key(c));
    }
    let effects = app.update(code(KeyCode::Enter));
    assert!(matches!(&effects[..], [super::app::Effect::Rollback { reason, .. }] if reason == "errors up"));
    assert!(app.popup.is_none());
}

/// Issue 10 item 7: `r` on a healthy environment is refused like the CLI, and
/// goes on only after FORCE is typed (lower case, or Enter alone, does nothing).
#[test]
fn item7_a_healthy_environment_needs_force_typed() {
    let mut app = healthy_app(Theme::dark());
    let effects = app.update(key('r'));
    assert!(matches!(&effects[..], [super::app::Effect::PrepareRollback { force: false, .. }]), "{effects:?}");
    app.update(Msg::Prepared {
        env: "checkout".into(),
        plan: Err(super::app::RefusedPlan {
            why: "checkout is healthy (1.4.3 serving); use --force to roll back anyway".into(),
            forceable: true,
            version: None,
        }),
    });
    assert!(matches!(app.popup, Some(Popup::Force(_))), "{:?}", app.popup);
    snap("force", draw_styled(&app, 120, 40));
    assert!(app.update(code(KeyCode::Enter)).is_empty(), "Enter alone forces nothing");
    for c in "force".chars() {
        app.update(key(c));
    }
    assert!(app.update(code(KeyCode::Enter)).is_empty(), "lower case is not FORCE");
    assert!(app.status.contains("type FORCE"), "{}", app.status);
    for _ in 0..5 {
        app.update(code(KeyCode::Backspace));
    }
    app.update(Msg::Paste("FORCE\n".into()));
    assert!(matches!(app.popup, Some(Popup::Force(_))), "a pasted newline is not Enter");
    app.update(code(KeyCode::Backspace));
    let effects = app.update(code(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [super::app::Effect::PrepareRollback { env, force: true, .. }] if env == "checkout"),
        "{effects:?}"
    );
    assert!(matches!(app.popup, Some(Popup::Preparing(_))));

    // A refusal the CLI cannot force (the lock, no target) is only said.
    app.update(Msg::Prepared {
        env: "checkout".into(),
        plan: Err(super::app::RefusedPlan { why: "no earlier version".into(), forceable: false, version: None }),
    });
    assert!(app.popup.is_none() && app.status.contains("no earlier version"), "{}", app.status);
}

/// Issue 10 item 9: a paste is text in the field with the cursor. A newline in
/// it is a space in a one-line field and a line break in a note; it never
/// confirms, and with no field open it is ignored, said in the status bar.
#[test]
fn item9_a_paste_never_confirms_anything() {
    let mut app = degraded_app();
    app.update(key('r'));
    app.update(Msg::Prepared { env: "checkout".into(), plan: Ok("checkout: 2.0.0-bad → 1.4.3".into()) });
    let effects = app.update(Msg::Paste("errors up\r\ncheckout\n".into()));
    assert!(effects.is_empty(), "{effects:?}");
    match &app.popup {
        Some(Popup::ConfirmRollback(c)) => assert_eq!(c.reason.text(), "errors up checkout "),
        other => panic!("the confirmation closed: {other:?}"),
    }
    app.update(code(KeyCode::Esc));

    app.update(key('n'));
    app.update(Msg::Paste("first line\nsecond\u{1b}[2J line".into()));
    match &app.popup {
        Some(Popup::Note(n)) => assert_eq!(n.text.lines(), ["first line", "second[2J line"]),
        other => panic!("the note closed: {other:?}"),
    }
    app.update(code(KeyCode::Esc));
    assert!(app.update(Msg::Paste("r\n".into())).is_empty());
    assert!(app.popup.is_none() && app.status.starts_with("pasted text ignored"), "{}", app.status);
}

#[test]
fn help_overlay_is_the_keymap() {
    let mut app = healthy_app(Theme::dark());
    app.update(key('?'));
    assert_eq!(app.popup, Some(Popup::Help));
    let screen = draw(&app, 120, 40);
    for (keys, what) in Keymap::default().help_rows() {
        assert!(screen.contains(what), "help lacks {keys} {what}");
    }
    for (popup, rows) in super::popups::key_sections() {
        assert!(screen.contains(popup), "help lacks the {popup} section");
        for (keys, what) in rows {
            assert!(screen.contains(&format!("{keys}  {what}")), "help lacks {popup}: {keys} {what}");
        }
    }
    snap("help", screen);
    // Too narrow for two columns: the popup keys follow the keymap.
    let narrow = draw(&app, 80, 40);
    assert!(narrow.contains("move down") && narrow.contains("Pick a version"), "{narrow}");
}

#[test]
fn every_pane_zoomed() {
    let mut app = healthy_app(Theme::dark());
    app.update(key('z'));
    for pane in super::app::PANES {
        app.focus = pane;
        app.zoom = Some(pane);
        snap(&format!("zoom_{pane:?}").to_lowercase(), draw(&app, 100, 30));
    }
    assert_eq!(app.focus, Pane::Timeline);
}

#[test]
fn themes_give_meanings_their_own_styles() {
    let mut summary = String::new();
    for name in ["dark", "light", "high-contrast"] {
        let app = healthy_app(Theme::load(name, false).unwrap());
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        terminal.draw(|f| ui::render(&app, f)).unwrap();
        let buf = terminal.backend().buffer().clone();
        let header = &buf[(1, 0)];
        let badge = &buf[(19, 2)];
        summary.push_str(&format!(
            "{name}: header fg={:?} bg={:?} mods={:?}; healthy badge {:?} fg={:?}\n",
            header.fg,
            header.bg,
            header.modifier,
            badge.symbol(),
            badge.fg
        ));
        // The dark theme's screen is the `all_healthy` snapshot.
        if name != "dark" {
            snap(&format!("theme_{name}"), draw_styled(&app, 120, 40));
        }
    }
    snap("theme_styles", summary);
}

/// The screen's text, then the same grid with each cell's style as a letter,
/// and the letters' styles: a snapshot that changes when a style does.
fn draw_styled(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let mut styles: Vec<String> = Vec::new();
    let mut grid = String::new();
    for y in 0..buf.area.height {
        let mut row = String::new();
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            let style = format!("fg={:?} bg={:?} {:?}", c.fg, c.bg, c.modifier);
            let i = styles.iter().position(|s| *s == style).unwrap_or_else(|| {
                styles.push(style);
                styles.len() - 1
            });
            row.push(char::from_u32(u32::from(b'A') + i as u32).unwrap_or('?'));
        }
        grid.push_str(&row);
        grid.push('\n');
    }
    let legend: String = styles
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}: {s}\n", char::from_u32(u32::from(b'A') + i as u32).unwrap_or('?')))
        .collect();
    format!("{}--- styles ---\n{grid}{legend}", draw(app, w, h))
}

/// Relative luminance of a colour as WCAG defines it; named colours as xterm
/// draws them by default.
fn luminance(c: ratatui::style::Color) -> f64 {
    use ratatui::style::Color;
    let (r, g, b) = match c {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Black | Color::Reset => (0, 0, 0),
        Color::Red => (0xcd, 0, 0),
        Color::Green => (0, 0xcd, 0),
        Color::Yellow => (0xcd, 0xcd, 0),
        Color::Blue => (0, 0, 0xee),
        Color::Magenta => (0xcd, 0, 0xcd),
        Color::Cyan => (0, 0xcd, 0xcd),
        Color::Gray => (0xe5, 0xe5, 0xe5),
        Color::DarkGray => (0x7f, 0x7f, 0x7f),
        Color::LightRed => (0xff, 0, 0),
        Color::LightGreen => (0, 0xff, 0),
        Color::LightYellow => (0xff, 0xff, 0),
        Color::LightBlue => (0x5c, 0x5c, 0xff),
        Color::LightMagenta => (0xff, 0, 0xff),
        Color::LightCyan => (0, 0xff, 0xff),
        Color::White => (0xff, 0xff, 0xff),
        other => panic!("no luminance for {other:?}"),
    };
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.03928 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// Issue 10 item 20: every meaning drawn as text reads at WCAG AA (4.5:1)
/// against its background: the light theme on a white terminal, the others on
/// a black one.
#[test]
fn item20_every_theme_s_text_meets_wcag_aa_contrast() {
    use ratatui::style::Color;
    // Every meaning is text, but those only drawn as lines, bars or a background.
    let not_text = ["border", "border_focused", "selected", "sparkline", "threshold"];
    let text_meanings: Vec<&str> = super::theme::MEANINGS.iter().copied().filter(|m| !not_text.contains(m)).collect();
    let mut failures = Vec::new();
    for (name, terminal_bg) in [("dark", Color::Black), ("light", Color::White), ("high-contrast", Color::Black)] {
        let theme = Theme::load(name, false).unwrap();
        let body = theme.get("text");
        for &meaning in &text_meanings {
            let st = theme.get(meaning);
            let reversed = st.add_modifier.contains(ratatui::style::Modifier::REVERSED);
            let fg = st.fg.or(body.fg).unwrap_or(Color::Reset);
            let bg = st.bg.unwrap_or(terminal_bg);
            let (fg, bg) = if reversed { (bg, fg) } else { (fg, bg) };
            let fg = if fg == Color::Reset {
                if terminal_bg == Color::White { Color::Black } else { Color::White }
            } else {
                fg
            };
            let (a, b) = (luminance(fg), luminance(bg));
            let ratio = (a.max(b) + 0.05) / (a.min(b) + 0.05);
            if ratio < 4.5 {
                failures.push(format!("{name} {meaning}: {fg:?} on {bg:?} is {ratio:.2}:1"));
            }
        }
        // Body text on the selected row's background too.
        if let Some(sel) = theme.get("selected").bg {
            let (a, b) = (luminance(body.fg.unwrap_or(Color::White)), luminance(sel));
            let ratio = (a.max(b) + 0.05) / (a.min(b) + 0.05);
            if ratio < 4.5 {
                failures.push(format!("{name} text on selected: {ratio:.2}:1"));
            }
        }
    }
    assert!(failures.is_empty(), "below WCAG AA:\n{}", failures.join("\n"));
}

#[test]
fn read_only_and_review_refuse_changes() {
    let mut app = healthy_app(Theme::dark());
    app.mode = Mode::ReadOnly;
    assert!(app.update(key('r')).is_empty());
    assert!(app.status.contains("not possible in READ-ONLY mode"));
    assert!(app.update(key('n')).is_empty());
    assert!(app.popup.is_none());
}

#[test]
fn note_editor_is_multi_line_and_saves_with_ctrl_s() {
    let mut app = healthy_app(Theme::dark());
    app.update(key('n'));
    for c in "first".chars() {
        app.update(key(c));
    }
    app.update(code(KeyCode::Enter));
    for c in "second".chars() {
        app.update(key(c));
    }
    let effects = app.update(Msg::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)));
    assert!(matches!(&effects[..], [super::app::Effect::SaveNote { text, .. }] if text == "first\nsecond"));
}

/// One environment whose signals are read by each kind of rule; the names are
/// chosen so that guessing a direction from the name gets it wrong.
fn rules_app() -> App {
    let text = r#"
[[environment]]
name = "content"
kind = "standard"
base_url = "http://127.0.0.1:1/svc/content"
[[environment.signal]]
name = "error_rate"
source = "exposition"
derive = "error-rate"
unit = "ratio"
[[environment.signal]]
name = "quality"
source = "exposition"
derive = "gauge"
metric = "content_quality_score"
unit = "ratio"
[[environment.signal]]
name = "score"
source = "exposition"
derive = "gauge"
metric = "content_score"
unit = "ratio"
[[environment.trigger]]
signal = "error_rate"
rule = "below"
threshold = 0.5
for = "1m"
[[environment.trigger]]
signal = "quality"
rule = "above"
threshold = 0.8
for = "1m"
[[environment.trigger]]
signal = "score"
rule = "drop"
threshold = 0.2
"#;
    let config = Config::from_toml(text, std::path::Path::new("t.toml")).unwrap();
    let mut app = App::new(&config, Mode::Live, Theme::dark(), Keymap::default());
    app.update(Msg::Tick(t0()));
    app.focus = Pane::Signals;
    app.zoom = Some(Pane::Signals);
    app
}

/// Whether `signal`'s value is drawn in the breach style, and its row's text.
fn drawn_breached(app: &App, signal: &str) -> (bool, String) {
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let alert = app.theme.get("alert");
    for y in 0..buf.area.height {
        let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
        if row.starts_with(&format!("│{signal} ")) {
            // The value column ends 23 cells in: a 1-cell border, 11 of name, 12 of value.
            let cell = &buf[(23, y)];
            return (Some(cell.fg) == alert.fg && Some(cell.bg) == alert.bg, row);
        }
    }
    panic!("no row for {signal}");
}

#[test]
fn a_below_rule_breaches_below_its_threshold_whatever_the_signal_is_called() {
    let mut app = rules_app();
    app.update(sample("content", "error_rate", t0(), 0.3, None));
    let (breached, row) = drawn_breached(&app, "error_rate");
    assert!(breached, "0.3 is below the 0.5 floor: {row}");
    assert!(row.contains("floor 50.0%"), "the label says which way the rule reads: {row}");
    app.update(sample("content", "error_rate", t0(), 0.7, None));
    let (breached, row) = drawn_breached(&app, "error_rate");
    assert!(!breached, "0.7 is above the 0.5 floor: {row}");
}

#[test]
fn an_above_rule_on_quality_breaches_above_its_threshold() {
    let mut app = rules_app();
    app.update(sample("content", "quality", t0(), 0.9, None));
    let (breached, row) = drawn_breached(&app, "quality");
    assert!(breached, "0.9 is above the 0.8 limit: {row}");
    app.update(sample("content", "quality", t0(), 0.5, None));
    let (breached, row) = drawn_breached(&app, "quality");
    assert!(!breached, "0.5 is below the 0.8 limit: {row}");
}

#[test]
fn a_drop_rule_shows_the_fall_and_never_an_absolute_breach() {
    let mut app = rules_app();
    for v in [0.9, 0.05] {
        app.update(sample("content", "score", t0(), v, None));
        let (breached, row) = drawn_breached(&app, "score");
        assert!(!breached, "the baseline is unknown here, so {v} cannot be judged: {row}");
        assert!(row.contains("drop > 20.0%"), "{row}");
        assert!(!row.contains("limit"), "a fall is not an absolute limit: {row}");
    }
}

fn screen_has(app: &App, what: &str) -> bool {
    draw(app, 120, 40).contains(what)
}

#[test]
fn popup_keys_pick_plan_filter_and_quit() {
    let mut app = degraded_app();
    app.update(Msg::Loaded(vec![EnvSnapshot {
        name: "checkout".into(),
        deployments: vec![
            deployment("d-7", "2.0.0-bad", "green", "succeeded"),
            deployment("d-6", "1.4.3", "blue", "succeeded"),
            deployment("d-5", "1.4.2", "green", "succeeded"),
            deployment("d-4", "1.4.1", "blue", "failed"),
        ],
        ..EnvSnapshot::default()
    }]));
    // The picker starts on the newest known-good version (1.4.3, not the serving
    // 2.0.0-bad); j and k move (whatever the modifiers), Enter plans a rollback.
    app.update(key('R'));
    assert!(screen_has(&app, "Roll checkout back to which version?"));
    app.update(key('j'));
    app.update(key('k'));
    app.update(Msg::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL)));
    app.update(code(KeyCode::Up));
    app.update(code(KeyCode::Down));
    let effects = app.update(code(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [super::app::Effect::PrepareRollback { env, version: Some(v), force: false }] if env == "checkout" && v == "1.4.2"),
        "{effects:?}"
    );
    // While the plan is read, other keys wait and Esc cancels.
    assert!(app.update(key('x')).is_empty());
    assert!(screen_has(&app, "Reading checkout's status"));
    let effects = app.update(code(KeyCode::Esc));
    assert!(matches!(&effects[..], [super::app::Effect::DropPrepared { env }] if env == "checkout"));
    assert!(app.popup.is_none());
    assert_eq!(app.status, "rollback cancelled");

    // The filter prompt: typing, Backspace, Enter applies and selects the first match.
    app.update(key('/'));
    for c in "seax".chars() {
        app.update(key(c));
    }
    app.update(code(KeyCode::Backspace));
    app.update(code(KeyCode::Enter));
    assert_eq!((app.filter.as_str(), app.selected), ("sea", 1));
    assert!(app.popup.is_none());

    // Quitting with an incident open asks; any key but y stays, Y quits.
    app.envs[0].incident = Some(open_incident(9, "checkout", "2026-11-21T14:00:30.000Z"));
    app.update(key('q'));
    assert!(screen_has(&app, "Quit the console anyway?"));
    app.update(key('n'));
    assert!(app.popup.is_none() && !app.quit);
    app.update(key('q'));
    app.update(key('Y'));
    assert!(app.quit);
}

#[path = "messages_tests.rs"]
mod messages;

/// Issue 10 item 8: `i` on an open incident asks first; one that has not
/// validated needs a reason before Enter closes it; a validated one closes on `y`.
#[test]
fn item8_closing_an_incident_asks_and_needs_a_reason_unless_validated() {
    let mut app = degraded_app();
    app.envs[0].incident = Some(open_incident(9, "checkout", "2026-11-21T14:00:30.000Z"));
    assert!(app.update(key('i')).is_empty(), "the key only asks");
    assert!(matches!(app.popup, Some(Popup::CloseIncident(_))));
    snap("close_incident_not_validated", draw_styled(&app, 120, 40));
    assert!(app.update(code(KeyCode::Enter)).is_empty(), "no reason, no close");
    assert!(app.status.contains("not validated"), "{}", app.status);
    app.update(Msg::Paste("rolled back; checklist lags\n".into()));
    let effects = app.update(code(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [super::app::Effect::CloseIncident { id: 9, reason: Some(r), .. }] if r == "rolled back; checklist lags"),
        "{effects:?}"
    );

    app.envs[0].clock.validated = Some(t0());
    app.update(key('i'));
    assert!(app.update(key('x')).is_empty() && app.popup.is_none(), "any other key keeps it open");
    app.update(key('i'));
    let effects = app.update(key('y'));
    assert!(matches!(&effects[..], [super::app::Effect::CloseIncident { id: 9, reason: None, .. }]), "{effects:?}");
}

/// Issue 10 item 3: the header counts every open incident and shows the most
/// urgent, its clock from detection against its own objective; one without an
/// objective shows no objective, and a validated one stops its clock.
#[test]
fn item3_the_header_counts_every_incident_and_shows_the_most_urgent() {
    let mut app = degraded_app();
    let incident = open_incident;
    let clock = |detected: &str, objective_min: Option<i64>| super::app::IncidentClock {
        detected: Some(at(detected)),
        validated: None,
        objective: objective_min.map(chrono::Duration::minutes),
    };
    // search: older, no objective. checkout: newer, 2 minutes, 30 s left.
    app.envs[1].incident = Some(incident(3, "search", "2026-11-21T13:50:00.000Z"));
    app.envs[1].clock = clock("2026-11-21T13:49:00.000Z", None);
    app.envs[0].incident = Some(incident(7, "checkout", "2026-11-21T14:00:30.000Z"));
    app.envs[0].clock = clock("2026-11-21T14:00:30.000Z", Some(2));
    let top = draw(&app, 120, 40).lines().next().unwrap_or_default().to_string();
    assert!(top.contains("2 incidents · incident #7 checkout 01:30 / RTO 02:00"), "{top}");

    // Over its objective it says so; without one, no objective is invented.
    app.envs[0].incident = None;
    let top = draw(&app, 120, 40).lines().next().unwrap_or_default().to_string();
    assert!(top.contains(" incident #3 search 13:00 ") && !top.contains("RTO"), "{top}");
    app.envs[0].incident = Some(incident(7, "checkout", "2026-11-21T14:00:30.000Z"));
    app.envs[0].clock = clock("2026-11-21T13:57:00.000Z", Some(2));
    let top = draw(&app, 120, 40).lines().next().unwrap_or_default().to_string();
    assert!(top.contains("incident #7 checkout 05:00 / RTO 02:00 OVER"), "{top}");
    // Validated: the clock stops at validation.
    app.envs[0].clock.validated = Some(at("2026-11-21T13:58:10.000Z"));
    app.envs[1].incident = None;
    let top = draw(&app, 120, 40).lines().next().unwrap_or_default().to_string();
    assert!(top.contains("incident #7 checkout 01:10 validated"), "{top}");
}

/// Issue 10 item 4: every key gives feedback, a message ages out of the status
/// bar, and the message log (m) keeps every message with its time.
#[test]
fn item4_every_key_says_something_and_messages_age_into_the_log() {
    let mut app = healthy_app(Theme::dark());
    app.update(key('c'));
    assert_eq!(app.status, "no proposed rollback of checkout to cancel");
    app.update(key('a'));
    assert!(app.status.starts_with("pausing automatic rollback of checkout"), "{}", app.status);
    app.update(key('x'));
    assert_eq!(app.status, "x does nothing here; ? shows the keys");
    let bar = |app: &App| draw(app, 120, 40).lines().last().unwrap_or_default().to_string();
    assert!(bar(&app).contains("x does nothing here"), "{}", bar(&app));
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(25)));
    assert!(!bar(&app).contains("does nothing"), "an old message is not news: {}", bar(&app));

    app.update(key('m'));
    let screen = draw(&app, 120, 40);
    let at = |m: &str| screen.find(m).unwrap_or_else(|| panic!("the log lacks {m:?}:\n{screen}"));
    assert!(at("x does nothing here") < at("pausing automatic rollback") && at("pausing") < at("no proposed rollback"));
    assert!(screen.contains("14:02:00  no proposed rollback of checkout to cancel"), "{screen}");
}

/// Issue 10 item 5: a two-line note is two lines in the timeline, and a text
/// cut in a pane can be read whole in its details, wrapped.
#[test]
fn item5_notes_keep_their_lines_and_details_show_long_text_whole() {
    let mut app = healthy_app(Theme::dark());
    let mut note = app.envs[0].timeline[0].clone();
    note.kind = "note".into();
    note.actor = "alice".into();
    note.message = "customers saw 500s\nrolled back by the error-rate rule".into();
    app.envs[0].timeline.insert(0, note);
    let mut rb = rollback(3, "failed", Some(&format!("the service refused: {}", "very long detail ".repeat(12))));
    rb.operator = "rule:health: 3 failed checks in a row".into();
    app.envs[0].rollbacks = vec![rb];
    app.focus = Pane::Timeline;
    app.zoom = Some(Pane::Timeline);
    let screen = draw(&app, 120, 40);
    let lines: Vec<&str> = screen.lines().collect();
    let first = lines.iter().position(|l| l.contains("alice: customers saw 500s")).expect(&screen);
    assert!(lines[first + 1].contains("rolled back by the error-rate rule"), "{screen}");

    app.zoom = None;
    app.focus = Pane::Rollbacks;
    app.update(code(KeyCode::Enter));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("rule:health: 3 failed checks in a row"), "{screen}");
    let box_lines: Vec<&str> =
        screen.lines().skip_while(|l| !l.contains("Details")).take_while(|l| !l.contains('└')).collect();
    let words = box_lines.iter().map(|l| l.matches("detail").count()).sum::<usize>();
    assert_eq!(words, 12, "the whole error, wrapped over lines:\n{screen}");
}

/// `u` asks the engine to clear the environment's automatic-rollback block,
/// and its answer reaches the status bar; `?` lists the key.
#[test]
fn item4_u_in_the_console_clears_the_automatic_rollback_block_through_the_engine() {
    let mut app = degraded_app();
    let effects = app.update(key('u'));
    match &effects[..] {
        [super::app::Effect::Engine(crate::engine::EngineCommand::Unblock { environment })] => {
            assert_eq!(environment, "checkout");
        }
        other => panic!("u must go to the engine: {other:?}"),
    }
    let msg = "automatic rollback 2.0.0-bad → 1.4.3 may run again (cleared by the operator)";
    app.update(event("checkout", Happened::AutomaticUnblocked, t0(), msg));
    assert_eq!(app.status, format!("checkout: {msg}"), "the status bar says what the engine did");
    let help = crate::tui::keymap::Keymap::default().help_rows();
    assert!(help.iter().any(|(k, d)| k == "u" && d.contains("failed automatic rollback")), "{help:?}");
}

/// Issue 10 item 1: a health check flapping between healthy and failed shows
/// every failure in its sparkline, as a glyph of its own in the failure style,
/// and the row counts them, even when the last check was healthy; a bar past
/// an `above` limit is drawn in the alert style.
#[test]
fn item1_failed_checks_show_in_the_sparkline_and_the_row() {
    let mut app = healthy_app(Theme::dark());
    for i in 0..20 {
        let at = t0() + chrono::Duration::seconds(i);
        let s = if i % 2 == 0 {
            Sample {
                at,
                value: Some(0.0),
                text: Some("unhealthy".into()),
                ok: false,
                error: Some("health is unhealthy".into()),
            }
        } else {
            Sample { at, value: Some(1.0), text: Some("healthy".into()), ok: true, error: None }
        };
        app.update(event("checkout", Happened::Sample { signal: "health".into(), sample: s, baseline: None }, at, ""));
    }
    app.update(sample("checkout", "error_rate", t0(), 0.2, None));
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|f| ui::render(&app, f)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let row_of = |name: &str| {
        (0..buf.area.height)
            .find(|y| {
                (0..buf.area.width).map(|x| buf[(x, *y)].symbol()).collect::<String>().contains(&format!("│{name} "))
            })
            .unwrap_or_else(|| panic!("no {name} row"))
    };
    let y = row_of("health");
    let text: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
    assert_eq!(text.matches('✖').count(), 10 + 1, "ten marks and the count: {text}");
    assert!(text.contains("✖10"), "the row counts the failures: {text}");
    let bad = app.theme.get("unhealthy");
    let marks: Vec<_> = (0..buf.area.width).filter(|x| buf[(*x, y)].symbol() == "✖").collect();
    assert!(marks.iter().all(|x| Some(buf[(*x, y)].fg) == bad.fg), "every mark in the failure style");
    let y = row_of("error_rate");
    let last = (0..buf.area.width).rev().find(|x| buf[(*x, y)].symbol() != " " && buf[(*x, y)].symbol() != "│");
    let alert = app.theme.get("alert");
    assert!(last.is_some_and(|x| Some(buf[(x, y)].fg) == alert.fg), "the breaching bar is in the alert style");
}

/// Issue 10 item 13: a long list scrolls with j/k, PgUp/PgDn, g/G (Home/End);
/// the selected row stays in view and the title says where it is.
#[test]
fn item13_the_timeline_scrolls_to_its_first_event_and_back() {
    let mut app = healthy_app(Theme::dark());
    let template = app.envs[0].timeline[0].clone();
    app.envs[0].timeline = (0..60)
        .map(|i| {
            let mut ev = template.clone();
            ev.id = 60 - i;
            ev.at = t0() - chrono::Duration::seconds(i);
            ev.message = format!("event number {} of the incident, a long line that wraps in a narrow pane", 60 - i);
            ev
        })
        .collect();
    for _ in 0..6 {
        app.update(code(KeyCode::Tab));
    }
    assert_eq!(app.focus, Pane::Timeline);
    app.update(key('G'));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("14:01:01 backout: event number 1"), "the first event is in view:\n{screen}");
    assert!(screen.contains("Notes & timeline 60/60"), "{screen}");
    app.update(code(KeyCode::PageUp));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("Notes & timeline 50/60") && screen.contains("14:01:11 backout: event number"), "{screen}");
    app.update(code(KeyCode::Home));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("Notes & timeline 1/60") && screen.contains("14:02:00 backout: event number"), "{screen}");
    app.update(code(KeyCode::PageDown));
    app.update(key('j'));
    assert_eq!(app.row, 11);
    app.update(code(KeyCode::End));
    assert_eq!(app.row, 59);
}

/// Issue 10 item 11: `f` turns a flag off only where the rollback is a flag
/// rollback; elsewhere it does nothing and says so.
#[test]
fn item11_f_turns_a_flag_off_only_where_there_is_one() {
    let mut app = degraded_app();
    assert!(app.update(key('f')).is_empty());
    assert!(app.status.contains("checkout has no feature flag to turn off"), "{}", app.status);
    assert!(app.popup.is_none());
    app.envs[0].flag = Some("new_checkout".into());
    let effects = app.update(key('f'));
    assert!(
        matches!(&effects[..], [super::app::Effect::PrepareRollback { env, force: false, .. }] if env == "checkout")
    );
}

/// Issue 10 item 17: `y` copies the selected row's text (the same text its
/// details show) through OSC 52, and says what it copied.
#[test]
fn item17_y_copies_the_selected_row_with_feedback() {
    let mut app = degraded_app();
    app.focus = Pane::Deployments;
    let effects = app.update(key('y'));
    let want = super::popups::details::of(&app);
    assert!(want.contains("1.4.3 on blue"), "{want}");
    assert!(matches!(&effects[..], [super::app::Effect::Copy(t)] if *t == want), "{effects:?}");
    assert!(app.status.starts_with(&format!("copied {} characters (1 line)", want.chars().count())), "{}", app.status);
    assert_eq!(super::osc52("hi\n"), "\u{1b}]52;c;aGkK\u{7}");
    assert_eq!(super::osc52("checkout 2.0.0-bad"), "\u{1b}]52;c;Y2hlY2tvdXQgMi4wLjAtYmFk\u{7}");
    assert_eq!(super::osc52("ab"), "\u{1b}]52;c;YWI=\u{7}");
}

/// Issue 10 item 19: at 80x24 the key bar keeps the most important keys and
/// `? help`, and a long status is cut at a word, never mid-word.
#[test]
fn item19_at_80x24_the_key_bar_shortens_and_nothing_is_cut_mid_word() {
    let mut app = degraded_app();
    app.update(key('x'));
    app.status =
        "rollback of checkout refused: checkout is healthy (1.4.3 serving); use --force to roll back anyway".into();
    let screen = draw(&app, 80, 24);
    let bar = screen.lines().last().unwrap_or_default();
    assert!(bar.starts_with("r rollback") && bar.contains("? help  │ rollback of checkout"), "{bar}");
    assert!(bar.ends_with('…') && bar.chars().count() <= 80, "{bar}");
    let shown = bar.split("│ ").nth(1).unwrap_or_default().trim_end_matches('…');
    assert!(app.status.starts_with(shown) && app.status[shown.len()..].starts_with(' '), "cut at a word: {bar}");
    assert_eq!(super::ui::cut_at_word("one two three", 9), "one two…");
    assert_eq!(super::ui::cut_at_word("one two", 9), "one two");
}

/// Issue 10, done when: no two screen snapshots are the same, so each state
/// is its own evidence (the theme snapshots carry their styles to differ).
#[test]
fn no_two_snapshots_are_identical() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui/snapshots");
    let mut seen: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "snap") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // The body, after insta's front matter.
        let body = text.splitn(3, "---").nth(2).unwrap_or_default().to_string();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some((other, _)) = seen.iter().find(|(_, b)| *b == body) {
            panic!("{name} is the same screen as {other}");
        }
        seen.push((name, body));
    }
    assert!(seen.len() >= 20, "{} snapshots", seen.len());
}

/// Issue 10 item 15: `/` filters the focused pane as you type (the timeline
/// here, the environments from their pane); Enter keeps it, Esc clears it;
/// details and the position follow the filtered rows.
#[test]
fn item15_slash_filters_the_focused_pane_live() {
    let mut app = healthy_app(Theme::dark());
    let template = app.envs[0].timeline[0].clone();
    app.envs[0].timeline = ["health: degraded", "note: paged the owner", "health: healthy", "rollback #4 completed"]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut ev = template.clone();
            ev.id = i as i64;
            ev.kind = "event".into();
            ev.message = (*m).to_string();
            ev
        })
        .collect();
    app.focus = Pane::Timeline;
    app.zoom = Some(Pane::Timeline);
    app.update(key('/'));
    for c in "heal".chars() {
        app.update(key(c));
    }
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("Notes & timeline /heal"), "{screen}");
    assert!(screen.contains("health: degraded") && screen.contains("health: healthy"), "{screen}");
    assert!(!screen.contains("paged the owner") && !screen.contains("rollback #4"), "filtered as typed:\n{screen}");
    app.update(code(KeyCode::Enter));
    app.update(key('j'));
    app.update(code(KeyCode::Enter));
    match &app.popup {
        Some(Popup::Details(text)) => assert!(text.contains("health: healthy"), "{text}"),
        other => panic!("{other:?}"),
    }
    app.update(code(KeyCode::Esc));
    app.update(key('/'));
    app.update(code(KeyCode::Esc));
    assert!(draw(&app, 120, 40).contains("paged the owner"), "Esc clears the filter");

    app.focus = Pane::Environments;
    app.zoom = None;
    app.update(key('/'));
    app.update(key('s'));
    app.update(key('e'));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("search") && !screen.contains("▶ checkout"), "{screen}");
}

/// Issue 10 item 14: Enter on a rollback shows its recorded phases and
/// evidence, with their data, oldest first.
#[test]
fn item14_a_rollback_s_details_show_its_phases_and_evidence() {
    let mut app = healthy_app(Theme::dark());
    app.envs[0].rollbacks = vec![rollback(3, "completed", None)];
    let template = app.envs[0].timeline[0].clone();
    let ev = |id: i64, kind: &str, message: &str, data: Option<&str>| {
        let mut e = template.clone();
        e.id = id;
        e.rollback_id = Some(3);
        e.kind = kind.into();
        e.message = message.into();
        e.data = data.map(str::to_string);
        e
    };
    // Newest first, as the timeline holds them.
    app.envs[0].timeline = vec![
        ev(3, "rollback_verified", "1.4.3 current and healthy", None),
        ev(2, "rollback_phase", "rollback #3: requesting", None),
        ev(1, "rule_fired", "error_rate 7.2% > 5% for 2m", Some(r#"{"samples":[0.07,0.072]}"#)),
    ];
    app.focus = Pane::Rollbacks;
    app.update(code(KeyCode::Enter));
    let Some(Popup::Details(text)) = &app.popup else { panic!("{:?}", app.popup) };
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s:?} missing from {text}"));
    assert!(at("rule_fired") < at("rollback #3: requesting") && at("requesting") < at("1.4.3 current"), "{text}");
    assert!(text.contains(r#"{"samples":[0.07,0.072]}"#), "{text}");
}

/// Issue 10 item 11: `s` on a runbook step that has an action asks: `x` runs
/// it now, `d` records it done elsewhere, Esc does nothing; a step without an
/// action is marked done at once.
#[test]
fn item11_s_on_a_step_with_an_action_asks_run_or_done_elsewhere() {
    let mut app = degraded_app();
    app.envs[0].runbook = vec![("Execute rollback".into(), "pending".into()), ("Verify".into(), "pending".into())];
    app.envs[0].runbook_actions = vec![Some("rollback to the last known-good version".into()), None];
    assert!(app.update(key('s')).is_empty(), "it only asks");
    assert!(matches!(app.popup, Some(Popup::StepAction(_))));
    assert!(draw(&app, 120, 40).contains("x runs it now · d records it done elsewhere"));
    app.update(code(KeyCode::Esc));
    assert!(app.popup.is_none() && app.status.contains("left as it was"), "{}", app.status);
    app.update(key('s'));
    let effects = app.update(key('x'));
    assert!(matches!(&effects[..], [super::app::Effect::RunStep { step: 0, .. }]), "{effects:?}");
    app.update(key('s'));
    let effects = app.update(key('d'));
    assert!(
        matches!(&effects[..], [super::app::Effect::RunbookStep { step: 0, state, .. }] if state == "done"),
        "{effects:?}"
    );
    app.envs[0].runbook[0].1 = "done".into();
    let effects = app.update(key('s'));
    assert!(matches!(&effects[..], [super::app::Effect::RunbookStep { step: 1, .. }]), "no action: done at once");
}

/// Issue 10 item 2: the signals pane says what span its sparklines cover,
/// from the points that fit and the poll interval.
#[test]
fn item2_the_sparklines_say_what_span_they_cover() {
    let app = healthy_app(Theme::dark());
    let interval = config().poll_interval.get();
    let title = |w: u16| draw(&app, w, 40).lines().nth(1).unwrap_or_default().to_string();
    // 120 columns: 84 inside the pane, 38 of labels, 46 points.
    let want = crate::text::format_duration(interval * 46);
    assert!(
        title(120).contains(&format!("Signals: checkout · -{} … now", want.split(' ').next().unwrap_or(&want))),
        "{}",
        title(120)
    );
    assert_ne!(title(120), title(200), "a wider pane covers a longer span");
}

/// Issue 10 item 16: a click focuses the pane under the pointer and selects
/// the row there; the wheel moves the selection; with a box open a click does
/// nothing.
#[test]
fn item16_a_click_focuses_and_selects_and_the_wheel_scrolls() {
    use ratatui::crossterm::event::{MouseButton, MouseEventKind};
    let mut app = healthy_app(Theme::dark());
    let again = app.envs[0].deployments[0].clone();
    app.envs[0].deployments.push(again);
    let screen = ratatui::layout::Rect::new(0, 0, 120, 40);
    let click = |app: &mut App, pane: Pane, line: u16| {
        let area = super::ui::pane_areas(app, screen).into_iter().find(|(p, _)| *p == pane).unwrap().1;
        let kind = MouseEventKind::Down(MouseButton::Left);
        app.update(Msg::Mouse { kind, column: area.x + 2, row: area.y + 1 + line, screen })
    };
    click(&mut app, Pane::Environments, 2);
    assert_eq!((app.focus, app.selected), (Pane::Environments, 1), "the second environment's first line");
    click(&mut app, Pane::Environments, 0);
    click(&mut app, Pane::Deployments, 1);
    assert_eq!((app.focus, app.row), (Pane::Deployments, 1));
    app.update(Msg::Mouse { kind: MouseEventKind::ScrollUp, column: 0, row: 0, screen });
    assert_eq!(app.row, 0, "the wheel moves the selection");
    app.update(key('?'));
    click(&mut app, Pane::Timeline, 0);
    assert_eq!(app.focus, Pane::Deployments, "a click never acts through a box");
}

/// Issue 10 item 19: a tall environment list uses its space for each
/// environment's readings; a short one keeps two lines each.
#[test]
fn item19_a_tall_environment_list_shows_readings() {
    let mut app = degraded_app();
    let tall = draw(&app, 200, 50);
    assert!(tall.contains("error_rate 7.8% · latency 3.90s · cpu 30."), "{tall}");
    let small = draw(&app, 80, 24);
    assert!(!small.contains("error_rate 7.8% ·"), "{small}");
    // A click on the second environment's line still selects it.
    let screen = ratatui::layout::Rect::new(0, 0, 200, 50);
    let area = super::ui::pane_areas(&app, screen)[0].1;
    let kind = ratatui::crossterm::event::MouseEventKind::Down(ratatui::crossterm::event::MouseButton::Left);
    app.update(Msg::Mouse { kind, column: area.x + 2, row: area.y + 4, screen });
    assert_eq!(app.selected, 1, "three lines per environment when tall");
}

/// Issue 10 item 2: a `drop` rule's sparkline turns the alert style once the
/// engine says what the fall is measured from; before that no bar claims a
/// breach the console cannot judge.
#[test]
fn item2_a_fall_from_the_engines_baseline_is_drawn_in_the_alert_style() {
    let text = r#"
[[environment]]
name = "docs"
kind = "content"
base_url = "http://127.0.0.1:1/svc/docs"
"#;
    let cfg = Config::from_toml(text, std::path::Path::new("t.toml")).unwrap();
    let last_bar_style = |baseline: Option<f64>| {
        let mut app = App::new(&cfg, Mode::Live, Theme::dark(), Keymap::default());
        app.update(Msg::Tick(t0()));
        for i in 0..40 {
            let at = t0() - chrono::Duration::seconds(40 - i);
            let value = if i < 30 { 0.93 } else { 0.70 };
            let s = Sample { at, value: Some(value), text: None, ok: true, error: None };
            app.update(event("docs", Happened::Sample { signal: "quality".into(), sample: s, baseline }, at, ""));
        }
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        terminal.draw(|f| ui::render(&app, f)).unwrap();
        let buf = terminal.backend().buffer().clone();
        let y = (0..buf.area.height)
            .find(|y| (0..buf.area.width).map(|x| buf[(x, *y)].symbol()).collect::<String>().contains("│quality "))
            .expect("a quality row");
        let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        assert!(row.contains("drop > "), "the row names its rule: {row}");
        let x = (0..buf.area.width)
            .rev()
            .find(|x| buf[(*x, y)].symbol() != " " && buf[(*x, y)].symbol() != "│")
            .expect("a bar");
        (buf[(x, y)].fg, app.theme.get("alert").fg)
    };
    let (fg, alert) = last_bar_style(Some(0.93));
    assert_eq!(Some(fg), alert, "0.70 is 0.23 below the baseline 0.93: past the allowed 0.1");
    let (fg, alert) = last_bar_style(None);
    assert_ne!(Some(fg), alert, "without a baseline a fall cannot be judged");
    let (fg, alert) = last_bar_style(Some(0.75));
    assert_ne!(Some(fg), alert, "0.70 is within 0.1 of a baseline of 0.75");
}

/// Issue 11, item 8: the second operator approves a pending request with `A`:
/// the plan made again is confirmed with the request's reason shown (the one
/// recorded), production's name typed; nothing pending, or a request of
/// one's own, is said and nothing runs.
#[test]
fn approve_key_confirms_a_pending_request_with_its_reason() {
    let mut app = degraded_app();
    let effects = app.update(key('A'));
    assert!(matches!(&effects[..], [super::app::Effect::PrepareApproval { env }] if env == "checkout"), "{effects:?}");
    let effects = app.update(Msg::PreparedApproval {
        env: "checkout".into(),
        plan: Err("request #3 is yours (tester); another operator approves it".into()),
        reason: String::new(),
    });
    assert!(effects.is_empty() && app.popup.is_none());
    assert!(app.status.starts_with("request #3 is yours (tester)"), "{}", app.status);

    app.update(key('A'));
    app.update(Msg::PreparedApproval {
        env: "checkout".into(),
        plan: Ok(
            "checkout: 2.0.0-bad → 1.4.3 (blue) via the http driver (blue_green_switch); current health degraded \
                  (request #3 by alice, approved by bob)"
                .into(),
        ),
        reason: "checkout 5xx".into(),
    });
    let screen = draw(&app, 160, 40);
    assert!(screen.contains("request #3 by alice, approved by bob") && screen.contains("checkout 5xx"), "{screen}");
    // Production: the name is still typed (Enter without it moves there).
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    for c in "checkout".chars() {
        app.update(key(c));
    }
    let effects = app.update(code(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [super::app::Effect::Rollback { env, reason }] if env == "checkout" && reason == "checkout 5xx"),
        "{effects:?}"
    );
}
