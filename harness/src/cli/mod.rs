//! The `shakedown` command. Its code lives here; the binary that registers the suites is built by
//! `shakedown-suites` (suites depend on the harness, so the harness cannot name them).

mod app;
mod commands;

pub use app::{App, ReferenceFuture, ReferenceServices};
