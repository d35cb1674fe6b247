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
use crossterm::event::{Event, KeyEventKind};
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use app::{App, Effect, Mode, Msg};
use keymap::Keymap;
use theme::Theme;

use crate::config::Config;
use crate::engine::{EngineOptions, Happened};
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

    let mut input = terminal_input();
    // Data (engine events, the clock) is taken in once a FRAME and drawn then;
    // keys and resizes are drawn at once. Between frames an idle console sleeps:
    // nothing but a key, a worker's answer or the next frame wakes it.
    const FRAME: Duration = Duration::from_millis(500);
    let mut frame = tokio::time::interval(FRAME);
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Other processes' writes (a CLI rollback, a note) are picked up this often;
    // this console's own actions refresh at once.
    let mut refresh = tokio::time::interval(Duration::from_secs(5));
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let panic_for_test = std::env::var_os(PANIC_FOR_TEST).is_some();
    let mut frames = 0u64;
    // Samples and the clock change the screen every second; anything else (a
    // key, an answer, an event that is not a reading) is drawn at once.
    const READINGS: Duration = Duration::from_secs(1);
    let mut last_draw = tokio::time::Instant::now() - READINGS;
    let mut urgent = true;
    loop {
        if app.dirty && (urgent || last_draw.elapsed() + FRAME / 4 >= READINGS) {
            terminal.draw(|f| ui::render(&app, f)).wrap_err("drawing the console")?;
            last_draw = tokio::time::Instant::now();
            urgent = false;
            app.dirty = false;
            frames += 1;
            if panic_for_test && frames == 1 {
                panic!("{PANIC_FOR_TEST} is set: panicking after the first frame to test terminal restore");
            }
        }
        let mut batch = Vec::new();
        tokio::select! {
            ev = input.recv() => match ev {
                Some(Ok(ev)) => match terminal_msg(ev, terminal) {
                    Some(m) => batch.push(m),
                    None => continue,
                },
                Some(Err(e)) => return Err(e).wrap_err("reading the terminal"),
                None => break,
            },
            Some(m) = rx.recv() => batch.push(m),
            _ = frame.tick() => {
                // Whatever the engine said since the last frame, in order,
                // then the clock.
                while let Some(Ok(e)) = engine_events.as_mut().map(mpsc::Receiver::try_recv) {
                    batch.push(Msg::Engine(e));
                }
                batch.push(Msg::Tick(chrono::Utc::now()));
            }
            _ = refresh.tick(), if opts.mode != Mode::Review => batch.push(Msg::Done(String::new())),
        };
        // Take whatever else is waiting, so a burst costs one frame.
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        urgent |= batch.iter().any(|m| match m {
            Msg::Tick(_) => false,
            Msg::Mouse { kind, .. } => !matches!(kind, crossterm::event::MouseEventKind::Moved),
            Msg::Engine(e) => !matches!(e.what, Happened::Sample { .. } | Happened::Status { .. }),
            _ => true,
        });
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

/// The terminal's events, read by a thread of their own that blocks until one
/// comes. (crossterm's `EventStream` polls the terminal from the loop's thread
/// on every wake, contending for its reader's lock: most of an idle console's
/// system calls.) The thread is not joined; it ends with the process.
fn terminal_input() -> mpsc::UnboundedReceiver<std::io::Result<Event>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new().name("backout-input".into()).spawn(move || {
        loop {
            let ev = crossterm::event::read();
            let failed = ev.is_err();
            if tx.send(ev).is_err() || failed {
                return;
            }
        }
    });
    if let Err(e) = spawned {
        // No input thread: the loop reads the error and exits restoring the terminal.
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(Err(e));
        return rx;
    }
    rx
}

/// What a terminal event means to the app; `None` for those it ignores
/// (key releases, focus changes).
fn terminal_msg(ev: Event, terminal: &DefaultTerminal) -> Option<Msg> {
    match ev {
        Event::Key(k) if k.kind == KeyEventKind::Press => Some(Msg::Key(k)),
        Event::Resize(_, _) => Some(Msg::Resize),
        Event::Paste(text) => Some(Msg::Paste(text)),
        Event::Mouse(m) => {
            let size = terminal.size().unwrap_or_default();
            let screen = ratatui::layout::Rect::new(0, 0, size.width, size.height);
            Some(Msg::Mouse { kind: m.kind, column: m.column, row: m.row, screen })
        }
        _ => None,
    }
}
