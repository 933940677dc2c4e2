//! `bidir`: a bounded stress run of `iperf3 --bidir`-like pairs (issue 8).
//!
//! Each run opens two connections back to back through a path to a server that, like
//! iperf3's, tells them apart by the order it accepts them: it receives on the first and sends
//! on the second. The client sends on the first while it receives on the second, so both
//! directions of the path run at full speed at once. A run in which nothing moves for
//! [`STALL`] is a stall (it is abandoned and counted); every byte is checked with a stream
//! hash in both directions. Paths alternate as in the other parts, so every run follows a bulk
//! run through another path: the timing window in which the runs stalled. The relays
//! run on 2-worker runtimes here whatever `SHAKEDOWN_BENCH_RELAY_THREADS` says, as
//! `shakedown proxy` does on a 2-core machine: the cause (dials out of accept order)
//! needs a multi-thread runtime, and before its fix this part counted stalls in about half the
//! proxy's runs and none for the baselines.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::{median, ratios, round_order, Bench, Result, BUF, PATHS};

/// No progress for this long is a stall (a healthy run moves gigabytes per second).
const STALL: Duration = Duration::from_secs(2);
/// Size of the buffer the sent bytes are cut from (a window per write, at a moving offset).
const SOURCE: usize = 4 << 20;

/// An order-sensitive hash of a byte stream, independent of how the stream was cut into
/// reads and writes; cheap enough (a multiply per 8 bytes) not to limit any path.
#[derive(Default)]
struct StreamHash {
    h: u64,
    pending: [u8; 8],
    fill: usize,
    len: u64,
}

impl StreamHash {
    fn mix(&mut self, word: u64) {
        self.h = (self.h ^ word)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        while self.fill > 0 && !data.is_empty() {
            self.pending[self.fill] = data[0];
            self.fill += 1;
            data = &data[1..];
            if self.fill == 8 {
                self.fill = 0;
                self.mix(u64::from_le_bytes(self.pending));
            }
        }
        let words = data.chunks_exact(8);
        let rest = words.remainder();
        for w in words {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            self.mix(u64::from_le_bytes(word));
        }
        self.pending[..rest.len()].copy_from_slice(rest);
        self.fill = rest.len();
    }

    /// The hash and the length.
    fn finish(mut self) -> (u64, u64) {
        let mut last = [0u8; 8];
        last[..self.fill].copy_from_slice(&self.pending[..self.fill]);
        self.mix(u64::from_le_bytes(last));
        self.mix(self.len);
        (self.h, self.len)
    }
}

/// `len` pseudo-random bytes (seeded), the source every run's bytes are cut from.
fn source_bytes(len: usize) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut bytes = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(8).fill_bytes(&mut bytes);
    bytes
}

/// Writes `total` bytes cut from `source`, then shuts the write side; returns their hash.
fn send(s: &mut TcpStream, source: &[u8], total: usize) -> std::io::Result<(u64, u64)> {
    let mut hash = StreamHash::default();
    let mut left = total;
    let mut offset = 0;
    while left > 0 {
        let piece = &source[offset..offset + left.min(BUF)];
        s.write_all(piece)?;
        hash.update(piece);
        left -= piece.len();
        offset = (offset + 7919 * 64) % (source.len() - BUF);
    }
    s.shutdown(std::net::Shutdown::Write)?;
    Ok(hash.finish())
}

/// Reads to EOF; returns the hash of what came.
fn receive(s: &mut TcpStream) -> std::io::Result<(u64, u64)> {
    let mut hash = StreamHash::default();
    let mut buf = vec![0u8; BUF];
    loop {
        match s.read(&mut buf)? {
            0 => return Ok(hash.finish()),
            n => hash.update(&buf[..n]),
        }
    }
}

/// What the server saw of pair `pair`: the hash of what it received on the first connection
/// and of what it sent on the second.
struct PairReport {
    pair: u64,
    received: std::io::Result<(u64, u64)>,
    sent: std::io::Result<(u64, u64)>,
}

