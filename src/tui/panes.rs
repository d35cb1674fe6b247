//! The panes. Each draws one part of [`App`]; none does I/O.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, EnvView, Pane, SignalRule, SignalView};
use super::ui::{clock, pane_block, row_style};
use crate::domain::{CheckKind, DeploymentStatus, Health, RollbackStatus};

/// Draws one pane into `area`.
pub fn render_pane(app: &App, f: &mut Frame, area: Rect, pane: Pane) {
    let env = app.env();
    let (extra, lines) = match (pane, env) {
        (Pane::Environments, _) => {
            let detail = env_detail(app, area);
            (filter_note(app), environments(app, area.width.saturating_sub(2) as usize, detail))
        }
        (_, None) => (String::new(), vec![Line::from("no environment in the config")]),
        (Pane::Signals, Some(e)) => {
            let width = area.width.saturating_sub(2) as usize;
            (format!(": {}{}", e.name, span_label(e, width)), signals(app, e, width))
        }
        (Pane::Deployments, Some(e)) => (list_filter_note(app, Pane::Deployments), deployments(app, e)),
        (Pane::Rollbacks, Some(e)) => (list_filter_note(app, Pane::Rollbacks), rollbacks(app, e)),
        (Pane::Checklist, Some(e)) => (checklist_note(e), checklist(app, e)),
        (Pane::Runbook, Some(e)) => (String::new(), runbook(app, e)),
        (Pane::Timeline, Some(e)) => (list_filter_note(app, Pane::Timeline), timeline(app, e)),
    };
    // Keep the selected row in view in long lists, and say where it is when
    // the list is longer than the pane.
    let inner = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2);
    // The timeline wraps: its rows' heights are measured as drawn.
    // Measured only when it scrolls (focused): an idle console draws often.
    let heights: Vec<usize> = match (env, pane) {
        (Some(e), Pane::Timeline) if app.focus == Pane::Timeline => {
            timeline_rows(app, e).into_iter().map(|row| Paragraph::new(row).wrap(WRAP).line_count(width)).collect()
        }
        _ => Vec::new(),
    };
    let drawn = if heights.is_empty() { lines.len() } else { heights.iter().sum() };
    let scroll = scroll_of(app, pane, area, &heights);
    let extra = match (env, pane) {
        (Some(e), p) if app.focus == p && p != Pane::Environments => {
            let rows = app.shown_rows(e, p).len();
            let more = drawn > inner && rows > 0;
            if more { format!("{extra} {}/{rows}", app.row + 1) } else { extra }
        }
        (_, Pane::Environments) => {
            let pos = app.visible().iter().position(|i| *i == app.selected).unwrap_or(0);
            let more = lines.len() > inner;
            if more { format!("{extra} {}/{}", pos + 1, app.visible().len()) } else { extra }
        }
        _ => extra,
    };
    let inner = if area.width < 2 || area.height < 2 {
        let block = pane_block(app, pane, &extra);
        let inner = block.inner(area);
        f.render_widget(block, area);
        inner
    } else {
        let (border, title) = super::ui::pane_frame(app, pane, &extra);
        draw_box(f.buffer_mut(), area, border, title);
        Rect::new(area.x + 1, area.y + 1, area.width - 2, area.height - 2)
    };
    if pane == Pane::Timeline {
        f.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)).wrap(WRAP), inner);
    } else {
        draw_lines(f.buffer_mut(), inner, &lines, scroll);
    }
}

