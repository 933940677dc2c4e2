//! Read replica lag: a user saves, the page reloads, the old data shows — the write went to the
//! primary, the read came from a replica that is behind.
//!
//! - Fault: the replica applies commits only after a delay (`recovery_min_apply_delay`), then its
//!   replay is paused outright.
//! - Workload: seeded fake profiles; each session saves a profile, reads it back at once, updates
//!   it, reads it back again.
//! - Checker: [`ReadYourWritesChecker`](shakedown::checker::ReadYourWritesChecker) — a session
//!   that does not see its own last write had a stale read.
//! - Reference service ([`service`]): `naive` writes to the primary and reads from the replica;
//!   `hardened` returns each write's WAL position to the session (a cookie) and serves a read
//!   from the replica only once it has replayed that position (waiting a bounded time), else from
//!   the primary.
//!
//! To run it against your own service, implement [`ProfileService`] for a client of it and call
//! [`run_against`] with the [`PgCluster`](shakedown_fixtures::PgCluster) your service uses.

pub(crate) mod client;
pub mod service;
mod suite;
mod workload;

pub use client::{ClientError, HttpProfiles, HttpSession, Profile, ProfileService, ProfileSession};
pub use suite::{reference, SUITE};
pub use workload::{run_against, Options, SCHEMA};
