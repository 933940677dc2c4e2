//! Call latencies per fault phase: each fault window while it was in force, and `healthy` while
//! none was, so a checker can hold a phase's percentile against the healthy one.

use std::time::Duration;

use crate::fault::Timeline;
use crate::history::{Call, History};

/// The latencies of the calls invoked in one phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseLatency {
    /// `healthy`, or the fault's phase name (`<kind> on <target>`, as
    /// [`AvailabilityChecker`](super::AvailabilityChecker) names it).
    pub phase: String,
    /// The fault window's id (`None`: the healthy phase).
    pub fault_id: Option<u64>,
    /// Durations of the calls that completed (in whichever way), sorted.
    pub latencies: Vec<Duration>,
    /// Calls that never completed (the run ended first).
    pub unfinished: u64,
}

impl PhaseLatency {
    /// The `q`-quantile (`0.0..=1.0`, nearest rank; `0.99` is the p99) of the completed calls'
    /// durations; `None` for a phase without completed calls. An unfinished call counts as
    /// longer than every completed one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use shakedown::checker::PhaseLatency;
    /// let p = PhaseLatency {
    ///     phase: "healthy".into(),
    ///     fault_id: None,
    ///     latencies: (1..=100).map(Duration::from_millis).collect(),
    ///     unfinished: 0,
    /// };
    /// assert_eq!(p.percentile(0.99), Some(Duration::from_millis(99)));
    /// assert_eq!(p.percentile(0.5), Some(Duration::from_millis(50)));
    /// ```
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        let n = self.latencies.len() + self.unfinished as usize;
        if self.latencies.is_empty() {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * n as f64).ceil().max(1.0) as usize;
        Some(self.latencies[rank.min(self.latencies.len()) - 1])
    }

    /// Calls invoked in the phase.
    pub fn calls(&self) -> u64 {
        self.latencies.len() as u64 + self.unfinished
    }
}

/// The phase name of a fault: `<kind> on <target>`.
pub(crate) fn phase_name(fault: &crate::fault::Fault) -> String {
    format!("{} on {}", fault.kind(), fault.target())
}

/// Latencies per phase of the calls `keep` selects, each call in the phase it was invoked in:
/// `healthy` first (calls invoked while no fault was in force), then one entry per fault window
/// in injection order (a call invoked under two faults is in both).
///
/// ```
/// use std::time::Duration;
/// use shakedown::checker::phase_latencies;
/// use shakedown::fault::Timeline;
/// use shakedown::history::{build::*, History, OpKind};
///
/// let mut h: History<&str, ()> = History::new();
/// invoke_at(&mut h, Duration::ZERO, 0, "get", ());
/// complete_at(&mut h, Duration::from_millis(7), 0, OpKind::Ok, ());
/// let phases = phase_latencies(&h, &Timeline::default(), |_| true);
/// assert_eq!(phases[0].phase, "healthy");
/// assert_eq!(phases[0].percentile(0.99), Some(Duration::from_millis(7)));
/// ```
pub fn phase_latencies<F, V>(
    history: &History<F, V>,
    timeline: &Timeline,
    keep: impl Fn(&Call<'_, F, V>) -> bool,
) -> Vec<PhaseLatency>
where
    F: Clone + PartialEq + std::fmt::Debug,
{
    let windows = timeline.windows();
    let mut phases: Vec<PhaseLatency> = std::iter::once(PhaseLatency {
        phase: "healthy".into(),
        fault_id: None,
        latencies: Vec::new(),
        unfinished: 0,
    })
    .chain(windows.iter().map(|w| PhaseLatency {
        phase: phase_name(w.fault),
        fault_id: Some(w.id),
        latencies: Vec::new(),
        unfinished: 0,
    }))
    .collect();
    for call in history.calls().iter().filter(|c| keep(c)) {
        let mut slots: Vec<usize> = windows
            .iter()
            .enumerate()
            .filter(|(_, w)| w.covers(call.start()))
            .map(|(i, _)| i + 1)
            .collect();
        if slots.is_empty() {
            slots.push(0);
        }
        for i in slots {
            match call.duration() {
                Some(d) => phases[i].latencies.push(d),
                None => phases[i].unfinished += 1,
            }
        }
    }
    for p in &mut phases {
        p.latencies.sort();
    }
    phases
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

    fn window(id: u64, from: u64, to: u64, kind: &str) -> Vec<FaultEvent> {
        let f = Fault::component("payments", kind);
        let ev = |t, action| FaultEvent {
            fault_id: id,
            at_op: 0,
            time: ms(t),
            action,
            fault: f.clone(),
        };
        vec![ev(from, FaultAction::Inject), ev(to, FaultAction::Heal)]
    }

    #[test]
    fn each_call_counts_in_the_phase_it_was_invoked_in() {
        let mut h: History<&str, ()> = History::new();
        // (process, invoked or completed, at ms), in time order.
        let entries = [
            (0, true, 0),
            (0, false, 5),
            (1, true, 100),
            (2, true, 150),
            (3, true, 300),
            (3, false, 310),
            (4, true, 600),
            (4, false, 604),
            (1, false, 900),
            (2, false, 950),
        ];
        for (p, invoked, at) in entries {
            if invoked {
                invoke_at(&mut h, ms(at), p, "charge", ());
            } else {
                complete_at(&mut h, ms(at), p, OpKind::Info, ());
            }
        }
        let mut events = window(0, 50, 250, "slow");
        events.extend(window(1, 250, 500, "down"));
        let phases = phase_latencies(&h, &Timeline::from_events(events), |_| true);
        let names: Vec<&str> = phases.iter().map(|p| p.phase.as_str()).collect();
        assert_eq!(names, ["healthy", "slow on payments", "down on payments"]);
        assert_eq!(phases[0].latencies, [ms(4), ms(5)]);
        assert_eq!(phases[1].percentile(0.99), Some(ms(800)));
        assert_eq!(phases[1].percentile(0.5), Some(ms(800)));
        assert_eq!(phases[1].percentile(0.0), Some(ms(800)));
        assert_eq!((phases[2].calls(), phases[2].fault_id), (1, Some(1)));
        let only_fast = phase_latencies(&h, &Timeline::default(), |c| {
            c.duration().is_some_and(|d| d < ms(50))
        });
        assert_eq!(only_fast[0].calls(), 3);
    }

    #[test]
    fn an_unfinished_call_ranks_above_every_completed_one() {
        let mut h: History<&str, ()> = History::new();
        invoke_at(&mut h, ms(0), 0, "charge", ());
        complete_at(&mut h, ms(10), 0, OpKind::Ok, ());
        invoke_at(&mut h, ms(20), 1, "charge", ());
        let p = &phase_latencies(&h, &Timeline::default(), |_| true)[0];
        assert_eq!((p.calls(), p.unfinished), (2, 1));
        assert_eq!(p.percentile(0.5), Some(ms(10)));
        // The p99 would be the unfinished call: the longest completed one stands for it.
        assert_eq!(p.percentile(0.99), Some(ms(10)));
        let empty = phase_latencies(&History::<&str, ()>::new(), &Timeline::default(), |_| true);
        assert_eq!(empty[0].percentile(0.99), None);
    }
}
