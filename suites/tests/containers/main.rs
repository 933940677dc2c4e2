//! Every test of the suites crate that starts containers: one binary (nextest's `docker` group
//! picks binaries named `containers`), one module per suite, plus the per-node clock and the
//! proxy node.

mod support;

mod circuit_breaker;
mod clock;
mod clock_skew;
mod dead_letters;
mod event_ordering;
mod inconsistent_reads;
mod partial_failure;
mod proxy_node;
mod replica_lag;
mod shared_database;
mod timezone;
