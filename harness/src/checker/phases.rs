//! Calls grouped by phase: each fault (`<kind> on <target>`) while it was in force, and
//! [`HEALTHY`] while none was. A call belongs to every phase in force when it started.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::fault::Timeline;
use crate::history::{Call, History};

/// The phase of the calls started while no fault was in force.
pub const HEALTHY: &str = "healthy";

/// The calls of one phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase<'a, F, V> {
    /// Every call started in the phase, in the order of [`History::calls`].
    pub calls: Vec<Call<'a, F, V>>,
}

impl<F, V> Phase<'_, F, V> {
    /// Calls that failed, whose outcome is unknown, or that never completed.
    pub fn unserved(&self) -> u64 {
        self.calls.iter().filter(|c| c.is_unserved()).count() as u64
    }

    /// The share of its calls that went unserved (`0.0` for a phase without calls).
    pub fn error_rate(&self) -> f64 {
        if self.calls.is_empty() {
            0.0
        } else {
            self.unserved() as f64 / self.calls.len() as f64
        }
    }

    /// The `q` quantile (`0.0..=1.0`, nearest rank) of its calls' durations; a call that never
    /// completed counts as slower than any that did (`None` then, if it is the one picked, and
    /// for a phase without calls).
    ///
    /// ```
    /// use std::time::Duration;
    /// use shakedown::checker::phases;
    /// use shakedown::fault::Timeline;
    /// use shakedown::history::{build::*, History, OpKind};
    ///
    /// let mut h = History::new();
    /// for p in 0..3 {
    ///     invoke_at(&mut h, Duration::ZERO, p, "read", ());
    /// }
    /// for (p, took) in [(0, 10), (1, 20), (2, 900)] {
    ///     complete_at(&mut h, Duration::from_millis(took), p, OpKind::Ok, ());
    /// }
    /// let by_phase = phases(&h, &Timeline::default(), |_| true);
    /// let healthy = &by_phase["healthy"];
    /// assert_eq!(healthy.latency_quantile(0.5), Some(Duration::from_millis(20)));
    /// assert_eq!(healthy.latency_quantile(0.99), Some(Duration::from_millis(900)));
    /// ```
    pub fn latency_quantile(&self, q: f64) -> Option<Duration> {
        if self.calls.is_empty() {
            return None;
        }
        let mut took: Vec<Option<Duration>> = self.calls.iter().map(|c| c.duration()).collect();
        // `None` (never completed) sorts last: slower than any answer.
        took.sort_by_key(|d| (d.is_none(), *d));
        let n = took.len();
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n);
        took[rank - 1]
    }
}

/// The calls of `history` that `keep` accepts, by phase of `timeline` (see the module doc).
pub fn phases<'a, F, V>(
    history: &'a History<F, V>,
    timeline: &Timeline,
    keep: impl Fn(&Call<'a, F, V>) -> bool,
) -> BTreeMap<String, Phase<'a, F, V>>
where
    F: Clone + PartialEq + std::fmt::Debug,
{
    let windows = timeline.windows();
    let mut out: BTreeMap<String, Phase<'a, F, V>> = BTreeMap::new();
    for call in history.calls() {
        if !keep(&call) {
            continue;
        }
        let mut names: Vec<String> = windows
            .iter()
            .filter(|w| w.covers(call.start()))
            .map(|w| format!("{} on {}", w.fault.kind(), w.fault.target()))
            .collect();
        if names.is_empty() {
            names.push(HEALTHY.into());
        }
        names.dedup();
        for name in names {
            out.entry(name)
                .or_insert_with(|| Phase { calls: Vec::new() })
                .calls
                .push(Call {
                    invoke: call.invoke,
                    completion: call.completion,
                });
        }
    }
    out
}
