//! `shakedown report DIR`: re-renders the pages, the JUnit file and the Elle exports of a run's
//! output folder from its JSON files, and exits as that run did.

use std::path::Path;
use std::process::ExitCode;

use shakedown::report::{read_run, render};

use super::commands::fail;
use super::progress::Progress;
use super::summary::{exit_code, summary};

/// Re-renders `dir`.
pub(crate) fn report(progress: &Progress, dir: &Path) -> ExitCode {
    if !dir.is_dir() {
        return fail(format!(
            "`{}` is not a folder; give the folder `shakedown run --out DIR` wrote (default: shakedown-report)",
            dir.display()
        ));
    }
    let runs = match read_run(dir) {
        Ok(runs) => runs,
        Err(e) => return fail(e),
    };
    match render(dir, &runs) {
        Ok(index) => progress.out_line(&format!("report: {}", index.display())),
        Err(e) => return fail(e),
    }
    progress.out_line(&summary(&runs, None));
    exit_code(&runs)
}
