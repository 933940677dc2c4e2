use std::future::Future;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use shakedown::fault::FaultGuard;
use shakedown::history::Done;
use shakedown::proxy::Toxic;
use shakedown::{Run, RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::{NodeToxic, ProxyDisabled};

use super::{BreakerChecker, BreakerOp, BreakerValue, DependencyCount, OrderCaller};
use crate::partial_failure::{fake_orders, Order, Wire};

pub(super) const SUITE: &str = "circuit_breaker";

/// How the suite runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Seed (drives the fake orders), variant label.
    pub run: RunOptions,
    /// Time between two calls (the traffic is open-loop: a call starts on time whatever the
    /// ones before it are doing, as users' requests do).
    pub interval: Duration,
    /// Calls in the healthy phase and in each outage phase.
    pub calls_per_phase: usize,
    /// Calls after recovery (enough to see the breaker close and the calls served again).
    pub recovered_calls: usize,
    /// How slow the dependency's replies are in the slow phase (far above a sane timeout).
    pub slow_reply: Duration,
    /// How many customers the orders are dealt to.
    pub customers: usize,
    /// Prefix of this run's order ids; the dependency count reads only charges with it, so
    /// several runs can share one ledger.
    pub label: String,
    /// The judgement's bounds.
    pub checker: BreakerChecker,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            run: RunOptions::default(),
            interval: Duration::from_millis(50),
            calls_per_phase: 40,
            recovered_calls: 60,
            slow_reply: Duration::from_secs(2),
            customers: 5,
            label: "cb".into(),
            checker: BreakerChecker::default(),
        }
    }
}

/// One outage phase's fault, on the wire between the caller and its dependency.
#[derive(Debug, Clone)]
pub enum PhaseFault {
    /// A toxic on the dependency's proxy.
    Toxic(Toxic),
    /// The proxy disabled: connection refused.
    Disabled,
}

/// The outage phases, in order and back to back (the dependency is down from the first one's
/// start to the last one's end): slow replies, then every request answered `503` by the proxy
/// (never forwarded), then refused connections.
pub fn phases(options: &Options) -> Vec<PhaseFault> {
    vec![
        PhaseFault::Toxic(Toxic::latency(options.slow_reply).named("dependency_slow")),
        PhaseFault::Toxic(Toxic::http_status(503).named(FAILING_TOXIC)),
        PhaseFault::Disabled,
    ]
}

/// The name of the toxic answering `503` in the failing phase (its requests are counted at the
/// proxy: [`LedgerCount::with_proxy`](super::LedgerCount::with_proxy)).
pub const FAILING_TOXIC: &str = "dependency_503";

/// The orders a run with these options places: the healthy phase's, each outage phase's, then
/// the recovered phase's.
pub fn orders(options: &Options) -> Vec<Vec<Order>> {
    let run = Run::<BreakerOp, BreakerValue>::new(SUITE, options.run.clone());
    let outage = phases(options).len();
    let sizes: Vec<usize> = (0..outage + 2)
        .map(|phase| {
            if phase == outage + 1 {
                options.recovered_calls
            } else {
                options.calls_per_phase
            }
        })
        .collect();
    fake_orders(
        &mut run.rng("orders"),
        &options.label,
        options.customers,
        &sizes,
    )
}

type BreakerRun = Run<BreakerOp, BreakerValue>;

async fn place<S: OrderCaller>(
    run: &BreakerRun,
    system: &S,
    process: u64,
    order: &Order,
) -> Result<(), SuiteError> {
    let value = BreakerValue::Place {
        order_id: order.id.clone(),
        answer: None,
    };
    run.call(process, BreakerOp::Place, value, async {
        let answer = system.place(order).await?;
        Ok(Done::new(BreakerValue::Place {
            order_id: order.id.clone(),
            answer: Some(answer),
        }))
    })
    .await?;
    Ok(())
}

