//! The workload's operations as the history records them: what was published, the alerts
//! watched, what was read before the fix and at the end.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Alert, DeadLettered, Message, Processed};

/// An operation of the dead-letter workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DlqOp {
    /// A message published to the consumer's queue.
    Publish,
    /// Watching the consumer's alerts from the start until the first fires (or until the
    /// workload reads what became of the messages, before the fix).
    WatchAlerts,
    /// What the consumer processed.
    Processed,
    /// What the dead-letter queue holds.
    DeadLetters,
    /// The fix deployed.
    DeployFix,
    /// The dead letters sent back.
    Redrive,
}

/// When a read was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// After the faults, before the fix was deployed.
    BeforeFix,
    /// After the fix and the redrive: the end.
    AfterRedrive,
}

/// What an operation was about, and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DlqValue {
    /// The message published.
    Publish {
        /// The message.
        message: Message,
    },
    /// The alerts seen firing (empty: none fired while watched).
    Alerts {
        /// The alerts, as first seen firing.
        alerts: Vec<Alert>,
        /// When they were first seen, on the run's clock (the one operations are timed by).
        first_seen: Option<Duration>,
    },
    /// What the consumer processed, at `stage`.
    Processed {
        /// When.
        stage: Stage,
        /// Message ids with how many times.
        processed: Vec<Processed>,
    },
    /// The dead-letter queue at `stage`.
    DeadLetters {
        /// When.
        stage: Stage,
        /// Its messages.
        dead: Vec<DeadLettered>,
    },
    /// The fix.
    DeployFix,
    /// The redrive, and how many it moved once answered.
    Redrive {
        /// Messages sent back.
        moved: Option<u64>,
    },
}
