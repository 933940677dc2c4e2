//! The record of what clients did: every operation as an invocation and its completion.
//!
//! An operation is invoked, then completes as [`OpKind::Ok`] (it happened), [`OpKind::Fail`] (it
//! certainly did not) or [`OpKind::Info`] (unknown: a timeout — it may or may not have happened).
//! Each entry has a logical index (its position in the history) and a monotonic time since the
//! run started. Histories are data: they serialise to JSON with the run, and
//! [`Checker`](crate::checker::Checker)s judge them. Suites record through
//! [`Run::call`](crate::Run::call); [`Recorder`] is the concurrent handle underneath.

pub mod build;
mod op;
mod record;
mod recorder;

pub use op::{Call, Done, Op, OpKind};
pub use record::{History, Pair};
pub use recorder::{Pending, Recorder};
