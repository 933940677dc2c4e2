//! How the command reports outcomes: a line per suite and variant as it finishes, a summary table
//! in words at the end, and the exit code that follows from them.

use std::process::ExitCode;
use std::time::Duration;

use shakedown::report::words::human;
use shakedown::report::{Outcome, RunArtifacts};

/// Exit code when a verdict was not the expected one.
pub(crate) const UNEXPECTED: u8 = 1;
/// Exit code for bad input or an environment problem (also when a run could not finish).
pub(crate) const ENVIRONMENT: u8 = 2;
/// Exit code after Ctrl-C, once the run's containers are removed.
pub(crate) const INTERRUPTED: u8 = 130;

/// The suite column's width: the longest suite name's (`inconsistent_reads`).
const SUITE_WIDTH: usize = 18;

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
        "{mark} {:<SUITE_WIDTH$} {:<9} {:<11} {:>9}  {what}",
        run.suite, run.variant, outcome, time
    )
}

/// The summary table and the closing sentence.
pub(crate) fn summary(runs: &[RunArtifacts], seed: Option<u64>) -> String {
    let mut out = format!(
        "\n{:<SUITE_WIDTH$} {:<9} {:<11} {:>9}\n",
        "suite", "variant", "outcome", "time"
    );
    for r in runs {
        out.push_str(&format!(
            "{:<SUITE_WIDTH$} {:<9} {:<11} {:>9}\n",
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

/// How long it took: the whole command (`elapsed`, with `jobs` runs at a time), and each suite,
/// its variants' times added up:
/// `whole run 1 min 40 s, 2 runs at a time (the runs' times add up to 3 min 2 s)` and
/// `by suite: replica_lag 21.4 s, clock_skew 14.0 s`.
pub(crate) fn times(runs: &[RunArtifacts], elapsed: Duration, jobs: usize) -> String {
    let mut by_suite: Vec<(&str, Duration)> = Vec::new();
    for r in runs {
        let d = r.duration.unwrap_or_default();
        match by_suite.iter_mut().find(|(s, _)| *s == r.suite) {
            Some((_, total)) => *total += d,
            None => by_suite.push((&r.suite, d)),
        }
    }
    let sum: Duration = by_suite.iter().map(|(_, d)| *d).sum();
    let at_a_time = if jobs == 1 {
        "one run at a time".to_string()
    } else {
        format!("{jobs} runs at a time")
    };
    let suites: Vec<String> = by_suite
        .iter()
        .map(|(s, d)| format!("{s} {}", human(*d)))
        .collect();
    format!(
        "whole run {}, {at_a_time} (the runs' times add up to {})\nby suite: {}",
        human(elapsed),
        human(sum),
        suites.join(", ")
    )
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
