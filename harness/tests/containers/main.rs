//! The harness tests that start containers (nextest runs binaries named `containers` one at a time).

mod builder;
mod engine;
mod images;
mod keep;
mod netem;
mod support;
mod sweep;
mod topology;
