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
    /// A rule fired: the detection of the environment's open incident, if one
    /// is open and has none yet.
    Detected {
        /// Environment row id.
        env_id: i64,
        /// The rule's first breach.
        detection: crate::incident::Detection,
    },
    /// A version serves: lift the environment's automatic-rollback block if it
    /// was about another one.
    LiftBlock {
        /// Environment row id.
        env_id: i64,
        /// The version serving now.
        serving: String,
    },
    /// Answers once everything sent before it is written.
    Flush(mpsc::Sender<()>),
}

/// Sends writes to the writer thread.
#[derive(Debug, Clone)]
pub struct StoreWriter {
    tx: mpsc::Sender<StoreCmd>,
    enabled: bool,
}

impl StoreWriter {
    /// Starts the writer thread on an open store. The thread ends when every
    /// `StoreWriter` is dropped, after writing what was sent.
    /// With `enabled` false every write is dropped (read-only observers).
    pub fn start(
        store: Store,
        errors: tokio::sync::mpsc::UnboundedSender<String>,
        enabled: bool,
    ) -> (StoreWriter, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel::<StoreCmd>();
        let handle = std::thread::Builder::new()
            .name("backout-store".into())
            .spawn(move || writer_loop(store, rx, errors))
            .unwrap_or_else(|e| panic!("cannot start the store writer thread: {e}"));
        (StoreWriter { tx, enabled }, handle)
    }

    /// Queues a write; never blocks.
    pub fn send(&self, cmd: StoreCmd) {
        if !self.enabled && !matches!(cmd, StoreCmd::Flush(_)) {
            return;
        }
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
    while let Ok(first) = rx.recv() {
        // Take what else is queued, and write all its samples in one
        // transaction: a thousand signals must not cost a thousand commits.
        let mut batch = vec![first];
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        let mut samples: Vec<(i64, String, Sample)> = Vec::new();
        let mut rest = Vec::new();
        for cmd in batch {
            match cmd {
                StoreCmd::Samples { env_id, signal, samples: s } => {
                    samples.extend(s.into_iter().map(|x| (env_id, signal.clone(), x)));
                }
                other => rest.push(other),
            }
        }
        let mut results = Vec::new();
        if !samples.is_empty() {
            results.push(store.append_sample_batch(&samples));
        }
        for cmd in rest {
            results.push(match cmd {
                StoreCmd::Samples { .. } => Ok(()),
                StoreCmd::Event(e) => store.append_event(&e),
                StoreCmd::Sync(env_id, history) => store.sync_deployments(env_id, &history),
                StoreCmd::Notified(id) => store.mark_notification_sent(id),
                StoreCmd::LiftBlock { env_id, serving } => store.lift_replaced_block(env_id, &serving).map(|_| ()),
                StoreCmd::Detected { env_id, detection } => {
                    if let Err(e) = record_detection(&mut store, env_id, &detection) {
                        let _ = errors.send(format!("recording a detection failed: {e:#}"));
                    }
                    Ok(())
                }
                StoreCmd::Flush(done) => {
                    let _ = done.send(());
                    Ok(())
                }
            });
        }
        for r in results {
            if let Err(e) = r {
                let _ = errors.send(format!("database write failed ({}): {e}", Path::new(store.path()).display()));
            }
        }
    }
}

/// Records a rule's detection on the environment's open incident.
fn record_detection(
    store: &mut Store,
    env_id: i64,
    detection: &crate::incident::Detection,
) -> color_eyre::eyre::Result<()> {
    let Some(incident) = store.open_incident_for(env_id)? else { return Ok(()) };
    crate::incident::record_detection(store, incident.id, detection)?;
    Ok(())
}
