use shakedown::image::RUNTIME;
use shakedown::{SuiteError, SuiteRun};
use shakedown_fixtures::POSTGRES_IMAGE;

use super::workload::SUITE as NAME;
use super::{run_against, BreakerOp, BreakerValue, HttpCheckout, LedgerCount, Options};
use crate::partial_failure::{Dependency, PAYMENTS_LINK};
use crate::reference::{Launcher, Mode};
use crate::{ReferenceService, Suite};

/// The circuit-breaker suite's declaration. Its dependency, `payments`, is
/// [`partial_failure`](crate::partial_failure)'s reference service (declared there).
pub const SUITE: Suite = Suite {
    name: NAME,
    about: "circuit breaker not triggering: payments slow, then refusing, then back; calls to it while down, time to open and to recover",
    images: &[POSTGRES_IMAGE, RUNTIME],
    services: &[ReferenceService {
        name: "checkout",
        serve: |args| Box::pin(super::service::serve(args)),
    }],
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

/// The reference dependency's count for the run labelled `label`: payments' ledger and the
/// requests the proxy answered in its place.
pub async fn reference_count(dep: &Dependency, label: &str) -> Result<LedgerCount, SuiteError> {
    let api = dep
        .proxy
        .api_url()
        .await
        .map_err(|e| SuiteError::new(NAME, "find the proxy's API", e))?;
    LedgerCount::new(dep.ledger()?, format!("{label}-"))
        .with_proxy(api, PAYMENTS_LINK)
        .map_err(|e| SuiteError::new(NAME, "build the HTTP client", e))
}

/// Runs the suite against the bundled `checkout` (in `options.run.variant`) and `payments`,
/// with the fault proxy between them.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Variant};
/// use shakedown_suites::circuit_breaker::{reference, Options};
/// use shakedown_suites::reference::Launcher;
///
/// let options = Options { run: RunOptions::seeded(1).variant(Variant::Naive), ..Options::default() };
/// let run = reference(&options, &Launcher::default()).await?;
/// assert!(run.report.anomaly("dependency_called_while_down").unwrap() > 0);
/// # Ok(()) }
/// ```
pub async fn reference(
    options: &Options,
    launcher: &Launcher,
) -> Result<SuiteRun<BreakerOp, BreakerValue>, SuiteError> {
    let mode = Mode::of(NAME, options.run.variant)?;
    let dep = Dependency::start_for(NAME, &options.run, launcher).await?;
    let result = async {
        options
            .run
            .progress(format!("starting the {mode} checkout service"));
        let checkout = dep.launch_caller(NAME, launcher, "checkout", mode).await?;
        let client = HttpCheckout::new(checkout.url.clone())
            .map_err(|e| SuiteError::new(NAME, "build the HTTP client", e))?;
        let count = reference_count(&dep, &options.label).await?;
        let run = run_against(&client, &count, dep.wire(), options).await;
        drop(checkout);
        run
    }
    .await;
    dep.finish(result).await
}
