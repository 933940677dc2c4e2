use std::time::Duration;

use fake::faker::name::en::FirstName;
use fake::Fake;
use rand::Rng;
use shakedown::history::Done;
use shakedown::proxy::{Toxic, Toxicity};
use shakedown::{Run, RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::{NodeToxic, ProxyNode};

use super::{Order, OrderService, PartialFailureChecker, PaymentOp, PaymentValue, PaymentsLedger};

pub(super) const SUITE: &str = "partial_failure";

/// The ledger's table; put it in the database's template.
pub const SCHEMA: &str = "
CREATE TABLE charges (
    id bigserial PRIMARY KEY,
    order_id text NOT NULL,
    amount_cents bigint NOT NULL,
    idem_key text UNIQUE
);";

/// How the suite runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Seed (drives the fake orders and the proxy's corruption), variant label, call timeout.
    pub run: RunOptions,
    /// Orders placed in each phase (healthy, then one per fault).
    pub orders_per_phase: usize,
    /// How many customers the orders are dealt to (fewer than orders: customers repeat).
    pub customers: usize,
    /// Prefix of this run's order ids and customers; the checker reads only the ledger's
    /// charges of orders with it, so several runs can share one ledger.
    pub label: String,
    /// How slow the slow phase's replies are (above the caller's timeout).
    pub slow_reply: Duration,
    /// Share of reply bytes the corrupt phase flips.
    pub corrupt: Toxicity,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            run: RunOptions::default(),
            orders_per_phase: 4,
            customers: 3,
            label: "pf".into(),
            slow_reply: Duration::from_millis(1500),
            corrupt: Toxicity::new(0.002).unwrap_or(Toxicity::NEVER),
        }
    }
}

/// Where the suite breaks the wire: proxy `link` of a [`ProxyNode`] that the caller reaches
/// its dependency through.
#[derive(Debug, Clone, Copy)]
pub struct Wire<'a> {
    /// The proxy node.
    pub proxy: &'a ProxyNode,
    /// The proxy's name in it.
    pub link: &'a str,
}

/// The fault phases, in order: each a toxic on the dependency's replies.
pub fn phases(options: &Options) -> Vec<Toxic> {
    vec![
        // The charge is applied; the connection closes before a byte of the reply passes.
        Toxic::limit_data(0).named("reply_lost_after_apply"),
        // The first reply bytes are discarded and the connection reset.
        Toxic::reset_peer(Duration::ZERO).named("reset_mid_response"),
        Toxic::corrupt(options.corrupt).named("reply_corrupted"),
        Toxic::latency(options.slow_reply).named("reply_slower_than_timeout"),
    ]
}

/// The orders a run with these options places, phase by phase (healthy first).
pub fn orders(options: &Options) -> Vec<Vec<Order>> {
    let run = Run::<PaymentOp, PaymentValue>::new(SUITE, options.run.clone());
    let sizes = vec![options.orders_per_phase; phases(options).len() + 1];
    fake_orders(
        &mut run.rng("orders"),
        &options.label,
        options.customers,
        &sizes,
    )
}

/// Seeded fake orders, `sizes[p]` of them in phase `p`, from `customers` fake customers (at least
/// one); ids `<label>-<phase>-<i>`, amounts 1–1000 (in cents).
pub(crate) fn fake_orders(
    rng: &mut impl Rng,
    label: &str,
    customers: usize,
    sizes: &[usize],
) -> Vec<Vec<Order>> {
    let customers: Vec<String> = (0..customers.max(1))
        .map(|i| {
            let name: String = FirstName().fake_with_rng(rng);
            format!("{label}-{i}-{}", name.to_lowercase())
        })
        .collect();
    sizes
        .iter()
        .enumerate()
        .map(|(phase, &n)| {
            (0..n)
                .map(|i| Order {
                    id: format!("{label}-{phase}-{i}"),
                    customer: customers[rng.random_range(0..customers.len())].clone(),
                    amount_cents: rng.random_range(100..100_000),
                })
                .collect()
        })
        .collect()
}

type PaymentRun = Run<PaymentOp, PaymentValue>;

async fn place<S: OrderService>(
    run: &PaymentRun,
    system: &S,
    order: &Order,
) -> Result<(), SuiteError> {
    let value = PaymentValue::Place {
        order: order.clone(),
        record: None,
    };
    run.call(0, PaymentOp::Place, value, async {
        let record = system.place(order).await?;
        Ok(Done::new(PaymentValue::Place {
            order: order.clone(),
            record: Some(record),
        }))
    })
    .await?;
    Ok(())
}

/// Runs the partial-failure workload: a healthy phase, then one phase per fault of
/// [`phases`] on the dependency's replies (each healed before the next), placing
/// `orders_per_phase` seeded orders in each and asking the caller to reconcile after each
/// heal; then reads what the caller believes and what the ledger holds, and judges it.
///
/// ```no_run
/// # async fn demo(orders: shakedown_suites::partial_failure::HttpOrders, ledger: shakedown_suites::partial_failure::HttpLedger, proxy: shakedown_fixtures::ProxyNode) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::partial_failure::{run_against, Options, Wire};
/// let wire = Wire { proxy: &proxy, link: "payments" };
/// let run = run_against(&orders, &ledger, wire, &Options::default()).await?;
/// assert_eq!(run.report.anomaly("duplicate_charge").unwrap(), 0);
/// # Ok(()) }
/// ```
pub async fn run_against<S: OrderService, L: PaymentsLedger>(
    system: &S,
    ledger: &L,
    wire: Wire<'_>,
    options: &Options,
) -> Result<SuiteRun<PaymentOp, PaymentValue>, SuiteError> {
    let run = PaymentRun::new(SUITE, options.run.clone());
    let batches = orders(options);
    let mut faults = phases(options).into_iter();
    for (phase, batch) in batches.iter().enumerate() {
        let guard = match (phase > 0).then(|| faults.next()).flatten() {
            Some(toxic) => {
                run.progress(format!("phase: {}", toxic.name()));
                Some(
                    run.inject(NodeToxic::new(wire.proxy, wire.link, toxic))
                        .await?,
                )
            }
            None => None,
        };
        for order in batch {
            place(&run, system, order).await?;
        }
        if let Some(g) = guard {
            g.heal().await?;
        }
        run.call(0, PaymentOp::Reconcile, PaymentValue::Reconcile, async {
            system.reconcile().await?;
            Ok(Done::new(PaymentValue::Reconcile))
        })
        .await?;
    }
    let empty = PaymentValue::Believed { records: vec![] };
    run.call(1, PaymentOp::Believed, empty, async {
        let mut records = system.orders().await?;
        records.sort_by(|a, b| a.order_id.cmp(&b.order_id));
        Ok(Done::new(PaymentValue::Believed { records }))
    })
    .await?;
    let prefix = format!("{}-", options.label);
    let empty = PaymentValue::Ledger { charges: vec![] };
    run.call(1, PaymentOp::Ledger, empty, async {
        let mut charges = ledger.charges().await?;
        charges.retain(|c| c.order_id.starts_with(&prefix));
        Ok(Done::new(PaymentValue::Ledger { charges }))
    })
    .await?;
    Ok(run.finish(&[&PartialFailureChecker]))
}
