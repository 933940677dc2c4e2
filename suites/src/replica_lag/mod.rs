//! Read replica lag: a user saves, the page reloads, the old data shows — the write went to the
//! primary, the read came from a replica that is behind.
//!
//! - Faults: every replica applies commits only after a delay (`recovery_min_apply_delay`); then
//!   every replica's replay is paused outright (teams read from a pool: any replica may serve).
//! - Workload: seeded fake users, each with a session and a profile created while the cluster is
//!   healthy (so the replicas hold an older version); in each fault phase every user updates
//!   the profile and reloads it at once and at points across and beyond the lag.
//! - Checkers: [`ReadYourWritesChecker`](shakedown::checker::ReadYourWritesChecker) — a user
//!   who does not see their own last write had a stale read; and
//!   [`AvailabilityChecker`](shakedown::checker::AvailabilityChecker) — a read path that refuses
//!   or hangs (past the users' patience) while a replica lags is not handling it either.
//! - Reference service ([`service`]): `naive` writes to the primary and reads from a replica;
//!   `hardened` returns each write's WAL position to the session (a cookie) and serves a read
//!   from a replica only once that replica has replayed that position (waiting a bounded time),
//!   else from the primary.
//!
//! To run it against your own service, implement [`ProfileService`] for a client of it and call
//! [`run_against`] with the [`PgCluster`](shakedown_fixtures::PgCluster) your service uses.

mod client;
pub mod service;
mod suite;
mod workload;

pub use client::{ClientError, HttpProfiles, HttpSession, Profile, ProfileService, ProfileSession};
pub use suite::{profiles_service, reference, SUITE};
pub use workload::{run_against, Options, SCHEMA};
