//! shakedown: the chaos-testing engine.
//!
//! A map of the code (start with [`Topology`] for real systems and [`Run`] for a workload):
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`topology`], [`node`] | real containers on a private network per run; node faults (kill, pause, restart, partition) |
//! | [`image`] | images built from the project's recipes, never pulled |
//! | [`binary`] | the check of a host binary (ELF, architecture, glibc) before it is copied into a container |
//! | [`docker`] | the engine client, run labels, the sweep of leftovers |
//! | [`engine`] | where published ports are bound and dialled (local socket, `DOCKER_HOST=tcp://…`) |
//! | [`proxy`] | the Toxiproxy-compatible TCP fault proxy (crate `shakedown-proxy`): embedded, as `shakedown proxy`, or as a node |
//! | [`clock`] | per-node wall clocks (libfaketime) and in-process clocks for unit tests |
//! | [`run`] | a [`Run`]: calls recorded with their times, nemeses injected and healed, checkers at the end |
//! | [`fault`] | faults as data ([`Fault`]), as actions ([`fault::Nemesis`], [`fault::nemeses`]), and the [`fault::Timeline`] |
//! | [`history`] | operations as invoke → ok / fail / info, with times, recorded concurrently |
//! | [`checker`] | pure judgements over a history and its fault timeline |
//! | [`report`] | deterministic reports and run artifacts |
//! | [`suite`] | what a run produces ([`SuiteRun`]) and why one could not finish ([`SuiteError`]) |
#![forbid(unsafe_code)]
#![deny(missing_debug_implementations)]
#![warn(missing_docs)]

pub mod binary;
pub mod checker;
mod client_error;
pub mod clock;
pub mod docker;
pub mod engine;
mod error;
mod exec;
pub mod fault;
pub mod history;
pub mod image;
pub mod node;
pub mod report;
pub mod run;
mod serde_time;
pub mod suite;
pub mod topology;

/// The testcontainers crate this one is built on: [`Node`] wraps its containers, and
/// [`Topology::docker`] and [`Error`] expose its `bollard` client and errors, so a user names
/// those types through this re-export rather than a second, possibly different, dependency.
pub use testcontainers;

/// The Toxiproxy-compatible TCP fault proxy: the crate `shakedown-proxy`, which needs no Docker.
pub use shakedown_proxy as proxy;

pub use client_error::ClientError;
pub use clock::validate_zone;
pub use clock::{Clock, ClockOffset, FakeClock, NodeClock};
pub use error::{Error, Result};
pub use exec::ExecOutput;
pub use fault::{Fault, FaultGuard, Nemesis};
pub use node::{Node, NodeSpec, Probe, Stream};
pub use run::{Run, RunOptions};
pub use suite::{RunRecord, SuiteError, SuiteRun, Variant};
pub use topology::Topology;
