//! Fault proxy benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p shakedown-proxy --bench proxy` (add `SHAKEDOWN_BENCH_QUICK=1` for a short run,
//! `SHAKEDOWN_BENCH_ONLY=oneway,echo,rtt,memory` for some parts only).
//!
//! Every figure is measured in the same run for three paths between the same client and
//! server: **direct** loopback, the **proxy** (no toxics: the splice fast path; also without
//! splice), and a **naive** relay (`tokio::io::copy_bidirectional` with 256 KiB buffers).
//! Paths alternate within each round, in an order rotated every round, and medians are
//! reported.
//!
//! How each path is hosted:
//! * the proxy and the naive relay each run on a runtime of their own, on threads of their
//!   own, like a separate process would: one current-thread runtime each by default, or a
//!   multi-thread runtime with `SHAKEDOWN_BENCH_RELAY_THREADS=N` workers each (same for both);
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

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use shakedown_proxy::FaultProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const BUF: usize = 256 << 10;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    Direct,
    Proxy,
    ProxyCopy,
    Naive,
}

const PATHS: [Path; 4] = [Path::Direct, Path::Proxy, Path::ProxyCopy, Path::Naive];

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Direct => "direct",
            Path::Proxy => "proxy",
            Path::ProxyCopy => "proxy, no splice",
            Path::Naive => "naive relay",
        }
    }
}

/// A runtime on threads of its own, kept alive for the whole run.
struct Side {
    handle: tokio::runtime::Handle,
    /// The thread driving the runtime (`block_on`).
    tid: i32,
    /// Name prefix of the runtime's worker threads (multi-thread runtime only).
    workers: Option<String>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Side {
    /// Nanoseconds this runtime's threads have spent on a CPU (user + kernel).
    fn cpu_ns(&self) -> u64 {
        let sched = |tid: &str| -> u64 {
            std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
                .unwrap_or(0)
        };
        let mut total = sched(&self.tid.to_string());
        if let Some(prefix) = &self.workers {
            // Thread names are cut to 15 bytes in `comm`.
            let prefix = &prefix[..prefix.len().min(15)];
            if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
                for entry in dir.flatten() {
                    let tid = entry.file_name().to_string_lossy().into_owned();
                    let comm =
                        std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                    if comm.trim_end() == prefix {
                        total += sched(&tid);
                    }
                }
            }
        }
        total
    }
}

/// The calling thread's id, from `/proc/thread-self` (`<pid>/task/<tid>`).
fn current_tid() -> i32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

/// A runtime for one relay: current-thread on its own thread, or with `threads` > 0 a
/// multi-thread runtime whose workers are named `<name>-worker`.
fn side_runtime(name: &str, threads: usize) -> Result<Side> {
    let thread_name = name.to_string();
    let (htx, hrx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    thread::Builder::new().name(name.into()).spawn(move || {
        let rt = if threads > 0 {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name(format!("{thread_name}-worker"))
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .expect("runtime");
        let _ = htx.send((rt.handle().clone(), current_tid()));
        rt.block_on(async {
            let _ = stop_rx.await;
        });
    })?;
    let (handle, tid) = hrx.recv()?;
    Ok(Side {
        handle,
        tid,
        workers: (threads > 0).then(|| format!("{name}-worker")),
        _stop: stop_tx,
    })
}

/// A naive relay: accept, dial, `copy_bidirectional_with_sizes` with 256 KiB buffers.
async fn naive_relay(upstream: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = c.set_nodelay(true);
                if let Ok(mut s) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = s.set_nodelay(true);
                    let _ =
                        tokio::io::copy_bidirectional_with_sizes(&mut c, &mut s, BUF, BUF).await;
                }
            });
        }
    });
    Ok(addr)
}

/// The three entry addresses for one upstream.
struct Targets {
    direct: SocketAddr,
    proxy: SocketAddr,
    proxy_copy: SocketAddr,
    naive: SocketAddr,
}

impl Targets {
    fn get(&self, p: Path) -> SocketAddr {
        match p {
            Path::Direct => self.direct,
            Path::Proxy => self.proxy,
            Path::ProxyCopy => self.proxy_copy,
            Path::Naive => self.naive,
        }
    }
}

