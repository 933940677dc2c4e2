use shakedown::image::RUNTIME;
use shakedown::{SuiteError, SuiteRun};
use shakedown_fixtures::{PgCluster, POSTGRES_IMAGE};

use super::workload::SUITE as NAME;
use super::{run_against, BillingOp, BillingValue, Clocks, HttpBilling, Options, SCHEMA};
use crate::reference::{Launcher, Mode, ServiceLaunch};
use crate::{ReferenceService, Suite};

/// The timezone suite's declaration.
pub const SUITE: Suite = Suite {
    name: NAME,
    about: "timezone bugs: charges at the wrong local time, doubled or missed, reports in the wrong day",
    images: &[POSTGRES_IMAGE, RUNTIME],
    services: &[ReferenceService {
        name: "billing",
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

/// Runs the suite against the bundled billing scheduler and PostgreSQL (each in its own zone,
/// both with a fake clock) in `options.run.variant`.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Variant};
/// use shakedown_suites::reference::Launcher;
/// use shakedown_suites::timezone::{reference, Options};
///
/// let options = Options { run: RunOptions::seeded(1).variant(Variant::Naive), ..Options::default() };
/// let run = reference(&options, &Launcher::default()).await?;
/// assert!(run.report.anomaly("charge_at_wrong_local_time").unwrap() > 0);
/// # Ok(()) }
/// ```
pub async fn reference(
    options: &Options,
    launcher: &Launcher,
) -> Result<SuiteRun<BillingOp, BillingValue>, SuiteError> {
    let mode = Mode::of(NAME, options.run.variant)?;
    let o = options;
    o.run
        .progress(format!("starting PostgreSQL (timezone {})", o.db_zone));
    let pg = PgCluster::builder()
        .replicas(0)
        .fake_clock()
        .container_timezone(o.db_zone.clone())
        .server_timezone(o.db_zone.clone())
        .template_sql(SCHEMA)
        .start()
        .await
        .map_err(|e| SuiteError::new(NAME, "start PostgreSQL", e))?;
    let db = pg
        .fresh_database()
        .await
        .map_err(|e| SuiteError::new(NAME, "create the database", e))?;
    o.run.progress(format!(
        "starting the {mode} billing scheduler (TZ {})",
        o.server_zone
    ));
    let service = launcher
        .launch(
            NAME,
            pg.topology(),
            ServiceLaunch::new("billing", "billing", mode)
                .arg(format!("--db={}", db.internal_primary_url))
                .arg("--tick-ms=0")
                .fake_clock()
                .timezone(o.server_zone.clone()),
        )
        .await?;
    o.run.progress(format!(
        "walking the clocks through {} windows around DST changes",
        o.windows.len()
    ));
    let zones = vec![
        (service.node.name().to_string(), o.server_zone.clone()),
        (pg.primary().name().to_string(), o.db_zone.clone()),
    ];
    let billing = HttpBilling::new(service.url.clone())
        .map_err(|e| SuiteError::new(NAME, "build the HTTP client", e))?;
    let clocks = Clocks {
        nodes: &[&service.node, pg.primary().node()],
        zones: &zones,
    };
    let result = run_against(&billing, clocks, options).await;
    drop(service);
    // The run's outcome first; a failed cleanup is an error of its own.
    let shutdown = pg.shutdown().await;
    let run = result?;
    shutdown.map_err(|e| SuiteError::new(NAME, "remove the containers", e))?;
    Ok(run)
}
