//! Inconsistent reads: replicas at different lags behind a load balancer. A user saves their
//! profile and reloads it; each reload lands on whichever replica the balancer picks, so the data
//! goes back and forth between reloads, and the user's own update disappears.
//!
//! - Fault: two replicas behind HAProxy (round-robin, a PostgreSQL health check per replica):
//!   one near zero lag, one applying commits seconds late (`recovery_min_apply_delay`); then the
//!   first one's replay is paused as well.
//! - Workload: seeded fake profiles; sessions save, reload at several delays after the save
//!   (reconnecting in between), save again, reload again.
//! - Checker: [`SessionChecker`](shakedown::checker::SessionChecker) — read-your-writes and
//!   monotonic-read violations per session, and the staleness of every read in versions
//!   (counted) and in time ([`read_staleness`](shakedown::checker::read_staleness)).
//! - Reference service ([`service`]): `naive` reads through the balancer from any replica;
//!   `hardened` keeps an LSN floor per session (the highest position it wrote or saw) and serves
//!   a read from the balanced replica only once that replica, on the connection that serves the
//!   read, has replayed up to the floor (waiting a bounded time), else from the primary.
//!
//! To run it against your own service, implement [`ProfilePages`] for a client of it and call
//! [`run_against`] with the [`PgCluster`](shakedown_fixtures::PgCluster) your service uses.

mod client;
pub mod service;
mod suite;
mod workload;

pub use client::{ClientError, HttpPageSession, HttpPages, PageSession, Profile, ProfilePages};
pub use suite::{reference, SUITE};
pub use workload::{run_against, Options};
