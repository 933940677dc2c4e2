//! Both directions at full speed at once, under scheduling pressure (issue 8: `iperf3 --bidir`
//! through the proxy now and then delivered nothing at all).
//!
//! The cause was not the data path. Under CPU pressure the proxy accepted two client
//! connections in one go and dialled the upstream for the second before the first (each
//! connection dialled in its own task, and the runtime ran the later task first). iperf3's
//! server, like any server that tells its connections apart by the order it accepts them,
//! then took the client's send-only connection for its own send-only one: both ends wrote to
//! one connection and read from the other, so nothing ever arrived. The proxy now dials in
//! accept order (`listener.rs`).
//!
//! The proxy runs on a 2-worker runtime of its own, like a separate process; the clients and
//! servers on another. *Pressure* is both proxy workers blocked for a moment, as when other
//! processes hold the CPUs: connections and bytes pile up, then the proxy sees them all at
//! once. A stall is no progress in either direction for [`STALL`]; every byte is hashed in
//! both directions.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use shakedown_proxy::{FaultProxy, Link, Toxic};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

use crate::support::*;

/// No progress for this long is a stall (the bug stalled for good; healthy runs move
/// megabytes per millisecond).
const STALL: Duration = Duration::from_secs(3);
/// How long the proxy's workers are held at a time.
const PRESSURE: Duration = Duration::from_millis(15);
/// Worker threads of the proxy's runtime (as `shakedown proxy` has on a 2-core machine).
const PROXY_WORKERS: usize = 2;

type Hash = [u8; 32];

fn sha(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Test bytes: a `len`-byte window of one shared buffer per connection and side (client 0,
/// server 1), made once per test so that the runtimes only move and hash bytes (making a
/// pattern inside a task would hold a worker for milliseconds).
#[derive(Clone)]
struct Payloads {
    base: Arc<Vec<u8>>,
    len: usize,
}

impl Payloads {
    fn new(len: usize) -> Payloads {
        Payloads {
            base: Arc::new(pattern(2 * len, 8)),
            len,
        }
    }

    fn get(&self, id: u64, side: u64) -> &[u8] {
        let offset = ((id * 2 + side) as usize * 7919) % self.len;
        &self.base[offset..offset + self.len]
    }

    /// What the other end must have received from `(id, side)`.
    fn expect(&self, id: u64, side: u64) -> (Hash, usize) {
        (sha(self.get(id, side)), self.len)
    }
}

/// A proxy on a runtime of its own.
struct Proxied {
    rt: Runtime,
    proxy: Option<FaultProxy>,
    link: Link,
}

impl Proxied {
    fn start(upstream: SocketAddr, zero_copy: bool) -> Result<Proxied> {
        let rt = runtime(PROXY_WORKERS);
        let (proxy, link) = rt.block_on(async {
            let proxy = FaultProxy::builder()
                .seed(8)
                .zero_copy(zero_copy)
                .start()
                .await?;
            let link = proxy.link("bidir", upstream).await?;
            anyhow::Ok((proxy, link))
        })?;
        Ok(Proxied {
            rt,
            proxy: Some(proxy),
            link,
        })
    }

    fn addr(&self) -> SocketAddr {
        self.link.listen_addr()
    }

    /// Blocks every worker of the proxy's runtime for `PRESSURE`; returns once all are held.
    async fn hold_workers(&self) {
        let mut held = Vec::new();
        for _ in 0..PROXY_WORKERS {
            let (tx, rx) = oneshot::channel::<()>();
            self.rt.spawn(async move {
                let _ = tx.send(());
                // Deliberately blocking: this worker gets no other task meanwhile.
                std::thread::sleep(PRESSURE);
            });
            held.push(rx);
        }
        for rx in held {
            let _ = rx.await;
        }
    }
}

impl Drop for Proxied {
    fn drop(&mut self) {
        if let Some(proxy) = self.proxy.take() {
            self.rt.block_on(proxy.shutdown());
        }
    }
}

/// Progress of one run, for the stall watchdog: bytes sent and received.
#[derive(Default)]
struct Progress {
    sent: AtomicU64,
    received: AtomicU64,
}

impl Progress {
    fn get(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }

    /// Runs `work`; fails if `moved` stays the same for [`STALL`] before it ends.
    async fn watch<T>(
        &self,
        what: &str,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let watchdog = async {
            let (mut seen, mut since) = (self.get(), Instant::now());
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if self.get() != seen {
                    (seen, since) = (self.get(), Instant::now());
                } else if since.elapsed() >= STALL {
                    anyhow::bail!(
                        "{what}: stalled, no progress for {STALL:?} after {} bytes sent and {} received",
                        seen.0,
                        seen.1
                    );
                }
            }
        };
        tokio::select! {
            done = work => done,
            stalled = watchdog => stalled,
        }
    }
}

/// Writes `data` in pieces, then shuts the write side.
async fn send(w: &mut (impl AsyncWrite + Unpin), data: &[u8], progress: &Progress) -> Result {
    for piece in data.chunks(128 << 10) {
        w.write_all(piece).await?;
        progress
            .sent
            .fetch_add(piece.len() as u64, Ordering::Relaxed);
    }
    w.shutdown().await?;
    Ok(())
}

/// Reads to EOF; returns the hash and the count.
async fn receive(r: &mut (impl AsyncRead + Unpin), progress: &Progress) -> Result<(Hash, usize)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 128 << 10];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok((hasher.finalize().into(), total));
        }
        hasher.update(&buf[..n]);
        total += n;
        progress.received.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Sends `out` on `w` while receiving everything on `r`, failing on a stall; returns what
