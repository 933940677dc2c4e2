use shakedown::image::RUNTIME;
use shakedown::{RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::{PgCluster, ProxyNode, POSTGRES_IMAGE};

use super::workload::SUITE as NAME;
use super::{run_against, HttpLedger, HttpOrders, Options, PaymentOp, PaymentValue, Wire, SCHEMA};
use crate::reference::{Launched, Launcher, Mode, ServiceLaunch};
use crate::{ReferenceService, Suite};

/// The partial-failure suite's declaration.
pub const SUITE: Suite = Suite {
    name: NAME,
    about: "partial failure: lost replies, resets, corrupt and slow replies between orders and payments",
    images: &[POSTGRES_IMAGE, RUNTIME],
    services: &[
        ReferenceService {
            name: "payments",
            serve: |args| Box::pin(super::payments_service::serve(args)),
        },
        ReferenceService {
            name: "orders",
            serve: |args| Box::pin(super::orders_service::serve(args)),
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

/// The port of the `payments` proxy on the proxy node.
pub const PAYMENTS_PROXY_PORT: u16 = 18080;
/// The proxy's name on the proxy node.
pub const PAYMENTS_LINK: &str = "payments";

/// The dependency side of the reference system: PostgreSQL, `payments` on it, and the proxy
/// node with the `payments` proxy in front of it. Callers reach payments through
/// [`Dependency::through_proxy`] (tests) or [`Dependency::through_proxy_internal`]
/// (containers).
#[derive(Debug)]
pub struct Dependency {
    /// The ledger's PostgreSQL (owns the run's topology).
    pub pg: PgCluster,
    /// The `payments` service.
    pub payments: Launched,
    /// The fault proxy between callers and `payments`.
    pub proxy: ProxyNode,
}

impl Dependency {
    /// Starts PostgreSQL, `payments` and the proxy node (seeded with `options.run.seed`).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shakedown::SuiteError> {
    /// use shakedown_suites::partial_failure::{Dependency, Options};
    /// use shakedown_suites::reference::Launcher;
    /// let dep = Dependency::start(&Options::default(), &Launcher::default()).await?;
    /// let url = dep.through_proxy().await?; // http://127.0.0.1:<port>, payments through the proxy
    /// dep.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(options: &Options, launcher: &Launcher) -> Result<Self, SuiteError> {
        Self::start_for(NAME, &options.run, launcher).await
    }

    /// Like [`Dependency::start`], for suite `suite` (its errors name it), with `run`'s seed and
    /// progress: the dependency of other suites about a caller of `payments`.
    pub async fn start_for(
        suite: &'static str,
        run: &RunOptions,
        launcher: &Launcher,
    ) -> Result<Self, SuiteError> {
        run.progress("starting PostgreSQL");
        let pg = PgCluster::builder()
            .replicas(0)
            .template_sql(SCHEMA)
            .start()
            .await
            .map_err(|e| SuiteError::new(suite, "start PostgreSQL", e))?;
        let db = pg
            .fresh_database()
            .await
            .map_err(|e| SuiteError::new(suite, "create the database", e))?;
        run.progress("starting payments and the fault proxy");
        // payments is the same in both variants: the suite is about its caller.
        let payments = launcher
            .launch(
                suite,
                pg.topology(),
                ServiceLaunch::new("payments", "payments", Mode::Hardened)
                    .arg(format!("--db={}", db.internal_primary_url)),
            )
            .await?;
        let step = "start the proxy node";
        let proxy = ProxyNode::start_seeded(
            pg.topology(),
            launcher.binary(suite)?,
            &[PAYMENTS_PROXY_PORT],
            Some(run.seed),
        )
        .await
        .map_err(|e| SuiteError::new(suite, step, e))?;
        let upstream = payments
            .internal_url
            .trim_start_matches("http://")
            .to_string();
        proxy
            .create_proxy(PAYMENTS_LINK, PAYMENTS_PROXY_PORT, &upstream)
            .await
            .map_err(|e| SuiteError::new(suite, "create the payments proxy", e))?;
        Ok(Dependency {
            pg,
            payments,
            proxy,
        })
    }

    /// `http://127.0.0.1:<port>`: payments through the proxy, for the test process.
    pub async fn through_proxy(&self) -> Result<String, SuiteError> {
        let addr = self
            .proxy
            .host_addr(PAYMENTS_PROXY_PORT)
            .await
            .map_err(|e| SuiteError::new(NAME, "find the proxy's port", e))?;
        Ok(format!("http://{addr}"))
    }

    /// `http://<proxy container>:<port>`: payments through the proxy, for other containers.
    pub fn through_proxy_internal(&self) -> String {
        format!("http://{}", self.proxy.internal_addr(PAYMENTS_PROXY_PORT))
    }

    /// A client of payments' ledger, read directly (no proxy).
    pub fn ledger(&self) -> Result<HttpLedger, SuiteError> {
        HttpLedger::new(self.payments.url.clone())
            .map_err(|e| SuiteError::new(NAME, "build the HTTP client", e))
    }

    /// Where the faults go.
    pub fn wire(&self) -> Wire<'_> {
        Wire {
            proxy: &self.proxy,
            link: PAYMENTS_LINK,
        }
    }

    /// Starts the reference caller `service` (node of the same name) in `mode`, for suite
    /// `suite`, with `--payments` through the proxy.
    pub async fn launch_caller(
        &self,
        suite: &'static str,
        launcher: &Launcher,
        service: &'static str,
        mode: Mode,
    ) -> Result<Launched, SuiteError> {
        let spec = ServiceLaunch::new(service, service, mode)
            .arg(format!("--payments={}", self.through_proxy_internal()));
        launcher.launch(suite, self.pg.topology(), spec).await
    }

    /// Removes every container, then answers `outcome`, the run's: its error first, a failed
    /// cleanup an error of its own.
    pub async fn finish<T>(self, outcome: Result<T, SuiteError>) -> Result<T, SuiteError> {
        let shutdown = self.shutdown().await;
        let value = outcome?;
        shutdown?;
        Ok(value)
    }

    /// Removes every container (a failed removal is an error).
    pub async fn shutdown(self) -> Result<(), SuiteError> {
        let Dependency {
            pg,
            payments,
            proxy,
        } = self;
        drop(payments);
        drop(proxy);
        pg.shutdown()
            .await
            .map_err(|e| SuiteError::new(NAME, "remove the containers", e))
    }
}

/// Runs the suite against the bundled `orders` (in `options.run.variant`) and `payments`, with
/// the fault proxy between them.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Variant};
/// use shakedown_suites::partial_failure::{reference, Options};
/// use shakedown_suites::reference::Launcher;
///
/// let options = Options { run: RunOptions::seeded(1).variant(Variant::Naive), ..Options::default() };
/// let run = reference(&options, &Launcher::default()).await?;
/// assert!(run.report.anomaly("duplicate_charge").unwrap() > 0);
/// # Ok(()) }
/// ```
pub async fn reference(
    options: &Options,
    launcher: &Launcher,
) -> Result<SuiteRun<PaymentOp, PaymentValue>, SuiteError> {
    let mode = Mode::of(NAME, options.run.variant)?;
    let dep = Dependency::start(options, launcher).await?;
    let result = async {
        options
            .run
            .progress(format!("starting the {mode} orders service"));
        let orders = dep.launch_caller(NAME, launcher, "orders", mode).await?;
        let client = HttpOrders::new(orders.url.clone())
            .map_err(|e| SuiteError::new(NAME, "build the HTTP client", e))?;
        let run = run_against(&client, &dep.ledger()?, dep.wire(), options).await;
        drop(orders);
        run
    }
    .await;
    dep.finish(result).await
}
