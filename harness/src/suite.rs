//! What a suite run produces ([`SuiteRun`]), which system it ran against ([`Variant`]), and why a
//! run could not finish ([`SuiteError`]). Runs are made with [`Run`](crate::Run).

use serde::{Deserialize, Serialize};

use crate::fault::Timeline;
use crate::history::History;
use crate::report::{ClassPhrase, Example, Report};

/// Which system a suite ran against.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The reference system with the article's bug.
    Naive,
    /// The reference system with the article's fix.
    Hardened,
    /// A team's own system.
    #[default]
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

    /// The verdict a reference variant must get (naive: invalid, hardened: valid); none for a
    /// team's own system.
    pub fn expected(&self) -> Option<crate::checker::Validity> {
        match self {
            Variant::Naive => Some(crate::checker::Validity::Invalid),
            Variant::Hardened => Some(crate::checker::Validity::Valid),
            Variant::Custom => None,
        }
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finished suite run: the deterministic report, and the typed history and fault timeline it
/// was judged on.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteRun<F, V> {
    /// The deterministic summary (what snapshots hold).
    pub report: Report,
    /// Every operation, with its time.
    pub history: History<F, V>,
    /// Every fault event, with its time.
    pub timeline: Timeline,
}

impl<F, V> SuiteRun<F, V>
where
    F: Serialize + Clone + PartialEq + std::fmt::Debug,
    V: Serialize,
{
    /// The history, the timeline and the checkers' examples and phrases as one JSON document:
    /// `{"ops": [...], "timeline": [...], "examples": [{"checker", "class", "ops": [index …]}],
    /// "phrases": [{"checker", "class", "of", "text"}]}`
    /// (what the command writes as `history.json`; [`RunDoc`](crate::report::RunDoc) reads it).
    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = serde_json::to_value(&self.history)
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
        if let Some(map) = doc.as_object_mut() {
            map.insert(
                "timeline".into(),
                serde_json::to_value(&self.timeline).unwrap_or_default(),
            );
            let examples: Vec<Example> = self
                .report
                .checks
                .iter()
                .flat_map(|c| {
                    c.examples.iter().flat_map(move |(class, all)| {
                        all.iter().map(move |ops| Example {
                            checker: c.checker.clone(),
                            class: class.clone(),
                            ops: ops.clone(),
                        })
                    })
                })
                .collect();
            map.insert(
                "examples".into(),
                serde_json::to_value(examples).unwrap_or_default(),
            );
            let phrases: Vec<ClassPhrase> = self
                .report
                .checks
                .iter()
                .flat_map(|c| {
                    c.phrases.iter().map(move |(class, phrase)| ClassPhrase {
                        checker: c.checker.clone(),
                        class: class.clone(),
                        phrase: phrase.clone(),
                    })
                })
                .collect();
            map.insert(
                "phrases".into(),
                serde_json::to_value(phrases).unwrap_or_default(),
            );
        }
        doc
    }

    /// The report and the JSON history, without the types (for the command).
    pub fn record(&self) -> RunRecord {
        RunRecord {
            report: self.report.clone(),
            history: self.to_json(),
        }
    }
}

/// A finished run with its history as JSON: what the command collects from every suite.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The deterministic summary.
    pub report: Report,
    /// [`SuiteRun::to_json`].
    pub history: serde_json::Value,
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
