//! Drawing: a pure function of [`App`]. No I/O, no clock reads, no SQL.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{App, Pane};
use super::keymap::Command;
use super::{panes, popups};
use crate::playbook::Health;

/// Smallest usable terminal.
pub const MIN_WIDTH: u16 = 80;
/// Smallest usable terminal.
pub const MIN_HEIGHT: u16 = 24;

/// Draws the whole screen.
pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "The terminal is {}x{}; backout needs at least {MIN_WIDTH}x{MIN_HEIGHT}.\nEnlarge the terminal (q quits).",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).style(app.theme.get("warn")).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, _, status] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(10), Constraint::Length(1)]).areas(area);
    header_line(app, f, header);
    status_line(app, f, status);
    body_layout(app, f, area);
    popups::render(app, f, area);
}

fn body_layout(app: &App, f: &mut Frame, area: Rect) {
    for (pane, rect) in pane_areas(app, area) {
        panes::render_pane(app, f, rect, pane);
    }
}

/// Where each pane is drawn on a screen of `screen` (the whole terminal):
/// the one layout drawing and mouse clicks share.
pub fn pane_areas(app: &App, screen: Rect) -> Vec<(Pane, Rect)> {
    if screen.width < MIN_WIDTH || screen.height < MIN_HEIGHT {
        return Vec::new();
    }
    let [_, area, _] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(10), Constraint::Length(1)]).areas(screen);
    if let Some(p) = app.zoom {
        return vec![(p, area)];
    }
    let compact = area.height < 30;
    // A wide terminal gives the environment list room for its readings.
    let list_width = if area.width >= 180 {
        48
    } else if area.width >= 110 {
        34
    } else {
        26
    };
    let [left, right] = Layout::horizontal([Constraint::Length(list_width), Constraint::Min(40)]).areas(area);
    let wanted = app.env().map_or(3, |e| e.signals.len() as u16 + 4);
    let signals_height = if compact { wanted.min(8) } else { wanted.min(17) };
    let [signals, history, bottom] =
        Layout::vertical([Constraint::Length(signals_height), Constraint::Percentage(40), Constraint::Percentage(60)])
            .areas(right);
    let [deps, rbs] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(history);
    let [check, run, notes] =
        Layout::horizontal([Constraint::Percentage(33), Constraint::Percentage(27), Constraint::Percentage(40)])
            .areas(bottom);
    vec![
        (Pane::Environments, left),
        (Pane::Signals, signals),
        (Pane::Deployments, deps),
        (Pane::Rollbacks, rbs),
        (Pane::Checklist, check),
        (Pane::Runbook, run),
        (Pane::Timeline, notes),
    ]
}