struct Bench {
    proxy_side: Side,
    relay_side: Side,
    proxy: FaultProxy,
    proxy_copy: FaultProxy,
    quick: bool,
}

impl Bench {
    fn targets(&self, name: &str, upstream: SocketAddr) -> Result<Targets> {
        let link = self
            .proxy_side
            .handle
            .block_on(self.proxy.link(name, upstream))?;
        let copy_link = self
            .proxy_side
            .handle
            .block_on(self.proxy_copy.link(name, upstream))?;
        let naive = self.relay_side.handle.block_on(naive_relay(upstream))?;
        Ok(Targets {
            direct: upstream,
            proxy: link.listen_addr(),
            proxy_copy: copy_link.listen_addr(),
            naive,
        })
    }
}

/// Blocking sink: reads to EOF, then answers one byte.
fn sink_server() -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            thread::spawn(move || {
                let mut s = s;
                let mut buf = vec![0u8; BUF];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
                let _ = s.write_all(b"k");
            });
        }
    });
    Ok(addr)
}

/// Blocking echo server.
fn echo_server() -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            thread::spawn(move || {
                let _ = s.set_nodelay(true);
                let mut s = s;
                let mut buf = vec![0u8; BUF];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    Ok(addr)
}

fn one_way(addr: SocketAddr, total: usize) -> Result<f64> {
    let mut s = TcpStream::connect(addr)?;
    let buf = vec![0x5au8; BUF];
    let start = Instant::now();
    let mut left = total;
    while left > 0 {
        let n = left.min(BUF);
        s.write_all(&buf[..n])?;
        left -= n;
    }
    s.shutdown(std::net::Shutdown::Write)?;
    let mut k = [0u8; 1];
    s.read_exact(&mut k)?;
    Ok(total as f64 / start.elapsed().as_secs_f64() / 1e6)
}

fn echo_bulk(addr: SocketAddr, total: usize) -> Result<f64> {
    let s = TcpStream::connect(addr)?;
    let mut r = s.try_clone()?;
    let mut w = s;
    let start = Instant::now();
    let writer = thread::spawn(move || -> std::io::Result<()> {
        let buf = vec![0xa5u8; BUF];
        let mut left = total;
        while left > 0 {
            let n = left.min(BUF);
            w.write_all(&buf[..n])?;
            left -= n;
        }
        w.shutdown(std::net::Shutdown::Write)
    });
    let mut buf = vec![0u8; BUF];
    let mut got = 0;
    while got < total {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let secs = start.elapsed().as_secs_f64();
    writer.join().map_err(|_| "writer panicked")??;
    if got != total {
        return Err(format!("echo returned {got} of {total} bytes").into());
    }
    Ok(total as f64 / secs / 1e6)
}

/// CPU time of the whole process (all threads, also finished ones), in nanoseconds.
fn process_cpu_ns() -> u64 {
    // Fields 14 and 15 of /proc/self/stat, counted after the ")" ending the command name.
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(ticks * 10_000_000) // USER_HZ is 100 on Linux
        })
        .unwrap_or(0)
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

fn throughput(
    bench: &Bench,
    title: &str,
    targets: &Targets,
    f: fn(SocketAddr, usize) -> Result<f64>,
) -> Result {
    let total = if bench.quick { 256 << 20 } else { 2 << 30 };
    let rounds = if bench.quick { 3 } else { 5 };
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); PATHS.len()];
    let mut cpu: Vec<u64> = vec![0; PATHS.len()];
    let mut all_cpu: Vec<u64> = vec![0; PATHS.len()];
    let mut wall: Vec<f64> = vec![0.0; PATHS.len()];
    for round in 0..rounds {
        for (i, p) in round_order(round) {
            let side = match p {
                Path::Naive => Some(&bench.relay_side),
                Path::Proxy | Path::ProxyCopy => Some(&bench.proxy_side),
                Path::Direct => None,
            };
            let before = side.map_or(0, Side::cpu_ns);
            let all_before = process_cpu_ns();
            let started = Instant::now();
            results[i].push(f(targets.get(*p), total)?);
            wall[i] += started.elapsed().as_secs_f64();
            cpu[i] += side.map_or(0, Side::cpu_ns) - before;
            all_cpu[i] += process_cpu_ns().saturating_sub(all_before);
        }
    }
    let med: Vec<f64> = results.into_iter().map(median).collect();
    let gb_moved = (total as f64 / 1e9) * rounds as f64;
    println!(
        "{title} ({} MB per run, median of {rounds} alternating runs)",
        total >> 20
    );
    for (i, p) in PATHS.iter().enumerate() {
        let all = all_cpu[i] as f64 / 1e6 / gb_moved;
        let busy = all_cpu[i] as f64 / 1e9 / wall[i];
        let relay_cpu = if i == 0 {
            format!(
                "                             all threads {all:>5.0} ms per GB   cores busy {busy:.2}"
            )
        } else {
            format!(
                "   relay CPU {:>4.0} ms per GB   all threads {all:>5.0} ms per GB   cores busy {busy:.2}   relay busy {:.2}",
                cpu[i] as f64 / 1e6 / gb_moved,
                cpu[i] as f64 / 1e9 / wall[i]
            )
        };
        println!(
            "  {:<16} {:>9.0} MB/s   ratio to direct {:.2}{relay_cpu}",
            p.name(),
            med[i],
            med[i] / med[0]
        );
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// Small request/response round trips over `conns` concurrent connections.
fn rtt(bench: &Bench, load: &tokio::runtime::Runtime, targets: &Targets, conns: usize) -> Result {
    let rounds = if bench.quick { 3 } else { 8 };
    let per_conn = if bench.quick {
        (4000 / conns).max(5)
    } else {
        (20_000 / conns).max(20)
    };
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); PATHS.len()];
    let mut cpu: Vec<u64> = vec![0; PATHS.len()];
    let mut wall: Vec<Duration> = vec![Duration::ZERO; PATHS.len()];
    for round in 0..rounds {
        for (i, p) in round_order(round) {
            let addr = targets.get(*p);
            let side = match p {
                Path::Naive => Some(&bench.relay_side),
                Path::Proxy | Path::ProxyCopy => Some(&bench.proxy_side),
                Path::Direct => None,
            };
            // Connect and warm up every connection first, so all `conns` are really
            // concurrent while round trips are measured (and setup is not measured).
            let streams = load.block_on(async move {
                let mut tasks = Vec::new();
                for _ in 0..conns {
                    tasks.push(tokio::spawn(async move {
                        let mut s = tokio::net::TcpStream::connect(addr).await?;
                        s.set_nodelay(true)?;
                        let mut buf = [0u8; 64];
                        s.write_all(&[7u8; 64]).await?;
                        s.read_exact(&mut buf).await?;
                        std::io::Result::Ok(s)
                    }));
                }
                let mut all = Vec::new();
                for t in tasks {
                    all.push(t.await.map_err(std::io::Error::other)??);
                }
                std::io::Result::Ok(all)
            })?;
            let before = side.map_or(0, Side::cpu_ns);
            let round_start = Instant::now();
            let got = load.block_on(async move {
                let mut tasks = Vec::new();
                for mut s in streams {
                    tasks.push(tokio::spawn(async move {
                        let msg = [7u8; 64];
                        let mut buf = [0u8; 64];
                        let mut out = Vec::with_capacity(per_conn);
                        for _ in 0..per_conn {
                            let t = Instant::now();
                            s.write_all(&msg).await?;
                            s.read_exact(&mut buf).await?;
                            out.push(t.elapsed());
                        }
                        std::io::Result::Ok(out)
                    }));
                }
                let mut all = Vec::new();
                for t in tasks {
                    all.extend(t.await.map_err(std::io::Error::other)??);
                }
                std::io::Result::Ok(all)
            })?;
            cpu[i] += side.map_or(0, Side::cpu_ns) - before;
            wall[i] += round_start.elapsed();
            samples[i].extend(got);
        }
    }
    println!("round trip, 64-byte request/response, {conns} concurrent connection(s), {} samples per path", samples[0].len());
    let mut p50s = Vec::new();
    for (i, p) in PATHS.iter().enumerate() {
        samples[i].sort();
        let p50 = percentile(&samples[i], 0.5);
        let p99 = percentile(&samples[i], 0.99);
        p50s.push((p50, p99));
        let mean = samples[i].iter().sum::<Duration>().as_secs_f64() / samples[i].len() as f64;
        println!(
            "  {:<16} p50 {:>8.1} µs   p99 {:>8.1} µs   mean {:>8.1} µs   wall {:>6.0} ms",
            p.name(),
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            mean * 1e6,
            wall[i].as_secs_f64() * 1e3
        );
    }
    for i in 1..PATHS.len() {
        let added50 = p50s[i].0.as_secs_f64() - p50s[0].0.as_secs_f64();
        let added99 = p50s[i].1.as_secs_f64() - p50s[0].1.as_secs_f64();
        let per_rtt = cpu[i] as f64 / 1e3 / samples[i].len() as f64;
        println!(
            "  added by {:<16} p50 {:>+8.1} µs   p99 {:>+8.1} µs   relay CPU {per_rtt:.1} µs per round trip",
            PATHS[i].name(),
            added50 * 1e6,
            added99 * 1e6
        );
    }
    Ok(())
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Resident memory per idle connection, relative to the same number of direct connections.
fn idle_memory(bench: &Bench, load: &tokio::runtime::Runtime, targets: &Targets) -> Result {
    let n = if bench.quick { 500 } else { 2000 };
    let mut deltas = Vec::new();
    for p in PATHS {
        let addr = targets.get(p);
        let before = rss_bytes();
        let conns = load.block_on(async move {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let mut s = tokio::net::TcpStream::connect(addr).await?;
                // One round trip so every hop is fully set up.
                s.write_all(b"x").await?;
                let mut b = [0u8; 1];
                s.read_exact(&mut b).await?;
                v.push(s);
            }
            std::io::Result::Ok(v)
        })?;
        thread::sleep(Duration::from_millis(200));
        let after = rss_bytes();
        deltas.push(after.saturating_sub(before) as f64 / n as f64);
        drop(conns);
        thread::sleep(Duration::from_millis(300));
    }
    println!("memory per idle connection ({n} connections, resident set growth, includes the echo server's threads)");
    for (i, p) in PATHS.iter().enumerate() {
        let extra = if i == 0 {
            String::new()
        } else {
            format!(
                "   {:+.1} KiB over direct",
                (deltas[i] - deltas[0]) / 1024.0
            )
        };
        println!("  {:<16} {:>8.1} KiB{extra}", p.name(), deltas[i] / 1024.0);
    }
    Ok(())
}

