//! The engine's writes to SQLite, on a thread of their own so a slow disk never
//! holds up polling or rule evaluation.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::sample::Sample;
use crate::playbook::DeploymentRecord;
use crate::store::{NewEvent, Store};

/// One write.
#[derive(Debug)]
pub enum StoreCmd {
    /// Downsampled samples of one signal.
    Samples {
        /// Environment row id.
        env_id: i64,
        /// Signal name.
        signal: String,
        /// Samples to keep.
        samples: Vec<Sample>,
    },
    /// A timeline event.
    Event(NewEvent),
    /// The service's deployment history.
    Sync(i64, Vec<DeploymentRecord>),
    /// A notification about this rollback went out.
    Notified(i64),
    /// Answers once everything sent before it is written.
    Flush(mpsc::Sender<()>),
}

/// Sends writes to the writer thread.
#[derive(Debug, Clone)]
pub struct StoreWriter {
    tx: mpsc::Sender<StoreCmd>,
}

impl StoreWriter {
    /// Starts the writer thread on an open store. The thread ends when every
    /// `StoreWriter` is dropped, after writing what was sent.
    pub fn start(store: Store, errors: tokio::sync::mpsc::UnboundedSender<String>) -> (StoreWriter, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel::<StoreCmd>();
        let handle = std::thread::Builder::new()
            .name("backout-store".into())
            .spawn(move || writer_loop(store, rx, errors))
            .unwrap_or_else(|e| panic!("cannot start the store writer thread: {e}"));
        (StoreWriter { tx }, handle)
    }

    /// Queues a write; never blocks.
    pub fn send(&self, cmd: StoreCmd) {
        // The thread only ends after every sender is gone, so a send cannot fail
        // while we hold one; ignore the impossible error rather than panic.
        let _ = self.tx.send(cmd);
    }

    /// Blocks until everything queued so far is written.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        self.send(StoreCmd::Flush(tx));
        let _ = rx.recv();
    }
}

fn writer_loop(mut store: Store, rx: mpsc::Receiver<StoreCmd>, errors: tokio::sync::mpsc::UnboundedSender<String>) {
    while let Ok(cmd) = rx.recv() {
        let result = match cmd {
            StoreCmd::Samples { env_id, signal, samples } => store.append_samples(env_id, &signal, &samples),
            StoreCmd::Event(e) => store.append_event(&e),
            StoreCmd::Sync(env_id, history) => store.sync_deployments(env_id, &history),
            StoreCmd::Notified(id) => store.mark_notification_sent(id),
            StoreCmd::Flush(done) => {
                let _ = done.send(());
                Ok(())
            }
        };
        if let Err(e) = result {
            let _ = errors.send(format!("database write failed ({}): {e}", Path::new(store.path()).display()));
        }
    }
}
