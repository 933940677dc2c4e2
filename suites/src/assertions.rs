//! The two verdicts a team asserts on a suite's [`Report`]: the bug was caught, or the failure
//! was handled. Both panic with the whole report, so a failing test shows what the run saw.

use shakedown::checker::Validity;
use shakedown::report::Report;

/// Asserts that the suite caught the bug: the verdict is invalid and each anomaly class in
/// `classes` was seen at least once.
///
/// ```no_run
/// # async fn demo(my_service: shakedown_suites::replica_lag::HttpProfiles, pg: shakedown_fixtures::PgCluster) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::replica_lag::{run_against, Options};
/// let run = run_against(&my_service, &pg, &Options::default()).await?;
/// shakedown_suites::assert_caught(&run.report, &["stale_read_after_own_write"]);
/// # Ok(()) }
/// ```
#[track_caller]
pub fn assert_caught(report: &Report, classes: &[&str]) {
    for class in classes {
        let n = report
            .anomaly(class)
            .unwrap_or_else(|e| panic!("{e}\n{report:#?}"));
        assert!(n > 0, "`{class}` not caught:\n{report:#?}");
    }
    assert_eq!(report.verdict, Validity::Invalid, "{report:#?}");
}

/// Asserts that the system handled the failure: every anomaly class the suite's checkers
/// declare is zero and the verdict is valid.
///
/// ```no_run
/// # async fn demo(my_service: shakedown_suites::replica_lag::HttpProfiles, pg: shakedown_fixtures::PgCluster) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::replica_lag::{run_against, Options};
/// let run = run_against(&my_service, &pg, &Options::default()).await?;
/// shakedown_suites::assert_handled(&run.report);
/// # Ok(()) }
/// ```
#[track_caller]
pub fn assert_handled(report: &Report) {
    for class in report.anomaly_classes() {
        assert_eq!(
            report.anomaly(&class).expect("declared"),
            0,
            "`{class}` found:\n{report:#?}"
        );
    }
    assert_eq!(report.verdict, Validity::Valid, "{report:#?}");
}
