use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::join_all;
use lapin::options::QueueDeclareOptions;
use lapin::types::{FieldTable, ShortString};
use shakedown::fault::nemeses::KillProcess;
use shakedown::history::{Done, OpKind};
use shakedown::proxy::Toxic;
use shakedown::{Node, Run, SuiteError, SuiteRun};
use shakedown_fixtures::{NodeToxic, ProxyNode, RabbitMq};
use tokio::time::Instant;

use super::{
    ConsumerView, EventPublisher, Observation, OrderEvent, OrderingChecker, OrderingOp,
    OrderingValue, Plan, Producer,
};

pub(super) const SUITE: &str = "event_ordering";

/// How the suite runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Seed (drives the plan and the fake customers), variant label.
    pub run: shakedown::RunOptions,
    /// Orders with a lifecycle and a twist (every lifecycle meets every twist from 15 up).
    pub orders: usize,
    /// New orders created at once while the victim replica's acknowledgements are held; it
    /// holds `prefetch` of them unacknowledged when it is killed, if there are at least twice
    /// as many (replicas take turns).
    pub burst: usize,
    /// Prefix of this run's order ids.
    pub label: String,
    /// Latency and jitter on the `orders` producer's link.
    pub orders_latency: (Duration, Duration),
    /// Latency and jitter on the `payments` producer's link.
    pub payments_latency: (Duration, Duration),
    /// How long the consumer's observation must stay the same before a round counts as settled.
    pub quiet: Duration,
    /// How long a round waits for its events to be applied or parked (the consumer's
    /// availability: an event neither applied nor parked by then is lost).
    pub patience: Duration,
    /// The judgement.
    pub checker: OrderingChecker,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            run: shakedown::RunOptions::default(),
            orders: 30,
            burst: 30,
            label: "eo".into(),
            orders_latency: (Duration::from_millis(30), Duration::from_millis(20)),
            payments_latency: (Duration::from_millis(80), Duration::from_millis(60)),
            quiet: Duration::from_millis(300),
            patience: Duration::from_secs(2),
            checker: OrderingChecker,
        }
    }
}

/// The two producers, each on its own connection through its own proxy link.
#[derive(Debug)]
pub struct Producers<'a, P> {
    /// Publishes created, shipped, cancelled.
    pub orders: &'a P,
    /// Publishes paid, refunded.
    pub payments: &'a P,
}

impl<P> Clone for Producers<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for Producers<'_, P> {}

/// Where the faults go: the proxy's links (each producer's, and the one the victim replica
/// consumes through), the victim replica's node, and the broker and queue (to see the victim's
/// deliveries come back).
#[derive(Debug, Clone, Copy)]
pub struct Wiring<'a> {
    /// The fault proxy.
    pub proxy: &'a ProxyNode,
    /// The `orders` producer's link.
    pub orders_link: &'a str,
    /// The `payments` producer's link.
    pub payments_link: &'a str,
    /// The link the victim replica consumes through.
    pub victim_link: &'a str,
    /// The replica killed mid-batch (and restarted).
    pub victim: &'a Node,
    /// The broker.
    pub broker: &'a RabbitMq,
    /// The queue the replicas compete for.
    pub queue: &'a str,
}

type OrderingRun = Run<OrderingOp, OrderingValue>;

/// The plan a run with these options publishes.
pub fn plan(options: &Options) -> Plan {
    let run = OrderingRun::new(SUITE, options.run.clone());
    Plan::new(
        &mut run.rng("plan"),
        &options.label,
        options.orders,
        options.burst,
    )
}

async fn publish_all<P: EventPublisher>(
    run: &OrderingRun,
    producers: Producers<'_, P>,
    events: &[OrderEvent],
    next_process: &mut u64,
) -> Result<Vec<String>, SuiteError> {
    let calls = events.iter().map(|event| {
        *next_process += 1;
        let process = *next_process;
        let producer = event.kind.producer();
        let publisher = match producer {
            Producer::Orders => producers.orders,
            Producer::Payments => producers.payments,
        };
        let value = OrderingValue::Publish {
            producer,
            event: event.clone(),
        };
        async move {
            let done = value.clone();
            let kind = run
                .call(process, OrderingOp::Publish, value, async move {
                    publisher.publish(event).await?;
                    Ok(Done::new(done))
                })
                .await?;
            Ok::<_, SuiteError>((kind == OpKind::Ok).then(|| event.event_id.clone()))
        }
    });
    let mut confirmed = Vec::new();
    for r in join_all(calls).await {
        confirmed.extend(r?);
    }
    Ok(confirmed)
}

fn accounted(obs: &Observation, expected: &BTreeSet<String>) -> bool {
    let kept: BTreeSet<&str> = obs
        .applied
        .iter()
        .map(|a| a.event_id.as_str())
        .chain(obs.parked.iter().map(String::as_str))
        .collect();
    expected.iter().all(|id| kept.contains(id.as_str()))
}

