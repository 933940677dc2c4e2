//! Were users served while the faults were in force? A correct system may answer late (within
//! the users' patience), never refuse or hang.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{CheckResult, Checker};
use crate::fault::Timeline;
use crate::history::History;

/// Judges availability per phase — each fault (`<kind> on <target>`) while it was in force, and
/// `healthy` while none was — from the calls invoked in it:
///
/// - `calls_unserved`: calls that failed, whose outcome is unknown, that never completed, or that
///   took longer than [`patience`](AvailabilityChecker::patience), counted in every phase whose
///   share of such calls is above [`tolerance`](AvailabilityChecker::tolerance).
///
/// Counted: `phase.<name>.calls` and `phase.<name>.unserved` for every phase.
///
/// ```
/// use std::time::Duration;
/// use shakedown::checker::{AvailabilityChecker, Checker};
/// use shakedown::fault::Timeline;
/// use shakedown::history::{build::*, History};
///
/// let mut h = History::new();
/// invoke(&mut h, 0, "read", ());
/// info(&mut h, 0, ()); // timed out
/// let r = AvailabilityChecker::default().check(&h, &Timeline::default());
/// assert_eq!(r.anomaly("calls_unserved"), Some(1));
/// assert_eq!(r.counted["phase.healthy.unserved"], 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AvailabilityChecker<F = ()> {
    /// Share of a phase's calls that may go unserved (`0.0`: none; `0.1`: one in ten).
    pub tolerance: f64,
    /// How long a user waits before a slow answer counts as unserved (`None`: any answer serves).
    pub patience: Option<Duration>,
    /// Judge only these operations (`None`: every operation).
    pub only: Option<Vec<F>>,
}

impl<F> Default for AvailabilityChecker<F> {
    fn default() -> Self {
        AvailabilityChecker {
            tolerance: 0.0,
            patience: None,
            only: None,
        }
    }
}

impl<F> AvailabilityChecker<F> {
    /// No unserved call tolerated; any answer serves.
    pub fn strict() -> Self {
        Self::default()
    }

    /// A slow answer (over `patience`) counts as unserved.
    pub fn patience(mut self, patience: Duration) -> Self {
        self.patience = Some(patience);
        self
    }

    /// Tolerates `share` (`0.0..=1.0`) of each phase's calls unserved.
    pub fn tolerance(mut self, share: f64) -> Self {
        self.tolerance = share.clamp(0.0, 1.0);
        self
    }

    /// Judges only these operations.
    pub fn only(mut self, ops: Vec<F>) -> Self {
        self.only = Some(ops);
        self
    }
}

impl<F: Clone + PartialEq + std::fmt::Debug, V> Checker<F, V> for AvailabilityChecker<F> {
    fn name(&self) -> &str {
        "availability"
    }

    fn check(&self, history: &History<F, V>, timeline: &Timeline) -> CheckResult {
        let windows = timeline.windows();
        // phase → (calls, unserved)
        let mut phases: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        // phase → the unserved calls' history indices (invocation, completion if any).
        let mut unserved_calls: BTreeMap<String, Vec<Vec<u64>>> = BTreeMap::new();
        for call in history.calls() {
            if let Some(only) = &self.only {
                if !only.contains(&call.invoke.f) {
                    continue;
                }
            }
            let unserved = !call.is_ok()
                || self
                    .patience
                    .is_some_and(|p| call.duration().is_some_and(|d| d > p));
            let mut names: Vec<String> = windows
                .iter()
                .filter(|w| w.covers(call.start()))
                .map(|w| super::latency::phase_name(w.fault))
                .collect();
            if names.is_empty() {
                names.push("healthy".into());
            }
            names.dedup();
            for name in names {
                if unserved {
                    let ops = std::iter::once(call.invoke.index)
                        .chain(call.completion.map(|c| c.index))
                        .collect();
                    unserved_calls.entry(name.clone()).or_default().push(ops);
                }
                let e = phases.entry(name).or_default();
                e.0 += 1;
                e.1 += unserved as u64;
            }
        }
        let mut unserved_beyond = 0;
        let mut result = CheckResult::builder("availability");
        let mut shown = std::collections::BTreeSet::new();
        for (name, (calls, unserved)) in &phases {
            if *unserved as f64 > self.tolerance * *calls as f64 {
                unserved_beyond += unserved;
                for ops in unserved_calls.get(name).into_iter().flatten() {
                    if shown.insert(ops[0]) {
                        result = result.example("calls_unserved", ops);
                    }
                }
            }
            result = result
                .counted(format!("phase.{name}.calls"), *calls)
                .counted(format!("phase.{name}.unserved"), *unserved);
        }
        result.anomaly("calls_unserved", unserved_beyond).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Fault, FaultAction, FaultEvent};
    use crate::history::build::*;
    use crate::history::OpKind;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn paused(from: u64, to: u64) -> Timeline {
        let f = Fault::component("replica-0", "replay_paused");
        let ev = |t, a| FaultEvent {
            fault_id: 0,
            at_op: 0,
            time: ms(t),
            action: a,
            fault: f.clone(),
        };
        Timeline::from_events(vec![
            ev(from, FaultAction::Inject),
            ev(to, FaultAction::Heal),
        ])
    }

