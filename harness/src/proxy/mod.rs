//! The TCP fault proxy, compatible with Toxiproxy's HTTP API (v2.12).
//!
//! Start here: [`FaultProxy::start`] (embedded), [`run`] with [`ProxyArgs`] (the
//! `shakedown proxy` command). The contract is `shared/reference/toxiproxy-api.md`.
//!
//! | file | what |
//! | --- | --- |
//! | `spec.rs` | typed toxics: [`ToxicSpec`], [`Direction`], [`Toxicity`] |
//! | `api.rs`, `api/wire.rs` | the HTTP API; the only code that speaks Toxiproxy JSON |
//! | `collection.rs` | the proxies of a server and every operation on them |
//! | `listener.rs` | accept loop, upstream dial |
//! | `link.rs` | one connection: both directions, toxic chains, fast path |
//! | `splice.rs` | zero-copy `splice(2)` fast path |
//! | `toxics/` | one file per toxic behind one trait (contract in `toxics/mod.rs`) |
//! | `rng.rs` | seeded randomness per proxy and connection |
//! | `signal.rs` | lock-free wake-ups from a proxy to its connections |
//! | `embedded.rs`, `toxic.rs` | Rust API: [`FaultProxy`], [`Link`], [`ToxicGuard`], [`Toxic`] |
//! | `cli.rs`, `error.rs` | command arguments ([`ProxyArgs`], [`run`]), [`ProxyError`] |
//!
//! Decisions where Toxiproxy behaves surprisingly (each explained in its module):
//! bandwidth `rate: 0` holds all data (`toxics/bandwidth.rs`); slicer `average_size: 0`
//! passes chunks whole (`toxics/slicer.rs`); the timeout toxic's timer is not re-armed by
//! traffic (`toxics/timeout.rs`); reset_peer sends an RST on connections that existed before
//! it and never at toxicity 0 (`toxics/reset_peer.rs`); TCP half-close is preserved and the
//! upstream is dialled outside the accept loop (`link.rs`, `listener.rs`); toxicity is rolled
//! on attach and update only (`toxics/mod.rs`); out-of-range values are rejected with 400
//! (`api/wire.rs`); `/populate` never answers `"proxies": null`. Seeds: `--seed` /
//! [`FaultProxyBuilder::seed`] for the server, `"seed"` per proxy in the API (`rng.rs`).

mod api;
mod cli;
mod collection;
mod embedded;
mod error;
mod link;
mod listener;
mod rng;
mod signal;
mod spec;
mod splice;
mod toxic;
mod toxics;

pub use api::TOXIPROXY_VERSION;
pub use cli::{run, ProxyArgs};
pub use collection::{NewProxy, ProxyInfo, ProxyPatch};
pub use embedded::{FaultProxy, FaultProxyBuilder, Link, ToxicGuard};
pub use error::ProxyError;
pub use spec::{Direction, ToxicConfig, ToxicSpec, Toxicity};
pub use toxic::Toxic;
