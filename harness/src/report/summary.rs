use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checker::{compose, CheckResult, Validity};
use crate::error::{Error, Result};
use crate::fault::{Fault, Timeline};
use crate::history::{History, OpKind};
use crate::suite::Variant;

/// What a suite run did and found, holding only facts that are the same on every run with the
/// same seed: no ports, ids, wall times or timestamps (those are in the run's history and
/// timeline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The suite's name.
    pub suite: String,
    /// Which reference variant (or `Custom` for a team's own system).
    pub variant: Variant,
    /// The seed that drove the workload.
    pub seed: u64,
    /// The faults, in injection order, placed in the history.
    pub faults: Vec<ReportedFault>,
    /// What the clients did.
    pub workload: WorkloadSummary,
    /// What each checker found.
    pub checks: Vec<CheckResult>,
    /// The overall verdict: the worst of the checks.
    pub verdict: Validity,
}

/// One fault as the report shows it: what, and where in the history it started and ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportedFault {
    /// The fault, as injected.
    pub fault: Fault,
    /// History entries recorded before its injection.
    pub injected_at_op: u64,
    /// History entries recorded before its heal (`None`: it stood until the end).
    pub healed_at_op: Option<u64>,
    /// Steps it took in between (a clock walk's jumps).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub steps: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ReportedFault {
    /// The faults of a timeline, one per injection.
    pub fn of(timeline: &Timeline) -> Vec<ReportedFault> {
        timeline
            .windows()
            .into_iter()
            .map(|w| ReportedFault {
                fault: w.fault.clone(),
                injected_at_op: w.injected_at_op,
                healed_at_op: w.healed_at_op,
                steps: w.steps,
            })
            .collect()
    }
}

impl Report {
    /// Builds a report; the verdict is composed from the checks.
    pub fn new(
        suite: impl Into<String>,
        variant: Variant,
        seed: u64,
        faults: Vec<ReportedFault>,
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

    /// The count of an anomaly class over all checks (a bound counts as its floor). A class that
    /// no checker of the run declares is an error naming the ones that exist, so a typo cannot
    /// pass as "zero anomalies".
    ///
    /// ```
    /// use shakedown::checker::CheckResult;
    /// use shakedown::report::{Report, WorkloadSummary};
    /// use shakedown::Variant;
    ///
    /// let check = CheckResult::builder("read_your_writes").anomaly("stale_read_after_own_write", 0).build();
    /// let report = Report::new("replica_lag", Variant::Custom, 1, vec![], WorkloadSummary::default(), vec![check]);
    /// assert_eq!(report.anomaly("stale_read_after_own_write").unwrap(), 0);
    /// let typo = report.anomaly("stale_raed").unwrap_err().to_string();
    /// assert!(typo.contains("stale_read_after_own_write"), "{typo}");
    /// ```
    pub fn anomaly(&self, class: &str) -> Result<u64> {
        let found: Vec<u64> = self
            .checks
            .iter()
            .filter_map(|c| c.anomaly(class))
            .collect();
        if found.is_empty() {
            return Err(Error::UnknownAnomaly {
                suite: self.suite.clone(),
                class: class.to_string(),
                known: self.anomaly_classes().join(", "),
            });
        }
        Ok(found.into_iter().sum())
    }

    /// Every anomaly class the run's checkers declare, sorted.
    pub fn anomaly_classes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .checks
            .iter()
            .flat_map(|c| c.anomalies.keys().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Anomaly classes with a count above zero, with their counts (floors of bounds).
    pub fn anomalies_found(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for c in &self.checks {
            for (k, v) in &c.anomalies {
                if v.floor() > 0 {
                    *out.entry(k.clone()).or_default() += v.floor();
                }
            }
        }
        out
    }
}

/// Operations by kind (`write`, `read` …) and outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadSummary {
    /// Client processes (sessions) that recorded operations.
    pub sessions: u64,
    /// operation → outcome (`ok`, `fail`, `info`) → count.
    pub ops: BTreeMap<String, BTreeMap<OpKind, u64>>,
}

impl WorkloadSummary {
    /// Counts the processes and the completions of a history. `f` should serialise to a string
    /// (a unit enum variant); anything else is named by its Debug form.
    pub fn of<F, V>(history: &History<F, V>) -> Self
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
        WorkloadSummary {
            sessions: history.processes().len() as u64,
            ops,
        }
    }
}
