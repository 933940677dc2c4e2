use shakedown::image::RUNTIME;
use shakedown::{SuiteError, SuiteRun};
use shakedown_fixtures::{PgCluster, POSTGRES_IMAGE};

use super::workload::SUITE as NAME;
use super::{run_against, DbOp, DbValue, HttpOrders, HttpReporting, Options, Policy, SharedDb};
use crate::reference::{Launcher, Mode, ServiceLaunch};
use crate::{ReferenceService, Suite};

/// The shared-database suite's declaration.
pub const SUITE: Suite = Suite {
    name: NAME,
    about: "shared database: orders migrates behind a long transaction, scans, exhausts connections; reporting's errors and p99",
    images: &[POSTGRES_IMAGE, RUNTIME],
    services: &[
        ReferenceService {
            name: "shared-orders",
            serve: |args| Box::pin(super::orders_service::serve(args)),
        },
        ReferenceService {
            name: "shared-reporting",
            serve: |args| Box::pin(super::reporting_service::serve(args)),
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

/// Rows of the orders table's past: enough that a scan of it is a full scan, few enough that a
/// report on it takes milliseconds.
pub const PAST_ORDERS: u64 = 20_000;

/// The server's `max_connections`: small, so that exhausting it takes a moment.
pub const MAX_CONNECTIONS: u32 = 30;

/// Runs the suite against the bundled `orders` and `reporting` in `options.run.variant`
/// ([`Policy::naive`] or [`Policy::hardened`]).
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Variant};
/// use shakedown_suites::reference::Launcher;
/// use shakedown_suites::shared_database::{reference, Options};
///
/// let options = Options { run: RunOptions::seeded(1).variant(Variant::Naive), ..Options::default() };
/// let run = reference(&options, &Launcher::default()).await?;
/// assert!(run.report.anomaly("slowed_during_fault").unwrap() > 0);
/// # Ok(()) }
/// ```
pub async fn reference(
    options: &Options,
    launcher: &Launcher,
) -> Result<SuiteRun<DbOp, DbValue>, SuiteError> {
    let policy = match Mode::of(NAME, options.run.variant)? {
        Mode::Naive => Policy::naive(),
        Mode::Hardened => Policy::hardened(),
    };
    reference_with(policy, options, launcher).await
}

/// Runs the suite against the bundled services sharing their database under `policy`: starts
/// PostgreSQL, sets the database up as the policy says ([`Policy::setup_sql`]), starts both
/// services in containers, and runs the workload.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::RunOptions;
/// use shakedown_suites::reference::Launcher;
/// use shakedown_suites::shared_database::{reference_with, Options, Policy};
///
/// let no_retry = Policy { retry_migration: false, ..Policy::hardened() };
/// let options = Options { run: RunOptions::seeded(1), ..Options::default() };
/// let run = reference_with(no_retry, &options, &Launcher::default()).await?;
/// assert_eq!(run.report.anomaly("migration_not_completed").unwrap(), 1);
/// # Ok(()) }
/// ```
pub async fn reference_with(
    policy: Policy,
    options: &Options,
    launcher: &Launcher,
) -> Result<SuiteRun<DbOp, DbValue>, SuiteError> {
    let mode = if policy == Policy::naive() {
        Mode::Naive
    } else {
        Mode::Hardened
    };
    options.run.progress("starting PostgreSQL");
    let pg = PgCluster::builder()
        .replicas(0)
        .setting("max_connections", MAX_CONNECTIONS.to_string())
        .start()
        .await
        .map_err(|e| SuiteError::new(NAME, "start PostgreSQL", e))?;
    let result = async {
        let db = pg
            .fresh_database()
            .await
            .map_err(|e| SuiteError::new(NAME, "create the database", e))?;
        pg.primary()
            .execute(&db.name, &policy.setup_sql(PAST_ORDERS))
            .await
            .map_err(|e| SuiteError::new(NAME, "set up roles, schemas and the orders table", e))?;
        let url = |role: &str| {
            format!(
                "postgres://{role}@{}/{}",
                pg.primary().internal_addr(),
                db.name
            )
        };
        options
            .run
            .progress(format!("starting the {mode} orders and reporting services"));
        let mut spec = ServiceLaunch::new("shared-orders", "shared-orders", mode)
            .arg(format!("--db={}", url(policy.orders_role())))
            .arg(format!("--migrate-db={}", url(policy.migration_role())))
            .arg(format!("--table={}", policy.table()));
        if let Some(t) = policy.migration_lock_timeout() {
            spec = spec.arg(format!("--lock-timeout-ms={}", t.as_millis()));
        }
        if policy.retry_migration {
            spec = spec.arg(format!("--retry-for-ms={}", Policy::RETRY_FOR.as_millis()));
        }
        if policy.concurrent_index {
            spec = spec.arg("--concurrent-index");
        }
        let orders = launcher.launch(NAME, pg.topology(), spec).await?;
        let mut spec = ServiceLaunch::new("shared-reporting", "shared-reporting", mode)
            .arg(format!("--db={}", url(policy.reporting_role())))
            .arg(format!("--table={}", policy.table()));
        if let Some(n) = policy.reporting_pool {
            spec = spec.arg(format!("--pool={n}"));
        }
        let reporting = launcher.launch(NAME, pg.topology(), spec).await?;
        let step = "build the HTTP clients";
        let orders_client =
            HttpOrders::new(orders.url.clone()).map_err(|e| SuiteError::new(NAME, step, e))?;
        let reporting_client = HttpReporting::new(reporting.url.clone())
            .map_err(|e| SuiteError::new(NAME, step, e))?;
        let shared = SharedDb {
            cluster: &pg,
            database: &db.name,
            table: policy.table(),
            orders_role: policy.orders_role(),
        };
        options.run.progress(
            "running the workload: healthy, a migration behind a long transaction, a noisy neighbour, connections exhausted",
        );
        let run = run_against(&orders_client, &reporting_client, shared, options).await;
        drop(orders);
        drop(reporting);
        run
    }
    .await;
    // The run's outcome first; a failed cleanup is an error of its own.
    let shutdown = pg.shutdown().await;
    let run = result?;
    shutdown.map_err(|e| SuiteError::new(NAME, "remove the containers", e))?;
    Ok(run)
}
