//! The interactive console: app state, keymap, theme, panes and the event loop.
//!
//! Data flows one way: workers (engine, store reads, actions) → [`app::Msg`] →
//! [`app::App::update`] → [`ui::render`].

pub mod app;
pub mod keymap;
pub mod model;
pub mod panes;
pub mod popups;
pub mod reduce;
pub mod theme;
pub mod ui;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use app::{App, Effect, Mode, Msg};
use keymap::Keymap;
use theme::Theme;

use crate::config::Config;
use crate::engine::EngineOptions;
use crate::notify::Notifier;

/// Environment variable that makes the console panic after its first frame; the
/// test that proves a panic restores the terminal uses it.
pub const PANIC_FOR_TEST: &str = "BACKOUT_TEST_PANIC";

/// How to open the console.
pub struct ConsoleOptions {
    /// The config.
    pub config: Arc<Config>,
    /// Where the config was read from (runbooks are found relative to it).
    pub config_path: PathBuf,
    /// The database.
    pub db: PathBuf,
    /// Live, read-only or review.
    pub mode: Mode,
    /// Theme name or file; `None` uses the config's.
    pub theme: Option<String>,
    /// Review this incident.
    pub review_incident: Option<i64>,
}

/// Opens the console and runs it until the operator quits. The terminal is
/// restored on every exit path, panics included.
pub fn run_console(rt: &tokio::runtime::Runtime, opts: ConsoleOptions) -> Result<()> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme_name = opts.theme.clone().unwrap_or_else(|| opts.config.theme.clone());
    let theme = Theme::load(&theme_name, no_color).map_err(|e| color_eyre::eyre::eyre!(e))?;
    let keymap = Keymap::with_overrides(&opts.config.keys).map_err(|e| color_eyre::eyre::eyre!(e))?;
    // ratatui::init installs a panic hook that restores the terminal before the
    // panic message prints; color-eyre's hook was installed first, in main.
    let mut terminal = ratatui::init();
    // A paste arrives as one text event, never as keys: a newline in it cannot press Enter.
    let paste = BracketedPaste::enable(opts.config.mouse);
    let result = rt.block_on(event_loop(&mut terminal, opts, theme, keymap));
    drop(paste);
    ratatui::restore();
    result
}

/// Puts `text` on the clipboard of the terminal (and of the machine it runs
/// on, over ssh too) with an OSC 52 sequence; a terminal that does not allow
/// it ignores it.
fn copy_to_clipboard(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = write!(out, "{}", osc52(text));
    let _ = out.flush();
}

/// The OSC 52 sequence that sets the clipboard to `text`.
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", base64(text.as_bytes()))
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Bracketed paste (and mouse reporting, unless `mouse = false`) for as long
/// as the console runs; switched off again on every exit, a panic's unwinding
/// included.
struct BracketedPaste {
    mouse: bool,
}

impl BracketedPaste {
    fn enable(mouse: bool) -> Self {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste);
        if mouse {
            let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
        }
        BracketedPaste { mouse }
    }
}

impl Drop for BracketedPaste {
    fn drop(&mut self) {
        if self.mouse {
            let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        }
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
    }
}

