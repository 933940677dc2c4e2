//! Circuit breaker not triggering: `checkout` calls `payments`, `payments` goes slow, then
//! refuses connections, then comes back — and a breaker that counts the wrong failures keeps
//! calling it, makes users wait for it, or never lets them through again.
//!
//! - Faults (back to back, on the real wire through a [`ProxyNode`](shakedown_fixtures::ProxyNode)
//!   between the two containers): replies far slower than a sane timeout (`latency` 2 s), then
//!   every request answered `503` by the proxy (`http_status`, never forwarded), then the proxy
//!   disabled (connection refused); then healed (recovered).
//! - Workload: open-loop traffic of seeded fake orders (one call every 50 ms: a healthy phase,
//!   each outage phase, the recovered phase), the dependency's request count (payments' ledger, plus
//!   the requests the proxy answered with `503`) read at each boundary.
//! - Checker: [`BreakerChecker`] — calls that reached the dependency while it was down (its
//!   count), p99 latency during the outage, time to open, whether the calls are served again
//!   after recovery, answers by fallback.
//! - Reference (`checkout` over [`BreakerCaller`], the `payments` service and ledger of
//!   [`partial_failure`](crate::partial_failure)): `naive` counts only connection errors over a
//!   window of 1000 calls, without a timeout; `hardened` counts timeouts, 5xx, slow calls and
//!   connection errors over the last 10 calls (at least 5), a 250 ms timeout, fails fast with a
//!   fallback while open, half-opens after 1 s with 3 probes.
//!
//! To run it against your own caller, implement [`OrderCaller`] for it and [`DependencyCount`]
//! for your dependency (or the proxy in front of it), put a proxy node between them and call
//! [`run_against`].

mod breaker;
mod caller;
mod checker;
mod client;
pub mod service;
mod suite;
mod workload;

pub use breaker::{Breaker, BreakerPolicy, BreakerState, CallEnd, Counts, Permit};
pub use caller::BreakerCaller;
pub use checker::{BreakerChecker, BreakerOp, BreakerValue, ANOMALIES};
pub use client::{
    CallAnswer, ClientError, DependencyCount, HttpCheckout, LedgerCount, OrderCaller, Outcome,
};
pub use suite::{reference, reference_count, SUITE};
pub use workload::{orders, phases, run_against, Options, PhaseFault, FAILING_TOXIC};
