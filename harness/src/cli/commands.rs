use std::process::ExitCode;

use super::app::{App, Command, ImagesAction, VariantArg};
use crate::checker::Validity;
use crate::docker::{self, SweepScope};
use crate::image::{self, BuildPolicy};
use crate::report::{write_run, RunArtifacts};
use crate::suite::{RunOptions, Variant};

pub(crate) async fn dispatch(app: &App, command: Command) -> ExitCode {
    match command {
        Command::List => {
            for s in &app.suites {
                println!("{:<16} {}", s.name(), s.about());
            }
            ExitCode::SUCCESS
        }
        Command::Images { action } => images(app, action).await,
        Command::Clean { all, images } => clean(app, all, images).await,
        Command::Run {
            suites,
            variant,
            seed,
            out,
        } => run(app, suites, variant, seed, out).await,
        Command::Proxy(args) => match crate::proxy::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Reference { service, args } => {
            let Some(fut) = app.reference.and_then(|f| f(&service, args)) else {
                eprintln!("error: unknown reference service `{service}`");
                return ExitCode::from(2);
            };
            match fut.await {
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

async fn images(app: &App, action: ImagesAction) -> ExitCode {
    match action {
        ImagesAction::Build { force } => {
            let policy = if force {
                BuildPolicy::Always
            } else {
                BuildPolicy::IfNeeded
            };
            match image::ensure(&app.images, policy).await {
                Ok(()) => {
                    println!("all {} image(s) are current", app.images.len());
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
            for r in &app.images {
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

async fn clean(app: &App, all: bool, images: bool) -> ExitCode {
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
        let keep: Vec<String> = app.images.iter().map(|r| r.reference()).collect();
        match image::remove_other_builds(&docker, &keep).await {
            Ok(n) => println!("removed {n} image(s) built from other recipes"),
            Err(e) => return fail(e),
        }
    }
    ExitCode::SUCCESS
}

async fn run(
    app: &App,
    names: Vec<String>,
    variant: VariantArg,
    seed: u64,
    out: std::path::PathBuf,
) -> ExitCode {
    let known: Vec<&str> = app.suites.iter().map(|s| s.name()).collect();
    for n in &names {
        if !known.contains(&n.as_str()) {
            return fail(format!(
                "unknown suite `{n}` (known suites: {}; see `shakedown list`)",
                known.join(", ")
            ));
        }
    }
    let selected: Vec<_> = app
        .suites
        .iter()
        .filter(|s| names.is_empty() || names.iter().any(|n| n == s.name()))
        .collect();
    let variants: &[Variant] = match variant {
        VariantArg::Naive => &[Variant::Naive],
        VariantArg::Hardened => &[Variant::Hardened],
        VariantArg::All => &[Variant::Naive, Variant::Hardened],
    };
    let mut needed = Vec::new();
    for s in &selected {
        for img in s.images() {
            if !needed.contains(&img) {
                needed.push(img);
            }
        }
    }
    eprintln!("shakedown: checking images …");
    if let Err(e) = image::ensure(&needed, BuildPolicy::from_env()).await {
        return fail(e);
    }
    let options = RunOptions {
        seed,
        progress: true,
    };
    let mut runs = Vec::new();
    for s in &selected {
        for &v in variants {
            eprintln!("shakedown: running {} ({v}, seed {seed}) …", s.name());
            let expected = match v {
                Variant::Naive => Some(Validity::Invalid),
                Variant::Hardened => Some(Validity::Valid),
                Variant::Custom => None,
            };
            let result = tokio::select! {
                r = s.run(v, &options) => r,
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
                    suite: s.name().into(),
                    variant: v.to_string(),
                    report: Some(run.report),
                    history: Some(run.history),
                    expected,
                    error: None,
                },
                Err(e) => RunArtifacts {
                    suite: s.name().into(),
                    variant: v.to_string(),
                    report: None,
                    history: None,
                    expected,
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
            println!(
                "{mark} {:<16} {:<9} verdict={:?} expected={:?} {}",
                a.suite,
                a.variant,
                r.verdict,
                a.expected,
                anomalies.join(" ")
            );
        }
        (None, Some(e)) => println!("{mark} {:<16} {:<9} error: {e}", a.suite, a.variant),
        (None, None) => println!("{mark} {:<16} {:<9} no report", a.suite, a.variant),
    }
}
