//! Event ordering: order lifecycle events (created, paid, shipped, cancelled, refunded) for
//! seeded fake orders, published by two services — `orders` and `payments`, each on its own
//! connection through the fault proxy — and consumed by competing replicas of one consumer, one
//! of them killed mid-batch. A consumer that applies events as they arrive ships orders before
//! they are paid, revives cancelled ones, and applies redelivered events twice.
//!
//! - Faults (in the run's timeline): latency with jitter on each producer's link for the whole
//!   run (`orders` 30 ± 20 ms, `payments` 80 ± 60 ms); then, during a burst of new orders, the
//!   victim replica's acknowledgements held on its link (`timeout` upstream: they vanish), the
//!   victim killed while it holds `prefetch` unacknowledged deliveries it already applied (the
//!   broker hands them to the other replica), its link healed and the victim restarted.
//! - Workload: a seeded [`Plan`]: every lifecycle meets every [`Twist`] (in order; a later
//!   event first; that early event published twice; an earlier event republished at the end;
//!   an event never published, so a gap never fills). One publication per order per round,
//!   all at once, each round settled before the next (every event applied or parked and the
//!   consumer quiet): the arrival order per order is the plan's, whatever the jitter and
//!   whichever replica takes what, so every count is exact. Then the burst (one `created` per
//!   new order), the kill, and the consumer's [`Observation`] read once at the end.
//! - Checker: [`OrderingChecker`] — per order, the final state against the truth the plan
//!   publishes (up to the first version never published); invalid transitions applied; events
//!   applied out of version order; duplicates applied; confirmed events neither applied nor
//!   parked (lost: dropped, or not applied within the patience).
//! - Reference (`order-consumer`, two replicas with prefetch 10 on one quorum queue, state in
//!   PostgreSQL): `naive` applies each event as it arrives; `hardened` keeps the last applied
//!   version per order in PostgreSQL, parks early events and applies them when the gap fills
//!   (a gap that never fills stays parked: flagged), ignores stale and duplicate events (by
//!   event id), all in one transaction with the state change, and acks after the commit.
//!   Test-only policies ([`ApplyPolicy`]): the version check without parking, parking without
//!   dedupe, versions and parking in each replica's memory, and an event store projected in
//!   version order (correct, differently).
//!
//! To run it against your own system, implement [`EventPublisher`] for your producers and
//! [`ConsumerView`] for your consumer, put the producers and one consumer replica behind a
//! proxy node and call [`run_against`].

mod checker;
mod client;
pub mod consumer_service;
mod event;
mod plan;
mod policy;
mod publisher;
mod suite;
mod workload;

pub use checker::{OrderingChecker, OrderingOp, OrderingValue, ANOMALIES};
pub use client::{
    Applied, ClientError, ConsumerView, EventPublisher, HttpConsumer, Observation, OrderState,
};
pub use event::{EventKind, Lifecycle, OrderEvent, Producer};
pub use plan::{Plan, PlannedOrder, Twist};
pub use policy::{ApplyPolicy, SCHEMA};
pub use publisher::AmqpPublisher;
pub use suite::{reference, Broker, SUITE};
pub use workload::{plan, run_against, Options, Producers, Wiring};