/// was received.
async fn send_and_receive(
    w: &mut (impl AsyncWrite + Unpin),
    out: &[u8],
    r: &mut (impl AsyncRead + Unpin),
    what: &str,
) -> Result<(Hash, usize)> {
    let progress = Progress::default();
    let work = async {
        let (sent, got) = tokio::join!(send(w, out, &progress), receive(r, &progress));
        sent?;
        got
    };
    progress.watch(what, work).await
}

/// Sends `out` and receives everything at once on `stream`; returns what was received.
async fn both_ways(stream: TcpStream, out: &[u8], what: &str) -> Result<(Hash, usize)> {
    let (mut r, mut w) = stream.into_split();
    send_and_receive(&mut w, out, &mut r, what).await
}

/// What a server reports per connection: its id, and the hash and count of what it received.
type Reports = mpsc::UnboundedReceiver<(u64, Result<(Hash, usize)>)>;

/// A server for [`bidir_round`]: on each connection it reads an 8-byte id, then sends
/// `payloads.get(id, 1)` while reading everything the client sends, and reports it.
async fn bidir_server(payloads: Payloads) -> Result<(SocketAddr, Reports)> {
    let listener = listen_wide()?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (tx, payloads) = (tx.clone(), payloads.clone());
            tokio::spawn(async move {
                let mut id = [0u8; 8];
                if s.read_exact(&mut id).await.is_err() {
                    return;
                }
                let id = u64::from_be_bytes(id);
                let what = format!("server side of {id}");
                let got = both_ways(s, payloads.get(id, 1), &what).await;
                let _ = tx.send((id, got));
            });
        }
    });
    Ok((addr, rx))
}

/// One connection per id at once, each with both directions saturated. Fails on a stall or
/// on any byte lost, added or changed, in either direction.
async fn bidir_round(
    addr: SocketAddr,
    payloads: &Payloads,
    reports: &mut Reports,
    ids: Range<u64>,
) -> Result {
    let mut clients = Vec::new();
    for id in ids.clone() {
        let payloads = payloads.clone();
        clients.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await?;
            s.write_all(&id.to_be_bytes()).await?;
            let what = format!("client side of {id}");
            both_ways(s, payloads.get(id, 0), &what).await
        }));
    }
    // (id, the side whose bytes were received, what arrived)
    let mut received = Vec::new();
    for (id, client) in ids.clone().zip(clients) {
        received.push((id, 1, client.await??));
    }
    for _ in ids {
        let (id, got) = within(STALL, "server report", reports.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("server gone"))?;
        received.push((id, 0, got?));
    }
    for (id, from, got) in received {
        let (sender, receiver) = if from == 0 {
            ("client", "server")
        } else {
            ("server", "client")
        };
        anyhow::ensure!(
            got == payloads.expect(id, from),
            "connection {id}: the {receiver} received {} bytes, not the {sender}'s {} bytes",
            got.1,
            payloads.len,
        );
    }
    Ok(())
}

/// What [`order_sensitive_server`] tells the test about each pair: first the ids in the
/// order it accepted the connections, then the hash and count of what it received.
enum PairReport {
    Accepted([u64; 2]),
    Received(Result<(Hash, usize)>),
}

/// Like `iperf3 --bidir`'s server: of each pair of connections, the first accepted is the one
/// it receives on, the second the one it sends `payloads.get(id, 1)` on. Every connection
/// starts with an 8-byte id, which the server reads only to report the order it accepted
/// them in.
async fn order_sensitive_server(
    payloads: Payloads,
) -> Result<(SocketAddr, mpsc::UnboundedReceiver<PairReport>)> {
    let listener = listen_wide()?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let mut pair = Vec::new();
            let mut order = [0u64; 2];
            for slot in &mut order {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut id = [0u8; 8];
                if s.read_exact(&mut id).await.is_err() {
                    return;
                }
                *slot = u64::from_be_bytes(id);
                pair.push(s);
            }
            let _ = tx.send(PairReport::Accepted(order));
            let (Some(mut sends_on), Some(mut receives_on)) = (pair.pop(), pair.pop()) else {
                return;
            };
            let (tx, payloads) = (tx.clone(), payloads.clone());
            tokio::spawn(async move {
                let out = payloads.get(order[1], 1);
                let what = "order-sensitive server";
                let got = send_and_receive(&mut sends_on, out, &mut receives_on, what).await;
                let _ = tx.send(PairReport::Received(got));
            });
        }
    });
    Ok((addr, rx))
}

