//! How far one part's faults reach: another part's error rate and latency while each fault was
//! in force, against that part's own healthy phase.

use std::time::Duration;

use super::{phases, CheckResult, Checker, HEALTHY};
use crate::fault::Timeline;
use crate::history::History;

/// Judges the blast radius of each fault on the operations it watches (another service's:
/// [`only`](BlastRadiusChecker::only)), phase by phase (as [`phases`] groups calls), against
/// their healthy phase:
///
/// - `slowed_during_fault`: fault phases whose latency quantile
///   ([`quantile`](BlastRadiusChecker::quantile), p99 by default) is above the healthy phase's
///   by more than [`latency_budget`](BlastRadiusChecker::latency_budget);
/// - `errors_during_fault`: fault phases whose share of unserved calls (failed, unknown, never
///   completed) is above the healthy phase's by more than
///   [`error_budget`](BlastRadiusChecker::error_budget).
///
/// Both count phases, not calls: how many calls a stall catches depends on timing, whether a
/// phase was hurt does not. Counted: `phase.<name>.calls` and `phase.<name>.unserved`. Without a
/// healthy phase to compare with, the verdict is unknown.
///
/// ```
/// use std::time::Duration;
/// use shakedown::checker::{BlastRadiusChecker, Checker};
/// use shakedown::fault::{Fault, FaultAction, FaultEvent, Timeline};
/// use shakedown::history::{build::*, History, OpKind};
///
/// let ms = Duration::from_millis;
/// let mut h = History::new();
/// invoke_at(&mut h, ms(0), 0, "report", ());
/// complete_at(&mut h, ms(5), 0, OpKind::Ok, ()); // healthy: 5 ms
/// invoke_at(&mut h, ms(100), 1, "report", ());
/// complete_at(&mut h, ms(2_100), 1, OpKind::Ok, ()); // queued behind a migration: 2 s
/// let lock = Fault::component("pg-primary", "lock_held");
/// let ev = |t, action| FaultEvent { fault_id: 0, at_op: 0, time: ms(t), action, fault: lock.clone() };
/// let t = Timeline::from_events(vec![ev(50, FaultAction::Inject), ev(3_000, FaultAction::Heal)]);
/// let r = BlastRadiusChecker::<&str>::default().check(&h, &t);
/// assert_eq!(r.anomaly("slowed_during_fault"), Some(1));
/// assert_eq!(r.anomaly("errors_during_fault"), Some(0));
/// assert_eq!(r.counted["phase.lock_held on pg-primary.calls"], 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BlastRadiusChecker<F = ()> {
    /// Judge only these operations (`None`: every operation).
    pub only: Option<Vec<F>>,
    /// Which latency quantile is compared (`0.99`: p99).
    pub quantile: f64,
    /// How much slower than healthy the quantile may be during a fault.
    pub latency_budget: Duration,
    /// How much the share of unserved calls may rise over healthy during a fault (`0.0`: not
    /// at all).
    pub error_budget: f64,
}

impl<F> Default for BlastRadiusChecker<F> {
    /// p99 at most 1 s over healthy, no more errors than healthy.
    fn default() -> Self {
        BlastRadiusChecker {
            only: None,
            quantile: 0.99,
            latency_budget: Duration::from_secs(1),
            error_budget: 0.0,
        }
    }
}

impl<F> BlastRadiusChecker<F> {
    /// Watches only these operations (the other service's).
    pub fn only(mut self, ops: Vec<F>) -> Self {
        self.only = Some(ops);
        self
    }

    /// Compares quantile `q` (`0.0..=1.0`) of the latencies.
    pub fn quantile(mut self, q: f64) -> Self {
        self.quantile = q.clamp(0.0, 1.0);
        self
    }

    /// Lets the quantile rise by `budget` over healthy during a fault.
    pub fn latency_budget(mut self, budget: Duration) -> Self {
        self.latency_budget = budget;
        self
    }

    /// Lets the share of unserved calls rise by `share` (`0.0..=1.0`) over healthy.
    pub fn error_budget(mut self, share: f64) -> Self {
        self.error_budget = share.clamp(0.0, 1.0);
        self
    }
}

impl<F: Clone + PartialEq + std::fmt::Debug, V> Checker<F, V> for BlastRadiusChecker<F> {
    fn name(&self) -> &str {
        "blast_radius"
    }

