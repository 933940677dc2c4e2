//! Per-node clocks and time zones against real containers: PostgreSQL's clock and a Rust
//! service's `SystemTime::now()` follow libfaketime offsets set at run time, without a restart.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shakedown::clock::FakeClock;
use shakedown::{ClockOffset, Node, Topology};
use shakedown_fixtures::{start_service, PgCluster, PgNode, ServiceSpec};

/// How far a measured offset may be from the requested one.
const TOLERANCE: Duration = Duration::from_millis(50);

fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// Reads a clock `read` from the host several times and keeps the reading with the shortest
/// round trip: offset = reading − midpoint of the host times around it.
async fn measure<F, Fut>(mut read: F) -> anyhow::Result<ClockOffset>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<i128>>,
{
    let mut best: Option<(i128, ClockOffset)> = None;
    for _ in 0..5 {
        let a = unix_nanos(SystemTime::now());
        let r = read().await?;
        let b = unix_nanos(SystemTime::now());
        let offset = ClockOffset::from_nanos(r - (a + b) / 2);
        if best.is_none_or(|(rtt, _)| b - a < rtt) {
            best = Some((b - a, offset));
        }
    }
    Ok(best.expect("five samples").1)
}

async fn pg_offset(pg: &PgNode) -> anyhow::Result<ClockOffset> {
    let c = pg.connect("postgres").await?;
    measure(|| async {
        let row = c
            .query_one(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
                &[],
            )
            .await?;
        Ok(row.get::<_, i64>(0) as i128 * 1000)
    })
    .await
}

async fn service_offset(http: &reqwest::Client, base: &str) -> anyhow::Result<ClockOffset> {
    measure(|| async {
        let text = http.get(format!("{base}/now")).send().await?.text().await?;
        Ok(text.trim().parse::<i128>()?)
    })
    .await
}

async fn postmaster_start(pg: &PgNode) -> anyhow::Result<Option<String>> {
    Ok(pg
        .query_text("postgres", "SELECT pg_postmaster_start_time()::text")
        .await?)
}

fn assert_near(what: &str, got: ClockOffset, want: ClockOffset) {
    let err = got.minus(want).magnitude();
    assert!(
        err <= TOLERANCE,
        "{what}: measured {got}, requested {want} (off by {err:?})"
    );
}

