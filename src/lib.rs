//! backout: a terminal incident console for deployment rollbacks.

pub mod cli;
pub mod config;
pub mod domain;
pub mod drivers;
pub mod engine;
pub mod incident;
pub mod logfile;
pub mod net;
pub mod notify;
pub mod playbook;
pub mod rollback;
pub mod sim;
pub mod statuscmd;
pub mod store;
pub mod text;
pub mod tui;