/// `mm:ss`, or `h:mm:ss` past an hour.
pub fn clock(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

fn header_line(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let header = t.get("header");
    let mut spans =
        vec![Span::styled(" BACKOUT ", header), Span::styled(format!(" {} ", app.mode.label()), t.get("alert"))];
    // Every open incident counts; the one shown is the most urgent: the least
    // time left before its own objective, then the longest running.
    let mut open: Vec<_> = app.envs.iter().filter_map(|e| e.incident.as_ref().map(|i| (e, i))).collect();
    open.sort_by_key(|(e, i)| {
        let left = e.clock.left(i.opened_at, app.now);
        (left.is_none(), left, -e.clock.elapsed(i.opened_at, app.now).num_seconds())
    });
    match open.first() {
        Some((env, inc)) => {
            let count = if open.len() > 1 { format!(" {} incidents ·", open.len()) } else { String::new() };
            let elapsed = env.clock.elapsed(inc.opened_at, app.now);
            let drill = if inc.drill { " DRILL" } else { "" };
            let (against, style) = match (env.clock.validated, env.clock.objective) {
                (Some(_), _) => (" validated".to_string(), t.get("ok")),
                (None, Some(rto)) if elapsed > rto => (format!(" / RTO {} OVER", clock(rto)), t.get("alert")),
                (None, Some(rto)) => (format!(" / RTO {}", clock(rto)), t.get("warn")),
                (None, None) => (String::new(), t.get("warn")),
            };
            spans.push(Span::styled(
                format!("{count} incident #{}{drill} {} {}{against} ", inc.id, env.name, clock(elapsed)),
                style,
            ));
        }
        None => spans.push(Span::styled(" no open incident ", t.dim())),
    }
    let count = |h: Option<Health>| app.envs.iter().filter(|e| e.health == h && !e.stale).count();
    let stale = app.envs.iter().filter(|e| e.stale).count();
    let counts = |wide: bool| -> Vec<Span<'static>> {
        let mut out: Vec<Span<'static>> = [
            (Some(Health::Healthy), "✔", "healthy"),
            (Some(Health::Degraded), "▲", "degraded"),
            (Some(Health::Unhealthy), "✖", "unhealthy"),
            (None, "?", "unknown"),
        ]
        .into_iter()
        .map(|(h, mark, word)| {
            let text = if wide { format!(" {mark} {} {word} ", count(h)) } else { format!(" {mark}{} ", count(h)) };
            Span::styled(text, t.health(h))
        })
        .collect();
        if stale > 0 {
            out.push(Span::styled(
                if wide { format!(" ⧗ {stale} stale ") } else { format!(" ⧗{stale} ") },
                t.get("stale"),
            ));
        }
        out
    };
    let clock = app.now.format(" %H:%M:%S UTC ").to_string();
    let len = |spans: &[Span<'_>]| spans.iter().map(|s| s.content.chars().count()).sum::<usize>();
    let width = area.width as usize;
    // The counts say each word when the line has room for them and the clock,
    // else only their marks; the incident and the counts come before the clock.
    let wide = counts(true);
    let counts = if len(&spans) + len(&wide) + clock.chars().count() <= width { wide } else { counts(false) };
    spans.extend(counts);
    let used = len(&spans);
    if used + clock.chars().count() <= width {
        spans.push(Span::raw(" ".repeat(width - used - clock.chars().count())));
        spans.push(Span::styled(clock, header));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn status_line(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let k = |c: Command| app.keymap.key_for(c);
    // Most important first: what fits is shown in this order's subset, and
    // help is always there.
    let keys: Vec<(String, &str)> = if app.can_act() {
        vec![
            (k(Command::Help), "help"),
            (k(Command::Rollback), "rollback"),
            (k(Command::CancelProposal), "cancel"),
            (k(Command::Note), "note"),
            (k(Command::RollbackPick), "pick version"),
            (k(Command::TickChecklist), "tick"),
            (k(Command::NextPane), "pane"),
            (k(Command::Quit), "quit"),
            (k(Command::Zoom), "zoom"),
        ]
    } else {
        vec![
            (k(Command::Help), "help"),
            (k(Command::StepBack), "earlier"),
            (k(Command::StepForward), "later"),
            (k(Command::NextPane), "pane"),
            (k(Command::Quit), "quit"),
            (k(Command::Zoom), "zoom"),
        ]
    };
    let width = usize::from(area.width);
    let status = app.fresh_status().unwrap_or_default();
    // The status needs room too: keys give way until it has at least this much.
    let status_room = status.chars().count().min(36);
    let cost = |(key, what): &(String, &str)| key.chars().count() + what.chars().count() + 3;
    let mut shown: Vec<&(String, &str)> = Vec::new();
    let mut used = 2; // "│ "
    for entry in &keys {
        if shown.is_empty() || used + cost(entry) + status_room <= width {
            used += cost(entry);
            shown.push(entry);
        }
    }
    // Shown in the usual order: help last.
    shown.rotate_left(1);
    let mut spans = Vec::new();
    for (key, what) in shown {
        spans.push(Span::styled(key.clone(), t.get("key")));
        spans.push(Span::styled(format!(" {what}  "), t.dim()));
    }
    spans.push(Span::styled("│ ", t.dim()));
    if !status.is_empty() {
        spans.push(Span::styled(cut_at_word(status, width.saturating_sub(used)), t.text()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `text` in at most `room` characters, cut at a word boundary with `…` (the
/// message log keeps it whole).
pub fn cut_at_word(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut out = String::new();
    for word in text.split(' ') {
        let next = if out.is_empty() { word.chars().count() } else { out.chars().count() + 1 + word.chars().count() };
        if next + 1 > room {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        out = text.chars().take(room.saturating_sub(1)).collect();
    }
    out.push('…');
    out
}

/// A bordered block for a pane, its border telling whether it has focus.
pub fn pane_block<'a>(app: &App, pane: Pane, extra: &str) -> Block<'a> {
    let (border, title) = pane_frame(app, pane, extra);
    Block::default().borders(Borders::ALL).border_style(border).title(title)
}

/// A pane's border style and title.
pub fn pane_frame<'a>(app: &App, pane: Pane, extra: &str) -> (Style, Span<'a>) {
    let focused = app.focus == pane;
    let title = format!(" {}{} ", pane.title(), extra);
    (app.theme.border(focused), Span::styled(title, if focused { app.theme.get("title") } else { app.theme.text() }))
}

/// A style for selected rows in the focused pane.
pub fn row_style(app: &App, pane: Pane, i: usize) -> Style {
    if app.focus == pane && app.row == i { app.theme.get("selected") } else { Style::default() }
}