/// A pane's frame as `pane_block` draws it (plain borders, the title from the
/// second cell of the top row), without `Block`'s pass over every cell of the
/// area to set a style it does not have. `area` is at least 2x2.
fn draw_box(buf: &mut ratatui::buffer::Buffer, area: Rect, border: ratatui::style::Style, title: Span<'_>) {
    let area = area.intersection(buf.area);
    if area.width < 2 || area.height < 2 {
        return;
    }
    let (left, right, top, bottom) = (area.left(), area.right() - 1, area.top(), area.bottom() - 1);
    for x in left + 1..right {
        buf[(x, top)].set_symbol("─").set_style(border);
        buf[(x, bottom)].set_symbol("─").set_style(border);
    }
    for y in top + 1..bottom {
        buf[(left, y)].set_symbol("│").set_style(border);
        buf[(right, y)].set_symbol("│").set_style(border);
    }
    for (x, y, corner) in [(left, top, "┌"), (right, top, "┐"), (left, bottom, "└"), (right, bottom, "┘")] {
        buf[(x, y)].set_symbol(corner).set_style(border);
    }
    draw_lines(buf, Rect::new(left + 1, top, area.width - 2, 1), &[Line::from(title)], 0);
}

/// Draws `lines` into `area` from line `scroll` on, each cut at the right
/// edge: what a `Paragraph` without wrapping draws, without its walk over
/// every grapheme for plain ASCII text (most of what a pane holds), which was
/// most of a frame's drawing time. Other text goes through ratatui's own
/// grapheme-aware path; control characters are never drawn.
pub fn draw_lines(buf: &mut ratatui::buffer::Buffer, area: Rect, lines: &[Line<'_>], scroll: usize) {
    let area = area.intersection(buf.area);
    for (line, y) in lines.iter().skip(scroll).zip(area.top()..area.bottom()) {
        let mut x = area.left();
        for span in &line.spans {
            if x >= area.right() {
                break;
            }
            let style = line.style.patch(span.style);
            let text = span.content.as_ref();
            if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                for b in text.bytes() {
                    if x >= area.right() {
                        break;
                    }
                    buf[(x, y)].set_char(char::from(b)).set_style(style);
                    x += 1;
                }
            } else {
                x = buf.set_stringn(x, y, text, usize::from(area.right() - x), style).0;
            }
        }
    }
}

/// Lines a pane of `inner` rows is scrolled by: enough to show the selected
/// row. Only the focused pane (and the environment list) scrolls.
fn scroll_of(app: &App, pane: Pane, area: Rect, heights: &[usize]) -> usize {
    let inner = area.height.saturating_sub(2) as usize;
    match (app.env(), pane) {
        (_, Pane::Environments) => {
            let pos = app.visible().iter().position(|i| *i == app.selected).unwrap_or(0);
            let end: usize = env_heights(app, env_detail(app, area)).iter().take(pos + 1).sum();
            end.saturating_sub(inner)
        }
        (Some(e), p) if app.focus == p => (row_lines(e, p, app.row, heights).1 + 1).saturating_sub(inner),
        _ => 0,
    }
}

/// The row of `pane` drawn on screen line `y` of `area` (a mouse click), as the
/// pane is drawn now.
pub fn row_at(app: &App, pane: Pane, area: Rect, y: u16) -> Option<usize> {
    if y <= area.y || y + 1 >= area.y + area.height {
        return None;
    }
    let heights: Vec<usize> = match (app.env(), pane) {
        (Some(e), Pane::Timeline) => timeline_rows(app, e)
            .into_iter()
            .map(|row| Paragraph::new(row).wrap(WRAP).line_count(area.width.saturating_sub(2)))
            .collect(),
        _ => Vec::new(),
    };
    let line = usize::from(y - area.y - 1) + scroll_of(app, pane, area, &heights);
    let first_line_at = |heights: &[usize]| {
        let mut start = 0;
        heights.iter().position(|h| {
            start += h;
            line < start
        })
    };
    match pane {
        Pane::Environments => first_line_at(&env_heights(app, env_detail(app, area))),
        Pane::Rollbacks => Some(line / 2),
        Pane::Timeline => first_line_at(&heights),
        Pane::Signals => {
            let e = app.env()?;
            let above = usize::from(e.in_flight.is_some()) + usize::from(e.proposal.is_some()) + usize::from(e.stale);
            line.checked_sub(above)
        }
        _ => Some(line),
    }
}

