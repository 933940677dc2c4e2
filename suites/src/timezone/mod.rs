//! Timezone bugs: "charge every tenant at 09:00" implemented in the server's zone, with
//! timestamps without zone, so charges land at the wrong local time, repeat or go missing around
//! midnight and DST changes, and daily reports count rows in the wrong day.
//!
//! - Faults: the scheduler's container runs in one zone (`TZ=Asia/Tokyo`), PostgreSQL in another
//!   (`timezone = America/New_York`); both clocks are walked by libfaketime jumps through three
//!   windows of simulated time, around the US DST change (2026-03-08), the EU's (03-29) and the
//!   end of DST in Australia and New Zealand (04-05), so a day passes in seconds.
//! - Workload: per window, seeded fake tenants sign up at its start (inside the simulated time),
//!   in zones with and without DST in both hemispheres and with fractional offsets (+05:30,
//!   +05:45, +09:30, −03:30, +12:45); scheduler passes come at irregular times, one retried within
//!   the same minute and one an hour late; afterwards every tenant's daily reports are read.
//! - Checkers: [`TimezoneChecker`] — charges before 09:00 local or later than the first pass
//!   after it, days missed or charged more than once, report rows counted in the wrong day;
//!   [`AvailabilityChecker`](shakedown::checker::AvailabilityChecker) — passes and reports that
//!   failed.
//! - Reference service ([`service`]), backed by PostgreSQL. `naive`: fires when the server's wall
//!   clock passes 09:00, stores `timestamp` (without zone) from the database's `now()`, and
//!   cuts days at midnight of those stored values. `hardened`: stores `timestamptz` (UTC) plus the
//!   tenant's local day, fires in each tenant's IANA zone with `jiff` (DST-aware) at the first
//!   pass at or after 09:00 (catching up a late pass), once per local day, and reports over
//!   `[local midnight, next local midnight)`.
//!
//! To run it against your own scheduler, implement [`BillingSystem`] for a client of it and call
//! [`run_against`] with the nodes whose clocks to move.

mod checker;
mod client;
pub mod service;
mod suite;
mod workload;

pub use checker::{due, judged_days, BillingOp, BillingValue, Observed, TimezoneChecker, Window};
pub use client::{BillingSystem, ClientError, HttpBilling};
pub use suite::{reference, SUITE};
pub use workload::{plan_passes, run_against, tenants, Clocks, Options, Passes, SCHEMA};
