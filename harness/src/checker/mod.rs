//! Checkers: pure functions from a history to a verdict with counted anomalies.

mod check;
mod register;

pub use check::{check_safe, compose, CheckResult, Checker, Count, Validity};
pub use register::{ReadYourWritesChecker, RegisterOp, RegisterValue};