    fn check(&self, history: &History<F, V>, timeline: &Timeline) -> CheckResult {
        let by_phase = phases(history, timeline, |call| {
            self.only
                .as_ref()
                .is_none_or(|only| only.contains(&call.invoke.f))
        });
        let mut b = CheckResult::builder("blast_radius");
        for (name, phase) in &by_phase {
            b = b
                .counted(format!("phase.{name}.calls"), phase.calls.len() as u64)
                .counted(format!("phase.{name}.unserved"), phase.unserved());
        }
        let Some(healthy) = by_phase.get(HEALTHY) else {
            return b
                .anomaly("slowed_during_fault", 0)
                .anomaly("errors_during_fault", 0)
                .undecided("no call ran while no fault was in force: nothing to compare with")
                .build();
        };
        let healthy_latency = healthy.latency_quantile(self.quantile);
        let healthy_errors = healthy.error_rate();
        let (mut slowed, mut failing) = (0, 0);
        for (name, phase) in by_phase.iter().filter(|(n, _)| n.as_str() != HEALTHY) {
            let slow = match (phase.latency_quantile(self.quantile), healthy_latency) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(d), Some(h)) => d > h + self.latency_budget,
            };
            if slow {
                slowed += 1;
                b = b.note(format!(
                    "{name}: p{:.0} latency beyond the healthy one by more than {:?}",
                    self.quantile * 100.0,
                    self.latency_budget
                ));
                for call in &phase.calls {
                    let ops: Vec<u64> = std::iter::once(call.invoke.index)
                        .chain(call.completion.map(|c| c.index))
                        .collect();
                    b = b.example("slowed_during_fault", &ops);
                }
            }
            if phase.error_rate() > healthy_errors + self.error_budget {
                failing += 1;
                b = b.note(format!(
                    "{name}: {} of {} calls unserved",
                    phase.unserved(),
                    phase.calls.len()
                ));
                for call in phase.calls.iter().filter(|c| c.is_unserved()) {
                    let ops: Vec<u64> = std::iter::once(call.invoke.index)
                        .chain(call.completion.map(|c| c.index))
                        .collect();
                    b = b.example("errors_during_fault", &ops);
                }
            }
        }
        b.anomaly("slowed_during_fault", slowed)
            .anomaly("errors_during_fault", failing)
            .phrase(
                "slowed_during_fault",
                None,
                "fault phases in which the other service's tail latency rose beyond its budget",
            )
            .phrase(
                "errors_during_fault",
                None,
                "fault phases in which the other service failed more calls than when healthy",
            )
            .build()
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

    /// `lock_held` from 1 s to 2 s, `connections_exhausted` from 3 s to 4 s.
    fn two_faults() -> Timeline {
        let ev = |id, t, action, kind| FaultEvent {
            fault_id: id,
            at_op: 0,
            time: ms(t),
            action,
            fault: Fault::component("pg-primary", kind),
        };
        Timeline::from_events(vec![
            ev(0, 1_000, FaultAction::Inject, "lock_held"),
            ev(0, 2_000, FaultAction::Heal, "lock_held"),
            ev(1, 3_000, FaultAction::Inject, "connections_exhausted"),
            ev(1, 4_000, FaultAction::Heal, "connections_exhausted"),
        ])
    }

    /// Appends `(time, process, op, kind)` entries in order (`Invoke` for an invocation).
    fn entries(h: &mut History<&'static str, ()>, es: &[(u64, u64, &'static str, OpKind)]) {
        for &(t, p, f, kind) in es {
            match kind {
                OpKind::Invoke => invoke_at(h, ms(t), p, f, ()),
                k => complete_at(h, ms(t), p, k, ()),
            }
        }
    }

    #[test]
    fn a_phase_is_hurt_when_slower_or_failing_beyond_its_budget_over_healthy() {
        use OpKind::*;
        let mut h = History::new();
        entries(
            &mut h,
            &[
                // healthy: 300 ms already, and one call in two fails
                (0, 0, "report", Invoke),
                (100, 1, "report", Invoke),
                (110, 1, "report", Fail),
                (300, 0, "report", Ok),
                // lock held: 1.2 s and 10 ms
                (1_100, 2, "report", Invoke),
                (1_200, 3, "report", Invoke),
                (1_210, 3, "report", Ok),
                (2_300, 2, "report", Ok),
                // connections exhausted: every report fails; `place` is not watched
                (3_100, 4, "report", Invoke),
                (3_110, 4, "report", Fail),
                (3_200, 5, "report", Invoke),
                (3_210, 5, "report", Info),
                (3_300, 6, "place", Invoke),
                (12_300, 6, "place", Fail),
            ],
        );
        let watched = BlastRadiusChecker::default().only(vec!["report"]);
        let r = watched.check(&h, &two_faults());
        // 1.2 s is within 1 s of the healthy 300 ms; 100 % unserved is beyond the healthy 50 %.
        assert_eq!(r.anomaly("slowed_during_fault"), Some(0));
        assert_eq!(r.anomaly("errors_during_fault"), Some(1));
        assert_eq!(
            r.examples["errors_during_fault"],
            vec![vec![8, 9], vec![10, 11]]
        );
        assert_eq!(
            r.counted["phase.connections_exhausted on pg-primary.unserved"],
            2
        );
        assert_eq!(r.counted["phase.healthy.calls"], 2);
        let strict = watched.clone().latency_budget(ms(500));
        assert_eq!(
            strict
                .check(&h, &two_faults())
                .anomaly("slowed_during_fault"),
            Some(1)
        );
        let lenient = watched.error_budget(0.5);
        assert_eq!(
            lenient
                .check(&h, &two_faults())
                .anomaly("errors_during_fault"),
            Some(0)
        );
        // Every operation judged: `place` never answered in time either.
        let all = BlastRadiusChecker::default().check(&h, &two_faults());
        assert_eq!(
            all.counted["phase.connections_exhausted on pg-primary.calls"],
            3
        );
        assert_eq!(all.anomaly("slowed_during_fault"), Some(1));
    }

    #[test]
    fn a_call_that_never_completed_is_slower_than_any_and_no_healthy_phase_is_unknown() {
        use OpKind::*;
        let mut h = History::new();
        // The second report hangs past the run.
        entries(
            &mut h,
            &[
                (0, 0, "report", Invoke),
                (5, 0, "report", Ok),
                (1_500, 1, "report", Invoke),
            ],
        );
        let r = BlastRadiusChecker::default().check(&h, &two_faults());
        assert_eq!(r.anomaly("slowed_during_fault"), Some(1));
        assert_eq!(r.anomaly("errors_during_fault"), Some(1));
        let mut only_faulty = History::new();
        entries(
            &mut only_faulty,
            &[(1_100, 0, "report", Invoke), (1_105, 0, "report", Ok)],
        );
        let r = BlastRadiusChecker::default().check(&only_faulty, &two_faults());
        assert_eq!(r.validity, crate::checker::Validity::Unknown);
    }
}
