//! `shakedown run`: the selected suites against their reference systems, with progress, a line
//! per run as it finishes, the report, a summary, and the exit code.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use shakedown::docker::{self, SweepScope};
use shakedown::image::{self, BuildPolicy};
use shakedown::report::{write_run, RunArtifacts};
use shakedown::{RunOptions, Variant};
use shakedown_suites::reference::Launcher;
use shakedown_suites::{Suite, SUITES};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::app::VariantArg;
use super::commands::{fail, images_of};
use super::progress::Progress;
use super::summary::{exit_code, run_line, summary, times, INTERRUPTED};

/// Runs `names` (all when empty) in `variant`, `jobs` runs at a time, writing the report to
/// `out`.
pub(crate) async fn run(
    progress: &Progress,
    names: Vec<String>,
    variant: VariantArg,
    seed: u64,
    out: PathBuf,
    jobs: NonZeroUsize,
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
    let started = Instant::now();
    let selected: Vec<&'static Suite> = SUITES
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
    let plan: Vec<(&'static Suite, Variant)> = selected
        .iter()
        .flat_map(|s| variants.iter().map(move |&v| (*s, v)))
        .collect();
    let jobs = jobs.get().min(plan.len().max(1));
    let Some(runs) = run_all(progress, &plan, seed, jobs).await else {
        return interrupted(progress).await;
    };
    let elapsed = started.elapsed();
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
    progress.out_line(&times(&runs, elapsed, jobs));
    exit_code(&runs)
}

/// Runs every (suite, variant) of `plan`, `jobs` at a time, started in the plan's order; prints
/// each run's line in that order as soon as it and every run before it are done; gives the
/// runs in that order, or `None` after Ctrl-C, once every run in progress has been dropped
/// (which removes its containers).
async fn run_all(
    progress: &Progress,
    plan: &[(&'static Suite, Variant)],
    seed: u64,
    jobs: usize,
) -> Option<Vec<RunArtifacts>> {
    let mut set = JoinSet::new();
    let mut index_of = HashMap::new();
    let mut done: Vec<Option<RunArtifacts>> = plan.iter().map(|_| None).collect();
    let (mut next, mut printed) = (0, 0);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while printed < plan.len() {
        while next < plan.len() && set.len() < jobs {
            let (suite, variant) = plan[next];
            let task = set.spawn(one_run(progress.clone(), suite, variant, seed));
            index_of.insert(task.id(), next);
            next += 1;
        }
        let joined = tokio::select! {
            joined = set.join_next_with_id() => joined,
            _ = &mut ctrl_c => {
                // Aborting drops each run's future, whose topology removes its containers.
                set.shutdown().await;
                return None;
            }
        };
        let (i, art) = match joined {
            Some(Ok((id, art))) => (index_of[&id], art),
            Some(Err(e)) => {
                let i = index_of[&e.id()];
                let (suite, variant) = plan[i];
                (i, panicked(suite, variant, &e))
            }
            None => break,
        };
        done[i] = Some(art);
        while let Some(Some(art)) = done.get(printed) {
            progress.out_line(&run_line(art));
            printed += 1;
        }
    }
    Some(done.into_iter().flatten().collect())
}

/// One suite run against its reference system, with its own spinner; its sub-steps go there.
async fn one_run(
    progress: Progress,
    suite: &'static Suite,
    variant: Variant,
    seed: u64,
) -> RunArtifacts {
    let step = progress.step(format!("{} ({variant}, seed {seed})", suite.name));
    let options = RunOptions {
        progress: true,
        ..RunOptions::seeded(seed).variant(variant)
    };
    let started = Instant::now();
    let result = suite
        .run(options, Launcher::default())
        .instrument(step.span())
        .await;
    step.clear();
    let (report, history, error) = match result {
        Ok(run) => (Some(run.report), Some(run.history), None),
        Err(e) => (None, None, Some(e.to_string())),
    };
    RunArtifacts {
        suite: suite.name.into(),
        variant: variant.to_string(),
        report,
        history,
        expected: variant.expected(),
        error,
        duration: Some(started.elapsed()),
    }
}

/// A run whose task panicked: a run that could not finish (the others go on).
fn panicked(suite: &Suite, variant: Variant, e: &tokio::task::JoinError) -> RunArtifacts {
    RunArtifacts {
        suite: suite.name.into(),
        variant: variant.to_string(),
        report: None,
        history: None,
        expected: variant.expected(),
        error: Some(format!(
            "the run panicked ({e}); rerun it alone with RUST_BACKTRACE=1"
        )),
        duration: None,
    }
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
