//! Shared database: two services on one PostgreSQL, `orders` (writes) and `reporting` (reads).
//! While `orders` does what teams do — migrates its table, scans it, opens connections — the
//! suite measures how far that reaches into `reporting` (the blast radius).
//!
//! - Events (each its own phase after a healthy one, in the timeline): a long transaction
//!   holds `ACCESS SHARE` on the table ([`LockHeld`](shakedown_fixtures::postgres::LockHeld))
//!   while `orders` migrates it: the migration's `ACCESS EXCLUSIVE` request queues behind it
//!   and every later query on the table queues behind the migration (the lock queue); a noisy
//!   neighbour, full scans as `orders`' role
//!   ([`NoisyQuery`](shakedown_fixtures::postgres::NoisyQuery)); `orders`' role opening
//!   connections until refused
//!   ([`ConnectionsExhausted`](shakedown_fixtures::postgres::ConnectionsExhausted)).
//! - Workload: seeded fake orders written, and customers' reports read, on a fixed schedule in
//!   every phase (calls overlap when the database stalls); the migration; the stored orders at
//!   the end.
//! - Checkers: [`BlastRadiusChecker`](shakedown::checker::BlastRadiusChecker) on the reports —
//!   each event's phase whose error rate, or p99 latency beyond a budget, is above the healthy
//!   phase's; [`SharedDatabaseChecker`] — the migration completed, no acknowledged write lost.
//!   Both count outcomes users see, so a correct design unlike ours (a separate pool with
//!   reserved connections, a migration tool retrying a short `lock_timeout`) passes.
//! - Reference ([`orders_service`], [`reporting_service`], set up by a [`Policy`]): `naive` is
//!   one role for everyone in one schema, no timeouts, no connection limits; `hardened` is a
//!   role and schema per service, `lock_timeout` in the migration's session with retries (and
//!   `CREATE INDEX CONCURRENTLY`), `statement_timeout` per role, a `CONNECTION LIMIT` on
//!   `orders`' role.
//!
//! To run it against your own services, implement [`OrdersService`] and [`ReportingService`]
//! for clients of them and call [`run_against`] with the database they share ([`SharedDb`]).

mod checker;
mod client;
pub mod orders_service;
mod policy;
pub mod reporting_service;
mod suite;
mod workload;

pub use checker::{DbOp, DbValue, SharedDatabaseChecker, ANOMALIES};
pub use client::{
    ClientError, CustomerReport, HttpOrders, HttpReporting, Order, OrdersService, ReportingService,
};
pub use policy::{LockTimeout, Policy};
pub use suite::{reference, reference_with, MAX_CONNECTIONS, PAST_ORDERS, SUITE};
pub use workload::{plan, run_against, Options, SharedDb};
