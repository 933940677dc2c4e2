//! shakedown's ready-made suites: one module per failure mode, each with a reference system in a
//! `naive` variant (the bug) and a `hardened` one (the fix), and a client trait so a team can run
//! the same suite against its own service.
//!
//! | suite | failure mode |
//! | --- | --- |
//! | [`replica_lag`] | read replica lag: stale reads right after a user's own write |
//! | [`clock_skew`] | clock skew breaking tokens: fresh tokens refused, expired ones accepted |
//! | [`timezone`] | timezone bugs: charges at the wrong local time, doubled or missed, reports in the wrong day |
#![forbid(unsafe_code)]
#![deny(missing_debug_implementations)]
#![warn(missing_docs)]

/// The README's examples, compiled as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

mod client_error;
pub mod clock_probe;
pub mod clock_skew;
pub mod reference;
pub mod replica_lag;
pub mod timezone;

pub use client_error::ClientError;

/// Every suite, for the `shakedown` command.
pub fn app() -> shakedown::cli::App {
    shakedown::cli::App::new()
        .suite(replica_lag::ReplicaLagSuite::default())
        .suite(clock_skew::ClockSkewSuite::default())
        .suite(timezone::TimezoneSuite::default())
        .reference_services(reference::serve)
}
