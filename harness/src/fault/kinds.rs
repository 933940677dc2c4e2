//! [`Fault`]: what a fault is, as data, for the timeline and the report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::ClockOffset;
use crate::proxy::ToxicConfig;

/// One failure, described. Serialises with a `kind` tag; durations in milliseconds.
///
/// The harness's kinds are generic (a node's process, its network, its clock, a proxy link);
/// fixtures describe their own faults (a replica's apply delay, a lock held, a poison message)
/// as [`Fault::Component`], so a new kind of fault never needs a change here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// The node's main process is killed with SIGKILL (healed: started again).
    ProcessKill {
        /// The node's name.
        target: String,
    },
    /// Every process of the node is frozen (healed: thawed).
    ProcessPause {
        /// The node's name.
        target: String,
    },
    /// The node is restarted (a single event: heal only marks that it is back).
    ProcessRestart {
        /// The node's name.
        target: String,
    },
    /// The node is cut off the run's network (healed: reconnected).
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
    /// The node's wall clock is set to show a given instant (one step of a walk, or on its own).
    ClockSet {
        /// The node's name.
        target: String,
        /// The instant, as Unix milliseconds.
        to_unix_ms: i64,
    },
    /// The node's wall clock walks through simulated time, one [`Fault::ClockSet`] step at a time.
    ClockWalk {
        /// The node's name.
        target: String,
        /// First instant, as Unix milliseconds.
        from_unix_ms: i64,
        /// Last instant, as Unix milliseconds.
        to_unix_ms: i64,
        /// How many instants the walk shows, the first included.
        instants: u64,
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
    /// A toxic on a fault-proxy link, with its attributes.
    ProxyToxic {
        /// The link (Toxiproxy: the proxy's name).
        link: String,
        /// The toxic: name, stream, toxicity and typed attributes.
        toxic: ToxicConfig,
    },
    /// A fault of a component that a fixture knows (PostgreSQL's replay paused, a lock held …).
    Component {
        /// The node (or `node/object`) it acts on.
        target: String,
        /// What it is, in snake case (`replica_apply_delay`, `replay_paused`, `lock_held`).
        #[serde(rename = "component_kind")]
        kind: String,
        /// Its parameters, in the units their names say (`delay_ms`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        params: BTreeMap<String, serde_json::Value>,
    },
}

impl Fault {
    /// A component fault with no parameters.
    pub fn component(target: impl Into<String>, kind: impl Into<String>) -> Self {
        Fault::Component {
            target: target.into(),
            kind: kind.into(),
            params: BTreeMap::new(),
        }
    }

    /// Adds a parameter to a [`Fault::Component`] (other kinds are returned unchanged).
    pub fn param(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        if let Fault::Component { params, .. } = &mut self {
            params.insert(name.to_string(), value.into());
        }
        self
    }

    /// The kind's name in snake case (`process_kill`, `proxy_toxic`, a component's own kind).
    pub fn kind(&self) -> &str {
        match self {
            Fault::ProcessKill { .. } => "process_kill",
            Fault::ProcessPause { .. } => "process_pause",
            Fault::ProcessRestart { .. } => "process_restart",
            Fault::Partition { .. } => "partition",
            Fault::ClockOffset { .. } => "clock_offset",
            Fault::ClockJump { .. } => "clock_jump",
            Fault::ClockSet { .. } => "clock_set",
            Fault::ClockWalk { .. } => "clock_walk",
            Fault::ClockDrift { .. } => "clock_drift",
            Fault::Timezone { .. } => "timezone",
            Fault::ProxyToxic { .. } => "proxy_toxic",
            Fault::Component { kind, .. } => kind,
        }
    }

    /// What it acts on: a node's name, or a proxy link's.
    pub fn target(&self) -> &str {
        match self {
            Fault::ProcessKill { target }
            | Fault::ProcessPause { target }
            | Fault::ProcessRestart { target }
            | Fault::Partition { target }
            | Fault::ClockOffset { target, .. }
            | Fault::ClockJump { target, .. }
            | Fault::ClockSet { target, .. }
            | Fault::ClockWalk { target, .. }
            | Fault::ClockDrift { target, .. }
            | Fault::Timezone { target, .. }
            | Fault::Component { target, .. } => target,
            Fault::ProxyToxic { link, .. } => link,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn component_faults_serialise_with_their_own_kind_and_params() {
        let f = Fault::component("replica-0", "replica_apply_delay").param("delay_ms", 3000);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"component","target":"replica-0","component_kind":"replica_apply_delay","params":{"delay_ms":3000}}"#
        );
        assert_eq!(serde_json::from_str::<Fault>(&json).unwrap(), f);
        assert_eq!(f.kind(), "replica_apply_delay");
        assert_eq!(f.target(), "replica-0");
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
        let walk = Fault::ClockWalk {
            target: "billing".into(),
            from_unix_ms: 0,
            to_unix_ms: 1_800_000,
            instants: 2,
        };
        let v = serde_json::to_value(&walk).unwrap();
        assert_eq!(v["to_unix_ms"], 1_800_000);
    }
}
