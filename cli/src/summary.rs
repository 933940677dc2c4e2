//! How the command reports outcomes: a line per suite and variant as it finishes, a summary table
//! in words at the end, and the exit code that follows from them.

use std::process::ExitCode;

use shakedown::report::words::human;
use shakedown::report::{Outcome, RunArtifacts};

/// Exit code when a verdict was not the expected one.
pub(crate) const UNEXPECTED: u8 = 1;
/// Exit code for bad input or an environment problem (also when a run could not finish).
pub(crate) const ENVIRONMENT: u8 = 2;
/// Exit code after Ctrl-C, once the run's containers are removed.
pub(crate) const INTERRUPTED: u8 = 130;

/// One line for a finished run: `replica_lag  naive     caught  (12.3 s)  read_your_writes found …`.
pub(crate) fn run_line(run: &RunArtifacts) -> String {
    let outcome = run.outcome();
    let mark = if outcome.is_expected() {
        "ok  "
    } else {
        "FAIL"
    };
    let what = match (&run.report, &run.error) {
        (_, Some(e)) => format!("could not finish: {e}"),
        (Some(_), None) => run.findings().unwrap_or_default(),
        (None, None) => "no report".into(),
    };
    let time = run.duration.map(human).unwrap_or_default();
    format!(
        "{mark} {:<16} {:<9} {:<11} {:>9}  {what}",
        run.suite, run.variant, outcome, time
    )
}

/// The summary table and the closing sentence.
pub(crate) fn summary(runs: &[RunArtifacts], seed: Option<u64>) -> String {
    let mut out = format!(
        "\n{:<16} {:<9} {:<11} {:>9}\n",
        "suite", "variant", "outcome", "time"
    );
    for r in runs {
        out.push_str(&format!(
            "{:<16} {:<9} {:<11} {:>9}\n",
            r.suite,
            r.variant,
            r.outcome(),
            r.duration.map(human).unwrap_or_default()
        ));
    }
    let errors = runs
        .iter()
        .filter(|r| r.outcome() == Outcome::Error)
        .count();
    let unexpected = runs.iter().filter(|r| !r.as_expected()).count() - errors;
    let rerun = seed.map_or(String::new(), |s| format!("; rerun with --seed {s}"));
    out.push_str(&if errors + unexpected == 0 {
        format!("\n{} run(s), every verdict as expected", runs.len())
    } else if errors > 0 {
        format!(
            "\n{errors} of {} run(s) could not finish, {unexpected} did not get the expected verdict{rerun}",
            runs.len()
        )
    } else {
        format!(
            "\n{unexpected} of {} run(s) did not get the expected verdict{rerun}",
            runs.len()
        )
    });
    out
}

/// 0: every verdict as expected; 1: one was not; 2: a run could not finish.
pub(crate) fn exit_code(runs: &[RunArtifacts]) -> ExitCode {
    if runs.iter().any(|r| r.outcome() == Outcome::Error) {
        ExitCode::from(ENVIRONMENT)
    } else if runs.iter().any(|r| !r.as_expected()) {
        ExitCode::from(UNEXPECTED)
    } else {
        ExitCode::SUCCESS
    }
}
