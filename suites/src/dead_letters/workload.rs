use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fake::faker::name::en::FirstName;
use fake::Fake;
use rand::Rng;
use shakedown::history::Done;
use shakedown::{Run, RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::{ProxyDisabled, ProxyNode};

use super::{DeadLetterChecker, DlqOp, DlqValue, Kind, Message, Payment, PaymentConsumer, Stage};

pub(super) const SUITE: &str = "dead_letters";

/// How the suite runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Seed (drives the fake payments), variant label, call timeout.
    pub run: RunOptions,
    /// Good payments published while the database is up.
    pub healthy: usize,
    /// Of those, how many are published a second time (same id and body) right after.
    pub republished: usize,
    /// Poison payments in the legacy format, among the healthy ones.
    pub legacy: usize,
    /// Poison payments for customers that do not exist yet, among the healthy ones.
    pub unknown_customers: usize,
    /// Good payments published while the consumer's database is cut off.
    pub during_outage: usize,
    /// Customers that exist (the payments are dealt to them).
    pub customers: usize,
    /// How long the database stays cut off.
    pub outage: Duration,
    /// The consumer is done once nothing waits in its queues and nothing changed for this long
    /// (or every message is processed or dead-lettered).
    pub quiet: Duration,
    /// The longest the suite waits for the consumer to be done after a phase.
    pub settle_within: Duration,
    /// How soon after the first failed message an alert must fire.
    pub alert_within: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            run: RunOptions::default(),
            healthy: 8,
            republished: 2,
            legacy: 2,
            unknown_customers: 2,
            during_outage: 6,
            customers: 4,
            outage: Duration::from_secs(2),
            quiet: Duration::from_secs(1),
            settle_within: Duration::from_secs(6),
            alert_within: Duration::from_secs(5),
        }
    }
}

/// Where the suite cuts the consumer's database off: proxy `link` of a [`ProxyNode`] that the
/// consumer reaches PostgreSQL through.
#[derive(Debug, Clone, Copy)]
pub struct DbLink<'a> {
    /// The proxy node.
    pub proxy: &'a ProxyNode,
    /// The proxy's name in it.
    pub link: &'a str,
}

/// What a run with these options publishes, and the customers that must exist before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The customers the consumer's system must know before the run.
    pub customers: Vec<String>,
    /// Published while the database is up: good payments, poison among them, some twice.
    pub healthy: Vec<Message>,
    /// Published while the database is cut off.
    pub during_outage: Vec<Message>,
}

fn name(rng: &mut impl Rng, prefix: &str, i: usize) -> String {
    let first: String = FirstName().fake_with_rng(rng);
    format!("{prefix}-{i}-{}", first.to_lowercase())
}

