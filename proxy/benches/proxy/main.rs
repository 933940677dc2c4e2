//! Fault proxy benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p shakedown-proxy --bench proxy` (add `SHAKEDOWN_BENCH_QUICK=1` for a short run,
//! `SHAKEDOWN_BENCH_ONLY=oneway,echo,bidir,rtt,memory` for some parts only).
//!
//! Every figure is measured in the same run for five paths between the same client and
//! server: **direct** loopback, the **proxy** (no toxics: the splice fast path; also without
//! splice), and two baseline relays (`relays.rs`): a **plain** copy relay
//! (`tokio::io::copy_bidirectional` with 256 KiB buffers) and a **splice** relay. Paths
//! alternate within each round, in an order rotated every round, and medians are reported,
//! with ratios to direct and to both baselines.
//!
//! | file | part |
//! | --- | --- |
//! | `bulk.rs` | `oneway`, `echo`: bulk throughput one way and through an echo server |
//! | `bidir.rs` | `bidir`: bounded stress run of `iperf3 --bidir`-like pairs, both directions at full speed; stalls and bytes checked |
//! | `small.rs` | `rtt`, `memory`: round trips over 1 to 1,000 connections; memory per idle connection |
//! | `relays.rs`, `sides.rs` | the baselines; where each relay runs and its CPU time |
//!
//! How each path is hosted:
//! * the proxies and the baseline relays each run on a runtime of their own, on threads of
//!   their own, like a separate process would: one current-thread runtime each by default,
//!   or a multi-thread runtime with `SHAKEDOWN_BENCH_RELAY_THREADS=N` workers each (same for
//!   both);
//! * bulk clients and servers are plain blocking threads (the echo client writes and reads on
//!   two threads; the servers use a thread per connection), identical for all paths;
//! * round-trip clients and the async echo server share a separate 2-worker runtime, identical
//!   for all paths; direct has no relay at all.
//!
//! Next to each throughput the bench prints `cores busy`: CPU time of the whole process per
//! wall second. On a machine with spare cores the relay runs in parallel and the ratio shows
//! the relay's latency; when `cores busy` reaches the cores actually available (shared
//! machines), every path is CPU-bound and the ratio to direct is roughly the ratio of CPU per
//! GB, dominated by the kernel's TCP work for the extra loopback hop. `relay busy` is the
//! relay threads' CPU per wall second: below 1.0 a relay is not limited by its own thread.

mod bidir;
mod bulk;
mod relays;
mod sides;
mod small;

use std::net::SocketAddr;
use std::thread;

use shakedown_proxy::FaultProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use relays::Relay;
use sides::{side_runtime, Side};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const BUF: usize = 256 << 10;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    Direct,
    Proxy,
    ProxyCopy,
    Plain,
    Splice,
}

