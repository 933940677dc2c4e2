//! A run's `history.json` read back without its types: what the pages, the JUnit file and the
//! Elle export are made from, so `shakedown report DIR` can re-render any run.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fault::{FaultEvent, Timeline};
use crate::history::OpKind;

/// One history entry in the generic shape every suite's history serialises to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonOp {
    /// Position in the history, from 0.
    pub index: u64,
    /// Since the run started.
    #[serde(rename = "time_ns", with = "crate::serde_time::nanos")]
    pub time: Duration,
    /// The client session.
    pub process: u64,
    /// Invocation or completion.
    pub kind: OpKind,
    /// The operation, as the suite serialised it (usually a string).
    pub f: serde_json::Value,
    /// Its value, as the suite serialised it.
    pub value: serde_json::Value,
    /// The node that served it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why it failed or is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl JsonOp {
    /// `f` as text: the string itself, or compact JSON.
    pub fn f_name(&self) -> String {
        match &self.f {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// `value` as compact JSON.
    pub fn value_text(&self) -> String {
        self.value.to_string()
    }
}

/// One example of an anomaly: the history indices of the operations that show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The checker that found it.
    pub checker: String,
    /// The anomaly class.
    pub class: String,
    /// History indices, in the order the checker gave them (the write, then the read …).
    pub ops: Vec<u64>,
}

/// How one checker says one anomaly class (a [`Phrase`](crate::checker::Phrase) with its
/// place), as `history.json` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassPhrase {
    /// The checker.
    pub checker: String,
    /// The anomaly class.
    pub class: String,
    /// The words.
    #[serde(flatten)]
    pub phrase: crate::checker::Phrase,
}

/// A run's history document: `{"ops": [...], "timeline": [...], "examples": [...], "phrases":
/// [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunDoc {
    /// Every entry, in order.
    pub ops: Vec<JsonOp>,
    /// Every fault event.
    #[serde(default)]
    pub timeline: Timeline,
    /// Examples of anomalies, as the checkers kept them.
    #[serde(default)]
    pub examples: Vec<Example>,
    /// How the checkers say their anomaly classes (the verdict sentence).
    #[serde(default)]
    pub phrases: Vec<ClassPhrase>,
}

/// An invocation with its completion, in the generic shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsonCall<'a> {
    /// The invocation.
    pub invoke: &'a JsonOp,
    /// Its completion (`None`: the run ended first).
    pub completion: Option<&'a JsonOp>,
}

impl JsonCall<'_> {
    /// How it ended; `None` if it never did.
    pub fn kind(&self) -> Option<OpKind> {
        self.completion.map(|c| c.kind)
    }

    /// From invocation to completion.
    pub fn duration(&self) -> Option<Duration> {
        self.completion
            .map(|c| c.time.saturating_sub(self.invoke.time))
    }
}

impl RunDoc {
    /// Reads a document from JSON; the error says which field was wrong.
    pub fn from_value(value: &serde_json::Value) -> Result<RunDoc, serde_json::Error> {
        RunDoc::deserialize(value)
    }

    /// The fault events.
    pub fn events(&self) -> &[FaultEvent] {
        self.timeline.events()
    }

    /// Each invocation with its completion, in invocation order.
    pub fn calls(&self) -> Vec<JsonCall<'_>> {
        let mut open: std::collections::HashMap<u64, usize> = Default::default();
        let mut out: Vec<JsonCall<'_>> = Vec::new();
        for op in &self.ops {
            if op.kind == OpKind::Invoke {
                open.insert(op.process, out.len());
                out.push(JsonCall {
                    invoke: op,
                    completion: None,
                });
            } else if let Some(i) = open.remove(&op.process) {
                out[i].completion = Some(op);
            }
        }
        out
    }

    /// The processes, in order.
    pub fn processes(&self) -> Vec<u64> {
        let set: BTreeSet<u64> = self.ops.iter().map(|o| o.process).collect();
        set.into_iter().collect()
    }

    /// The entry at history index `index`.
    pub fn op(&self, index: u64) -> Option<&JsonOp> {
        self.ops
            .get(index as usize)
            .filter(|o| o.index == index)
            .or_else(|| self.ops.iter().find(|o| o.index == index))
    }

    /// Every history index that appears in an example.
    pub fn anomalous(&self) -> BTreeSet<u64> {
        self.examples
            .iter()
            .flat_map(|e| e.ops.iter().copied())
            .collect()
    }

    /// When the last thing happened (an entry or a fault event).
    pub fn end(&self) -> Duration {
        let ops = self.ops.iter().map(|o| o.time);
        let faults = self.events().iter().map(|e| e.time);
        ops.chain(faults).max().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::{Checker, ReadYourWritesChecker, RegisterOp, RegisterValue};
    use crate::history::{build::*, History};
    use crate::report::{Report, WorkloadSummary};
    use crate::{SuiteRun, Variant};

    #[test]
    fn a_suite_runs_json_reads_back_generically_with_its_examples() {
        let mut h = History::new();
        invoke(
            &mut h,
            1,
            RegisterOp::Write,
            RegisterValue::new("k", Some(1)),
        );
        ok(&mut h, 1, RegisterValue::new("k", Some(1)));
        invoke(&mut h, 1, RegisterOp::Read, RegisterValue::new("k", None));
        ok(&mut h, 1, RegisterValue::new("k", None));
        invoke(&mut h, 2, RegisterOp::Read, RegisterValue::new("k", None));
        let check = ReadYourWritesChecker.check(&h, &Timeline::default());
        let run = SuiteRun {
            report: Report::new(
                "t",
                Variant::Naive,
                1,
                vec![],
                WorkloadSummary::of(&h),
                vec![check],
            ),
            history: h,
            timeline: Timeline::default(),
        };
        let doc = RunDoc::from_value(&run.to_json()).unwrap();
        assert_eq!(doc.ops.len(), 5);
        assert_eq!(doc.ops[3].f_name(), "read");
        assert_eq!(doc.ops[3].value_text(), r#"{"key":"k","version":null}"#);
        assert_eq!(
            doc.examples,
            vec![Example {
                checker: "read_your_writes".into(),
                class: "stale_read_after_own_write".into(),
                ops: vec![1, 2, 3],
            }]
        );
        let calls = doc.calls();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[1].kind(), Some(OpKind::Ok));
        assert_eq!(calls[2].completion, None, "the open read stays open");
        assert_eq!(doc.processes(), vec![1, 2]);
        assert_eq!(doc.anomalous().len(), 3);
        // The checker's phrases travel with the history, so a re-rendered page says the same.
        let artifacts = crate::report::RunArtifacts {
            suite: "t".into(),
            variant: "naive".into(),
            report: Some(run.report.clone()),
            history: Some(run.to_json()),
            expected: None,
            error: None,
            duration: None,
        };
        assert_eq!(
            artifacts.findings().as_deref(),
            Some("1 of 1 reads after the user's own write returned an older version.")
        );
        let mut json = serde_json::to_value(&run.report).unwrap();
        let reread: Report = serde_json::from_value(json.take()).unwrap();
        assert!(
            reread.checks[0].phrases.is_empty(),
            "phrases stay out of report.json"
        );
    }
}
