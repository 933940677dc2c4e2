//! shakedown's ready-made suites: one module per failure mode, each with a reference system in a
//! `naive` variant (the bug) and a `hardened` one (the fix), and a client trait so a team can run
//! the same suite against its own service.
//!
//! | suite | failure mode |
//! | --- | --- |
//! | [`replica_lag`] | read replica lag: stale reads right after a user's own write |
//! | [`clock_skew`] | clock skew breaking tokens: fresh tokens refused, expired ones accepted |
//! | [`timezone`] | timezone bugs: charges at the wrong local time, doubled or missed, reports in the wrong day |
//! | [`partial_failure`] | partial failure: lost replies, resets, corrupt and slow replies; double charges and lies |
//! | [`inconsistent_reads`] | inconsistent reads: replicas at different lags behind a balancer, reads going back and forth |
//! | [`shared_database`] | shared database: one service's migration, scans and connections stalling and failing the other |
//! | [`circuit_breaker`] | circuit breaker not triggering: a slow, then refusing dependency called while down, users kept waiting, no recovery |
//! | [`dead_letters`] | dead letters ignored: poison and transient failures lost, duplicated, dead-lettered wrongly or unnoticed |
//! | [`event_ordering`] | event ordering: two producers, competing consumers, one killed mid-batch; early, stale and duplicate events applied |
//!
//! Every suite module has the same shape: a client trait for the system under test, an HTTP
//! client of the reference service, `Options` (workload and [`shakedown::RunOptions`]),
//! `run_against(system, infrastructure, &options)` for a team's own system, `reference(&options,
//! &launcher)` for the bundled one, and `SUITE`, its declaration ([`Suite`]).
//!
//! In a team's tests, [`assert_caught`] and [`assert_handled`] state the two verdicts.
//!
//! Adding a suite: a folder `src/<name>/` with those parts, and its name in the `suites!` list
//! below.
#![forbid(unsafe_code)]
#![deny(missing_debug_implementations)]
#![warn(missing_docs)]

/// The README's examples, compiled as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod assertions;
pub mod clock_probe;
mod http;
pub mod reference;
mod suite;

pub use assertions::{assert_caught, assert_handled};
pub use shakedown::ClientError;
pub use suite::{find, reference_service, ReferenceRun, ReferenceService, ServeFuture, Suite};

/// Declares the suite modules and lists them in [`SUITES`], in order: one line per suite.
macro_rules! suites {
    ($($name:ident),* $(,)?) => {
        $(pub mod $name;)*
        /// Every suite, in the order the command runs them.
        pub const SUITES: &[&Suite] = &[$(&$name::SUITE),*];
    };
}

suites!(
    replica_lag,
    clock_skew,
    timezone,
    partial_failure,
    inconsistent_reads,
    shared_database,
    circuit_breaker,
    dead_letters,
    event_ordering,
);

/// Reference services that belong to no suite (probes for the harness's own tests and
/// benchmarks).
pub const PROBES: &[ReferenceService] = &[clock_probe::SERVICE];
