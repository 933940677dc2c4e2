//! The reference systems' plumbing, in two halves that never import each other:
//!
//! - [`kit`]: what reference *services* use inside their containers (HTTP serving with the
//!   ready line, PostgreSQL connect, the shared [`Mode`]).
//! - [`launch`]: what *suites* use to start a reference service on a topology and reach it.
//!
//! Reference services are not baked into images: the `shakedown` binary (package
//! `shakedown-cli`) is copied into a runtime container and started as
//! `shakedown reference <service> …`; it finds the service in [`crate::SUITES`].

pub mod kit;
pub mod launch;

pub use kit::{Mode, READY_LINE};
pub use launch::{shakedown_binary, BinaryNotFound, Launched, Launcher, ServiceLaunch};