/// How the timeline wraps its long lines.
const WRAP: Wrap = Wrap { trim: true };

/// Rows a pane lists for `e`.
pub(crate) fn rows_of(e: &EnvView, pane: Pane) -> usize {
    match pane {
        Pane::Checklist => e.checklist.len(),
        Pane::Runbook => e.runbook.len(),
        Pane::Deployments => e.deployments.len(),
        Pane::Rollbacks => e.rollbacks.len(),
        Pane::Timeline => e.timeline.len(),
        Pane::Signals => e.signals.len(),
        Pane::Environments => 0,
    }
}

/// The first and last line of row `row` in `pane`: a rollback takes two, a
/// timeline row as many as it wraps to (`heights`), every other row one.
fn row_lines(e: &EnvView, pane: Pane, row: usize, heights: &[usize]) -> (usize, usize) {
    match pane {
        Pane::Rollbacks => (row * 2, row * 2 + 1),
        Pane::Timeline => {
            let first: usize = heights.iter().take(row).sum();
            (first, first + heights.get(row).copied().unwrap_or(1).max(1) - 1)
        }
        // The alert lines above the signals shift them down.
        Pane::Signals => {
            let above = usize::from(e.in_flight.is_some()) + usize::from(e.proposal.is_some()) + usize::from(e.stale);
            (row + above, row + above)
        }
        _ => (row, row),
    }
}

fn list_filter_note(app: &App, pane: Pane) -> String {
    let f = app.filter_of(pane);
    if f.is_empty() { String::new() } else { format!(" /{f}") }
}

fn filter_note(app: &App) -> String {
    if app.filter.is_empty() { String::new() } else { format!(" /{}", app.filter) }
}

fn checklist_note(e: &EnvView) -> String {
    let done = e.checklist.iter().filter(|c| c.passed).count();
    format!(" {done}/{}", e.checklist.len())
}

/// Text badge and symbol for a health state, never colour alone.
pub fn badge(h: Option<Health>, stale: bool) -> &'static str {
    match (stale, h) {
        (true, _) => "⧗ STALE",
        (_, Some(Health::Healthy)) => "✔ healthy",
        (_, Some(Health::Degraded)) => "▲ degraded",
        (_, Some(Health::Unhealthy)) => "✖ UNHEALTHY",
        (_, None) => "? unknown",
    }
}

/// Whether the environment list has room for a line of readings per
/// environment: a wide list (a wide terminal) tall enough for them uses the
/// space rather than leaving it empty; a narrow one would only cut them.
fn env_detail(app: &App, area: Rect) -> bool {
    area.width >= 48 && usize::from(area.height.saturating_sub(2)) >= app.visible().len() * 4
}

/// Lines each visible environment takes in the list, in order.
fn env_heights(app: &App, detail: bool) -> Vec<usize> {
    app.visible()
        .into_iter()
        .map(|i| {
            let e = &app.envs[i];
            2 + usize::from(detail)
                + usize::from(e.in_flight.is_some() || e.lock.is_some())
                + usize::from(e.proposal.is_some())
        })
        .collect()
}

/// The readings line of a tall environment list: each signal's latest value,
/// a failed reading marked, and the open incident.
fn readings(e: &EnvView, width: usize) -> String {
    let mut parts: Vec<String> = e
        .signals
        .iter()
        .filter(|s| s.name != "health")
        .filter_map(|s| {
            let l = s.latest.as_ref()?;
            Some(match (l.ok, l.value) {
                (true, Some(v)) => format!("{} {}", s.name, fmt_value(v, &s.unit)),
                (true, None) => format!("{} {}", s.name, l.text.as_deref().unwrap_or(crate::domain::NO_DATA)),
                _ => format!("{} {FAILED_MARK}", s.name),
            })
        })
        .collect();
    if let Some(i) = &e.incident {
        parts.insert(0, format!("incident #{}", i.id));
    }
    truncate(&format!("    {}", parts.join(" · ")), width.max(2))
}

