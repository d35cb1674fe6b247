//! Popups over the screen: help, confirmation, version picker, note editor.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Popup, PromptPurpose};

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))]).flex(Flex::Center).areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))]).flex(Flex::Center).areas(v);
    h
}

fn boxed<'a>(app: &App, title: &str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border(true))
        .title(Span::styled(format!(" {title} "), app.theme.get("title")))
}

fn show(app: &App, f: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'static>>, width: u16) {
    let height = (lines.len() as u16 + 2).max(5);
    let r = centered(area, width, height);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(boxed(app, title)).wrap(Wrap { trim: false }), r);
}

/// Draws the open popup, if any.
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Some(p) = &app.popup else { return };
    match p {
        Popup::Help => {
            let mut lines: Vec<Line> = app
                .keymap
                .help_rows()
                .into_iter()
                .map(|(k, d)| {
                    Line::from(vec![Span::styled(format!("{k:>10}  "), t.get("key")), Span::styled(d, t.text())])
                })
                .collect();
            lines.push(Line::styled(format!("theme {}; any key closes this help", app.theme.name), t.dim()));
            show(app, f, area, "Keys", lines, 64);
        }
        Popup::Details(text) => {
            let lines = text.lines().map(|l| Line::styled(l.to_string(), t.text())).collect();
            show(app, f, area, "Details (any key closes)", lines, 90);
        }
        Popup::ConfirmQuit => {
            let lines = vec![
                Line::styled("An incident is open. Quit the console anyway?", t.get("warn")),
                Line::styled("Nothing is lost: everything is saved. y quits, any other key stays.", t.text()),
            ];
            show(app, f, area, "Quit?", lines, 70);
        }
        Popup::Preparing { env } => {
            let lines = vec![Line::styled(
                format!("Reading {env}'s status and history to plan the rollback… (Esc cancels)"),
                t.text(),
            )];
            show(app, f, area, "Rollback", lines, 80);
        }
        Popup::ConfirmRollback { env, plan, reason, typed_name, field, production } => {
            let cursor = |on: bool| if on { "▏" } else { "" };
            let mut lines = vec![
                Line::styled(format!("Roll back {plan}"), t.get("title")),
                Line::raw(""),
                Line::from(vec![
                    Span::styled("Reason (recorded): ", t.text()),
                    Span::styled(format!("{reason}{}", cursor(*field == 0)), t.get("input")),
                ]),
            ];
            if *production {
                lines.push(Line::styled(
                    format!("{env} is PRODUCTION: type its name to confirm (Tab switches field)"),
                    t.get("alert"),
                ));
                lines.push(Line::from(vec![
                    Span::styled("Name: ", t.text()),
                    Span::styled(format!("{typed_name}{}", cursor(*field == 1)), t.get("input")),
                ]));
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled("Enter rolls back · Esc cancels (nothing is done)", t.dim()));
            show(app, f, area, "Confirm rollback", lines, 96);
        }
        Popup::PickVersion { env, versions, selected } => {
            let mut lines =
                vec![Line::styled(format!("Roll {env} back to which version? (Enter picks, Esc cancels)"), t.text())];
            for (i, v) in versions.iter().enumerate() {
                let style = if i == *selected { t.get("selected") } else { t.text() };
                lines.push(Line::styled(format!("  {v}"), style));
            }
            show(app, f, area, "Pick a version", lines, 70);
        }
        Popup::Note { lines: text } => {
            let mut lines: Vec<Line> = text.iter().map(|l| Line::styled(l.clone(), t.get("input"))).collect();
            if let Some(last) = lines.last_mut() {
                last.push_span(Span::styled("▏", t.get("key")));
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled("Enter new line · Ctrl-S saves to the timeline · Esc discards", t.dim()));
            let r = centered(area, 90, (lines.len() as u16 + 2).max(8));
            f.render_widget(Clear, r);
            f.render_widget(Paragraph::new(lines).block(boxed(app, "Note")).wrap(Wrap { trim: false }), r);
        }
        Popup::Prompt { purpose, text } => {
            let title = match purpose {
                PromptPurpose::SkipReason => "Why skip this step?",
                PromptPurpose::Filter => "Filter environments",
            };
            let lines = vec![
                Line::styled(format!("{text}▏"), t.get("input")),
                Line::styled("Enter accepts · Esc cancels", t.dim()),
            ];
            show(app, f, area, title, lines, 70);
        }
    }
}
