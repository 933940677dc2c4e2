//! The [`Suite`] trait: one failure mode, runnable by the `shakedown` command.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::image::ImageRecipe;
use crate::report::Report;

/// Which system a suite ran against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The reference system with the article's bug.
    Naive,
    /// The reference system with the article's fix.
    Hardened,
    /// A team's own system.
    Custom,
}

impl Variant {
    /// `naive`, `hardened` or `custom`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Variant::Naive => "naive",
            Variant::Hardened => "hardened",
            Variant::Custom => "custom",
        }
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Options every suite run takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Drives fake data, workload choices and jitter.
    pub seed: u64,
    /// Print progress of long steps (cluster start, fault phases) to stderr.
    pub progress: bool,
}

impl RunOptions {
    /// Options with `seed` and no progress output.
    pub fn seeded(seed: u64) -> Self {
        RunOptions {
            seed,
            progress: false,
        }
    }

    /// Prints `message` to stderr when progress output is on.
    pub fn progress(&self, message: impl std::fmt::Display) {
        if self.progress {
            eprintln!("  {message}");
        }
    }
}

/// What a suite run produced.
#[derive(Debug, Clone)]
pub struct SuiteRun {
    /// The deterministic summary.
    pub report: Report,
    /// The full history, as JSON.
    pub history: serde_json::Value,
}

impl SuiteRun {
    /// The report of a finished run (verdict composed from `checks`, workload counted from the
    /// history) and the history as JSON.
    pub fn new<F, V>(
        suite: &str,
        variant: Variant,
        seed: u64,
        faults: Vec<crate::fault::FaultEvent>,
        history: &crate::history::History<F, V>,
        sessions: u64,
        checks: Vec<crate::checker::CheckResult>,
    ) -> Result<Self, serde_json::Error>
    where
        F: Serialize + Clone + PartialEq + std::fmt::Debug,
        V: Serialize,
    {
        let workload = crate::report::WorkloadSummary::of(history, sessions);
        Ok(SuiteRun {
            report: Report::new(suite, variant, seed, faults, workload, checks),
            history: serde_json::to_value(history)?,
        })
    }
}

/// Why a suite run could not finish (as opposed to finishing with anomalies).
#[derive(Debug, thiserror::Error)]
#[error("suite `{suite}` could not {step}: {source}")]
pub struct SuiteError {
    /// The suite.
    pub suite: &'static str,
    /// What it was doing (`start the cluster` …).
    pub step: String,
    /// The cause.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl SuiteError {
    /// Wraps a cause with the suite and the step.
    pub fn new(
        suite: &'static str,
        step: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        SuiteError {
            suite,
            step: step.into(),
            source: source.into(),
        }
    }
}

/// A boxed future returned by [`Suite::run`].
pub type SuiteFuture<'a> = Pin<Box<dyn Future<Output = Result<SuiteRun, SuiteError>> + Send + 'a>>;

/// One failure mode: starts its reference system in a variant, injects its faults, runs its
/// workload and checks the history.
pub trait Suite: Send + Sync {
    /// Short name (`replica_lag`), used on the command line.
    fn name(&self) -> &'static str;
    /// One line on what it shows.
    fn about(&self) -> &'static str;
    /// The images its reference systems need.
    fn images(&self) -> Vec<ImageRecipe>;
    /// Runs against the reference system in `variant` (`Naive` or `Hardened`).
    fn run<'a>(&'a self, variant: Variant, options: &'a RunOptions) -> SuiteFuture<'a>;
}