const PATHS: [Path; 5] = [
    Path::Direct,
    Path::Proxy,
    Path::ProxyCopy,
    Path::Plain,
    Path::Splice,
];

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Direct => "direct",
            Path::Proxy => "proxy",
            Path::ProxyCopy => "proxy, no splice",
            Path::Plain => "plain relay",
            Path::Splice => "splice relay",
        }
    }

    fn index(self) -> usize {
        PATHS.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// The entry addresses of every path for one upstream.
struct Targets {
    direct: SocketAddr,
    proxy: SocketAddr,
    proxy_copy: SocketAddr,
    plain: SocketAddr,
    splice: SocketAddr,
}

impl Targets {
    fn get(&self, p: Path) -> SocketAddr {
        match p {
            Path::Direct => self.direct,
            Path::Proxy => self.proxy,
            Path::ProxyCopy => self.proxy_copy,
            Path::Plain => self.plain,
            Path::Splice => self.splice,
        }
    }
}

struct Bench {
    proxy_side: Side,
    relay_side: Side,
    proxy: FaultProxy,
    proxy_copy: FaultProxy,
    quick: bool,
    /// Workers of each relay runtime (0: current-thread).
    relay_threads: usize,
}

impl Bench {
    /// The proxies and the relays' runtime, each relay on `relay_threads` workers.
    fn start(quick: bool, relay_threads: usize) -> Result<Bench> {
        let proxy_side = side_runtime("proxy", relay_threads)?;
        let relay_side = side_runtime("relays", relay_threads)?;
        let proxy = proxy_side
            .handle
            .block_on(FaultProxy::builder().seed(1).start())?;
        let proxy_copy = proxy_side
            .handle
            .block_on(FaultProxy::builder().seed(1).zero_copy(false).start())?;
        Ok(Bench {
            proxy_side,
            relay_side,
            proxy,
            proxy_copy,
            quick,
            relay_threads,
        })
    }

    fn shutdown(self) {
        let Bench {
            proxy,
            proxy_copy,
            proxy_side,
            ..
        } = self;
        proxy_side.handle.block_on(proxy.shutdown());
        proxy_side.handle.block_on(proxy_copy.shutdown());
    }

    fn targets(&self, name: &str, upstream: SocketAddr) -> Result<Targets> {
        let link = self
            .proxy_side
            .handle
            .block_on(self.proxy.link(name, upstream))?;
        let copy_link = self
            .proxy_side
            .handle
            .block_on(self.proxy_copy.link(name, upstream))?;
        let relay = |r| self.relay_side.handle.block_on(relays::start(r, upstream));
        Ok(Targets {
            direct: upstream,
            proxy: link.listen_addr(),
            proxy_copy: copy_link.listen_addr(),
            plain: relay(Relay::Plain)?,
            splice: relay(Relay::Splice)?,
        })
    }

    /// The runtime that hosts `p`'s relay (none for direct).
    fn side(&self, p: Path) -> Option<&Side> {
        match p {
            Path::Plain | Path::Splice => Some(&self.relay_side),
            Path::Proxy | Path::ProxyCopy => Some(&self.proxy_side),
            Path::Direct => None,
        }
    }
}

/// `value` of path `i` against direct and both baselines, e.g. `to direct 0.81, to plain
/// 1.20, to splice 1.02` (for a figure where more is better); nothing for direct itself.
fn ratios(values: &[f64], i: usize) -> String {
    if PATHS[i] == Path::Direct {
        return String::new();
    }
    let to = |p: Path| values[i] / values[p.index()];
    format!(
        "to direct {:.2}, to plain {:.2}, to splice {:.2}",
        to(Path::Direct),
        to(Path::Plain),
        to(Path::Splice)
    )
}

/// The paths in the order measured in `round`: rotated every round, so that no path always
/// runs right after the same other one (caches, CPU frequency, a neighbour's load pattern).
fn round_order(round: usize) -> impl Iterator<Item = (usize, &'static Path)> {
    (0..PATHS.len()).map(move |k| {
        let i = (k + round) % PATHS.len();
        (i, &PATHS[i])
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result {
    let quick = std::env::var_os("SHAKEDOWN_BENCH_QUICK").is_some_and(|v| v != "0");
    let relay_threads: usize = std::env::var("SHAKEDOWN_BENCH_RELAY_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bench = Bench::start(quick, relay_threads)?;
    let only = std::env::var("SHAKEDOWN_BENCH_ONLY").unwrap_or_default();
    let run = |section: &str| only.is_empty() || only.split(',').any(|s| s == section);
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "shakedown fault proxy benchmark{}; proxies and baseline relays each on {}; {} CPUs online",
        if quick { " (quick)" } else { "" },
        if relay_threads == 0 {
            "a current-thread runtime".to_string()
        } else {
            format!("a {relay_threads}-worker runtime")
        },
        thread::available_parallelism().map_or(0, |n| n.get())
    );

    if run("oneway") {
        let sink = bench.targets("sink", bulk::sink_server()?)?;
        let title = "one-way bulk throughput, no toxics";
        bulk::throughput(&bench, title, &sink, bulk::one_way)?;
    }
    if run("echo") {
        let echo = bench.targets("echo", bulk::echo_server()?)?;
        let title = "echo bulk throughput, no toxics";
        bulk::throughput(&bench, title, &echo, bulk::echo_bulk)?;
    }
    if run("bidir") {
        bidir::stress(&bench)?;
    }

    // Small round trips against an async echo server on the load runtime.
    let async_echo = load.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = l.local_addr()?;
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let _ = s.set_nodelay(true);
                    let mut buf = vec![0u8; 4096];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
        std::io::Result::Ok(addr)
    })?;
    let small = bench.targets("rtt", async_echo)?;
    if run("rtt") {
        let counts: Vec<usize> = std::env::var("SHAKEDOWN_BENCH_CONNS")
            .ok()
            .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![1, 64, 1000]);
        for conns in counts {
            small::rtt(&bench, &load, &small, conns)?;
        }
    }
    if run("memory") {
        small::idle_memory(&bench, &load, &small)?;
    }
    bench.shutdown();
    Ok(())
}
