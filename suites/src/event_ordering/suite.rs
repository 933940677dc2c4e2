use shakedown::image::RUNTIME;
use shakedown::{RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::rabbitmq::QueueSpec;
use shakedown_fixtures::{PgCluster, ProxyNode, RabbitMq, BROKER_IMAGE, POSTGRES_IMAGE};

use super::workload::SUITE as NAME;
use super::{
    run_against, AmqpPublisher, ApplyPolicy, HttpConsumer, Options, OrderingOp, OrderingValue,
    Producers, Wiring, SCHEMA,
};
use crate::reference::{Launched, Launcher, Mode, ServiceLaunch};
use crate::{ReferenceService, Suite};

/// The event-ordering suite's declaration.
pub const SUITE: Suite = Suite {
    name: NAME,
    about: "event ordering: two producers through slow links, competing consumers, one killed mid-batch; early, stale and duplicate events applied",
    images: &[BROKER_IMAGE, POSTGRES_IMAGE, RUNTIME],
    services: &[ReferenceService {
        name: "order-consumer",
        serve: |args| Box::pin(super::consumer_service::serve(args)),
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

/// The proxy links: each producer's, and the victim replica's.
const LINKS: [(&str, u16); 3] = [("orders", 25671), ("payments", 25672), ("victim", 25673)];

/// The shared part of the reference system: the broker, the consumers' PostgreSQL and the
/// fault proxy (a link per producer and one for the victim replica), on one topology. Each
/// [`Broker::run`] gets its own queue, database and consumer replicas, so one system serves
/// several consumers in turn.
#[derive(Debug)]
pub struct Broker {
    /// The broker (owns the run's topology).
    pub rabbit: RabbitMq,
    /// The consumers' PostgreSQL.
    pub pg: PgCluster,
    /// The fault proxy in front of the broker.
    pub proxy: ProxyNode,
}

impl Broker {
    /// Starts the broker, PostgreSQL (with [`SCHEMA`]) and the proxy node seeded with `run.seed`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shakedown::SuiteError> {
    /// use shakedown::RunOptions;
    /// use shakedown_suites::event_ordering::{ApplyPolicy, Broker, Options};
    /// use shakedown_suites::reference::Launcher;
    /// let launcher = Launcher::default();
    /// let broker = Broker::start(&RunOptions::seeded(1), &launcher).await?;
    /// let run = broker.run(&Options::default(), &launcher, ApplyPolicy::EventStore).await;
    /// broker.finish(run).await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(run: &RunOptions, launcher: &Launcher) -> Result<Self, SuiteError> {
        run.progress("starting the broker");
        let rabbit = RabbitMq::builder()
            .start()
            .await
            .map_err(|e| SuiteError::new(NAME, "start the broker", e))?;
        let started = async {
            run.progress("starting PostgreSQL and the fault proxy");
            let pg = PgCluster::builder()
                .replicas(0)
                .topology(rabbit.topology())
                .template_sql(SCHEMA)
                .start()
                .await
                .map_err(|e| SuiteError::new(NAME, "start PostgreSQL", e))?;
            let ports: Vec<u16> = LINKS.iter().map(|(_, p)| *p).collect();
            let proxy = ProxyNode::start_seeded(
                rabbit.topology(),
                launcher.binary(NAME)?,
                &ports,
                Some(run.seed),
            )
            .await
            .map_err(|e| SuiteError::new(NAME, "start the proxy node", e))?;
            for (link, port) in LINKS {
                proxy
                    .create_proxy(link, port, &rabbit.internal_amqp_addr())
                    .await
                    .map_err(|e| SuiteError::new(NAME, format!("create the {link} proxy"), e))?;
            }
            Ok((pg, proxy))
        }
        .await;
        match started {
            Ok((pg, proxy)) => Ok(Broker { rabbit, pg, proxy }),
            Err(e) => {
                let _ = rabbit.shutdown().await;
                Err(e)
            }
        }
    }

    fn url_through(&self, link_port: u16, host: Option<std::net::SocketAddr>) -> String {
        let addr = match host {
            Some(a) => a.to_string(),
            None => self.proxy.internal_addr(link_port),
        };
        format!("amqp://guest:guest@{addr}/%2f")
    }

    /// Runs the suite against two replicas of the reference consumer under `policy` (the
    /// victim `<label>-consumer-a` through the proxy's victim link, `<label>-consumer-b`
    /// directly), on a queue and database of their own, with both producers through their links.
    pub async fn run(
        &self,
        options: &Options,
        launcher: &Launcher,
        policy: ApplyPolicy,
    ) -> Result<SuiteRun<OrderingOp, OrderingValue>, SuiteError> {
        let label = &options.label;
        let queue = format!("{label}.order-events");
        self.rabbit
            .declare(&QueueSpec::quorum(&queue))
            .await
            .map_err(|e| SuiteError::new(NAME, "declare the queue", e))?;
        let db = self
            .pg
            .fresh_database()
            .await
            .map_err(|e| SuiteError::new(NAME, "create the database", e))?;
        let mode = match policy {
            ApplyPolicy::AsArrives => Mode::Naive,
            _ => Mode::Hardened,
        };
        options
            .run
            .progress(format!("starting two {} consumers", policy.as_arg()));
        let mut replicas: Vec<Launched> = Vec::new();
        for (replica, amqp) in [
            ("a", self.url_through(LINKS[2].1, None)),
            ("b", self.rabbit.internal_amqp_url()),
        ] {
            let name = format!("{label}-consumer-{replica}");
            let spec = ServiceLaunch::new(name.clone(), "order-consumer", mode)
                .arg(format!("--policy={}", policy.as_arg()))
                .arg(format!("--amqp={amqp}"))
                .arg(format!("--queue={queue}"))
                .arg(format!("--db={}", db.internal_primary_url))
                .arg(format!("--replica={name}"));
            replicas.push(launcher.launch(NAME, self.rabbit.topology(), spec).await?);
        }
        let mut publishers = Vec::new();
        for (link, port) in &LINKS[..2] {
            let addr = self
                .proxy
                .host_addr(*port)
                .await
                .map_err(|e| SuiteError::new(NAME, "find the proxy's port", e))?;
            let p = AmqpPublisher::connect(&self.url_through(*port, Some(addr)), &queue)
                .await
                .map_err(|e| SuiteError::new(NAME, format!("connect the {link} producer"), e))?;
            publishers.push(p);
        }
        let consumer = HttpConsumer::new(replicas[1].url.clone())
            .map_err(|e| SuiteError::new(NAME, "build the HTTP client", e))?;
        let wiring = Wiring {
            proxy: &self.proxy,
            orders_link: LINKS[0].0,
            payments_link: LINKS[1].0,
            victim_link: LINKS[2].0,
            victim: &replicas[0].node,
            broker: &self.rabbit,
            queue: &queue,
        };
        let producers = Producers {
            orders: &publishers[0],
            payments: &publishers[1],
        };
        let run = run_against(producers, &consumer, wiring, options).await;
        for p in publishers {
            p.close().await;
        }
        for r in replicas {
            let _ = r.node.remove().await;
        }
        run
    }

    /// Removes every container, then answers `outcome`, the run's: its error first, a failed
    /// cleanup an error of its own.
    pub async fn finish<T>(self, outcome: Result<T, SuiteError>) -> Result<T, SuiteError> {
        let Broker { rabbit, pg, proxy } = self;
        drop(proxy);
        let pg = pg.shutdown().await;
        let rabbit = rabbit.shutdown().await;
        let value = outcome?;
        pg.map_err(|e| SuiteError::new(NAME, "remove the containers", e))?;
        rabbit.map_err(|e| SuiteError::new(NAME, "remove the containers", e))?;
        Ok(value)
    }
}

/// Runs the suite against the bundled consumer (in `options.run.variant`): two replicas on one
/// queue, the `orders` and `payments` producers through the fault proxy.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Variant};
/// use shakedown_suites::event_ordering::{reference, Options};
/// use shakedown_suites::reference::Launcher;
///
/// let options = Options { run: RunOptions::seeded(1).variant(Variant::Naive), ..Options::default() };
/// let run = reference(&options, &Launcher::default()).await?;
/// assert!(run.report.anomaly("duplicate_applied").unwrap() > 0);
/// # Ok(()) }
/// ```
pub async fn reference(
    options: &Options,
    launcher: &Launcher,
) -> Result<SuiteRun<OrderingOp, OrderingValue>, SuiteError> {
    let mode = Mode::of(NAME, options.run.variant)?;
    let broker = Broker::start(&options.run, launcher).await?;
    let run = broker.run(options, launcher, ApplyPolicy::of(mode)).await;
    broker.finish(run).await
}
