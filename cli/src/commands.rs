use std::process::ExitCode;

use super::app::{Command, ImagesAction, VariantArg};
use shakedown::docker::{self, SweepScope};
use shakedown::image::{self, BuildPolicy, ImageRecipe};
use shakedown::report::{write_run, RunArtifacts};
use shakedown::{RunOptions, Variant};
use shakedown_suites::reference::Launcher;
use shakedown_suites::{Suite, SUITES};

/// Every image any suite needs (the runtime image always: the proxy node uses it).
fn all_images() -> Vec<ImageRecipe> {
    images_of(SUITES.iter().copied())
}

fn images_of<'a>(suites: impl IntoIterator<Item = &'a Suite>) -> Vec<ImageRecipe> {
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

pub(crate) async fn dispatch(command: Command) -> ExitCode {
    match command {
        Command::List => {
            for s in SUITES {
                println!("{:<16} {}", s.name, s.about);
            }
            ExitCode::SUCCESS
        }
        Command::Images { action } => images(action).await,
        Command::Clean { all, images } => clean(all, images).await,
        Command::Run {
            suites,
            variant,
            seed,
            out,
        } => run(suites, variant, seed, out).await,
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
                return ExitCode::from(2);
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

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

async fn images(action: ImagesAction) -> ExitCode {
    let wanted = all_images();
    match action {
        ImagesAction::Build { force } => {
            let policy = if force {
                BuildPolicy::Always
            } else {
                BuildPolicy::IfNeeded
            };
            match image::ensure(&wanted, policy).await {
                Ok(()) => {
                    println!("all {} image(s) are current", wanted.len());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
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

async fn clean(all: bool, images: bool) -> ExitCode {
    let docker = match docker::client().await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let scope = if all {
        SweepScope::All
    } else {
        SweepScope::Orphaned
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

async fn run(
    names: Vec<String>,
    variant: VariantArg,
    seed: u64,
    out: std::path::PathBuf,
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
    eprintln!("shakedown: checking images …");
    if let Err(e) = image::ensure(
        &images_of(selected.iter().copied()),
        BuildPolicy::from_env(),
    )
    .await
    {
        return fail(e);
    }
    let mut runs = Vec::new();
    for s in &selected {
        for &v in variants {
            eprintln!("shakedown: running {} ({v}, seed {seed}) …", s.name);
            let options = RunOptions {
                progress: true,
                ..RunOptions::seeded(seed).variant(v)
            };
            let result = tokio::select! {
                r = s.run(options, Launcher::default()) => r,
                _ = tokio::signal::ctrl_c() => {
                    // Dropping the run's future dropped its topology, which removed its containers.
                    // A creation in flight at that moment completes in the engine regardless:
                    // sweep what this process owns once more, after it has had time to land.
                    if let Ok(docker) = docker::client().await {
                        for _ in 0..3 {
                            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                            let _ = docker::sweep(&docker, SweepScope::Mine).await;
                        }
                    }
                    eprintln!("shakedown: interrupted; containers of the run were removed");
                    return ExitCode::from(130);
                }
            };
            let art = match result {
                Ok(run) => RunArtifacts {
                    suite: s.name.into(),
                    variant: v.to_string(),
                    report: Some(run.report),
                    history: Some(run.history),
                    expected: v.expected(),
                    error: None,
                },
                Err(e) => RunArtifacts {
                    suite: s.name.into(),
                    variant: v.to_string(),
                    report: None,
                    history: None,
                    expected: v.expected(),
                    error: Some(e.to_string()),
                },
            };
            print_line(&art);
            runs.push(art);
        }
    }
    match write_run(&out, &runs) {
        Ok(html) => println!("report written to {} ({})", out.display(), html.display()),
        Err(e) => return fail(e),
    }
    let bad = runs.iter().filter(|r| !r.as_expected()).count();
    if bad == 0 {
        println!("{} run(s), every verdict as expected", runs.len());
        ExitCode::SUCCESS
    } else {
        println!("{bad} of {} run(s) did not get the expected verdict (seed {seed}; rerun with --seed {seed})", runs.len());
        ExitCode::from(1)
    }
}

fn print_line(a: &RunArtifacts) {
    let mark = if a.as_expected() { "ok  " } else { "FAIL" };
    match (&a.report, &a.error) {
        (Some(r), _) => {
            let anomalies: Vec<String> = r
                .checks
                .iter()
                .flat_map(|c| {
                    c.anomalies
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.floor()))
                })
                .collect();
            let expected = a.expected.map_or("-", |v| v.as_str());
            println!(
                "{mark} {:<16} {:<9} verdict {} (expected {expected}) {}",
                a.suite,
                a.variant,
                r.verdict,
                anomalies.join(" ")
            );
        }
        (None, Some(e)) => println!("{mark} {:<16} {:<9} error: {e}", a.suite, a.variant),
        (None, None) => println!("{mark} {:<16} {:<9} no report", a.suite, a.variant),
    }
}
