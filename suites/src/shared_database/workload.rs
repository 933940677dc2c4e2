use std::time::Duration;

use fake::faker::name::en::FirstName;
use fake::Fake;
use rand::Rng;
use shakedown::checker::BlastRadiusChecker;
use shakedown::history::Done;
use shakedown::{FaultGuard, Run, RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::postgres::{ConnectionsExhausted, LockHeld, LockMode, NoisyQuery};
use shakedown_fixtures::PgCluster;

use super::{DbOp, DbValue, Order, OrdersService, ReportingService, SharedDatabaseChecker};

pub(super) const SUITE: &str = "shared_database";

/// How the suite runs. Four phases (healthy, then one per event), each with
/// `calls_per_phase` writes by `orders` and as many reports by `reporting`, one of each every
/// `interval`, started on that schedule whether or not the previous ones answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seed (drives the fake orders and which customer each report is for), variant label,
    /// call timeout.
    pub run: RunOptions,
    /// Writes, and reports, per phase.
    pub calls_per_phase: usize,
    /// Time between one write-and-report and the next.
    pub interval: Duration,
    /// How long after the migration starts (behind the long transaction) the phase's calls
    /// begin: the migration is then queued for its lock.
    pub queue_wait: Duration,
    /// How much slower than in its healthy phase `reporting`'s p99 may be during an event.
    pub latency_budget: Duration,
    /// Sessions running the noisy full scan.
    pub noisy_workers: usize,
    /// How many customers the orders are dealt to.
    pub customers: usize,
    /// Prefix of this run's order ids.
    pub label: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            run: RunOptions::default(),
            calls_per_phase: 8,
            interval: Duration::from_millis(250),
            queue_wait: Duration::from_millis(300),
            latency_budget: Duration::from_secs(1),
            noisy_workers: 2,
            customers: 4,
            label: "sd".into(),
        }
    }
}

/// The shared database, as the suite's events need it: where `orders` keeps its table and
/// which role it connects as.
#[derive(Debug, Clone, Copy)]
pub struct SharedDb<'a> {
    /// The PostgreSQL both services use (events run on its primary).
    pub cluster: &'a PgCluster,
    /// The database both services use.
    pub database: &'a str,
    /// `orders`' table, schema-qualified: the long transaction holds a lock on it, the noisy
    /// neighbour scans it, the migration alters it.
    pub table: &'a str,
    /// The role `orders` connects as: the noisy scans and the connection flood run as it, so
    /// its limits (`statement_timeout`, `CONNECTION LIMIT`) apply.
    pub orders_role: &'a str,
}

/// The orders and the reports' customers a run with these options uses, phase by phase.
pub fn plan(options: &Options) -> Vec<Vec<(Order, String)>> {
    let run = DbRun::new(SUITE, options.run.clone());
    let mut rng = run.rng("orders");
    let customers: Vec<String> = (0..options.customers.max(1))
        .map(|i| {
            let name: String = FirstName().fake_with_rng(&mut rng);
            format!("{}-{i}-{}", options.label, name.to_lowercase())
        })
        .collect();
    (0..PHASES)
        .map(|phase| {
            (0..options.calls_per_phase)
                .map(|i| {
                    let order = Order {
                        id: format!("{}-{phase}-{i}", options.label),
                        customer: customers[rng.random_range(0..customers.len())].clone(),
                        amount_cents: rng.random_range(100..100_000),
                    };
                    (
                        order,
                        customers[rng.random_range(0..customers.len())].clone(),
                    )
                })
                .collect()
        })
        .collect()
}

/// Healthy, then the three events.
const PHASES: usize = 4;
/// The process of the migration, and of the final read.
const MIGRATION: u64 = 0;
const FINAL_READ: u64 = 1;

type DbRun = Run<DbOp, DbValue>;

