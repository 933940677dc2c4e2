use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Call, Op, OpKind};
use crate::error::{Error, Result};

/// A sequence of operations, validated as it is built: a process invokes one operation at a time,
/// completes it with the same `f`, and time never goes backwards.
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

/// An invocation and its completion (`None`: the run ended before it completed).
pub type Pair<'a, F, V> = (&'a Op<F, V>, Option<&'a Op<F, V>>);

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

    /// Appends an invocation at `time`; fails if the process already has one open.
    pub fn invoke(&mut self, process: u64, time: Duration, f: F, value: V) -> Result<u64> {
        if let Some(open) = self.open_invocation(process) {
            return Err(Error::History(format!(
                "process {process} invoked {f:?} while its {:?} (index {}) is still open",
                open.f, open.index
            )));
        }
        self.push(process, time, OpKind::Invoke, f, value, None, None)
    }

    /// Appends the completion of `process`'s open invocation at `time`.
    pub fn complete(
        &mut self,
        process: u64,
        time: Duration,
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
        self.push(process, time, kind, f, value, node, error)
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        process: u64,
        time: Duration,
        kind: OpKind,
        f: F,
        value: V,
        node: Option<String>,
        error: Option<String>,
    ) -> Result<u64> {
        if let Some(last) = self.ops.last() {
            if time < last.time {
                return Err(Error::History(format!(
                    "entry {} at {time:?} is earlier than entry {} at {:?}",
                    self.ops.len(),
                    last.index,
                    last.time
                )));
            }
        }
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time,
            process,
            kind,
            f,
            value,
            node,
            error,
        });
        Ok(index)
    }

    fn open_invocation(&self, process: u64) -> Option<&Op<F, V>> {
        let last = self.ops.iter().rev().find(|o| o.process == process)?;
        (last.kind == OpKind::Invoke).then_some(last)
    }

    /// Each completion with its invocation, in completion order. Open invocations (the run ended
    /// first) are paired with `None`, after the completed ones.
    pub fn pairs(&self) -> Vec<Pair<'_, F, V>> {
        self.calls()
            .into_iter()
            .map(|c| (c.invoke, c.completion))
            .collect()
    }

    /// Each call (invocation with its completion), in completion order; open invocations last,
    /// in invocation order.
    pub fn calls(&self) -> Vec<Call<'_, F, V>> {
        let mut open: std::collections::HashMap<u64, &Op<F, V>> = Default::default();
        let mut out = Vec::new();
        for op in &self.ops {
            if op.kind == OpKind::Invoke {
                open.insert(op.process, op);
            } else if let Some(inv) = open.remove(&op.process) {
                out.push(Call {
                    invoke: inv,
                    completion: Some(op),
                });
            }
        }
        let mut rest: Vec<_> = open.into_values().collect();
        rest.sort_by_key(|o| o.index);
        out.extend(rest.into_iter().map(|inv| Call {
            invoke: inv,
            completion: None,
        }));
        out
    }

    /// The processes that appear in the history, in order.
    pub fn processes(&self) -> Vec<u64> {
        let set: std::collections::BTreeSet<u64> = self.ops.iter().map(|o| o.process).collect();
        set.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_process_cannot_invoke_twice_or_complete_what_it_never_invoked() {
        let mut h: History<&str, u32> = History::new();
        h.invoke(1, ms(0), "write", 1).unwrap();
        assert!(h.invoke(1, ms(1), "read", 0).is_err());
        assert!(h.complete(2, ms(1), OpKind::Ok, 0, None, None).is_err());
        assert!(h.complete(1, ms(1), OpKind::Invoke, 0, None, None).is_err());
        assert_eq!(h.complete(1, ms(2), OpKind::Ok, 1, None, None).unwrap(), 1);
        assert_eq!(
            h.ops()[1].f,
            "write",
            "completion inherits the invocation's f"
        );
    }

    #[test]
    fn time_never_goes_backwards() {
        let mut h: History<&str, u32> = History::new();
        h.invoke(1, ms(5), "write", 1).unwrap();
        let e = h.complete(1, ms(4), OpKind::Ok, 1, None, None).unwrap_err();
        assert!(e.to_string().contains("earlier"), "{e}");
        h.complete(1, ms(5), OpKind::Ok, 1, None, None).unwrap();
    }

    #[test]
    fn calls_match_completions_to_invocations_per_process_with_durations() {
        let mut h: History<&str, u32> = History::new();
        h.invoke(1, ms(0), "write", 1).unwrap();
        h.invoke(2, ms(1), "read", 0).unwrap();
        h.complete(2, ms(3), OpKind::Ok, 7, None, None).unwrap();
        h.invoke(3, ms(4), "read", 0).unwrap();
        h.complete(1, ms(10), OpKind::Info, 1, None, Some("timeout".into()))
            .unwrap();
        let calls = h.calls();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].invoke.index, 1);
        assert_eq!(calls[0].duration(), Some(ms(2)));
        assert!(calls[0].is_ok());
        assert_eq!(calls[1].kind(), Some(OpKind::Info));
        assert_eq!(calls[1].duration(), Some(ms(10)));
        assert!(calls[1].is_unserved());
        assert_eq!((calls[2].invoke.index, calls[2].completion), (3, None));
        assert_eq!(h.pairs().len(), 3);
        assert_eq!(h.processes(), vec![1, 2, 3]);
    }

    #[test]
    fn history_round_trips_through_json_with_times_in_nanoseconds() {
        let mut h: History<String, Option<u64>> = History::new();
        h.invoke(0, ms(1), "read".into(), None).unwrap();
        h.complete(
            0,
            ms(2),
            OpKind::Ok,
            Some(3),
            Some("replica-0".into()),
            None,
        )
        .unwrap();
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["ops"][1]["time_ns"], 2_000_000);
        let back: History<String, Option<u64>> = serde_json::from_value(json).unwrap();
        assert_eq!(back, h);
    }
}