/// Waits until every event in `expected` is applied or parked and the consumer's observation
/// stayed the same for `quiet`, or `patience` ran out (then, still, until it is quiet). Not
/// recorded: the history holds only what the checker judges.
async fn settle<C: ConsumerView>(consumer: &C, expected: &BTreeSet<String>, options: &Options) {
    let deadline = Instant::now() + options.patience;
    let mut last: Option<Observation> = None;
    let mut since = Instant::now();
    loop {
        let obs = consumer.observe().await.ok();
        if obs.is_some() && obs == last {
            let quiet = since.elapsed() >= options.quiet;
            if quiet
                && (Instant::now() >= deadline
                    || obs.as_ref().is_some_and(|o| accounted(o, expected)))
            {
                return;
            }
        } else {
            last = obs;
            since = Instant::now();
        }
        if Instant::now() >= deadline + options.patience {
            return; // never quiet: the final observation will tell
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the broker has taken back the killed replica's deliveries and handed them on:
/// one consumer fewer on the queue and nothing ready in it.
async fn redelivered(
    wiring: Wiring<'_>,
    consumers: u32,
    patience: Duration,
) -> Result<(), SuiteError> {
    let err = |step: &str, e: String| SuiteError::new(SUITE, step.to_string(), e);
    let conn = wiring
        .broker
        .connect()
        .await
        .map_err(|e| err("connect to the broker", e.to_string()))?;
    let ch = conn
        .create_channel()
        .await
        .map_err(|e| err("open a channel", e.to_string()))?;
    let deadline = Instant::now() + patience;
    loop {
        let q = ch
            .queue_declare(
                ShortString::from(wiring.queue),
                QueueDeclareOptions::durable().passive(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| err("read the queue", e.to_string()))?;
        if q.consumer_count() < consumers && q.message_count() == 0 {
            break;
        }
        if Instant::now() >= deadline {
            return Err(err(
                "wait for the killed replica's deliveries to come back",
                format!(
                    "after {patience:?}: {} consumers, {} ready",
                    q.consumer_count(),
                    q.message_count()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = conn.close(200, "done".into()).await;
    Ok(())
}

fn latency(name: &str, (latency, jitter): (Duration, Duration)) -> Toxic {
    Toxic::latency(latency)
        .jitter(jitter)
        .upstream()
        .named(name)
}

/// Runs the event-ordering workload against `producers` and the consumer seen through
/// `consumer`: with latency and jitter on both producers' links for the whole run, the plan's
/// rounds (one publication per order per round, all at once, each round settled before the
/// next), then the burst of new orders while the victim replica's acknowledgements are held on
/// its link, the victim killed while it holds them (the broker hands them to the others), its
/// link healed and the victim restarted; then the consumer is observed and judged with
/// [`OrderingChecker`].
///
/// ```no_run
/// # async fn demo(orders: shakedown_suites::event_ordering::AmqpPublisher, payments: shakedown_suites::event_ordering::AmqpPublisher, consumer: shakedown_suites::event_ordering::HttpConsumer, wiring: shakedown_suites::event_ordering::Wiring<'_>) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::event_ordering::{run_against, Options, Producers};
/// let producers = Producers { orders: &orders, payments: &payments };
/// let run = run_against(producers, &consumer, wiring, &Options::default()).await?;
/// assert_eq!(run.report.anomaly("duplicate_applied").unwrap(), 0);
/// # Ok(()) }
/// ```
pub async fn run_against<P: EventPublisher, C: ConsumerView>(
    producers: Producers<'_, P>,
    consumer: &C,
    wiring: Wiring<'_>,
    options: &Options,
) -> Result<SuiteRun<OrderingOp, OrderingValue>, SuiteError> {
    let run = OrderingRun::new(SUITE, options.run.clone());
    let plan = Plan::new(
        &mut run.rng("plan"),
        &options.label,
        options.orders,
        options.burst,
    );
    let proxy = wiring.proxy;
    let orders_slow = run
        .inject(NodeToxic::new(
            proxy,
            wiring.orders_link,
            latency("orders_latency", options.orders_latency),
        ))
        .await?;
    let payments_slow = run
        .inject(NodeToxic::new(
            proxy,
            wiring.payments_link,
            latency("payments_latency", options.payments_latency),
        ))
        .await?;
    let mut process = 0;
    let mut expected = BTreeSet::new();
    for (r, round) in plan.rounds().iter().enumerate() {
        run.progress(format!("round {}: {} events", r + 1, round.len()));
        expected.extend(publish_all(&run, producers, round, &mut process).await?);
        settle(consumer, &expected, options).await;
    }
    run.progress(format!(
        "burst of {} new orders, the victim's acks held",
        plan.burst.len()
    ));
    let held = Toxic::timeout(Duration::ZERO)
        .upstream()
        .named("victim_acks_held");
    let held = run
        .inject(NodeToxic::new(proxy, wiring.victim_link, held))
        .await?;
    expected.extend(publish_all(&run, producers, &plan.burst, &mut process).await?);
    settle(consumer, &expected, options).await;
    let consumers = {
        let conn = wiring
            .broker
            .connect()
            .await
            .map_err(|e| run.error("connect to the broker", e))?;
        let ch = conn
            .create_channel()
            .await
            .map_err(|e| run.error("open a channel", e))?;
        let q = ch
            .queue_declare(
                ShortString::from(wiring.queue),
                QueueDeclareOptions::durable().passive(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| run.error("read the queue", e))?;
        let _ = conn.close(200, "done".into()).await;
        q.consumer_count()
    };
    run.progress("killing the victim replica while it holds unacknowledged deliveries");
    let killed = run.inject(KillProcess::new(wiring.victim)).await?;
    held.heal().await?;
    redelivered(wiring, consumers, options.patience * 5).await?;
    settle(consumer, &expected, options).await;
    run.progress("restarting the victim replica");
    killed.heal().await?;
    orders_slow.heal().await?;
    payments_slow.heal().await?;
    settle(consumer, &expected, options).await;
    process += 1;
    let value = OrderingValue::Observe { observation: None };
    run.call(process, OrderingOp::Observe, value, async {
        let observation = consumer.observe().await?;
        Ok(Done::new(OrderingValue::Observe {
            observation: Some(observation),
        }))
    })
    .await?;
    Ok(run.finish(&[&options.checker]))
}
