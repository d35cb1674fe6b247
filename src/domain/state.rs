//! A state kept before a rollback: what its driver was about to change, so
//! that it can be put back (`backout rollback --to-state N`).

use serde::Serialize;

/// What a rollback's driver changes, as it was just before the rollback.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DriverState {
    /// Version serving, when known.
    pub version: Option<String>,
    /// Colour serving (blue/green), when known.
    pub colour: Option<String>,
    /// For the flag driver: the flag, where it lives and what it held.
    pub flag: Option<FlagState>,
}

/// A feature flag as the flag driver found it before changing it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagState {
    /// The flag.
    pub key: String,
    /// Where it lives: `env file PATH` or `flag service URL`.
    #[serde(rename = "where")]
    pub location: String,
    /// Its value, when it could be read.
    pub value: Option<String>,
    /// The env file's lines assigning the flag, byte for byte, when they were
    /// kept; never the rest of the file, which may hold secrets (JSON shows
    /// the length only).
    #[serde(rename = "env_file_bytes", serialize_with = "byte_count")]
    pub env_file: Option<Vec<u8>>,
}

fn byte_count<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(bytes) => s.serialize_some(&bytes.len()),
        None => s.serialize_none(),
    }
}

impl FlagState {
    /// `USE_X=true in env file flags.env`, with `?` for a value not known.
    pub fn describe(&self) -> String {
        format!("{}={} in {}", self.key, self.value.as_deref().unwrap_or("?"), self.location)
    }
}

impl DriverState {
    /// What the state holds, in one line: `1.4.3 (blue)`, or for a flag
    /// `USE_X=true in env file flags.env (its line kept, 11 bytes)`.
    pub fn describe(&self) -> String {
        if let Some(flag) = &self.flag {
            let kept = match &flag.env_file {
                Some(bytes) => format!(" (its line kept, {} bytes)", bytes.len()),
                None => String::new(),
            };
            return format!("{}{kept}", flag.describe());
        }
        let version = self.version.as_deref().unwrap_or("version unknown");
        match &self.colour {
            Some(c) => format!("{version} ({c})"),
            None => version.to_string(),
        }
    }
}
