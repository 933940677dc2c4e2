//! Faults as values: what was broken, where, and when in the history it was injected and healed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::ClockOffset;

/// One failure. Serialises with a `kind` tag; durations in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// A standby replays commits only after `delay` (`recovery_min_apply_delay`).
    ReplicaApplyDelay {
        /// The replica's node name.
        target: String,
        /// The delay.
        #[serde(with = "millis", rename = "delay_ms")]
        delay: Duration,
    },
    /// A standby's WAL replay is paused (`pg_wal_replay_pause()`): nothing new becomes visible.
    ReplayPaused {
        /// The replica's node name.
        target: String,
    },
    /// The node's main process is killed with SIGKILL.
    ProcessKill {
        /// The node's name.
        target: String,
    },
    /// Every process of the node is frozen.
    ProcessPause {
        /// The node's name.
        target: String,
    },
    /// The node is cut off the run's network.
    Partition {
        /// The node's name.
        target: String,
    },
    /// The node's wall clock is offset from the real time (positive: ahead).
    ClockOffset {
        /// The node's name.
        target: String,
        /// The offset.
        #[serde(rename = "offset_ms")]
        offset: ClockOffset,
    },
    /// The node's wall clock is stepped by `by` while the run goes on.
    ClockJump {
        /// The node's name.
        target: String,
        /// The step (positive: forward).
        #[serde(rename = "by_ms")]
        by: ClockOffset,
    },
    /// The node's wall clock is set to show a given instant.
    ClockSet {
        /// The node's name.
        target: String,
        /// The instant, as Unix milliseconds.
        to_unix_ms: i64,
    },
    /// The node's wall clock runs fast or slow.
    ClockDrift {
        /// The node's name.
        target: String,
        /// Deviation from a correct clock, in parts per million (+1000: gains 1 ms a second).
        rate_ppm: i64,
    },
    /// The node runs in a time zone (its `TZ`, or a database's `timezone`).
    Timezone {
        /// The node's name (or `node/database`).
        target: String,
        /// The IANA zone.
        zone: String,
    },
}

/// Whether a timeline entry starts or ends a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// The fault starts.
    Inject,
    /// The fault ends.
    Heal,
}

/// A fault starting or ending, placed in the history by logical index: it happened after the
/// first `at_op` history entries and before the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultEvent {
    /// Number of history entries recorded before it.
    pub at_op: u64,
    /// Inject or heal.
    pub action: FaultAction,
    /// The fault.
    pub fault: Fault,
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_serialise_with_kind_and_milliseconds() {
        let f = Fault::ReplicaApplyDelay {
            target: "replica-0".into(),
            delay: Duration::from_secs(3),
        };
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"replica_apply_delay","target":"replica-0","delay_ms":3000}"#
        );
        assert_eq!(serde_json::from_str::<Fault>(&json).unwrap(), f);
    }

    #[test]
    fn clock_faults_serialise_with_signed_milliseconds() {
        let f = Fault::ClockOffset {
            target: "issuer".into(),
            offset: ClockOffset::behind(Duration::from_secs(300)),
        };
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"clock_offset","target":"issuer","offset_ms":-300000}"#
        );
        assert_eq!(serde_json::from_str::<Fault>(&json).unwrap(), f);
    }
}
