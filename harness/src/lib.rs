//! shakedown: the chaos-testing engine.
//!
//! `proxy`: the Toxiproxy-compatible TCP fault proxy (embedded, or as `shakedown proxy`).
#![forbid(unsafe_code)]

pub mod proxy;