fn environments(app: &App, width: usize, detail: bool) -> Vec<Line<'static>> {
    let name_width = width.saturating_sub(14).clamp(6, 30);
    let t = &app.theme;
    let mut lines = Vec::new();
    for i in app.visible() {
        let e = &app.envs[i];
        let sel = i == app.selected;
        let style = if sel { t.get("selected") } else { t.text() };
        let health_style = if e.stale { t.get("stale") } else { t.health(e.health) };
        lines.push(Line::from(vec![
            Span::styled(if sel { "▶ " } else { "  " }, style),
            Span::styled(format!("{:<name_width$}", truncate(&e.name, name_width)), style),
            Span::styled(format!(" {}", badge(e.health, e.stale)), health_style),
        ]));
        let colour = e.colour.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
        let auto = if e.automatic { "auto on" } else { "auto off" };
        lines.push(Line::from(vec![
            Span::styled(format!("    {}{colour}", e.version.as_deref().unwrap_or("?")), t.dim()),
            Span::styled(format!("  {auto}"), if e.automatic { t.get("ok") } else { t.dim() }),
        ]));
        if detail {
            lines.push(Line::styled(readings(e, width), t.dim()));
        }
        if let Some(f) = &e.in_flight {
            lines.push(Line::styled(format!("  ⟲ {} {}", f.phase, clock(app.now - f.since)), t.get("warn")));
        } else if let Some(h) = &e.lock {
            lines.push(Line::styled(format!("  ⟲ rollback #{} by {}", h.rollback_id, h.holder), t.get("warn")));
        }
        if let Some((deadline, _)) = &e.proposal {
            let left = (*deadline - app.now).num_seconds().max(0);
            lines.push(Line::styled(format!("  ⚠ rollback in {left}s (c cancels)"), t.get("alert")));
        }
    }
    if lines.is_empty() {
        lines.push(Line::styled("no environment matches the filter", t.dim()));
    }
    lines
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

/// A value in its unit: ratios as percentages.
pub fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "ratio" => format!("{:.1}%", v * 100.0),
        "s" => format!("{v:.2}s"),
        "" => format!("{v:.3}"),
        u => format!("{v:.2} {u}"),
    }
}

/// Drawn for a failed sample: a glyph of its own, not only a colour.
pub const FAILED_MARK: char = '✖';

/// How a sparkline draws a sample with no data (nothing matched the query).
pub const NO_DATA_MARK: char = '·';

/// The last `width` values as block characters, scaled to the larger of their
/// maximum and the threshold so a breach is visible at a glance; a failed
/// sample is [`FAILED_MARK`].
pub fn sparkline(values: &[f64], width: usize, threshold: Option<f64>) -> String {
    let tail = &values[values.len().saturating_sub(width)..];
    let good = || tail.iter().copied().filter(|v| v.is_finite());
    let max = good().fold(threshold.unwrap_or(0.0), f64::max);
    let min = good().fold(f64::INFINITY, f64::min).min(0.0);
    let bars: Vec<char> = crate::text::bars(tail, min, max.max(min + f64::EPSILON)).chars().collect();
    tail.iter()
        .zip(bars)
        .map(|(v, bar)| match *v {
            v if v.is_finite() => bar,
            v if v == super::reduce::NO_DATA_POINT => NO_DATA_MARK,
            _ => FAILED_MARK,
        })
        .collect()
}