/// The iperf3-like server: connections in pairs, receive on the first, send `total` on the
/// second. Blocking threads, like the other bench servers.
fn pair_server(
    source: Arc<Vec<u8>>,
    total: usize,
) -> Result<(SocketAddr, mpsc::Receiver<PairReport>)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for pair in 0u64.. {
            let (Ok((mut first, _)), Ok((mut second, _))) = (l.accept(), l.accept()) else {
                return;
            };
            let (tx, source) = (tx.clone(), source.clone());
            thread::spawn(move || {
                for s in [&first, &second] {
                    let _ = s.set_read_timeout(Some(STALL));
                    let _ = s.set_write_timeout(Some(STALL));
                }
                let sender = thread::spawn(move || send(&mut second, &source, total));
                let received = receive(&mut first);
                let sent = sender
                    .join()
                    .unwrap_or_else(|_| Err(ErrorKind::Other.into()));
                let _ = tx.send(PairReport {
                    pair,
                    received,
                    sent,
                });
            });
        }
    });
    Ok((addr, rx))
}

/// How one run ended.
enum Outcome {
    /// Both directions complete and intact; MB/s both ways together.
    Intact(f64),
    /// Bytes lost, added or changed.
    Corrupt,
    /// No progress for [`STALL`].
    Stalled,
}

/// One `--bidir`-like run of `total` bytes each way through `addr`.
fn run(
    addr: SocketAddr,
    source: &Arc<Vec<u8>>,
    total: usize,
    pair: u64,
    reports: &mpsc::Receiver<PairReport>,
) -> Result<Outcome> {
    let started = Instant::now();
    let mut forward = TcpStream::connect(addr)?;
    let mut reverse = TcpStream::connect(addr)?;
    for s in [&forward, &reverse] {
        s.set_read_timeout(Some(STALL))?;
        s.set_write_timeout(Some(STALL))?;
    }
    let data = source.clone();
    let sender = thread::spawn(move || send(&mut forward, &data, total));
    let received = receive(&mut reverse);
    drop(reverse);
    let sent = sender.join().map_err(|_| "sender panicked")?;
    let secs = started.elapsed().as_secs_f64();
    let timed_out = |r: &std::io::Result<(u64, u64)>| {
        r.as_ref()
            .is_err_and(|e| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
    };
    if timed_out(&received) || timed_out(&sent) {
        return Ok(Outcome::Stalled);
    }
    let (received, sent) = (received?, sent?);
    let report = loop {
        let report = reports.recv_timeout(STALL * 2)?;
        if report.pair == pair {
            break report;
        }
    };
    let (Ok(server_received), Ok(server_sent)) = (report.received, report.sent) else {
        return Ok(Outcome::Corrupt);
    };
    if server_received != sent || received != server_sent || sent.1 != total as u64 {
        return Ok(Outcome::Corrupt);
    }
    Ok(Outcome::Intact(2.0 * total as f64 / secs / 1e6))
}

/// Runs the stress part and prints its table.
pub fn stress(bench: &Bench) -> Result {
    let own = (bench.relay_threads < 2)
        .then(|| Bench::start(bench.quick, 2))
        .transpose()?;
    let bench = own.as_ref().unwrap_or(bench);
    let total = if bench.quick { 32 << 20 } else { 128 << 20 };
    let rounds = if bench.quick { 8 } else { 40 };
    let source = Arc::new(source_bytes(SOURCE));
    let (upstream, reports) = pair_server(source.clone(), total)?;
    let targets = bench.targets("bidir", upstream)?;
    let mut speeds: Vec<Vec<f64>> = vec![Vec::new(); PATHS.len()];
    let mut stalls = vec![0usize; PATHS.len()];
    let mut corrupt = vec![0usize; PATHS.len()];
    let mut pair = 0u64;
    for round in 0..rounds {
        for (i, p) in round_order(round) {
            match run(targets.get(*p), &source, total, pair, &reports)? {
                Outcome::Intact(mbps) => speeds[i].push(mbps),
                Outcome::Corrupt => corrupt[i] += 1,
                Outcome::Stalled => stalls[i] += 1,
            }
            pair += 1;
        }
    }
    println!(
        "bidirectional stress: {rounds} iperf3 --bidir-like runs per path, {} MB each way per run, \
         relays on {}-worker runtimes, a stall is no progress for {STALL:?}",
        total >> 20,
        bench.relay_threads
    );
    let med: Vec<f64> = speeds
        .iter()
        .map(|v| if v.is_empty() { 0.0 } else { median(v.clone()) })
        .collect();
    for (i, p) in PATHS.iter().enumerate() {
        println!(
            "  {:<16} {:>9.0} MB/s both ways   {:<45}   stalls {} of {rounds}   corrupt {}",
            p.name(),
            med[i],
            ratios(&med, i),
            stalls[i],
            corrupt[i]
        );
    }
    if let Some(own) = own {
        own.shutdown();
    }
    Ok(())
}