/// The seeded plan of a run: ids `pay-<n>`; a poison message after every second good one
/// (legacy and unknown customer in turn), a republished message after every third.
///
/// ```
/// use shakedown_suites::dead_letters::{plan, Kind, Options};
/// let p = plan(&Options::default());
/// assert_eq!(p.healthy.iter().filter(|m| m.kind.is_poison()).count(), 4);
/// assert_eq!(p.during_outage.len(), 6);
/// assert_eq!(p, plan(&Options::default()), "seeded");
/// ```
pub fn plan(options: &Options) -> Plan {
    let run = Run::<DlqOp, DlqValue>::new(SUITE, options.run.clone());
    let mut rng = run.rng("payments");
    let customers: Vec<String> = (0..options.customers.max(1))
        .map(|i| name(&mut rng, "cust", i))
        .collect();
    let mut n = 0;
    let mut payment = |rng: &mut rand_chacha::ChaCha8Rng, customer: String| {
        n += 1;
        let p = Payment {
            customer,
            amount_cents: rng.random_range(100..100_000),
        };
        (format!("pay-{n:03}"), p)
    };
    let mut poison = Vec::new();
    for i in 0..options.legacy.max(options.unknown_customers) {
        if i < options.legacy {
            let c = customers[rng.random_range(0..customers.len())].clone();
            let (id, p) = payment(&mut rng, c);
            poison.push(Message {
                id,
                kind: Kind::Legacy,
                body: p.legacy_body(),
            });
        }
        if i < options.unknown_customers {
            let c = name(&mut rng, "new", i);
            let (id, p) = payment(&mut rng, c);
            poison.push(Message {
                id,
                kind: Kind::UnknownCustomer,
                body: p.current_body(),
            });
        }
    }
    let mut good = |rng: &mut rand_chacha::ChaCha8Rng, kind: Kind| {
        let c = customers[rng.random_range(0..customers.len())].clone();
        let (id, p) = payment(rng, c);
        Message {
            id,
            kind,
            body: p.current_body(),
        }
    };
    let healthy_good: Vec<Message> = (0..options.healthy)
        .map(|_| good(&mut rng, Kind::Good))
        .collect();
    let during_outage = (0..options.during_outage)
        .map(|_| good(&mut rng, Kind::DuringOutage))
        .collect();
    let mut healthy = Vec::new();
    let (mut poison, mut again) = (poison.into_iter(), 0);
    for (i, m) in healthy_good.iter().enumerate() {
        healthy.push(m.clone());
        if i % 2 == 1 {
            healthy.extend(poison.next());
        }
        if i % 3 == 2 && again < options.republished {
            let twice = &healthy_good[i - 2];
            healthy.push(Message {
                kind: Kind::Republished,
                ..twice.clone()
            });
            again += 1;
        }
    }
    healthy.extend(poison);
    Plan {
        customers,
        healthy,
        during_outage,
    }
}

type DlqRun = Run<DlqOp, DlqValue>;

async fn publish<S: PaymentConsumer>(
    run: &DlqRun,
    system: &S,
    message: &Message,
) -> Result<(), SuiteError> {
    let value = DlqValue::Publish {
        message: message.clone(),
    };
    run.call(0, DlqOp::Publish, value.clone(), async {
        system.publish(message).await?;
        Ok(Done::new(value.clone()))
    })
    .await?;
    Ok(())
}

