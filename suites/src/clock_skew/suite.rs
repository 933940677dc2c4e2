use shakedown::image::RUNTIME;
use shakedown::{SuiteError, SuiteRun, Topology};

use super::workload::SUITE as NAME;
use super::{run_against, HttpTokens, Options, Probe, TokenOp};
use crate::reference::{Launcher, Mode, ServiceLaunch};
use crate::{ReferenceService, Suite};

/// The clock-skew suite's declaration.
pub const SUITE: Suite = Suite {
    name: NAME,
    about: "clock skew breaking tokens: fresh tokens rejected, expired ones accepted",
    images: &[RUNTIME],
    services: &[
        ReferenceService {
            name: "token-issuer",
            serve: |args| Box::pin(super::service::serve_issuer(args)),
        },
        ReferenceService {
            name: "token-api",
            serve: |args| Box::pin(super::service::serve_api(args)),
        },
    ],
    run_reference: |run, launcher| {
        Box::pin(async move {
            let options = Options {
                run,
                ..Options::default()
            };
            reference(&options, &launcher).await.map(|r| r.record())
        })
    },
};

/// Runs the suite against the bundled reference issuer and API (separate containers, each with a
/// fake clock) in `options.run.variant`.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Variant};
/// use shakedown_suites::clock_skew::{reference, Options};
/// use shakedown_suites::reference::Launcher;
///
/// let options = Options { run: RunOptions::seeded(1).variant(Variant::Naive), ..Options::default() };
/// let run = reference(&options, &Launcher::default()).await?;
/// assert!(run.report.anomaly("expired_token_accepted").unwrap() > 0);
/// # Ok(()) }
/// ```
pub async fn reference(
    options: &Options,
    launcher: &Launcher,
) -> Result<SuiteRun<TokenOp, Probe>, SuiteError> {
    let mode = Mode::of(NAME, options.run.variant)?;
    let topology = Topology::start()
        .await
        .map_err(|e| SuiteError::new(NAME, "start the topology", e))?;
    // A per-run secret: never a constant, never in the report.
    let secret = format!("{:032x}", rand::random::<u128>());
    options
        .run
        .progress(format!("starting the {mode} token issuer and API"));
    let issuer = launcher
        .launch(
            NAME,
            &topology,
            ServiceLaunch::new("issuer", "token-issuer", mode)
                .arg(format!("--secret={secret}"))
                .fake_clock(),
        )
        .await?;
    let api = launcher
        .launch(
            NAME,
            &topology,
            ServiceLaunch::new("api", "token-api", mode)
                .arg(format!("--secret={secret}"))
                .arg(format!("--issuer={}", issuer.internal_url))
                .fake_clock(),
        )
        .await?;
    options
        .run
        .progress(format!("running {} clock-skew steps", options.steps.len()));
    let system = HttpTokens::new(issuer.url.clone(), api.url.clone())
        .map_err(|e| SuiteError::new(NAME, "build the HTTP client", e))?;
    let result = run_against(&system, (&issuer.node, &api.node), options).await;
    drop((issuer, api));
    // The run's outcome first; a failed cleanup is an error of its own.
    let shutdown = topology.shutdown().await;
    let run = result?;
    shutdown.map_err(|e| SuiteError::new(NAME, "remove the containers", e))?;
    Ok(run)
}
