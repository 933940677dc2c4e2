//! Checkers: pure functions from a history and its fault timeline to a verdict with counted
//! anomalies.

mod availability;
mod check;
mod latency;
mod register;
mod staleness;

pub use availability::AvailabilityChecker;
pub use check::{check_safe, compose, CheckResult, CheckResultBuilder, Checker, Count, Validity};
pub use latency::{phase_latencies, PhaseLatency};
pub use register::{ReadYourWritesChecker, RegisterOp, RegisterValue};
pub use staleness::{read_staleness, ReadStaleness, SessionChecker};