#[test]
fn paired_connections_reach_the_upstream_in_the_order_they_were_accepted() -> Result {
    // Before the fix this failed in the first rounds: the upstream accepted the client's
    // second connection first, and the round stalled as iperf3's runs did.
    const ROUNDS: u64 = 40;
    let payloads = Payloads::new(1 << 20);
    let local = runtime(2);
    let (upstream, mut reports) = local.block_on(order_sensitive_server(payloads.clone()))?;
    let proxied = Proxied::start(upstream, true)?;
    let addr = proxied.addr();
    local.block_on(async {
        for round in 0..ROUNDS {
            let (forward_id, reverse_id) = (round * 2, round * 2 + 1);
            // Both connections are made and their ids sent while the proxy cannot run, so
            // it accepts them together.
            proxied.hold_workers().await;
            let mut forward = TcpStream::connect(addr).await?;
            forward.write_all(&forward_id.to_be_bytes()).await?;
            let mut reverse = TcpStream::connect(addr).await?;
            reverse.write_all(&reverse_id.to_be_bytes()).await?;
            let report = within(STALL, "the upstream accepting both", reports.recv()).await?;
            let Some(PairReport::Accepted(order)) = report else {
                anyhow::bail!("round {round}: no accept order reported");
            };
            let out = payloads.get(forward_id, 0);
            let what = format!("round {round}");
            let got = send_and_receive(&mut forward, out, &mut reverse, &what).await;
            let outcome = match &got {
                Ok((_, n)) => format!("the client then received {n} bytes"),
                Err(e) => e.to_string(),
            };
            assert_eq!(
                order,
                [forward_id, reverse_id],
                "round {round}: the upstream accepted the connections out of order; {outcome}"
            );
            assert_eq!(got?, payloads.expect(reverse_id, 1), "round {round}");
            let report = within(STALL, "the server's receive", reports.recv()).await?;
            let Some(PairReport::Received(got)) = report else {
                anyhow::bail!("round {round}: no receive reported");
            };
            assert_eq!(got?, payloads.expect(forward_id, 0), "round {round}");
        }
        anyhow::Ok(())
    })
}

/// Many short runs of one connection with both directions saturated, the proxy's workers
/// held at the start of each (both sockets then have full queues both ways at once).
fn one_connection_both_ways(zero_copy: bool, toxics: bool) -> Result {
    const RUNS: u64 = 16;
    let payloads = Payloads::new(if toxics { 1 << 20 } else { 4 << 20 });
    let local = runtime(2);
    let (upstream, mut reports) = local.block_on(bidir_server(payloads.clone()))?;
    let proxied = Proxied::start(upstream, zero_copy)?;
    let _toxics = match toxics {
        true => Some(proxied.rt.block_on(both_ways_toxics(&proxied.link))?),
        false => None,
    };
    local.block_on(async {
        for run in 0..RUNS {
            let round = bidir_round(proxied.addr(), &payloads, &mut reports, run..run + 1);
            let (done, ()) = tokio::join!(round, proxied.hold_workers());
            done.map_err(|e| anyhow::anyhow!("run {run} (zero_copy {zero_copy}): {e}"))?;
        }
        anyhow::Ok(())
    })
}

/// Latency and bandwidth in both directions at once.
async fn both_ways_toxics(link: &Link) -> Result<Vec<shakedown_proxy::ToxicGuard>> {
    let mut guards = Vec::new();
    for toxic in [
        Toxic::latency(Duration::from_millis(2)).jitter(Duration::from_millis(1)),
        Toxic::bandwidth(100_000),
    ] {
        guards.push(link.add(toxic.clone().upstream()).await?);
        guards.push(link.add(toxic.downstream()).await?);
    }
    Ok(guards)
}

#[test]
fn one_connection_saturated_both_ways_never_stalls_on_the_fast_path() -> Result {
    one_connection_both_ways(true, false)
}

#[test]
fn one_connection_saturated_both_ways_never_stalls_on_the_copying_path() -> Result {
    one_connection_both_ways(false, false)
}

#[test]
fn latency_and_bandwidth_both_ways_with_both_directions_saturated_never_stall() -> Result {
    one_connection_both_ways(true, true)
}

#[test]
fn many_concurrent_bidirectional_connections_never_stall() -> Result {
    const CONNS: u64 = 48;
    let payloads = Payloads::new(1 << 20);
    let local = runtime(2);
    let (upstream, mut reports) = local.block_on(bidir_server(payloads.clone()))?;
    for (round, zero_copy) in [true, false, true, false].into_iter().enumerate() {
        let proxied = Proxied::start(upstream, zero_copy)?;
        let first = round as u64 * CONNS;
        local.block_on(async {
            let run = bidir_round(
                proxied.addr(),
                &payloads,
                &mut reports,
                first..first + CONNS,
            );
            let (done, ()) = tokio::join!(run, proxied.hold_workers());
            done.map_err(|e| anyhow::anyhow!("round {round} (zero_copy {zero_copy}): {e}"))
        })?;
    }
    Ok(())
}
