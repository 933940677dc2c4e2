use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checker::{compose, CheckResult, Validity};
use crate::fault::FaultEvent;
use crate::history::{History, OpKind};
use crate::suite::Variant;

/// What a suite run did and found, holding only facts that are the same on every run with the
/// same seed: no ports, ids, wall times or timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The suite's name.
    pub suite: String,
    /// Which reference variant (or `Custom` for a team's own system).
    pub variant: Variant,
    /// The seed that drove the workload.
    pub seed: u64,
    /// Faults injected and healed, placed in the history.
    pub faults: Vec<FaultEvent>,
    /// What the clients did.
    pub workload: WorkloadSummary,
    /// What each checker found.
    pub checks: Vec<CheckResult>,
    /// The overall verdict: the worst of the checks.
    pub verdict: Validity,
}

impl Report {
    /// Builds a report; the verdict is composed from the checks.
    pub fn new(
        suite: impl Into<String>,
        variant: Variant,
        seed: u64,
        faults: Vec<FaultEvent>,
        workload: WorkloadSummary,
        checks: Vec<CheckResult>,
    ) -> Self {
        let verdict = compose(&checks);
        Report {
            suite: suite.into(),
            variant,
            seed,
            faults,
            workload,
            checks,
            verdict,
        }
    }

    /// The count of an anomaly class over all checks.
    pub fn anomaly(&self, class: &str) -> u64 {
        self.checks.iter().map(|c| c.anomaly(class)).sum()
    }
}

/// Operations by kind (`write`, `read` …) and outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadSummary {
    /// Client sessions.
    pub sessions: u64,
    /// operation → outcome (`ok`, `fail`, `info`) → count.
    pub ops: BTreeMap<String, BTreeMap<OpKind, u64>>,
}

impl WorkloadSummary {
    /// Counts the completions of a history. `f` must serialise to a string.
    pub fn of<F, V>(history: &History<F, V>, sessions: u64) -> Self
    where
        F: Serialize + Clone + PartialEq + std::fmt::Debug,
    {
        let mut ops: BTreeMap<String, BTreeMap<OpKind, u64>> = BTreeMap::new();
        for op in history.ops().iter().filter(|o| o.kind != OpKind::Invoke) {
            let name = serde_json::to_value(&op.f)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{:?}", op.f));
            *ops.entry(name).or_default().entry(op.kind).or_default() += 1;
        }
        WorkloadSummary { sessions, ops }
    }
}
