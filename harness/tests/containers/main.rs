//! The harness tests that start containers (nextest runs binaries named `containers` one at a time).

mod engine;
mod netem;
mod topology;
