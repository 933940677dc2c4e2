//! Integration tests of the fault proxy: one binary, one module per area.
//!
//! Timing assertions are lower bounds with generous upper bounds (real sockets, real clocks).

mod api;
mod bidir;
mod compat;
mod http_support;
mod http_toxics;
mod live;
mod robustness;
mod support;
mod toxics;
