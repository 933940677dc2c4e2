//! Bulk throughput: one way into a sink, and through an echo server, per path.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Instant;

use crate::sides::{process_cpu_ns, Side};
use crate::{median, ratios, round_order, Bench, Result, Targets, BUF, PATHS};

/// Blocking sink: reads to EOF, then answers one byte.
pub fn sink_server() -> Result<SocketAddr> {
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
pub fn echo_server() -> Result<SocketAddr> {
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

pub fn one_way(addr: SocketAddr, total: usize) -> Result<f64> {
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

pub fn echo_bulk(addr: SocketAddr, total: usize) -> Result<f64> {
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

pub fn throughput(
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
            let side = bench.side(*p);
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
                "                          all threads {all:>5.0} ms per GB   cores busy {busy:.2}"
            )
        } else {
            format!(
                "   relay CPU {:>4.0} ms per GB   all threads {all:>5.0} ms per GB   cores busy {busy:.2}   relay busy {:.2}",
                cpu[i] as f64 / 1e6 / gb_moved,
                cpu[i] as f64 / 1e9 / wall[i]
            )
        };
        println!(
            "  {:<16} {:>9.0} MB/s   {:<45}{relay_cpu}",
            p.name(),
            med[i],
            ratios(&med, i),
        );
    }
    Ok(())
}
