//! The record of what clients did: every operation as an invocation and its completion.
//!
//! An operation is invoked, then completes as [`OpKind::Ok`] (it happened), [`OpKind::Fail`] (it
//! certainly did not) or [`OpKind::Info`] (unknown: a timeout — it may or may not have happened).
//! Each entry has a logical index, its position in the history. Histories are data: they
//! serialise to JSON with the report, and [`Checker`](crate::checker::Checker)s judge them.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

/// One entry: an invocation or a completion by one process (a client session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op<F, V> {
    /// Position in the history, from 0.
    pub index: u64,
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

/// A sequence of operations, validated as it is built: a process invokes one operation at a time,
/// and completes it with the same `f`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "F: Serialize, V: Serialize",
    deserialize = "F: Deserialize<'de>, V: Deserialize<'de>"
))]
pub struct History<F, V> {
    ops: Vec<Op<F, V>>,
}

impl<F, V> Default for History<F, V> {
    fn default() -> Self {
        History { ops: Vec::new() }
    }
}

impl<F: Clone + PartialEq + std::fmt::Debug, V> History<F, V> {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry, in order.
    pub fn ops(&self) -> &[Op<F, V>] {
        &self.ops
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Appends an invocation; fails if the process already has one open.
    pub fn invoke(&mut self, process: u64, f: F, value: V) -> Result<u64> {
        if let Some(open) = self.open_invocation(process) {
            return Err(Error::History(format!(
                "process {process} invoked {f:?} while its {:?} (index {}) is still open",
                open.f, open.index
            )));
        }
        Ok(self.push(process, OpKind::Invoke, f, value, None, None))
    }

    /// Appends the completion of `process`'s open invocation.
    pub fn complete(
        &mut self,
        process: u64,
        kind: OpKind,
        value: V,
        node: Option<String>,
        error: Option<String>,
    ) -> Result<u64> {
        if kind == OpKind::Invoke {
            return Err(Error::History(
                "a completion must be ok, fail or info, not invoke".into(),
            ));
        }
        let Some(open) = self.open_invocation(process) else {
            return Err(Error::History(format!(
                "process {process} completed an operation it never invoked"
            )));
        };
        let f = open.f.clone();
        Ok(self.push(process, kind, f, value, node, error))
    }

    fn push(
        &mut self,
        process: u64,
        kind: OpKind,
        f: F,
        value: V,
        node: Option<String>,
        error: Option<String>,
    ) -> u64 {
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            process,
            kind,
            f,
            value,
            node,
            error,
        });
        index
    }

    fn open_invocation(&self, process: u64) -> Option<&Op<F, V>> {
        let last = self.ops.iter().rev().find(|o| o.process == process)?;
        (last.kind == OpKind::Invoke).then_some(last)
    }

    /// Each completion with its invocation, in completion order. Open invocations (the run ended
    /// first) are paired with `None`.
    pub fn pairs(&self) -> Vec<Pair<'_, F, V>> {
        let mut open: std::collections::HashMap<u64, &Op<F, V>> = Default::default();
        let mut out = Vec::new();
        for op in &self.ops {
            if op.kind == OpKind::Invoke {
                open.insert(op.process, op);
            } else if let Some(inv) = open.remove(&op.process) {
                out.push((inv, Some(op)));
            }
        }
        let mut rest: Vec<_> = open.into_values().collect();
        rest.sort_by_key(|o| o.index);
        out.extend(rest.into_iter().map(|inv| (inv, None)));
        out
    }
}

/// An invocation and its completion (`None`: the run ended before it completed).
pub type Pair<'a, F, V> = (&'a Op<F, V>, Option<&'a Op<F, V>>);

/// A shared, thread-safe handle for recording a history from concurrent client tasks.
///
/// ```
/// use shakedown::history::{OpKind, Recorder};
///
/// let rec: Recorder<&str, i64> = Recorder::new();
/// let op = rec.invoke(1, "write", 5).unwrap();
/// op.ok(5, Some("primary".into())).unwrap();
/// let history = rec.snapshot();
/// assert_eq!(history.ops()[1].kind, OpKind::Ok);
/// ```
#[derive(Debug)]
pub struct Recorder<F, V> {
    inner: Arc<Mutex<History<F, V>>>,
}

impl<F, V> Clone for Recorder<F, V> {
    fn clone(&self) -> Self {
        Recorder {
            inner: self.inner.clone(),
        }
    }
}

impl<F, V> Default for Recorder<F, V> {
    fn default() -> Self {
        Recorder {
            inner: Arc::new(Mutex::new(History::default())),
        }
    }
}

impl<F: Clone + PartialEq + std::fmt::Debug, V: Clone> Recorder<F, V> {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History<F, V>> {
        // A panic in another recording task cannot leave the history half-written: recover it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an invocation and returns the handle that records its completion.
    pub fn invoke(&self, process: u64, f: F, value: V) -> Result<Pending<F, V>> {
        self.lock().invoke(process, f, value)?;
        Ok(Pending {
            recorder: self.clone(),
            process,
        })
    }