/// Waits until the consumer is done: nothing waits in its queues and either every message is
/// processed or dead-lettered, or nothing changed for `options.quiet`; at most
/// `options.settle_within`.
async fn settle<S: PaymentConsumer>(system: &S, published: usize, options: &Options) {
    let started = Instant::now();
    let mut last = None;
    let mut since = Instant::now();
    while started.elapsed() < options.settle_within {
        let backlog = system.backlog().await.ok();
        let processed = system.processed().await.ok().map(|p| p.len());
        let now = (backlog, processed);
        if last != Some(now) {
            last = Some(now);
            since = Instant::now();
        }
        if let (Some(b), Some(p)) = now {
            let accounted = p + b.dead as usize >= published;
            if b.waiting == 0 && (accounted || since.elapsed() >= options.quiet) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn read<S: PaymentConsumer>(
    run: &DlqRun,
    system: &S,
    stage: Stage,
) -> Result<(), SuiteError> {
    let empty = DlqValue::Processed {
        stage,
        processed: vec![],
    };
    run.call(1, DlqOp::Processed, empty, async {
        let mut processed = system.processed().await?;
        processed.sort_by(|a, b| a.message_id.cmp(&b.message_id));
        Ok(Done::new(DlqValue::Processed { stage, processed }))
    })
    .await?;
    let empty = DlqValue::DeadLetters {
        stage,
        dead: vec![],
    };
    run.call(1, DlqOp::DeadLetters, empty, async {
        let mut dead = system.dead_letters().await?;
        dead.sort_by(|a, b| a.message_id.cmp(&b.message_id));
        Ok(Done::new(DlqValue::DeadLetters { stage, dead }))
    })
    .await?;
    Ok(())
}

/// Watches the alerts until one fires (noting when, on the run's clock) or `stop` is set; the
/// operation completes when stopped, so its place in the history does not depend on timing.
async fn watch_alerts<S: PaymentConsumer>(
    run: &DlqRun,
    system: &S,
    stop: &AtomicBool,
) -> Result<(), SuiteError> {
    let none = DlqValue::Alerts {
        alerts: vec![],
        first_seen: None,
    };
    run.call(2, DlqOp::WatchAlerts, none, async {
        let mut seen = None;
        while !stop.load(Ordering::Relaxed) {
            if seen.is_none() {
                if let Ok(alerts) = system.alerts().await {
                    if !alerts.is_empty() {
                        seen = Some((alerts, run.elapsed()));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (alerts, first_seen) = match seen {
            Some((a, t)) => (a, Some(t)),
            None => (vec![], None),
        };
        Ok(Done::new(DlqValue::Alerts { alerts, first_seen }))
    })
    .await?;
    Ok(())
}

/// Runs the dead-letter workload against `system`, whose database the suite can cut off at
/// `db`: publishes the [`plan`]'s healthy payments (poison and republished ones among them),
/// waits for the consumer, cuts the database off ([`ProxyDisabled`]) for `options.outage`
/// while publishing more, heals it and waits again — watching the alerts all along; reads what
/// was processed and dead-lettered, deploys the fix, redrives, waits, reads again, and judges
/// it with [`DeadLetterChecker`]. The customers of the plan must exist before.
///
/// ```no_run
/// # async fn demo(consumer: shakedown_suites::dead_letters::ReferenceConsumer<'_>, proxy: shakedown_fixtures::ProxyNode) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::dead_letters::{run_against, DbLink, Options};
/// let db = DbLink { proxy: &proxy, link: "postgres" };
/// let run = run_against(&consumer, db, &Options::default()).await?;
/// assert_eq!(run.report.anomaly("lost").unwrap(), 0);
/// # Ok(()) }
/// ```
pub async fn run_against<S: PaymentConsumer>(
    system: &S,
    db: DbLink<'_>,
    options: &Options,
) -> Result<SuiteRun<DlqOp, DlqValue>, SuiteError> {
    let run = DlqRun::new(SUITE, options.run.clone());
    let plan = plan(options);
    let distinct = |ms: &[Message]| {
        let mut ids: Vec<&str> = ms.iter().map(|m| m.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let stop = AtomicBool::new(false);
    let phases = async {
        let result = async {
            run.progress("phase: healthy, poison and republished payments among good ones");
            for m in &plan.healthy {
                publish(&run, system, m).await?;
            }
            settle(system, distinct(&plan.healthy), options).await;
            run.progress("phase: the consumer's database cut off");
            let started = Instant::now();
            let cut = run.inject(ProxyDisabled::new(db.proxy, db.link)).await?;
            for m in &plan.during_outage {
                publish(&run, system, m).await?;
            }
            tokio::time::sleep(options.outage.saturating_sub(started.elapsed())).await;
            cut.heal().await?;
            let all = [plan.healthy.as_slice(), plan.during_outage.as_slice()].concat();
            settle(system, distinct(&all), options).await;
            Ok::<_, SuiteError>(())
        }
        .await;
        stop.store(true, Ordering::Relaxed);
        result
    };
    let (watched, phased) = tokio::join!(watch_alerts(&run, system, &stop), phases);
    watched?;
    phased?;
    read(&run, system, Stage::BeforeFix).await?;
    run.progress("deploying the fix and redriving the dead letters");
    run.call(1, DlqOp::DeployFix, DlqValue::DeployFix, async {
        system.deploy_fix().await?;
        Ok(Done::new(DlqValue::DeployFix))
    })
    .await?;
    run.call(
        1,
        DlqOp::Redrive,
        DlqValue::Redrive { moved: None },
        async {
            let moved = system.redrive().await?;
            Ok(Done::new(DlqValue::Redrive { moved: Some(moved) }))
        },
    )
    .await?;
    let total = distinct(&[plan.healthy.as_slice(), plan.during_outage.as_slice()].concat());
    settle(system, total, options).await;
    read(&run, system, Stage::AfterRedrive).await?;
    let checker = DeadLetterChecker {
        alert_within: options.alert_within,
    };
    Ok(run.finish(&[&checker]))
}