/// Runs the shared-database workload against `orders` and `reporting` on `db`, and judges
/// `reporting`'s blast radius ([`BlastRadiusChecker`] on its reports) and `orders`' own
/// outcome ([`SharedDatabaseChecker`]):
///
/// 1. healthy: writes and reports, nothing else;
/// 2. a long transaction holds `ACCESS SHARE` on the table ([`LockHeld`]) and `orders`
///    migrates: the migration's `ACCESS EXCLUSIVE` request queues behind it, and every later
///    query on the table behind the migration; healed after the phase, the migration awaited;
/// 3. a noisy neighbour: full scans as `orders`' role ([`NoisyQuery`]);
/// 4. connection exhaustion: `orders`' role opens connections until refused
///    ([`ConnectionsExhausted`]);
///
/// then the stored orders are read.
///
/// ```no_run
/// # async fn demo(orders: shakedown_suites::shared_database::HttpOrders, reporting: shakedown_suites::shared_database::HttpReporting, pg: shakedown_fixtures::PgCluster) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::shared_database::{run_against, Options, SharedDb};
/// let db = SharedDb { cluster: &pg, database: "shop", table: "orders.orders", orders_role: "orders_app" };
/// let run = run_against(&orders, &reporting, db, &Options::default()).await?;
/// assert_eq!(run.report.anomaly("errors_during_fault").unwrap(), 0);
/// # Ok(()) }
/// ```
pub async fn run_against<O: OrdersService, R: ReportingService>(
    orders: &O,
    reporting: &R,
    db: SharedDb<'_>,
    options: &Options,
) -> Result<SuiteRun<DbOp, DbValue>, SuiteError> {
    if options.calls_per_phase == 0 || options.noisy_workers == 0 {
        return Err(SuiteError::new(
            SUITE,
            "check the options",
            "calls_per_phase and noisy_workers must be at least 1",
        ));
    }
    let run = DbRun::new(SUITE, options.run.clone());
    let plan = plan(options);
    let traffic = |phase: usize| Traffic {
        run: &run,
        orders,
        reporting,
        batch: &plan[phase],
        options,
        first: 2 + (phase * options.calls_per_phase * 2) as u64,
    };
    let primary = db.cluster.primary();

    run.progress("phase: healthy");
    traffic(0).go().await?;

    run.progress("event: a migration queued behind a long transaction");
    let lock = LockHeld::new(primary, db.database, db.table, LockMode::AccessShare);
    let lock = run.inject(lock).await?;
    let migration = run.call(MIGRATION, DbOp::Migrate, DbValue::Migrate, async {
        orders.migrate().await?;
        Ok(Done::new(DbValue::Migrate))
    });
    let queued = async {
        tokio::time::sleep(options.queue_wait).await;
        traffic(1).during(lock).await
    };
    let (migrated, queued) = tokio::join!(migration, queued);
    migrated?;
    queued?;

    run.progress("event: a noisy neighbour");
    let scan = format!(
        "SELECT count(*) FROM {t} a CROSS JOIN {t} b WHERE a.amount_cents < b.amount_cents",
        t = db.table
    );
    let noisy = NoisyQuery::new(primary, db.database, &scan)
        .workers(options.noisy_workers)
        .user(db.orders_role);
    traffic(2).during(run.inject(noisy).await?).await?;

    run.progress("event: connections exhausted");
    let flood = ConnectionsExhausted::new(primary, db.database, db.orders_role);
    traffic(3).during(run.inject(flood).await?).await?;

    let empty = DbValue::Stored { ids: vec![] };
    run.call(FINAL_READ, DbOp::Stored, empty, async {
        let mut ids = orders.stored().await?;
        ids.sort();
        Ok(Done::new(DbValue::Stored { ids }))
    })
    .await?;
    let blast = BlastRadiusChecker::default()
        .only(vec![DbOp::Report])
        .latency_budget(options.latency_budget);
    Ok(run.finish(&[&blast, &SharedDatabaseChecker]))
}

/// One phase's calls: write `i` and report `i` start `i` intervals after the phase does.
struct Traffic<'a, O, R> {
    run: &'a DbRun,
    orders: &'a O,
    reporting: &'a R,
    batch: &'a [(Order, String)],
    options: &'a Options,
    /// The process of the first call (each call has one of its own: they overlap).
    first: u64,
}

impl<O: OrdersService, R: ReportingService> Traffic<'_, O, R> {
    /// Runs the calls while `fault` is in force, healing it once the last call has started
    /// (one interval after), and returns when every call has answered.
    async fn during(self, fault: FaultGuard<'_>) -> Result<(), SuiteError> {
        let window = self.options.interval * self.batch.len() as u32;
        let heal = async {
            tokio::time::sleep(window).await;
            fault.heal().await
        };
        let (calls, healed) = tokio::join!(self.go(), heal);
        calls?;
        healed
    }

    /// Runs the calls on their schedule and returns when every one has answered.
    async fn go(&self) -> Result<(), SuiteError> {
        let calls = self
            .batch
            .iter()
            .enumerate()
            .map(|(i, (order, customer))| async move {
                tokio::time::sleep(self.options.interval * i as u32).await;
                let p = self.first + 2 * i as u64;
                let placed = DbValue::Place {
                    order: order.clone(),
                };
                let write = self.run.call(p, DbOp::Place, placed.clone(), async {
                    self.orders.place(order).await?;
                    Ok(Done::new(placed.clone()))
                });
                let asked = DbValue::Report {
                    customer: customer.clone(),
                    report: None,
                };
                let read = self.run.call(p + 1, DbOp::Report, asked, async {
                    let report = self.reporting.report(customer).await?;
                    Ok(Done::new(DbValue::Report {
                        customer: customer.clone(),
                        report: Some(report),
                    }))
                });
                let (w, r) = tokio::join!(write, read);
                w?;
                r.map(|_| ())
            });
        futures::future::try_join_all(calls).await.map(|_| ())
    }
}