    fn call(
        h: &mut History<&'static str, ()>,
        p: u64,
        f: &'static str,
        at: u64,
        took: u64,
        kind: OpKind,
    ) {
        invoke_at(h, ms(at), p, f, ());
        complete_at(h, ms(at + took), p, kind, ());
    }

    #[test]
    fn unserved_calls_are_counted_per_phase_against_the_tolerance() {
        let mut h = History::new();
        call(&mut h, 0, "read", 0, 5, OpKind::Ok); // healthy
        call(&mut h, 0, "read", 100, 5, OpKind::Info); // paused: unknown
        call(&mut h, 0, "read", 200, 5, OpKind::Ok); // paused
        call(&mut h, 0, "write", 300, 5, OpKind::Fail); // paused
        call(&mut h, 0, "read", 900, 5, OpKind::Ok); // healthy again
        let t = paused(50, 500);
        let r = AvailabilityChecker::strict().check(&h, &t);
        assert_eq!(r.anomaly("calls_unserved"), Some(2));
        // Each unserved call as an example: its invocation and completion.
        assert_eq!(r.examples["calls_unserved"], vec![vec![2, 3], vec![6, 7]]);
        assert_eq!(r.counted["phase.replay_paused on replica-0.calls"], 3);
        assert_eq!(r.counted["phase.healthy.calls"], 2);
        // One in three tolerated is not enough for two in three.
        let r = AvailabilityChecker::strict().tolerance(0.34).check(&h, &t);
        assert_eq!(r.anomaly("calls_unserved"), Some(2));
        let r = AvailabilityChecker::strict().tolerance(0.7).check(&h, &t);
        assert_eq!(r.anomaly("calls_unserved"), Some(0));
        assert!(r.examples.is_empty(), "tolerated calls are no examples");
        // Only reads judged.
        let r = AvailabilityChecker::strict()
            .only(vec!["read"])
            .check(&h, &t);
        assert_eq!(r.anomaly("calls_unserved"), Some(1));
    }

    #[test]
    fn a_slow_answer_is_unserved_only_beyond_the_patience() {
        let mut h: History<&str, ()> = History::new();
        invoke_at(&mut h, ms(0), 0, "read", ());
        invoke_at(&mut h, ms(10), 1, "read", ());
        complete_at(&mut h, ms(110), 1, OpKind::Ok, ());
        complete_at(&mut h, ms(3_000), 0, OpKind::Ok, ());
        let t = Timeline::default();
        assert_eq!(
            AvailabilityChecker::strict()
                .check(&h, &t)
                .anomaly("calls_unserved"),
            Some(0)
        );
        let r = AvailabilityChecker::strict()
            .patience(Duration::from_secs(2))
            .check(&h, &t);
        assert_eq!(r.anomaly("calls_unserved"), Some(1));
    }
}
