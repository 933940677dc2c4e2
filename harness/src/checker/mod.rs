//! Checkers: pure functions from a history and its fault timeline to a verdict with counted
//! anomalies.

mod availability;
mod blast_radius;
mod check;
mod phases;
mod register;
mod staleness;

pub use availability::AvailabilityChecker;
pub use blast_radius::BlastRadiusChecker;
pub use check::{
    check_safe, compose, CheckResult, CheckResultBuilder, Checker, Count, Phrase, Validity,
};
pub use phases::{phases, Phase, HEALTHY};
pub use register::{ReadYourWritesChecker, RegisterOp, RegisterValue};
pub use staleness::{read_staleness, ReadStaleness, SessionChecker};
