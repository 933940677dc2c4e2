use shakedown::image::RUNTIME;
use shakedown::{RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::{PgCluster, ProxyNode, RabbitMq, BROKER_IMAGE, POSTGRES_IMAGE};

use super::workload::SUITE as NAME;
use super::{
    plan, run_against, DbLink, DlqOp, DlqValue, InProcess, Options, Policy, ReferenceConsumer,
    SCHEMA,
};
use crate::reference::{Launcher, Mode, ServiceLaunch};
use crate::{ReferenceService, Suite};

/// The dead-letter suite's declaration.
pub const SUITE: Suite = Suite {
    name: NAME,
    about: "dead letters: poison and transiently failing payments; lost, duplicated, dead-lettered wrongly or unnoticed, redriven",
    images: &[BROKER_IMAGE, POSTGRES_IMAGE, RUNTIME],
    services: &[ReferenceService {
        name: "dlq-consumer",
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

/// The port of the `postgres` proxy on the proxy node.
pub const POSTGRES_PROXY_PORT: u16 = 15432;
/// The proxy's name on the proxy node.
pub const POSTGRES_LINK: &str = "postgres";

/// The consumer's surroundings: PostgreSQL (owning the run's topology), the broker, and the
/// proxy node the consumer reaches PostgreSQL through.
#[derive(Debug)]
pub struct Infrastructure {
    /// The consumer's PostgreSQL.
    pub pg: PgCluster,
    /// The broker.
    pub rabbit: RabbitMq,
    /// The fault proxy between the consumer and PostgreSQL.
    pub proxy: ProxyNode,
}

/// A fresh database of the consumer, reached through the proxy.
#[derive(Debug, Clone)]
pub struct ConsumerDb {
    /// For containers on the run's network.
    pub internal_url: String,
    /// For the test process.
    pub url: String,
}

impl Infrastructure {
    /// Starts PostgreSQL (with [`SCHEMA`] in its template), the broker and the proxy node.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shakedown::SuiteError> {
    /// use shakedown::RunOptions;
    /// use shakedown_suites::dead_letters::{plan, Infrastructure, Options};
    /// use shakedown_suites::reference::Launcher;
    /// let infra = Infrastructure::start(&RunOptions::seeded(1), &Launcher::default()).await?;
    /// let db = infra.database(&plan(&Options::default()).customers).await?;
    /// println!("{}", db.url); // postgres://postgres@127.0.0.1:<proxy port>/<db>
    /// infra.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(run: &RunOptions, launcher: &Launcher) -> Result<Self, SuiteError> {
        run.progress("starting PostgreSQL");
        let pg = PgCluster::builder()
            .replicas(0)
            .template_sql(SCHEMA)
            .start()
            .await
            .map_err(|e| SuiteError::new(NAME, "start PostgreSQL", e))?;
        run.progress("starting the broker and the fault proxy");
        let started = async {
            let rabbit = RabbitMq::builder()
                .topology(pg.topology())
                .start()
                .await
                .map_err(|e| SuiteError::new(NAME, "start the broker", e))?;
            let proxy = ProxyNode::start_seeded(
                pg.topology(),
                launcher.binary(NAME)?,
                &[POSTGRES_PROXY_PORT],
                Some(run.seed),
            )
            .await
            .map_err(|e| SuiteError::new(NAME, "start the proxy node", e))?;
            proxy
                .create_proxy(
                    POSTGRES_LINK,
                    POSTGRES_PROXY_PORT,
                    &pg.primary().internal_addr(),
                )
                .await
                .map_err(|e| SuiteError::new(NAME, "create the postgres proxy", e))?;
            Ok((rabbit, proxy))
        }
        .await;
        match started {
            Ok((rabbit, proxy)) => Ok(Infrastructure { pg, rabbit, proxy }),
            Err(e) => {
                let _ = pg.shutdown().await;
                Err(e)
            }
        }
    }

    /// A fresh database (from the template) where `customers` exist.
    pub async fn database(&self, customers: &[String]) -> Result<ConsumerDb, SuiteError> {
        let step = "create the consumer's database";
        let db = self
            .pg
            .fresh_database()
            .await
            .map_err(|e| SuiteError::new(NAME, step, e))?;
        let values: Vec<String> = customers
            .iter()
            .map(|c| format!("('{}')", c.replace('\'', "''")))
            .collect();
        if !values.is_empty() {
            let sql = format!("INSERT INTO customers (id) VALUES {}", values.join(", "));
            self.pg
                .primary()
                .execute(&db.name, &sql)
                .await
                .map_err(|e| SuiteError::new(NAME, "create the customers", e))?;
        }
        let host = self
            .proxy
            .host_addr(POSTGRES_PROXY_PORT)
            .await
            .map_err(|e| SuiteError::new(NAME, "find the proxy's port", e))?;
        let internal = self.proxy.internal_addr(POSTGRES_PROXY_PORT);
        Ok(ConsumerDb {
            internal_url: format!("postgres://postgres@{internal}/{}", db.name),
            url: format!("postgres://postgres@{host}/{}", db.name),
        })
    }

    /// Where the suite cuts the database off.
    pub fn db_link(&self) -> DbLink<'_> {
        DbLink {
            proxy: &self.proxy,
            link: POSTGRES_LINK,
        }
    }

    /// Deletes the queues the reference policies declare, so the next consumer declares its own.
    pub async fn clear_queues(&self) -> Result<(), SuiteError> {
        let mut names: Vec<String> = [Policy::naive(), Policy::hardened()]
            .iter()
            .flat_map(|p| p.queues())
            .map(|q| q.name().to_string())
            .collect();
        names.sort();
        names.dedup();
        for q in names {
            self.rabbit
                .delete_queue(&q)
                .await
                .map_err(|e| SuiteError::new(NAME, "delete the queues", e))?;
        }
        Ok(())
    }

    /// Removes every container (a failed removal is an error).
    pub async fn shutdown(self) -> Result<(), SuiteError> {
        let Infrastructure { pg, rabbit, proxy } = self;
        let broker = rabbit.shutdown().await;
        drop(proxy);
        let step = "remove the containers";
        let pg = pg.shutdown().await;
        broker.map_err(|e| SuiteError::new(NAME, step, e))?;
        pg.map_err(|e| SuiteError::new(NAME, step, e))
    }

    /// Removes every container, then answers `outcome`: its error first, a failed cleanup an
    /// error of its own.
    pub async fn finish<T>(self, outcome: Result<T, SuiteError>) -> Result<T, SuiteError> {
        let shutdown = self.shutdown().await;
        let value = outcome?;
        shutdown?;
        Ok(value)
    }
}

/// Runs the suite against the bundled consumer in `options.run.variant`, in a container.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Variant};
/// use shakedown_suites::dead_letters::{reference, Options};
/// use shakedown_suites::reference::Launcher;
///
/// let options = Options { run: RunOptions::seeded(1).variant(Variant::Naive), ..Options::default() };
/// let run = reference(&options, &Launcher::default()).await?;
/// assert!(run.report.anomaly("lost").unwrap() > 0);
/// # Ok(()) }
/// ```
pub async fn reference(
    options: &Options,
    launcher: &Launcher,
) -> Result<SuiteRun<DlqOp, DlqValue>, SuiteError> {
    let mode = Mode::of(NAME, options.run.variant)?;
    let policy = match mode {
        Mode::Naive => Policy::naive(),
        Mode::Hardened => Policy::hardened(),
    };
    let infra = Infrastructure::start(&options.run, launcher).await?;
    let result = async {
        let db = infra.database(&plan(options).customers).await?;
        options
            .run
            .progress(format!("starting the {mode} payments consumer"));
        let spec = ServiceLaunch::new("dlq-consumer", "dlq-consumer", mode)
            .arg(format!("--amqp={}", infra.rabbit.internal_amqp_url()))
            .arg(format!("--db={}", db.internal_url));
        let consumer = launcher.launch(NAME, infra.pg.topology(), spec).await?;
        let client = ReferenceConsumer::new(&infra.rabbit, consumer.url.clone(), policy)
            .map_err(|e| SuiteError::new(NAME, "build the HTTP client", e))?;
        let run = run_against(&client, infra.db_link(), options).await;
        drop(consumer);
        run
    }
    .await;
    infra.finish(result).await
}

/// Runs the suite against the reference consumer under `policy`, in this process, on `infra`
/// (its queues cleared first, a fresh database): how the tests run consumers a team might
/// plausibly ship.
///
/// ```no_run
/// # async fn demo(infra: &shakedown_suites::dead_letters::Infrastructure) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::dead_letters::{in_process, Options, Policy};
/// let no_alert = Policy { alert: None, ..Policy::hardened() };
/// let run = in_process(no_alert, infra, &Options::default()).await?;
/// assert!(run.report.anomaly("dead_letters_unnoticed").unwrap() > 0);
/// # Ok(()) }
/// ```
pub async fn in_process(
    policy: Policy,
    infra: &Infrastructure,
    options: &Options,
) -> Result<SuiteRun<DlqOp, DlqValue>, SuiteError> {
    infra.clear_queues().await?;
    let db = infra.database(&plan(options).customers).await?;
    let amqp = infra
        .rabbit
        .amqp_url()
        .await
        .map_err(|e| SuiteError::new(NAME, "find the broker's port", e))?;
    let consumer = InProcess::start(policy, &amqp, &db.url)
        .await
        .map_err(|e| SuiteError::new(NAME, "start the consumer", e))?;
    let run = async {
        let client = ReferenceConsumer::new(&infra.rabbit, consumer.url.clone(), policy)
            .map_err(|e| SuiteError::new(NAME, "build the HTTP client", e))?;
        run_against(&client, infra.db_link(), options).await
    }
    .await;
    consumer.stop().await;
    run
}
