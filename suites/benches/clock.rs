//! Per-node clock figures, printed, never asserted:
//!
//! - error: how far the clock a long-running process in the node reads (a Rust service's
//!   `SystemTime::now()`, PostgreSQL's `clock_timestamp()`) is from the requested offset right
//!   after `set_offset` returns, and the same for `NodeClock::offset()`'s own measurement;
//! - latency: from the start of `set_offset` until the process reads the new offset (polled as
//!   fast as a round trip allows), and how long `set_offset` itself takes.
//!
//! `cargo bench -p shakedown-suites --bench clock` (changes per node: `SHAKEDOWN_BENCH_CHANGES`,
//! default 40). Offsets are drawn from a fixed seed between −1 h and +1 h.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shakedown::{ClockOffset, Node};
use shakedown_fixtures::{start_service, PgCluster, ServiceSpec};

/// How close a reading must be to the requested offset to count as "seen".
const SEEN_WITHIN: Duration = Duration::from_millis(20);

fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

fn fmt(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let median = v[v.len() / 2];
    let p90 = v[(v.len() * 9 / 10).min(v.len() - 1)];
    let worst = v[v.len() - 1];
    println!(
        "  {name:<46} median {:>9}  p90 {:>9}  worst {:>9}  (n={})",
        fmt(median),
        fmt(p90),
        fmt(worst),
        v.len()
    );
}

/// One reading of a process's clock from the host: (offset from the host's midpoint, round trip).
type Read<'a> = Box<
    dyn Fn() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = anyhow::Result<(ClockOffset, Duration)>> + 'a>,
        > + 'a,
>;

async fn bench_node(
    label: &str,
    node: &Node,
    read: Read<'_>,
    changes: usize,
) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut err_after, mut err_measured, mut seen, mut call) = (vec![], vec![], vec![], vec![]);
    let mut rtts = vec![];
    for _ in 0..changes {
        let want = ClockOffset::from_millis(rng.random_range(-3_600_000..=3_600_000));
        let t0 = Instant::now();
        node.clock().set_offset(want).await?;
        call.push(t0.elapsed());
        // Right after the call returns.
        let (got, rtt) = read().await?;
        err_after.push(got.minus(want).magnitude());
        rtts.push(rtt);
        err_measured.push(node.clock().offset().await?.minus(want).magnitude());
        // A second change, timed until the process sees it.
        let next = want.plus(ClockOffset::from_millis(rng.random_range(1_000..=60_000)));
        let t1 = Instant::now();
        let setting = node.clock().set_offset(next);
        tokio::pin!(setting);
        let mut done = false;
        let mut seen_at = None;
        while seen_at.is_none() || !done {
            tokio::select! {
                r = &mut setting, if !done => { r?; done = true; }
                r = read(), if seen_at.is_none() => {
                    let (got, _) = r?;
                    if got.minus(next).magnitude() <= SEEN_WITHIN {
                        seen_at = Some(t1.elapsed());
                    }
                }
            }
        }
        seen.push(seen_at.unwrap_or_default());
    }
    node.clock().reset().await?;
    println!("{label}:");
    summary("error right after set_offset (process reading)", err_after);
    summary("  round trip of that reading (error is ±half)", rtts);
    summary("error of NodeClock::offset() (fresh process)", err_measured);
    summary("change seen by the process after", seen);
    summary("set_offset call (exec round trip)", call);
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let changes: usize = std::env::var("SHAKEDOWN_BENCH_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
        .max(2);
    let pg = PgCluster::builder()
        .replicas(0)
        .fake_clock()
        .start()
        .await?;
    let svc = start_service(
        pg.topology(),
        ServiceSpec::new(
            "clock",
            shakedown_suites::reference::shakedown_binary()
                .expect("build shakedown-cli first (cargo build -p shakedown-cli)"),
        )
        .arg("reference")
        .arg("clock")
        .port(8080)
        .ready_line("listening on")
        .fake_clock(),
    )
    .await?;
    let base = format!("http://{}/now", svc.host_addr(8080).await?);
    let http = reqwest::Client::new();
    println!("shakedown clock figures ({changes} changes per node, seen = within {SEEN_WITHIN:?})");

    let read_svc: Read<'_> = Box::new(|| {
        let (http, base) = (&http, &base);
        Box::pin(async move {
            let a = unix_nanos(SystemTime::now());
            let text = http.get(base.as_str()).send().await?.text().await?;
            let b = unix_nanos(SystemTime::now());
            let r: i128 = text.trim().parse()?;
            Ok((
                ClockOffset::from_nanos(r - (a + b) / 2),
                Duration::from_nanos((b - a) as u64),
            ))
        })
    });
    bench_node(
        "Rust service (SystemTime::now over HTTP)",
        &svc,
        read_svc,
        changes,
    )
    .await?;

    let client = pg.primary().connect("postgres").await?;
    let read_pg: Read<'_> = Box::new(|| {
        let client = &client;
        Box::pin(async move {
            let a = unix_nanos(SystemTime::now());
            let row = client
                .query_one(
                    "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
                    &[],
                )
                .await?;
            let b = unix_nanos(SystemTime::now());
            let r = row.get::<_, i64>(0) as i128 * 1000;
            Ok((
                ClockOffset::from_nanos(r - (a + b) / 2),
                Duration::from_nanos((b - a) as u64),
            ))
        })
    });
    bench_node(
        "PostgreSQL (clock_timestamp())",
        pg.primary().node(),
        read_pg,
        changes,
    )
    .await?;
    drop(svc);
    pg.shutdown().await?;
    Ok(())
}
