use shakedown::checker::{RegisterOp, RegisterValue};
use shakedown::image::RUNTIME;
use shakedown::{SuiteError, SuiteRun};
use shakedown_fixtures::{Database, PgCluster, POSTGRES_IMAGE};

use super::workload::SUITE as NAME;
use super::{run_against, HttpProfiles, Options, SCHEMA};
use crate::reference::{Launcher, Mode, ServiceLaunch};
use crate::{ReferenceService, Suite};

/// The replica-lag suite's declaration.
pub const SUITE: Suite = Suite {
    name: NAME,
    about: "read replica lag: stale reads right after the session's own write",
    images: &[POSTGRES_IMAGE, RUNTIME],
    services: &[ReferenceService {
        name: "profiles",
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

/// The reference profiles service on database `db`: writes to the primary, reads from every
/// replica (round-robin).
pub fn profiles_service(mode: Mode, db: &Database) -> ServiceLaunch {
    let mut launch = ServiceLaunch::new("profiles", "profiles", mode)
        .arg(format!("--primary={}", db.internal_primary_url));
    for url in &db.internal_replica_urls {
        launch = launch.arg(format!("--replica={url}"));
    }
    launch
}

/// Runs the suite against the bundled reference profiles service in `options.run.variant`:
/// starts PostgreSQL (primary and replicas), the service in a container, and the workload.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Variant};
/// use shakedown_suites::reference::Launcher;
/// use shakedown_suites::replica_lag::{reference, Options};
///
/// let options = Options { run: RunOptions::seeded(1).variant(Variant::Naive), ..Options::default() };
/// let run = reference(&options, &Launcher::default()).await?;
/// assert!(run.report.anomaly("stale_read_after_own_write").unwrap() > 0);
/// # Ok(()) }
/// ```
pub async fn reference(
    options: &Options,
    launcher: &Launcher,
) -> Result<SuiteRun<RegisterOp, RegisterValue>, SuiteError> {
    let mode = Mode::of(NAME, options.run.variant)?;
    options
        .run
        .progress("starting PostgreSQL (primary + 2 replicas)");
    let pg = PgCluster::builder()
        .replicas(2)
        .template_sql(SCHEMA)
        .start()
        .await
        .map_err(|e| SuiteError::new(NAME, "start the PostgreSQL cluster", e))?;
    let db = pg
        .fresh_database()
        .await
        .map_err(|e| SuiteError::new(NAME, "create the database", e))?;
    options
        .run
        .progress(format!("starting the {mode} profiles service"));
    let service = launcher
        .launch(NAME, pg.topology(), profiles_service(mode, &db))
        .await?;
    options
        .run
        .progress("running the workload under replica lag, then under paused replay");
    let result = run_against(&HttpProfiles::new(service.url.clone()), &pg, options).await;
    drop(service);
    // The run's outcome first; a failed cleanup is an error of its own.
    let shutdown = pg.shutdown().await;
    let run = result?;
    shutdown.map_err(|e| SuiteError::new(NAME, "remove the containers", e))?;
    Ok(run)
}