/// The sparkline as spans: bars in the sparkline style, a bar past the rule's
/// threshold in the alert style, a failed sample as [`FAILED_MARK`] in the
/// failure style.
fn sparkline_spans(
    app: &App,
    values: &[f64],
    width: usize,
    rule: Option<SignalRule>,
    stale: bool,
) -> Vec<Span<'static>> {
    let t = &app.theme;
    let text = sparkline(values, width, rule.and_then(SignalRule::limit));
    let tail = &values[values.len().saturating_sub(width)..];
    let style_of = |v: f64| {
        if stale {
            t.get("stale")
        } else if v == super::reduce::NO_DATA_POINT {
            t.dim()
        } else if !v.is_finite() {
            t.get("unhealthy")
        } else if rule.is_some_and(|r| r.breached_by(v)) {
            t.get("alert")
        } else {
            t.get("sparkline")
        }
    };
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut run = String::new();
    let mut run_style = None;
    for (c, v) in text.chars().zip(tail) {
        let style = style_of(*v);
        if run_style.is_some_and(|s| s != style) {
            spans.push(Span::styled(std::mem::take(&mut run), run_style.unwrap_or_default()));
        }
        run_style = Some(style);
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, run_style.unwrap_or_default()));
    }
    spans
}

/// The span a sparkline of `width` cells covers, as the pane's title says it
/// (` · -4m … now`): the points that fit times the most frequent poll.
fn span_label(e: &EnvView, width: usize) -> String {
    let Some(every) = e.signals.iter().map(|s| s.every).filter(|d| !d.is_zero()).min() else {
        return String::new();
    };
    // The label before each sparkline takes 38 cells.
    let points = width.saturating_sub(38).min(super::app::SPARK_POINTS) as u32;
    if points == 0 {
        return String::new();
    }
    let span = crate::text::format_duration(every * points);
    format!(" · -{} … now", span.split(' ').next().unwrap_or(&span))
}

/// A rule as its signal's label shows it, in the signal's unit.
/// A worded unit (`score`) is left to the value beside it, so the label fits
/// its 13 cells and the sparklines stay aligned.
pub fn rule_label(rule: SignalRule, unit: &str) -> String {
    let shown = |v: f64| match unit {
        "ratio" | "s" | "" => fmt_value(v, unit),
        _ => format!("{v:.2}"),
    };
    match rule {
        SignalRule::Above(v) => format!("limit {}", shown(v)),
        SignalRule::Below(v) => format!("floor {}", shown(v)),
        SignalRule::Drop(v) => format!("drop > {}", shown(v)),
        // The failed checks show in the value itself; there is no number to compare.
        SignalRule::ConsecutiveFailures(_) => String::new(),
        SignalRule::Firing => "alert".into(),
    }
}

fn signal_line(app: &App, s: &SignalView, stale: bool, width: usize) -> Line<'static> {
    let t = &app.theme;
    let (value, style) = match &s.latest {
        Some(l) if l.ok => match l.value {
            Some(_) if s.name == "health" => (l.text.clone().unwrap_or_default(), t.text()),
            Some(v) => {
                let breach = s.judged().is_some_and(|r| r.breached_by(v));
                (fmt_value(v, &s.unit), if breach { t.get("alert") } else { t.text() })
            }
            None => (l.text.clone().unwrap_or_default(), t.text()),
        },
        Some(l) => (format!("✖ {}", truncate(l.error.as_deref().unwrap_or("failed"), 22)), t.get("warn")),
        None => ("no data yet".into(), t.dim()),
    };
    let style = if stale { t.get("stale") } else { style };
    let rule = s.rule.map(|r| rule_label(r, &s.unit)).unwrap_or_default();
    let label = format!("{:<11}{:>12} {:<13}", truncate(&s.name, 11), value, rule);
    let room = width.saturating_sub(label.chars().count() + 1);
    // Only the points that fit are copied, not the whole hour kept.
    let values: Vec<f64> = s.values.iter().skip(s.values.len().saturating_sub(room)).copied().collect();
    // A flapping signal whose last reading is good still shows its failures.
    let failed = values.iter().filter(|v| v.is_nan()).count();
    let room = if failed > 0 { room.saturating_sub(6) } else { room };
    let values = &values[values.len().saturating_sub(room)..];
    let mut spans = vec![Span::styled(label, style), Span::raw(" ")];
    spans.extend(sparkline_spans(app, values, room, s.judged(), stale));
    // Counted over the span the row had room for, so a long failure text that
    // leaves no room for bars still says how many failed.
    if failed > 0 {
        spans.push(Span::styled(format!(" {FAILED_MARK}{failed:<4}"), t.get("unhealthy")));
    }
    Line::from(spans)
}

