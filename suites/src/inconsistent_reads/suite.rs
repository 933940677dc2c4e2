use shakedown::checker::{RegisterOp, RegisterValue};
use shakedown::image::RUNTIME;
use shakedown::{SuiteError, SuiteRun};
use shakedown_fixtures::{HaProxy, PgCluster, HAPROXY_IMAGE, POSTGRES_IMAGE};

use super::workload::SUITE as NAME;
use super::{run_against, HttpPages, Options};
use crate::reference::{Launcher, Mode, ServiceLaunch};
use crate::replica_lag::SCHEMA;
use crate::{ReferenceService, Suite};

/// The inconsistent-reads suite's declaration.
pub const SUITE: Suite = Suite {
    name: NAME,
    about:
        "inconsistent reads: replicas at different lags behind a balancer; reads go back and forth",
    images: &[POSTGRES_IMAGE, HAPROXY_IMAGE, RUNTIME],
    services: &[ReferenceService {
        name: "profile-pages",
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

/// Runs the suite against the bundled reference profile pages service in `options.run.variant`:
/// starts PostgreSQL (primary and two replicas), HAProxy in front of the replicas, the service
/// in a container, and the workload.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Variant};
/// use shakedown_suites::reference::Launcher;
/// use shakedown_suites::inconsistent_reads::{reference, Options};
///
/// let options = Options { run: RunOptions::seeded(1).variant(Variant::Naive), ..Options::default() };
/// let run = reference(&options, &Launcher::default()).await?;
/// assert!(run.report.anomaly("non_monotonic_read").unwrap() > 0);
/// # Ok(()) }
/// ```
pub async fn reference(
    options: &Options,
    launcher: &Launcher,
) -> Result<SuiteRun<RegisterOp, RegisterValue>, SuiteError> {
    let mode = Mode::of(NAME, options.run.variant)?;
    let replicas = options.near_replica.max(options.lagging_replica) + 1;
    options.run.progress(format!(
        "starting PostgreSQL (primary + {replicas} replicas) and HAProxy"
    ));
    let pg = PgCluster::builder()
        .replicas(replicas)
        .template_sql(SCHEMA)
        .start()
        .await
        .map_err(|e| SuiteError::new(NAME, "start the PostgreSQL cluster", e))?;
    let db = pg
        .fresh_database()
        .await
        .map_err(|e| SuiteError::new(NAME, "create the database", e))?;
    let result = async {
        let lb = HaProxy::for_replicas(&pg)
            .start(pg.topology())
            .await
            .map_err(|e| SuiteError::new(NAME, "start HAProxy", e))?;
        options
            .run
            .progress(format!("starting the {mode} profile pages service"));
        let service = launcher
            .launch(
                NAME,
                pg.topology(),
                ServiceLaunch::new("profile-pages", "profile-pages", mode)
                    .arg(format!("--primary={}", db.internal_primary_url))
                    .arg(format!("--balancer={}", lb.internal_postgres_url(&db.name))),
            )
            .await?;
        options
            .run
            .progress("running the workload: replicas at different lags, then one paused");
        let run = run_against(&HttpPages::new(service.url.clone()), &pg, options).await;
        drop(service);
        let removed = lb.shutdown().await;
        let run = run?;
        removed.map_err(|e| SuiteError::new(NAME, "remove HAProxy", e))?;
        Ok(run)
    }
    .await;
    // The run's outcome first; a failed cleanup is an error of its own.
    let shutdown = pg.shutdown().await;
    let run = result?;
    shutdown.map_err(|e| SuiteError::new(NAME, "remove the containers", e))?;
    Ok(run)
}
