//! shakedown-proxy: the TCP fault proxy, compatible with Toxiproxy's HTTP API (v2.12).
//!
//! It needs no Docker: this crate does not depend on any container library, so the proxy
//! runs embedded in a test process ([`FaultProxy`]), as the `shakedown-proxy` binary (a
//! drop-in for `toxiproxy-server`, feature `cli`), or inside a container that runs that
//! binary. The harness re-exports it as `shakedown::proxy`. The contract is
//! `shared/reference/toxiproxy-api.md`.
//!
//! Start here: [`FaultProxy::start`] and [`FaultProxy::link`], then [`Link::add`] with a
//! [`Toxic`].
//!
//! A map of the code:
//!
//! | file | what |
//! | --- | --- |
//! | `fault_proxy.rs` | [`FaultProxy`], [`FaultProxyBuilder`]: a proxy server inside the process |
//! | `link.rs` | [`Link`] (one proxied upstream) and [`ToxicGuard`] (a toxic attached to it) |
//! | `toxic.rs` | [`Toxic`]: the public builder describing a toxic to attach |
//! | `spec.rs` | typed toxics: [`ToxicSpec`], [`ToxicConfig`], [`Direction`], [`Toxicity`] |
//! | `api.rs`, `api/wire.rs`, `api/wire/attributes.rs` | the HTTP API; the only code that speaks Toxiproxy JSON (toxic attributes in `attributes.rs`) ([`toxic_json`] for driving a proxy elsewhere) |
//! | `collection.rs` | the proxies of a server and every operation on them |
//! | `listener.rs` | accept loop, upstream dial |
//! | `connection.rs` | one proxied connection: both directions in one task, fast path, half-close |
//! | `chain.rs` | one direction's toxic chain, following the proxy's list live |
//! | `splice.rs` | zero-copy `splice(2)` fast path |
//! | `toxics/` | one file per toxic behind the internal `ToxicPipe` trait (contract in `toxics/mod.rs`); `toxics/http/` the HTTP toxics' per-connection layer and HTTP/1.1 framing |
//! | `rng.rs` | seeded randomness per proxy and connection |
//! | `signal.rs` | lock-free wake-ups from a proxy to its connections |
//! | `error.rs` | [`ProxyError`] |
//! | `cli.rs`, `main.rs` | feature `cli`: command arguments (`ProxyArgs`, `run`) and the `shakedown-proxy` binary |
//!
//! The toxics: Toxiproxy's (`latency`, `bandwidth`, `slow_close`, `timeout`, `reset_peer`,
//! `slicer`, `limit_data`, `noop`) and extensions that stock Toxiproxy clients add by type
//! name through the same API:
//!
//! | type | attributes | what |
//! | --- | --- | --- |
//! | `corrupt` | `probability_ppm` | flips bytes |
//! | `http_status` | `status` (default 503), `body`, `method`, `path_prefix` | answers matching HTTP/1.1 requests without forwarding them |
//! | `http_delay` | `latency` (ms), `method`, `path_prefix` | holds the response of matching requests |
//! | `http_drop_response` | `method`, `path_prefix` | forwards matching requests, drops the response, closes the client connection |
//!
//! The HTTP toxics are added `downstream` (upstream is rejected with 400), roll their
//! toxicity per request, pass anything they cannot frame unchanged, and are counted in
//! `/metrics` (`shakedown_http_toxic_requests_total`, `shakedown_http_requests_total`); the
//! rules are in `toxics/http/mod.rs`. Rust: [`Toxic::http_status`], [`Toxic::http_delay`],
//! [`Toxic::http_drop_response`], narrowed with [`Toxic::method`] and [`Toxic::path_prefix`].
//!
//! Decisions where Toxiproxy behaves surprisingly (each explained in its module):
//! bandwidth `rate: 0` holds all data (`toxics/bandwidth.rs`); slicer `average_size: 0`
//! passes chunks whole (`toxics/slicer.rs`); the timeout toxic's timer is not re-armed by
//! traffic (`toxics/timeout.rs`); reset_peer sends an RST on connections that existed before
//! it and never at toxicity 0 (`toxics/reset_peer.rs`); TCP half-close is preserved
//! (`connection.rs`); the upstream is dialled outside the accept loop, yet in accept order
//! (`listener.rs`); toxicity is rolled on attach and update only (`toxics/mod.rs`);
//! out-of-range values are rejected with 400 (`api/wire.rs`); `/populate` never answers
//! `"proxies": null`. Seeds: `--seed` / [`FaultProxyBuilder::seed`] for the server, `"seed"`
//! per proxy in the API (`rng.rs`).
#![forbid(unsafe_code)]
#![deny(missing_debug_implementations)]
#![warn(missing_docs)]

mod api;
mod chain;
#[cfg(feature = "cli")]
mod cli;
mod collection;
mod connection;
mod error;
mod fault_proxy;
mod link;
mod listener;
mod rng;
mod signal;
mod spec;
mod splice;
mod toxic;
mod toxics;

pub use api::{toxic_json, TOXIPROXY_VERSION};
#[cfg(feature = "cli")]
pub use cli::{run, ProxyArgs};
pub use collection::{NewProxy, ProxyInfo, ProxyPatch};
pub use error::ProxyError;
pub use fault_proxy::{FaultProxy, FaultProxyBuilder};
pub use link::{Link, ToxicGuard};
pub use spec::{Direction, HttpMatch, ToxicConfig, ToxicSpec, Toxicity};
pub use toxic::Toxic;