fn signals(app: &App, e: &EnvView, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    if let Some(f) = &e.in_flight {
        lines.push(Line::styled(
            format!("⟲ ROLLBACK IN PROGRESS: {} — {} elapsed", f.phase, clock(app.now - f.since)),
            t.get("alert"),
        ));
    }
    if let Some((deadline, why)) = &e.proposal {
        let left = (*deadline - app.now).num_seconds().max(0);
        lines.push(Line::styled(
            format!("⚠ ROLLBACK PROPOSED: runs in {left}s unless cancelled (c) — {why}"),
            t.get("alert"),
        ));
    }
    if e.stale {
        let ago = e.last_seen.map_or("never".to_string(), |s| format!("{}s ago", (app.now - s).num_seconds()));
        lines.push(Line::styled(format!("⧗ STALE: last answer {ago}; values below are old"), t.get("stale")));
    }
    for s in &e.signals {
        lines.push(signal_line(app, s, e.stale, width));
    }
    lines
}

/// The one deployment row serving now: the newest that did not fail with the
/// serving version, on the serving colour when both are known. A version
/// deployed twice is serving from one deployment, not two.
pub fn serving_row(e: &EnvView) -> Option<usize> {
    let version = e.version.as_ref()?;
    let candidates = || {
        e.deployments.iter().enumerate().filter(|(_, d)| &d.version == version && d.status != DeploymentStatus::Failed)
    };
    let on_colour = candidates().find(|(_, d)| e.colour.is_some() && d.colour == e.colour).map(|(i, _)| i);
    on_colour.or_else(|| candidates().next().map(|(i, _)| i))
}

fn deployments(app: &App, e: &EnvView) -> Vec<Line<'static>> {
    let t = &app.theme;
    let serving = serving_row(e);
    let shown = app.shown_rows(e, Pane::Deployments);
    if shown.is_empty() && !e.deployments.is_empty() {
        return vec![Line::styled(format!("no deployment matches /{}", app.filter_of(Pane::Deployments)), t.dim())];
    }
    shown
        .into_iter()
        .enumerate()
        .map(|(row, i)| {
            let d = &e.deployments[i];
            let style = match d.status {
                DeploymentStatus::Failed => t.get("unhealthy"),
                DeploymentStatus::RolledBack => t.get("warn"),
                DeploymentStatus::InProgress | DeploymentStatus::Succeeded => t.text(),
            };
            let current = if serving == Some(i) { "●" } else { " " };
            Line::styled(
                format!(
                    "{current} {:<12} {:<6} {:<11} {}",
                    truncate(&d.version, 12),
                    d.colour.as_deref().unwrap_or("-"),
                    d.status,
                    crate::text::ago(app.now, d.deployed_at)
                ),
                style.patch(row_style(app, Pane::Deployments, row)),
            )
        })
        .collect()
}