fn main() -> Result {
    let quick = std::env::var_os("SHAKEDOWN_BENCH_QUICK").is_some_and(|v| v != "0");
    let relay_threads: usize = std::env::var("SHAKEDOWN_BENCH_RELAY_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let proxy_side = side_runtime("proxy", relay_threads)?;
    let relay_side = side_runtime("naive", relay_threads)?;
    let proxy = proxy_side
        .handle
        .block_on(FaultProxy::builder().seed(1).start())?;
    let proxy_copy = proxy_side
        .handle
        .block_on(FaultProxy::builder().seed(1).zero_copy(false).start())?;
    let bench = Bench {
        proxy_side,
        relay_side,
        proxy,
        proxy_copy,
        quick,
    };
    let only = std::env::var("SHAKEDOWN_BENCH_ONLY").unwrap_or_default();
    let run = |section: &str| only.is_empty() || only.split(',').any(|s| s == section);
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "shakedown fault proxy benchmark{}; proxy and naive relay each on {}; {} CPUs online",
        if quick { " (quick)" } else { "" },
        if relay_threads == 0 {
            "a current-thread runtime".to_string()
        } else {
            format!("a {relay_threads}-worker runtime")
        },
        thread::available_parallelism().map_or(0, |n| n.get())
    );

    if run("oneway") {
        let sink = bench.targets("sink", sink_server()?)?;
        throughput(&bench, "one-way bulk throughput, no toxics", &sink, one_way)?;
    }
    if run("echo") {
        let echo = bench.targets("echo", echo_server()?)?;
        throughput(&bench, "echo bulk throughput, no toxics", &echo, echo_bulk)?;
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
            rtt(&bench, &load, &small, conns)?;
        }
    }
    if run("memory") {
        idle_memory(&bench, &load, &small)?;
    }
    let Bench {
        proxy,
        proxy_copy,
        proxy_side,
        ..
    } = bench;
    proxy_side.handle.block_on(proxy.shutdown());
    proxy_side.handle.block_on(proxy_copy.shutdown());
    Ok(())
}
