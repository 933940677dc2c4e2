//! shakedown: the chaos-testing engine.
//!
//! A map of the code (start with [`Topology`] and [`history`]):
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`topology`], [`node`] | real containers on a private network per run; node faults (kill, pause, restart, partition) |
//! | [`image`] | images built from the project's recipes, never pulled |
//! | [`docker`] | the engine client, run labels, the sweep of leftovers |
//! | [`proxy`] | the Toxiproxy-compatible TCP fault proxy (crate `shakedown-proxy`): embedded, as `shakedown proxy`, or as a node |
//! | [`clock`] | per-node wall clocks (libfaketime) and in-process clocks for unit tests |
//! | [`fault`] | faults as data, placed in the history |
//! | [`history`] | operations as invoke → ok / fail / info, recorded concurrently |
//! | [`checker`] | pure judgements over histories |
//! | [`report`] | deterministic reports and run artifacts |
//! | [`suite`] | the trait every failure-mode suite implements |
//! | [`cli`] | the `shakedown` command |
#![forbid(unsafe_code)]
#![deny(missing_debug_implementations)]
#![warn(missing_docs)]

pub mod checker;
pub mod cli;
pub mod clock;
pub mod docker;
mod error;
mod exec;
pub mod fault;
pub mod history;
pub mod image;
pub mod node;
pub mod report;
pub mod suite;
pub mod topology;

/// The Toxiproxy-compatible TCP fault proxy: the crate `shakedown-proxy`, which needs no Docker.
pub use shakedown_proxy as proxy;

pub use clock::validate_zone;
pub use clock::{Clock, ClockOffset, FakeClock, NodeClock};
pub use error::{Error, Result};
pub use fault::{Fault, FaultAction, FaultEvent};
pub use node::{ExecOutput, Node, NodeSpec, Probe, Stream};
pub use suite::{RunOptions, Suite, SuiteError, SuiteFuture, SuiteRun, Variant};
pub use topology::Topology;
