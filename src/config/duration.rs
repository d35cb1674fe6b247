//! Durations written the way people write them (`2m`, `90s`, `1h 30m`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration read from config as text such as `2m` or `500ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// From whole seconds.
    pub const fn secs(s: u64) -> Self {
        HumanDuration(Duration::from_secs(s))
    }

    /// The duration itself.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// Longest duration read from any file: past it a time plus the duration could
/// overflow a clock. Each key has its own, tighter range (`check` says which).
pub const LONGEST: Duration = Duration::from_secs(366 * 24 * 3600);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let d = humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "bad duration {text:?}: {e} (write it like \"90s\", \"2m\" or \"1h 30m\")"
            ))
        })?;
        if d > LONGEST {
            return Err(serde::de::Error::custom(format!(
                "bad duration {text:?}: longer than a year, which no setting needs (write it like \"90s\", \"2m\" or \"1h 30m\")"
            )));
        }
        Ok(HumanDuration(d))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
