//! The subcommands: `list`, `images`, `clean`, `proxy`, `reference` here; `run` and `report` in
//! their own files.

use std::process::ExitCode;

use super::app::{Command, ImagesAction};
use super::progress::Progress;
use super::summary::ENVIRONMENT;
use shakedown::docker::{self, SweepScope};
use shakedown::image::{self, BuildPolicy, ImageRecipe};
use shakedown_suites::{Suite, SUITES};

/// Every image any suite needs (the runtime image always: the proxy node uses it), and every
/// PostgreSQL version's (`PgCluster::builder().version(15)` needs its own image).
fn all_images() -> Vec<ImageRecipe> {
    let mut out = images_of(SUITES.iter().copied());
    for r in shakedown_fixtures::POSTGRES_IMAGES {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

pub(crate) fn images_of<'a>(suites: impl IntoIterator<Item = &'a Suite>) -> Vec<ImageRecipe> {
    let mut out = vec![image::RUNTIME];
    for s in suites {
        for img in s.images {
            if !out.contains(img) {
                out.push(*img);
            }
        }
    }
    out
}

/// Runs one subcommand.
pub(crate) async fn dispatch(progress: &Progress, command: Command) -> ExitCode {
    match command {
        Command::List => {
            for s in SUITES {
                println!("{:<16} {}", s.name, s.about);
            }
            ExitCode::SUCCESS
        }
        Command::Images { action } => images(progress, action).await,
        Command::Clean { all, images } => clean(all, images).await,
        Command::Run {
            suites,
            variant,
            seed,
            out,
            jobs,
        } => {
            let jobs = jobs.unwrap_or_else(super::jobs::default_jobs);
            super::run::run(progress, suites, variant, seed, out, jobs).await
        }
        Command::Report { dir } => super::render::report(progress, &dir),
        Command::Proxy(args) => match shakedown_proxy::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Reference { service, args } => {
            let Some(svc) = shakedown_suites::reference_service(&service) else {
                let known: Vec<&str> = SUITES
                    .iter()
                    .flat_map(|s| s.services.iter())
                    .chain(shakedown_suites::PROBES)
                    .map(|r| r.name)
                    .collect();
                eprintln!(
                    "error: unknown reference service `{service}` (known: {})",
                    known.join(", ")
                );
                return ExitCode::from(ENVIRONMENT);
            };
            match (svc.serve)(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: reference service `{service}`: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// Prints `error: …` and gives the exit code for bad input or an environment problem.
pub(crate) fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(ENVIRONMENT)
}

async fn images(progress: &Progress, action: ImagesAction) -> ExitCode {
    let wanted = all_images();
    match action {
        ImagesAction::Build { force } => {
            let policy = if force {
                BuildPolicy::Always
            } else {
                BuildPolicy::IfNeeded
            };
            let started = std::time::Instant::now();
            let before = match not_current(&wanted, force).await {
                Ok(b) => b,
                Err(e) => return fail(e),
            };
            let step = progress.step("building images");
            match image::ensure(&wanted, policy).await {
                Ok(()) => {
                    step.clear();
                    let took = shakedown::report::words::human(started.elapsed());
                    progress.out_line(&if before.is_empty() {
                        format!(
                            "all {} image(s) were current; nothing built ({took})",
                            wanted.len()
                        )
                    } else {
                        format!(
                            "built {} in {took}; all {} image(s) are current",
                            before.join(", "),
                            wanted.len()
                        )
                    });
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    step.clear();
                    fail(e)
                }
            }
        }
        ImagesAction::List => {
            for r in &wanted {
                println!("{}", r.reference());
            }
            ExitCode::SUCCESS
        }
        ImagesAction::Status => {
            let docker = match docker::client().await {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            let mut all_current = true;
            for r in &wanted {
                match image::status(&docker, r).await {
                    Ok(state) => {
                        all_current &= state == image::ImageState::Current;
                        println!("{:<10} {:<32} {state}", r.role, r.reference());
                    }
                    Err(e) => return fail(e),
                }
            }
            if all_current {
                ExitCode::SUCCESS
            } else {
                eprintln!("some images are not current: run `shakedown images build`");
                ExitCode::from(1)
            }
        }
    }
}

/// The roles of the images that a build has to make (every one with `force`).
async fn not_current(wanted: &[ImageRecipe], force: bool) -> shakedown::Result<Vec<&'static str>> {
    let docker = docker::client().await?;
    let mut out = Vec::new();
    for r in wanted {
        if force || image::status(&docker, r).await? != image::ImageState::Current {
            out.push(r.role);
        }
    }
    Ok(out)
}

async fn clean(all: bool, images: bool) -> ExitCode {
    let docker = match docker::client().await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let scope = if all {
        SweepScope::All
    } else {
        SweepScope::OrphanedAndKept
    };
    match docker::sweep(&docker, scope).await {
        Ok(s) => println!(
            "removed {} container(s) and {} network(s)",
            s.containers, s.networks
        ),
        Err(e) => return fail(e),
    }
    if images {
        let keep: Vec<String> = all_images().iter().map(|r| r.reference()).collect();
        match image::remove_other_builds(&docker, &keep).await {
            Ok(n) => println!("removed {n} image(s) built from other recipes"),
            Err(e) => return fail(e),
        }
    }
    ExitCode::SUCCESS
}
