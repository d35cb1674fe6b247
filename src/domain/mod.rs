//! The words and values the rest of backout speaks: rollback, incident and
//! deployment states, rule and check kinds, samples and timestamps.
//!
//! This module depends on nothing else in the crate, so the store, the engine
//! and the console can all use it without depending on each other.

/// An enum whose values are stored and shown as fixed words. Generates the enum
/// (serialized and deserialized as those words), `ALL`, `as_str`, `parse`,
/// `Display` and [`Word`].
macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $word)] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($word),+].len()] = [$($name::$variant),+];

            /// The word stored in the database and shown in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            /// Parses the stored word.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($word => Some($name::$variant),)+ _ => None }
            }
        }

        // `pad`, so width and alignment (`{:<11}`) apply as they do to the word itself.
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl $crate::domain::Word for $name {
            const WORDS: &'static [&'static str] = &[$($word),+];

            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }

            fn parse(s: &str) -> Option<Self> {
                $name::parse(s)
            }
        }
    };
}

mod incident;
mod rollback;
mod sample;
mod service;
mod state;
pub mod ts;

pub use incident::{
    CheckKind, IncidentStatus, Milestone, ProbeMethod, SEVERITY_UNKNOWN, Severity, SignalAggregate, StepState,
};
pub use rollback::{FlagChange, RequestStatus, RollbackStatus, RollbackTrigger, RollbackType, flag_is_on};
pub use sample::{NO_DATA, RuleKind, Sample};
pub use service::{DeploymentStatus, Health};
pub use state::{DriverState, FlagState};

/// A value stored as one of a fixed set of words (see `word_enum!`).
pub trait Word: Copy + Sized + 'static {
    /// Every word, in declaration order.
    const WORDS: &'static [&'static str];

    /// The stored word.
    fn as_str(self) -> &'static str;

    /// Parses a stored word.
    fn parse(s: &str) -> Option<Self>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_serialize_as_stored() {
        for s in RollbackStatus::ALL {
            assert_eq!(RollbackStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::json!(s.as_str())));
        }
        assert_eq!(RollbackType::BlueGreenSwitch.as_str(), "blue_green_switch");
        assert_eq!(serde_json::json!(Severity::NonCritical), serde_json::json!("non-critical"));
        assert_eq!(serde_json::json!(Health::Healthy), serde_json::json!("healthy"));
        assert_eq!(Milestone::parse("rollback_completed"), Some(Milestone::RollbackCompleted));
        assert_eq!(IncidentStatus::parse("shut"), None);
        assert_eq!(<CheckKind as Word>::WORDS.len(), CheckKind::ALL.len());
        assert_eq!(format!("[{:<9}]", RollbackStatus::Failed), "[failed   ]");
        assert_eq!(
            serde_json::from_str::<DeploymentStatus>("\"rolled_back\"").ok(),
            Some(DeploymentStatus::RolledBack)
        );
    }
}
