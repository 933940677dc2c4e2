//! The fault timeline: every injection, step and heal, placed in the history by index and by time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Fault;

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// The fault starts.
    Inject,
    /// A fault that acts in steps took one (a clock walk moved on); its `fault` says what the step did.
    Step,
    /// The fault ends.
    Heal,
}

/// One thing a nemesis did, placed in the history: after the first `at_op` entries and before the
/// rest, at `time` since the run started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultEvent {
    /// Which fault (the same for its injection, steps and heal), from 0 in injection order.
    pub fault_id: u64,
    /// Number of history entries recorded before it.
    pub at_op: u64,
    /// When it was done, since the run started (JSON: `time_ns`).
    #[serde(rename = "time_ns", with = "crate::serde_time::nanos")]
    pub time: Duration,
    /// Inject, step or heal.
    pub action: FaultAction,
    /// The fault (for a step: what the step did).
    pub fault: Fault,
}

/// One fault from its injection to its heal.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow<'a> {
    /// The fault's id.
    pub id: u64,
    /// The fault, as injected.
    pub fault: &'a Fault,
    /// When it was injected.
    pub start: Duration,
    /// When it was healed (`None`: it stood until the run ended).
    pub end: Option<Duration>,
    /// History position of the injection.
    pub injected_at_op: u64,
    /// History position of the heal.
    pub healed_at_op: Option<u64>,
    /// Steps it took between the two.
    pub steps: u64,
}

impl FaultWindow<'_> {
    /// Whether the fault was in force at `t` (from its injection, until its heal).
    pub fn covers(&self, t: Duration) -> bool {
        t >= self.start && self.end.is_none_or(|e| t < e)
    }

    /// Whether an interval `[from, to]` overlaps the window.
    pub fn overlaps(&self, from: Duration, to: Duration) -> bool {
        to >= self.start && self.end.is_none_or(|e| from < e)
    }
}

/// Every fault event of a run, in the order they happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timeline {
    events: Vec<FaultEvent>,
}

impl Timeline {
    /// A timeline of hand-written events (for checker tests).
    pub fn from_events(events: Vec<FaultEvent>) -> Self {
        Timeline { events }
    }

    /// Every event, in order.
    pub fn events(&self) -> &[FaultEvent] {
        &self.events
    }

    /// Whether nothing was injected.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// One window per fault, in injection order.
    pub fn windows(&self) -> Vec<FaultWindow<'_>> {
        let mut out: Vec<FaultWindow<'_>> = Vec::new();
        for e in &self.events {
            match e.action {
                FaultAction::Inject => out.push(FaultWindow {
                    id: e.fault_id,
                    fault: &e.fault,
                    start: e.time,
                    end: None,
                    injected_at_op: e.at_op,
                    healed_at_op: None,
                    steps: 0,
                }),
                FaultAction::Step => {
                    if let Some(w) = out.iter_mut().find(|w| w.id == e.fault_id) {
                        w.steps += 1;
                    }
                }
                FaultAction::Heal => {
                    if let Some(w) = out.iter_mut().find(|w| w.id == e.fault_id) {
                        w.end = Some(e.time);
                        w.healed_at_op = Some(e.at_op);
                    }
                }
            }
        }
        out
    }

    /// The faults in force at `t`.
    pub fn active_at(&self, t: Duration) -> Vec<FaultWindow<'_>> {
        self.windows().into_iter().filter(|w| w.covers(t)).collect()
    }
}

/// Where in the history "now" is: entries recorded so far, and time since the run started.
pub(crate) type Position = Arc<dyn Fn() -> (u64, Duration) + Send + Sync>;

/// The shared, thread-safe recording side of a timeline.
#[derive(Clone)]
pub(crate) struct TimelineRecorder {
    events: Arc<Mutex<Vec<FaultEvent>>>,
    next_id: Arc<Mutex<u64>>,
    position: Position,
}

impl std::fmt::Debug for TimelineRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelineRecorder")
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl TimelineRecorder {
    pub(crate) fn new(position: Position) -> Self {
        TimelineRecorder {
            events: Default::default(),
            next_id: Default::default(),
            position,
        }
    }

    /// A new fault id.
    pub(crate) fn allocate(&self) -> u64 {
        let mut n = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
        let id = *n;
        *n += 1;
        id
    }

    /// Records `action` on fault `id` now.
    pub(crate) fn record(&self, id: u64, action: FaultAction, fault: Fault) {
        let (at_op, time) = (self.position)();
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        // Time order holds even if two nemeses record at once.
        let time = events.last().map_or(time, |l| time.max(l.time));
        events.push(FaultEvent {
            fault_id: id,
            at_op,
            time,
            action,
            fault,
        });
    }

    pub(crate) fn snapshot(&self) -> Timeline {
        Timeline {
            events: self
                .events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u64, at: u64, ms: u64, action: FaultAction) -> FaultEvent {
        FaultEvent {
            fault_id: id,
            at_op: at,
            time: Duration::from_millis(ms),
            action,
            fault: Fault::component(format!("n{id}"), "thing"),
        }
    }

    #[test]
    fn windows_pair_injections_with_their_steps_and_heals() {
        let t = Timeline::from_events(vec![
            event(0, 0, 0, FaultAction::Inject),
            event(1, 2, 10, FaultAction::Inject),
            event(1, 3, 20, FaultAction::Step),
            event(1, 4, 30, FaultAction::Step),
            event(0, 5, 40, FaultAction::Heal),
        ]);
        let w = t.windows();
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].start, w[0].end, w[0].healed_at_op),
            (Duration::ZERO, Some(Duration::from_millis(40)), Some(5))
        );
        assert_eq!((w[1].steps, w[1].end), (2, None));
        assert!(w[1].covers(Duration::from_secs(99)), "never healed: stands");
        assert!(!w[0].covers(Duration::from_millis(40)));
        assert_eq!(t.active_at(Duration::from_millis(15)).len(), 2);
        assert_eq!(t.active_at(Duration::from_millis(45)).len(), 1);
        assert!(w[0].overlaps(Duration::from_millis(39), Duration::from_millis(50)));
        assert!(!w[0].overlaps(Duration::from_millis(40), Duration::from_millis(50)));
    }
}
