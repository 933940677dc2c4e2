use shakedown::checker::{RegisterOp, RegisterValue};
use shakedown::image::RUNTIME;
use shakedown::{SuiteError, SuiteRun};
use shakedown_fixtures::{PgCluster, POSTGRES_IMAGE};

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
    options.run.progress(format!(
        "starting PostgreSQL (primary + {} replica)",
        options.replica + 1
    ));
    let pg = PgCluster::builder()
        .replicas(options.replica + 1)
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
        .launch(
            NAME,
            pg.topology(),
            ServiceLaunch::new("profiles", "profiles", mode)
                .arg(format!("--primary={}", db.internal_primary_url))
                .arg(format!(
                    "--replica={}",
                    db.internal_replica_urls[options.replica]
                )),
        )
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