    /// A fault starting or ending now: placed after every entry recorded so far.
    pub fn fault_event(
        &self,
        action: crate::fault::FaultAction,
        fault: &crate::fault::Fault,
    ) -> crate::fault::FaultEvent {
        crate::fault::FaultEvent {
            at_op: self.len() as u64,
            action,
            fault: fault.clone(),
        }
    }

    /// A copy of the history so far.
    pub fn snapshot(&self) -> History<F, V> {
        self.lock().clone()
    }

    /// Number of entries so far (the next logical index).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An invoked operation waiting for its completion.
#[derive(Debug)]
#[must_use = "an invoked operation must be completed with ok, fail or info"]
pub struct Pending<F, V> {
    recorder: Recorder<F, V>,
    process: u64,
}

impl<F: Clone + PartialEq + std::fmt::Debug, V: Clone> Pending<F, V> {
    /// It happened; `value` is what was read or written.
    pub fn ok(self, value: V, node: Option<String>) -> Result<u64> {
        self.recorder
            .lock()
            .complete(self.process, OpKind::Ok, value, node, None)
    }

    /// It certainly did not happen.
    pub fn fail(self, value: V, error: impl Into<String>) -> Result<u64> {
        self.recorder
            .lock()
            .complete(self.process, OpKind::Fail, value, None, Some(error.into()))
    }

    /// Its outcome is unknown.
    pub fn info(self, value: V, error: impl Into<String>) -> Result<u64> {
        self.recorder
            .lock()
            .complete(self.process, OpKind::Info, value, None, Some(error.into()))
    }
}

/// Builders for hand-written histories, for checker tests (jepsen's `invoke-op`, `ok-op` …).
pub mod build {
    use super::{History, OpKind};

    /// Appends an invocation.
    pub fn invoke<F: Clone + PartialEq + std::fmt::Debug, V>(
        h: &mut History<F, V>,
        process: u64,
        f: F,
        value: V,
    ) {
        h.invoke(process, f, value)
            .expect("valid hand-written history");
    }

    /// Appends an `ok` completion.
    pub fn ok<F: Clone + PartialEq + std::fmt::Debug, V>(
        h: &mut History<F, V>,
        process: u64,
        value: V,
    ) {
        h.complete(process, OpKind::Ok, value, None, None)
            .expect("valid hand-written history");
    }

    /// Appends a `fail` completion.
    pub fn fail<F: Clone + PartialEq + std::fmt::Debug, V>(
        h: &mut History<F, V>,
        process: u64,
        value: V,
    ) {
        h.complete(process, OpKind::Fail, value, None, Some("failed".into()))
            .expect("valid hand-written history");
    }

    /// Appends an `info` (unknown outcome) completion.
    pub fn info<F: Clone + PartialEq + std::fmt::Debug, V>(
        h: &mut History<F, V>,
        process: u64,
        value: V,
    ) {
        h.complete(process, OpKind::Info, value, None, Some("timeout".into()))
            .expect("valid hand-written history");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_cannot_invoke_twice_or_complete_what_it_never_invoked() {
        let mut h: History<&str, u32> = History::new();
        h.invoke(1, "write", 1).unwrap();
        assert!(h.invoke(1, "read", 0).is_err());
        assert!(h.complete(2, OpKind::Ok, 0, None, None).is_err());
        assert!(h.complete(1, OpKind::Invoke, 0, None, None).is_err());
        assert_eq!(h.complete(1, OpKind::Ok, 1, None, None).unwrap(), 1);
        assert_eq!(
            h.ops()[1].f,
            "write",
            "completion inherits the invocation's f"
        );
    }

    #[test]
    fn pairs_match_completions_to_invocations_per_process() {
        let mut h: History<&str, u32> = History::new();
        h.invoke(1, "write", 1).unwrap();
        h.invoke(2, "read", 0).unwrap();
        h.complete(2, OpKind::Ok, 7, None, None).unwrap();
        h.invoke(3, "read", 0).unwrap();
        h.complete(1, OpKind::Info, 1, None, Some("timeout".into()))
            .unwrap();
        let pairs = h.pairs();
        assert_eq!(pairs.len(), 3);
        assert_eq!(
            (pairs[0].0.index, pairs[0].1.map(|c| c.value)),
            (1, Some(7))
        );
        assert_eq!(
            (pairs[1].0.index, pairs[1].1.map(|c| c.kind)),
            (0, Some(OpKind::Info))
        );
        assert_eq!((pairs[2].0.index, pairs[2].1.is_none()), (3, true));
    }

    #[test]
    fn history_round_trips_through_json() {
        let rec: Recorder<String, Option<u64>> = Recorder::new();
        rec.invoke(0, "read".into(), None)
            .unwrap()
            .ok(Some(3), Some("replica-0".into()))
            .unwrap();
        let h = rec.snapshot();
        let json = serde_json::to_string(&h).unwrap();
        let back: History<String, Option<u64>> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
    }
}
