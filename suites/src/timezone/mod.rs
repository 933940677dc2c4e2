//! Timezone bugs: "charge every tenant at 09:00" implemented in the server's zone, with
//! timestamps without zone, so charges land at the wrong local time, repeat or go missing around
//! midnight and DST changes, and daily reports count rows in the wrong day.
//!
//! - Faults: the scheduler's container runs in one zone (`TZ=Asia/Tokyo`), PostgreSQL in another
//!   (`timezone = America/New_York`); both clocks are walked by libfaketime jumps through three
//!   simulated days across the US DST change of 2026-03-08, in 30-minute steps, so a day passes in
//!   seconds.
//! - Workload: seeded fake tenants in zones with and without DST (and a half-hour offset); after
//!   each clock step the scheduler runs one pass; afterwards every tenant's daily report is read.
//! - Checker: [`TimezoneChecker`] — charges at the wrong local time, days missed or charged more
//!   than once, report rows counted in the wrong day.
//! - Reference service ([`service`]), backed by PostgreSQL. `naive`: fires when the server's wall
//!   clock passes 09:00, stores `timestamp` (without zone) from the database's `now()`, and
//!   cuts days at midnight of those stored values. `hardened`: stores `timestamptz` (UTC) plus the
//!   tenant's local day, fires in each tenant's IANA zone with `jiff` (DST-aware, within an hour
//!   of 09:00, once per local day), and reports over `[local midnight, next local midnight)`.
//!
//! To run it against your own scheduler, implement [`BillingSystem`] for a client of it and call
//! [`run_against`] with the nodes whose clocks to move.

mod checker;
mod client;
pub mod service;
mod suite;
mod workload;

pub use checker::{BillingOp, BillingValue, TimezoneChecker, Window};
pub use client::{BillingSystem, ClientError, HttpBilling};
pub use suite::{reference, SUITE};
pub use workload::{run_against, tenants, Clocks, Options, SCHEMA};
