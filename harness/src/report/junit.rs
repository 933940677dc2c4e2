//! The JUnit file: one test case per suite and variant, with its time. A verdict that is not the
//! expected one is a `failure` naming the anomalies; a run that could not finish is an `error`.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::error::{Error, Result};
use crate::report::{Outcome, RunArtifacts};

/// The runs as JUnit XML (quick-junit escapes text and strips control characters).
pub fn junit(runs: &[RunArtifacts]) -> Result<String> {
    let mut suite = TestSuite::new("shakedown");
    let mut total = std::time::Duration::ZERO;
    for run in runs {
        let outcome = run.outcome();
        let status = match outcome {
            o if o.is_expected() => TestCaseStatus::success(),
            Outcome::Error => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                let why = run.error.as_deref().unwrap_or("the run wrote no report");
                s.set_message(format!("the run could not finish: {why}"))
                    .set_type("run error");
                s
            }
            o => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let report = run.report.as_ref().expect("a judged run has a report");
                let expected = run.expected.map_or("-", |v| v.as_str());
                s.set_message(format!(
                    "{o}: verdict {} (expected {expected}); {}",
                    report.verdict,
                    run.findings().unwrap_or_default()
                ))
                .set_type("unexpected verdict");
                s
            }
        };
        let mut case = TestCase::new(run.variant.as_str(), status);
        case.set_classname(format!("shakedown.{}", run.suite));
        if let Some(d) = run.duration {
            case.set_time(d);
            total += d;
        }
        suite.add_test_case(case);
    }
    suite.set_time(total);
    let mut report = Report::new("shakedown");
    report.set_time(total).add_test_suite(suite);
    report.to_string().map_err(|e| Error::Artifact {
        path: "junit.xml".into(),
        detail: format!("could not be written: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::checker::{CheckResult, Validity};
    use crate::report::{Report as RunReport, WorkloadSummary};
    use crate::Variant;

    fn run(variant: Variant, found: u64, error: Option<&str>) -> RunArtifacts {
        let check = CheckResult::builder("read_your_writes")
            .anomaly("stale_read_after_own_write", found)
            .build();
        RunArtifacts {
            suite: "replica_lag".into(),
            variant: variant.to_string(),
            report: error.is_none().then(|| {
                RunReport::new(
                    "replica_lag",
                    variant,
                    1,
                    vec![],
                    WorkloadSummary::default(),
                    vec![check],
                )
            }),
            history: None,
            expected: variant.expected(),
            error: error.map(str::to_string),
            duration: Some(Duration::from_millis(1500)),
        }
    }

    #[test]
    fn one_unexpected_verdict_and_one_error_parse_back_as_one_failure_and_one_error() {
        let runs = [
            run(Variant::Naive, 3, None),
            run(Variant::Hardened, 2, None),
            run(
                Variant::Naive,
                0,
                Some("could not <start> the cluster: \u{1b}[31mboom\u{7}"),
            ),
        ];
        let xml = junit(&runs).unwrap();
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let cases: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 3);
        assert!(cases.iter().all(|c| c.attribute("time") == Some("1.500")));
        assert_eq!(
            cases[0].attribute("classname"),
            Some("shakedown.replica_lag")
        );
        assert_eq!(cases[0].first_element_child(), None, "caught: a pass");
        let failure = cases[1].first_element_child().unwrap();
        assert_eq!(failure.tag_name().name(), "failure");
        let message = failure.attribute("message").unwrap();
        assert!(
            message.starts_with("NOT handled: verdict invalid (expected valid)")
                && message.contains("2 × stale read after own write"),
            "{message}"
        );
        let error = cases[2].first_element_child().unwrap();
        assert_eq!(error.tag_name().name(), "error");
        let message = error.attribute("message").unwrap();
        assert!(
            message.contains("could not <start> the cluster"),
            "{message}"
        );
        assert!(!message.chars().any(|c| c.is_control()), "{message:?}");
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("failures"), Some("1"));
        assert_eq!(suite.attribute("errors"), Some("1"));
        assert_eq!(suite.attribute("tests"), Some("3"));
        let _ = Validity::Valid;
    }
}
