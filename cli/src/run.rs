//! `shakedown run`: the selected suites against their reference systems, with progress, a line
//! per run as it finishes, the report, a summary, and the exit code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use shakedown::docker::{self, SweepScope};
use shakedown::image::{self, BuildPolicy};
use shakedown::report::{write_run, RunArtifacts};
use shakedown::{RunOptions, Variant};
use shakedown_suites::reference::Launcher;
use shakedown_suites::{Suite, SUITES};

use super::app::VariantArg;
use super::commands::{fail, images_of};
use super::progress::Progress;
use super::summary::{exit_code, run_line, summary, INTERRUPTED};

/// Runs `names` (all when empty) in `variant`, writing the report to `out`.
pub(crate) async fn run(
    progress: &Progress,
    names: Vec<String>,
    variant: VariantArg,
    seed: u64,
    out: PathBuf,
) -> ExitCode {
    let known: Vec<&str> = SUITES.iter().map(|s| s.name).collect();
    for n in &names {
        if !known.contains(&n.as_str()) {
            return fail(format!(
                "unknown suite `{n}` (known suites: {}; see `shakedown list`)",
                known.join(", ")
            ));
        }
    }
    let selected: Vec<&Suite> = SUITES
        .iter()
        .copied()
        .filter(|s| names.is_empty() || names.iter().any(|n| n == s.name))
        .collect();
    let variants: &[Variant] = match variant {
        VariantArg::Naive => &[Variant::Naive],
        VariantArg::Hardened => &[Variant::Hardened],
        VariantArg::All => &[Variant::Naive, Variant::Hardened],
    };
    let log = out.join("image-build.log");
    let step = progress.step("checking images");
    let checked = image::ensure_logged(
        &images_of(selected.iter().copied()),
        BuildPolicy::from_env(),
        &log,
    )
    .await;
    if let Err(e) = checked {
        step.clear();
        return fail(e);
    }
    step.done("images are current");
    let mut runs = Vec::new();
    for s in &selected {
        for &v in variants {
            let step = progress.step(format!("{} ({v}, seed {seed})", s.name));
            let options = RunOptions {
                progress: true,
                ..RunOptions::seeded(seed).variant(v)
            };
            let started = Instant::now();
            let result = tokio::select! {
                r = s.run(options, Launcher::default()) => r,
                _ = tokio::signal::ctrl_c() => {
                    step.clear();
                    return interrupted(progress).await;
                }
            };
            step.clear();
            let (report, history, error) = match result {
                Ok(run) => (Some(run.report), Some(run.history), None),
                Err(e) => (None, None, Some(e.to_string())),
            };
            let art = RunArtifacts {
                suite: s.name.into(),
                variant: v.to_string(),
                report,
                history,
                expected: v.expected(),
                error,
                duration: Some(started.elapsed()),
            };
            progress.out_line(&run_line(&art));
            runs.push(art);
        }
    }
    let step = progress.step("writing the report");
    match write_run(&out, &runs) {
        Ok(html) => {
            step.clear();
            progress.out_line(&format!("report: {}", html.display()));
        }
        Err(e) => {
            step.clear();
            return fail(e);
        }
    }
    progress.out_line(&summary(&runs, Some(seed)));
    exit_code(&runs)
}

/// After Ctrl-C: the run's future was dropped, which dropped its topology and removed its
/// containers. A creation in flight at that moment completes in the engine regardless, so this
/// sweeps what this process owns once more, after it has had time to land.
async fn interrupted(progress: &Progress) -> ExitCode {
    let step = progress.step("interrupted; removing the run's containers");
    if let Ok(docker) = docker::client().await {
        for _ in 0..3 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let _ = docker::sweep(&docker, SweepScope::Mine).await;
        }
    }
    step.clear();
    progress.err_line("shakedown: interrupted; containers of the run were removed");
    ExitCode::from(INTERRUPTED)
}
