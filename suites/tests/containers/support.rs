//! What every suite test shares: the reference launcher, and the two verdict assertions.

use shakedown::checker::Validity;
use shakedown::report::Report;
use shakedown::{RunOptions, Variant};
use shakedown_suites::reference::{shakedown_binary, Launcher};

/// Launches reference services from the `shakedown` binary cargo built next to this test.
pub fn launcher() -> Launcher {
    Launcher::with_binary(shakedown_binary().expect("build shakedown-cli first"))
}

/// Run options for a reference run of `variant` with `seed`.
pub fn options(seed: u64, variant: Variant) -> RunOptions {
    RunOptions::seeded(seed).variant(variant)
}

/// The suite caught the bug: the verdict is invalid and each of `classes` was seen.
pub fn assert_caught(report: &Report, classes: &[&str]) {
    for class in classes {
        let n = report
            .anomaly(class)
            .unwrap_or_else(|e| panic!("{e}\n{report:#?}"));
        assert!(n > 0, "`{class}` not caught:\n{report:#?}");
    }
    assert_eq!(report.verdict, Validity::Invalid, "{report:#?}");
}

/// The system handled the failure: every anomaly class the checkers declare is zero and the
/// verdict is valid.
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
