//! One entry of a history: an operation's invocation or its completion.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How an entry of the history ends an operation, or starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// The client started the operation.
    Invoke,
    /// It completed and took effect.
    Ok,
    /// It completed and certainly took no effect.
    Fail,
    /// Its outcome is unknown (timed out, connection lost).
    Info,
}

impl OpKind {
    /// `invoke`, `ok`, `fail` or `info`.
    pub fn as_str(&self) -> &'static str {
        match self {
            OpKind::Invoke => "invoke",
            OpKind::Ok => "ok",
            OpKind::Fail => "fail",
            OpKind::Info => "info",
        }
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry: an invocation or a completion by one process (a client session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op<F, V> {
    /// Position in the history, from 0.
    pub index: u64,
    /// When it was recorded: monotonic time since the run started (JSON: `time_ns`, as in
    /// Jepsen's histories).
    #[serde(rename = "time_ns", with = "crate::serde_time::nanos")]
    pub time: Duration,
    /// The client session that performed it.
    pub process: u64,
    /// Invocation or completion.
    pub kind: OpKind,
    /// The operation (`write`, `read` …), typed by the workload.
    pub f: F,
    /// What was written, or what was read; typed by the workload.
    pub value: V,
    /// Which node served it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why it failed or is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An invocation with its completion (`None`: the run ended before it completed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Call<'a, F, V> {
    /// The invocation.
    pub invoke: &'a Op<F, V>,
    /// Its completion, if it completed.
    pub completion: Option<&'a Op<F, V>>,
}

impl<'a, F, V> Call<'a, F, V> {
    /// How the call ended (`None`: it never completed).
    pub fn kind(&self) -> Option<OpKind> {
        self.completion.map(|c| c.kind)
    }

    /// Whether it completed `ok`.
    pub fn is_ok(&self) -> bool {
        self.kind() == Some(OpKind::Ok)
    }

    /// Whether it failed or its outcome is unknown (or it never completed): what a user sees as
    /// "not served".
    pub fn is_unserved(&self) -> bool {
        !self.is_ok()
    }

    /// From invocation to completion (`None`: it never completed).
    pub fn duration(&self) -> Option<Duration> {
        self.completion
            .map(|c| c.time.saturating_sub(self.invoke.time))
    }

    /// When it started, since the run started.
    pub fn start(&self) -> Duration {
        self.invoke.time
    }

    /// When it ended (`None`: it never completed).
    pub fn end(&self) -> Option<Duration> {
        self.completion.map(|c| c.time)
    }
}

/// What a client call returned, to be recorded as its `ok` completion: the value read or
/// written, and which node served it when known.
#[derive(Debug, Clone, PartialEq)]
pub struct Done<V> {
    /// The completion's value.
    pub value: V,
    /// The node that served it.
    pub node: Option<String>,
}

impl<V> Done<V> {
    /// A completion with `value`.
    pub fn new(value: V) -> Self {
        Done { value, node: None }
    }

    /// Says which node served it.
    pub fn served_by(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// Says which node served it, when known.
    pub fn served_by_maybe(mut self, node: Option<String>) -> Self {
        self.node = node;
        self
    }
}