fn rollbacks(app: &App, e: &EnvView) -> Vec<Line<'static>> {
    let t = &app.theme;
    if e.rollbacks.is_empty() {
        return vec![Line::styled("no rollbacks recorded", t.dim())];
    }
    let shown = app.shown_rows(e, Pane::Rollbacks);
    if shown.is_empty() {
        return vec![Line::styled(format!("no rollback matches /{}", app.filter_of(Pane::Rollbacks)), t.dim())];
    }
    shown
        .into_iter()
        .enumerate()
        .flat_map(|(i, index)| {
            let r = &e.rollbacks[index];
            let (mark, style) = match r.status {
                RollbackStatus::Completed => ("✔", t.get("ok")),
                RollbackStatus::Failed => ("✖", t.get("unhealthy")),
                RollbackStatus::Pending | RollbackStatus::InProgress => ("⟲", t.get("warn")),
            };
            let dur = r.duration_ms.map_or("…".into(), crate::text::took);
            let sel = row_style(app, Pane::Rollbacks, i);
            vec![
                Line::styled(
                    format!(
                        "{mark} #{} {} {} {} {dur} {}",
                        r.id,
                        crate::rollback::from_to(r),
                        r.rollback_type,
                        r.status,
                        crate::text::ago(app.now, r.started_at)
                    ),
                    style.patch(sel),
                ),
                Line::styled(
                    format!(
                        "   {} by {}: {}",
                        r.trigger,
                        crate::rollback::who(r),
                        r.error.as_deref().unwrap_or(&r.reason)
                    ),
                    t.dim().patch(sel),
                ),
            ]
        })
        .collect()
}

fn checklist(app: &App, e: &EnvView) -> Vec<Line<'static>> {
    let t = &app.theme;
    if e.checklist.is_empty() {
        return vec![Line::styled("no checklist in the config", t.dim())];
    }
    e.checklist
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mark = if c.passed { "[x]" } else { "[ ]" };
            let req = if c.required { "" } else { " (optional)" };
            let auto = if c.check == CheckKind::Manual { "" } else { " ⚙" };
            let style = if c.passed { t.get("ok") } else { t.text() };
            Line::styled(format!("{mark} {}{auto}{req}", c.title), style.patch(row_style(app, Pane::Checklist, i)))
        })
        .collect()
}

fn runbook(app: &App, e: &EnvView) -> Vec<Line<'static>> {
    let t = &app.theme;
    if e.runbook.is_empty() {
        return vec![Line::styled(e.why_no_step(), t.dim())];
    }
    e.runbook
        .iter()
        .enumerate()
        .map(|(i, (title, state))| {
            let (mark, style) = match state.as_str() {
                "done" => ("✔", t.get("ok")),
                "skipped" => ("↷", t.dim()),
                "failed" => ("✖", t.get("unhealthy")),
                "overdue" => ("⏰", t.get("alert")),
                _ => ("○", t.text()),
            };
            Line::styled(format!("{mark} {}. {title}", i + 1), style.patch(row_style(app, Pane::Runbook, i)))
        })
        .collect()
}

fn timeline(app: &App, e: &EnvView) -> Vec<Line<'static>> {
    if e.timeline.is_empty() {
        return vec![Line::styled("nothing recorded yet", app.theme.dim())];
    }
    let rows = timeline_rows(app, e);
    if rows.is_empty() {
        return vec![Line::styled(format!("no event matches /{}", app.filter_of(Pane::Timeline)), app.theme.dim())];
    }
    rows.into_iter().flatten().collect()
}

/// The timeline's rows, each as its lines: a note of several lines is shown as
/// several lines, under its first.
fn timeline_rows(app: &App, e: &EnvView) -> Vec<Vec<Line<'static>>> {
    let t = &app.theme;
    let mut rows = Vec::new();
    for (i, index) in app.shown_rows(e, Pane::Timeline).into_iter().enumerate() {
        let ev = &e.timeline[index];
        let at = ev.at.format("%H:%M:%S").to_string();
        let style = match ev.kind.as_str() {
            "note" => t.get("title"),
            "alert" | "rollback_failed" => t.get("warn"),
            _ => t.text(),
        };
        let mut text = ev.message.lines();
        let mut lines = vec![
            Line::from(vec![
                Span::styled(format!("{at} "), t.dim()),
                Span::styled(format!("{}: ", truncate(&ev.actor, 18)), t.dim()),
                Span::styled(text.next().unwrap_or_default().to_string(), style),
            ])
            .style(row_style(app, Pane::Timeline, i)),
        ];
        for more in text {
            lines.push(Line::styled(format!("         {more}"), style).style(row_style(app, Pane::Timeline, i)));
        }
        rows.push(lines);
    }
    rows
}

