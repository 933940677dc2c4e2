//! team-service's integration tests: the real service binary in a container, on a real
//! PostgreSQL primary and replica, with shakedown's fault proxy and clocks, and the replica-lag
//! suite run against the team's own read path. The binary is named `containers`, so nextest runs
//! these one at a time (`.config/nextest.toml`).

mod client;
mod faults;
mod replica_lag;
mod service;
mod support;