async fn sample<D: DependencyCount>(run: &BreakerRun, dependency: &D) -> Result<(), SuiteError> {
    let value = BreakerValue::Reached { count: None };
    run.call(0, BreakerOp::Reached, value, async {
        let count = dependency.reached().await?;
        Ok(Done::new(BreakerValue::Reached { count: Some(count) }))
    })
    .await?;
    Ok(())
}

/// Awaits `fut` while the calls in flight go on (and are recorded as they end).
async fn drive<C, T>(
    inflight: &mut FuturesUnordered<C>,
    fut: impl Future<Output = T>,
) -> Result<T, SuiteError>
where
    C: Future<Output = Result<(), SuiteError>>,
{
    let mut fut = std::pin::pin!(fut);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return Ok(out),
            Some(done) = inflight.next() => done?,
        }
    }
}

async fn inject<'a, C>(
    run: &BreakerRun,
    inflight: &mut FuturesUnordered<C>,
    wire: Wire<'a>,
    fault: &PhaseFault,
) -> Result<FaultGuard<'a>, SuiteError>
where
    C: Future<Output = Result<(), SuiteError>>,
{
    match fault {
        PhaseFault::Toxic(t) => {
            run.progress(format!("phase: {}", t.name()));
            let nemesis = NodeToxic::new(wire.proxy, wire.link, t.clone());
            drive(inflight, run.inject(nemesis)).await?
        }
        PhaseFault::Disabled => {
            run.progress("phase: dependency refusing connections");
            drive(
                inflight,
                run.inject(ProxyDisabled::new(wire.proxy, wire.link)),
            )
            .await?
        }
    }
}

/// Runs the circuit-breaker workload: open-loop traffic (one call every `interval`), a healthy
/// phase, the outage phases of [`phases`] back to back, then the recovered phase, each ending
/// once its calls are answered; the dependency's count of requests is read before and after
/// every phase. Then judges it with [`BreakerChecker`].
///
/// ```no_run
/// # async fn demo(checkout: shakedown_suites::circuit_breaker::HttpCheckout, count: shakedown_suites::circuit_breaker::LedgerCount, proxy: shakedown_fixtures::ProxyNode) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::circuit_breaker::{run_against, Options};
/// use shakedown_suites::partial_failure::Wire;
/// let wire = Wire { proxy: &proxy, link: "payments" };
/// let run = run_against(&checkout, &count, wire, &Options::default()).await?;
/// assert_eq!(run.report.anomaly("dependency_called_while_down").unwrap(), 0);
/// # Ok(()) }
/// ```
pub async fn run_against<S: OrderCaller, D: DependencyCount>(
    system: &S,
    dependency: &D,
    wire: Wire<'_>,
    options: &Options,
) -> Result<SuiteRun<BreakerOp, BreakerValue>, SuiteError> {
    let run = BreakerRun::new(SUITE, options.run.clone());
    let batches = orders(options);
    let faults = phases(options);
    let mut inflight = FuturesUnordered::new();
    let mut guard: Option<FaultGuard<'_>> = None;
    let mut process = 0;
    for (phase, batch) in batches.iter().enumerate() {
        // A phase ends once its calls are answered, so every phase starts at the same place in
        // the history on every run (the report's fault positions are exact).
        while let Some(done) = inflight.next().await {
            done?;
        }
        sample(&run, dependency).await?;
        if let Some(g) = guard.take() {
            drive(&mut inflight, g.heal()).await??;
        }
        if let Some(fault) = phase.checked_sub(1).and_then(|i| faults.get(i)) {
            guard = Some(inject(&run, &mut inflight, wire, fault).await?);
        } else if phase > 0 {
            run.progress("phase: recovered");
        }
        let start = tokio::time::Instant::now();
        for (i, order) in batch.iter().enumerate() {
            process += 1;
            inflight.push(place(&run, system, process, order));
            let next = start + options.interval * (i as u32 + 1);
            drive(&mut inflight, tokio::time::sleep_until(next)).await?;
        }
    }
    while let Some(done) = inflight.next().await {
        done?;
    }
    drop(inflight);
    sample(&run, dependency).await?;
    Ok(run.finish(&[&options.checker]))
}