#[cfg(test)]
mod tests {

    /// The panes' own drawing (frame and lines) leaves every cell, symbol and
    /// style, as ratatui's `Block` and `Paragraph` would: ASCII and not,
    /// wide characters, a cut at the edge, line and span styles, scrolling.
    #[test]
    fn fast_drawing_matches_ratatui_cell_for_cell() {
        use ratatui::buffer::Buffer;
        use ratatui::style::{Color, Modifier, Style};
        use ratatui::widgets::{Block, Borders, Widget};
        let lines = vec![
            Line::from(vec![
                Span::styled("plain ascii text that runs past the edge of the box", Style::default().fg(Color::Red)),
                Span::raw("x"),
            ]),
            Line::from(vec![
                Span::raw("\u{2581}\u{2582}\u{2583} \u{2716} \u{b7} \u{2026}"),
                Span::styled("\u{65e5}\u{672c}\u{8a9e} wide", Style::default().add_modifier(Modifier::BOLD)),
            ])
            .style(Style::default().bg(Color::Blue)),
            Line::from("12345678901234567\u{65e5}\u{65e5} a wide one across the edge"),
            Line::from("1234567890123456\u{65e5}\u{65e5} one that ends on it"),
            Line::from(""),
            Line::from(vec![Span::raw("e\u{301}t\u{e9}"), Span::styled(" last", Style::default().fg(Color::Green))]),
        ];
        let area = Rect::new(1, 1, 20, 7);
        for scroll in 0..5 {
            for focused in [false, true] {
                let border = Style::default().fg(if focused { Color::Yellow } else { Color::Gray });
                let title = Span::styled(" Title long enough to be cut here ", Style::default().fg(Color::Cyan));
                let mut expected = Buffer::empty(Rect::new(0, 0, 24, 9));
                Paragraph::new(lines.clone())
                    .block(Block::default().borders(Borders::ALL).border_style(border).title(title.clone()))
                    .scroll((scroll as u16, 0))
                    .render(area, &mut expected);
                let mut got = Buffer::empty(Rect::new(0, 0, 24, 9));
                draw_box(&mut got, area, border, title);
                draw_lines(&mut got, Rect::new(2, 2, 18, 5), &lines, scroll);
                assert_eq!(got, expected, "scroll {scroll}, focused {focused}");
            }
        }
    }
    use super::*;

    #[test]
    fn sparkline_scales_to_threshold_and_width() {
        assert_eq!(sparkline(&[0.0, 0.5, 1.0], 10, None), "▁▅█");
        assert_eq!(sparkline(&[0.0, 0.5, 1.0], 2, None), "▅█");
        assert_eq!(sparkline(&[0.01, 0.01], 5, Some(0.05)), "▂▂", "small values stay small against the limit");
        assert_eq!(sparkline(&[], 5, None), "");
    }

    #[test]
    fn item1_a_failed_sample_is_a_mark_of_its_own() {
        let flapping = [1.0, f64::NAN, 1.0, f64::NAN, 1.0];
        assert_eq!(sparkline(&flapping, 10, None), "█✖█✖█");
        assert_eq!(sparkline(&[f64::NAN, f64::NAN], 10, None), "✖✖");
        // No data is a gap of its own, neither a bar nor a failure.
        let gap = super::super::reduce::NO_DATA_POINT;
        assert_eq!(sparkline(&[1.0, gap, f64::NAN, 1.0], 10, None), "█·✖█");
    }

    #[test]
    fn values_in_units() {
        assert_eq!(fmt_value(0.072, "ratio"), "7.2%");
        assert_eq!(fmt_value(3.2, "s"), "3.20s");
    }
}