async fn clock_service(topology: &Topology) -> anyhow::Result<(Node, String)> {
    let node = start_service(
        topology,
        ServiceSpec::new(
            "clock",
            shakedown_suites::reference::shakedown_binary().expect("build shakedown-cli first"),
        )
        .arg("reference")
        .arg("clock")
        .port(8080)
        .ready_line("listening on")
        .fake_clock()
        .timezone("Asia/Tokyo"),
    )
    .await?;
    let base = format!("http://{}", node.host_addr(8080).await?);
    Ok((node, base))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_a_service_follow_clock_changes_at_run_time() -> anyhow::Result<()> {
    let pg = PgCluster::builder()
        .replicas(0)
        .fake_clock()
        .start()
        .await?;
    let (svc, base) = clock_service(pg.topology()).await?;
    let http = reqwest::Client::new();
    let primary = pg.primary();
    let started_at = postmaster_start(primary).await?;

    assert_near("pg at start", pg_offset(primary).await?, ClockOffset::ZERO);
    assert_near(
        "service at start",
        service_offset(&http, &base).await?,
        ClockOffset::ZERO,
    );

    let ahead = ClockOffset::ahead(Duration::from_secs(90));
    primary.node().clock().skew(Duration::from_secs(90)).await?;
    svc.clock().skew(Duration::from_secs(90)).await?;
    assert_near("pg +90 s", pg_offset(primary).await?, ahead);
    assert_near("service +90 s", service_offset(&http, &base).await?, ahead);
    assert_near(
        "measured inside pg",
        primary.node().clock().offset().await?,
        ahead,
    );
    assert_near(
        "measured inside the service",
        svc.clock().offset().await?,
        ahead,
    );

    // Again at run time, same processes: no restart in between.
    let behind = ClockOffset::behind(Duration::from_secs(600));
    primary
        .node()
        .clock()
        .behind(Duration::from_secs(600))
        .await?;
    svc.clock().behind(Duration::from_secs(600)).await?;
    assert_near("pg -600 s", pg_offset(primary).await?, behind);
    assert_near(
        "service -600 s",
        service_offset(&http, &base).await?,
        behind,
    );

    // A jump to an instant: the server's now() shows that date.
    let target = UNIX_EPOCH + Duration::from_secs(1_772_953_140); // 2026-03-08T06:59:00Z
    primary.node().clock().jump_to(target).await?;
    let shown = primary
        .query_text(
            "postgres",
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')",
        )
        .await?;
    assert_eq!(shown.as_deref(), Some("2026-03-08 06:59"));

    // Drift: the clock gains on the real one while the run goes on.
    svc.clock().reset().await?;
    svc.clock().drift(2.0).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let drifted = service_offset(&http, &base).await?;
    let want = svc.clock().requested()?;
    assert!(
        drifted.as_secs_f64() > 1.0,
        "a clock at twice real speed gained only {drifted} in 1.5 s"
    );
    assert!(
        drifted.minus(want).magnitude() < Duration::from_millis(300),
        "drifted {drifted}, requested {want}"
    );

    primary.node().clock().reset().await?;
    svc.clock().reset().await?;
    assert_near("pg reset", pg_offset(primary).await?, ClockOffset::ZERO);
    assert_near(
        "service reset",
        service_offset(&http, &base).await?,
        ClockOffset::ZERO,
    );
    // The server kept running through every change: the postmaster never restarted.
    assert_eq!(started_at, postmaster_start(primary).await?);

    // A restart ends the node's clock writer (the shell kept open in it); the next change still
    // lands, and a quick walk of steps through the new writer ends where it was sent.
    svc.restart().await?;
    let base = format!("http://{}", svc.host_addr(8080).await?);
    svc.clock().skew(Duration::from_secs(30)).await?;
    assert_near(
        "service +30 s after a restart",
        service_offset(&http, &base).await?,
        ClockOffset::ahead(Duration::from_secs(30)),
    );
    for minutes in 1..=40 {
        svc.clock().skew(Duration::from_secs(60 * minutes)).await?;
    }
    assert_near(
        "service after 40 steps",
        service_offset(&http, &base).await?,
        ClockOffset::ahead(Duration::from_secs(2400)),
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_time_zones_apply_at_server_database_and_session_level() -> anyhow::Result<()> {
    let pg = PgCluster::builder()
        .replicas(0)
        .container_timezone("Asia/Tokyo")
        .database_timezone("America/New_York")
        .start()
        .await?;
    let primary = pg.primary();
    let show = |c: tokio_postgres::Client| async move {
        let row = c.query_one("SHOW timezone", &[]).await?;
        anyhow::Ok(row.get::<_, String>(0))
    };
    // initdb took the server default from the container's TZ.
    assert_eq!(
        show(primary.connect("postgres").await?).await?,
        "Asia/Tokyo"
    );
    let db = pg.fresh_database().await?;
    assert_eq!(
        show(primary.connect(&db.name).await?).await?,
        "America/New_York"
    );
    let session = primary
        .connect_with_timezone(&db.name, "Asia/Kolkata")
        .await?;
    assert_eq!(show(session).await?, "Asia/Kolkata");
    // The container's own processes run in its TZ too.
    let zone = primary.node().exec_ok(["date", "+%Z"]).await?;
    assert_eq!(zone.trim(), "JST");
    drop(pg);

    let berlin = PgCluster::builder()
        .replicas(0)
        .container_timezone("Asia/Tokyo")
        .server_timezone("Europe/Berlin")
        .start()
        .await?;
    assert_eq!(
        show(berlin.primary().connect("postgres").await?).await?,
        "Europe/Berlin"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_calls_fail_clearly_without_libfaketime_or_a_fake_clock() -> anyhow::Result<()> {
    let topology = Topology::start().await?;
    let missing = start_service(
        &topology,
        ServiceSpec::new(
            "clock",
            shakedown_suites::reference::shakedown_binary().expect("build shakedown-cli first"),
        )
        .arg("reference")
        .arg("clock")
        .port(8080)
        .fake_clock_with(FakeClock::new().library("/opt/none/libfaketime.so.1")),
    )
    .await
    .expect_err("an image without the library must be refused");
    let msg = missing.to_string();
    assert!(
        msg.contains("/opt/none/libfaketime.so.1") && msg.contains("libfaketime"),
        "{msg}"
    );

    let (plain, _) = {
        let node = start_service(
            &topology,
            ServiceSpec::new(
                "plain",
                shakedown_suites::reference::shakedown_binary().expect("build shakedown-cli first"),
            )
            .arg("reference")
            .arg("clock")
            .port(8080),
        )
        .await?;
        (node, ())
    };
    let err = plain
        .clock()
        .skew(Duration::from_secs(1))
        .await
        .expect_err("no fake clock");
    assert!(err.to_string().contains("has no fake clock"), "{err}");

    let bad_zone = PgCluster::builder()
        .replicas(0)
        .database_timezone("Europe/Berlin'; DROP TABLE x; --")
        .start()
        .await
        .expect_err("a malformed zone must be refused");
    assert!(
        bad_zone.to_string().contains("not an IANA time-zone name"),
        "{bad_zone}"
    );
    topology.shutdown().await?;
    Ok(())
}
