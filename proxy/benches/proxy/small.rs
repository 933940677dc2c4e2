//! Small messages: request/response round trips over many connections, and the memory an idle
//! connection costs, per path.

use std::thread;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sides::Side;
use crate::{round_order, Bench, Path, Result, Targets, PATHS};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// Small request/response round trips over `conns` concurrent connections.
pub fn rtt(
    bench: &Bench,
    load: &tokio::runtime::Runtime,
    targets: &Targets,
    conns: usize,
) -> Result {
    let rounds = if bench.quick { 3 } else { 8 };
    let per_conn = if bench.quick {
        (4000 / conns).max(5)
    } else {
        (20_000 / conns).max(20)
    };
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); PATHS.len()];
    let mut cpu: Vec<u64> = vec![0; PATHS.len()];
    let mut wall: Vec<Duration> = vec![Duration::ZERO; PATHS.len()];
    // Each round's p50 per path: the paths of one round ran minutes apart at most, so their
    // difference is paired against drift in the machine's speed over the run.
    let mut round_p50: Vec<Vec<f64>> = vec![Vec::new(); PATHS.len()];
    for round in 0..rounds {
        for (i, p) in round_order(round) {
            let addr = targets.get(*p);
            let side = bench.side(*p);
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
            let mut sorted = got.clone();
            sorted.sort();
            round_p50[i].push(percentile(&sorted, 0.5).as_secs_f64() * 1e6);
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
    paired(&round_p50, Path::Proxy, Path::Plain);
    paired(&round_p50, Path::Proxy, Path::Splice);
    Ok(())
}

/// `a`'s p50 minus `b`'s, round by round: the median and the range over the rounds. A
/// difference inside the range of the rounds is the machine's noise, not the relays'.
fn paired(round_p50: &[Vec<f64>], a: Path, b: Path) {
    let mut d: Vec<f64> = round_p50[a.index()]
        .iter()
        .zip(&round_p50[b.index()])
        .map(|(x, y)| x - y)
        .collect();
    d.sort_by(f64::total_cmp);
    let (Some(min), Some(max)) = (d.first(), d.last()) else {
        return;
    };
    let better = d.iter().filter(|v| **v < 0.0).count();
    println!(
        "  {} minus {}, p50 per round: median {:+.1} µs, range {:+.1} to {:+.1} µs; {} lower in {better} of {} rounds",
        a.name(),
        b.name(),
        d[d.len() / 2],
        min,
        max,
        a.name(),
        d.len()
    );
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
pub fn idle_memory(bench: &Bench, load: &tokio::runtime::Runtime, targets: &Targets) -> Result {
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