async fn event_loop(terminal: &mut DefaultTerminal, opts: ConsoleOptions, theme: Theme, keymap: Keymap) -> Result<()> {
    let mut app = App::new(&opts.config, opts.mode, theme, keymap);
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();

    // The engine, unless reviewing. Read-only observers run it without writes,
    // rollbacks or notifications.
    // Engine events are read by the loop itself from a bounded channel (see
    // engine::sink for what happens when the screen falls behind); the worker
    // results channel only carries answers to this console's own effects.
    let (engine_cmd, engine_task, engine_stop, mut engine_events) = if opts.mode == Mode::Review {
        (None, None, None, None)
    } else {
        let read_only = opts.mode == Mode::ReadOnly;
        let engine_opts = EngineOptions::console(read_only);
        let notifier = if read_only { Notifier::disabled() } else { Notifier::from_config(&opts.config.notifications) };
        let (ev_tx, ev_rx) = mpsc::channel(crate::engine::EVENT_QUEUE);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::engine::run(
            Arc::clone(&opts.config),
            opts.db.clone(),
            notifier,
            engine_opts,
            ev_tx,
            cmd_rx,
            async move {
                let _ = stop_rx.await;
            },
        ));
        (Some(cmd_tx), Some(task), Some(stop_tx), Some(ev_rx))
    };
    let worker = worker::Worker::new(
        Arc::clone(&opts.config),
        opts.config_path.clone(),
        opts.db.clone(),
        tx.clone(),
        engine_cmd,
        opts.review_incident,
    );

    if let Some(incident) = opts.review_incident {
        let db = opts.db.clone();
        let tx = tx.clone();
        tokio::task::spawn_blocking(move || {
            let events = crate::store::Store::open(&db).and_then(|s| s.incident_timeline(incident));
            match events {
                Ok(ev) if !ev.is_empty() => drop(tx.send(Msg::ReviewTimeline(ev))),
                Ok(_) => drop(tx.send(Msg::Done(format!("incident #{incident} has no recorded events")))),
                Err(e) => drop(tx.send(Msg::Done(format!("cannot read incident #{incident}: {e}")))),
            }
        });
    } else {
        worker.handle(Effect::Refresh { at: None });
    }

    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    // Other processes' writes (a CLI rollback, a note) are picked up this often;
    // this console's own actions refresh at once.
    let mut refresh = tokio::time::interval(Duration::from_secs(5));
    let panic_for_test = std::env::var_os(PANIC_FOR_TEST).is_some();
    let mut frames = 0u64;
    // Data arriving from pollers is drawn at most every FRAME; keys and resizes
    // are drawn at once. An idle console then costs a few frames a second.
    const FRAME: Duration = Duration::from_millis(500);
    let mut last_draw = tokio::time::Instant::now() - FRAME;
    let mut urgent = true;
    loop {
        if app.dirty && (urgent || last_draw.elapsed() >= FRAME) {
            last_draw = tokio::time::Instant::now();
            urgent = false;
            terminal.draw(|f| ui::render(&app, f)).wrap_err("drawing the console")?;
            app.dirty = false;
            frames += 1;
            if panic_for_test && frames == 1 {
                panic!("{PANIC_FOR_TEST} is set: panicking after the first frame to test terminal restore");
            }
        }
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => Msg::Key(k),
                Some(Ok(Event::Resize(_, _))) => Msg::Resize,
                Some(Ok(Event::Paste(text))) => Msg::Paste(text),
                Some(Ok(Event::Mouse(m))) => {
                    let size = terminal.size().unwrap_or_default();
                    let screen = ratatui::layout::Rect::new(0, 0, size.width, size.height);
                    Msg::Mouse { kind: m.kind, column: m.column, row: m.row, screen }
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).wrap_err("reading the terminal"),
                None => break,
            },
            Some(m) = rx.recv() => m,
            Some(e) = recv_engine(&mut engine_events) => Msg::Engine(e),
            _ = tick.tick() => Msg::Tick(chrono::Utc::now()),
            _ = refresh.tick(), if opts.mode != Mode::Review => Msg::Done(String::new()),
        };
        urgent |= matches!(msg, Msg::Key(_) | Msg::Resize);
        let mut batch = vec![msg];
        // Take whatever else is waiting, so a burst of samples costs one frame.
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        while batch.len() < 512 {
            match engine_events.as_mut().map(mpsc::Receiver::try_recv) {
                Some(Ok(e)) => batch.push(Msg::Engine(e)),
                _ => break,
            }
        }
        for m in batch {
            let keep_status = matches!(&m, Msg::Done(t) if t.is_empty());
            let status = app.status.clone();
            for effect in app.update(m) {
                match effect {
                    Effect::Copy(text) => copy_to_clipboard(&text),
                    other => worker.handle(other),
                }
            }
            if keep_status {
                app.status = status;
            }
        }
        if app.quit {
            break;
        }
    }
    if let Some(stop) = engine_stop {
        let _ = stop.send(());
    }
    // Nobody reads the screen's events any more: the engine must not wait on them.
    drop(engine_events);
    if let Some(task) = engine_task {
        // A rollback in flight is seen through and recorded before exit.
        let _ = tokio::time::timeout(Duration::from_secs(120), task).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod review_tests;

/// The next engine event, or never when there is no engine (review).
async fn recv_engine(
    events: &mut Option<mpsc::Receiver<crate::engine::EngineEvent>>,
) -> Option<crate::engine::EngineEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
