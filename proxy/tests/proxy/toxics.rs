//! Each toxic's effect on real connections. Times are lower bounds; upper bounds are generous.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use shakedown_proxy::{FaultProxy, Toxic, Toxicity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const LONG: Duration = Duration::from_secs(10);

async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> Result<Vec<u8>> {
    s.write_all(msg).await?;
    let mut buf = vec![0u8; msg.len()];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

#[tokio::test]
async fn latency_in_both_directions_adds_up_on_a_round_trip() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("lat", echo_server().await?).await?;
    let _up = link
        .add(Toxic::latency(Duration::from_millis(100)).upstream())
        .await?;
    let _down = link.add(Toxic::latency(Duration::from_millis(150))).await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    let start = Instant::now();
    assert_eq!(round_trip(&mut s, b"ping").await?, b"ping");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn two_latency_toxics_in_one_stream_add_up() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("lat2", echo_server().await?).await?;
    let _a = link
        .add(Toxic::latency(Duration::from_millis(100)).named("a"))
        .await?;
    let _b = link
        .add(Toxic::latency(Duration::from_millis(100)).named("b"))
        .await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    let start = Instant::now();
    round_trip(&mut s, b"x").await?;
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn latency_at_toxicity_zero_adds_nothing() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("lat0", echo_server().await?).await?;
    let _t = link
        .add(Toxic::latency(Duration::from_secs(5)).toxicity(Toxicity::NEVER))
        .await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    let start = Instant::now();
    round_trip(&mut s, b"fast").await?;
    assert!(start.elapsed() < Duration::from_secs(4));
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn latency_added_to_live_connection_applies_and_removal_releases_held_data() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("live", echo_server().await?).await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    round_trip(&mut s, b"warm").await?;
    let guard = link.add(Toxic::latency(Duration::from_secs(30))).await?;
    s.write_all(b"held").await?;
    let mut buf = [0u8; 4];
    let early = tokio::time::timeout(Duration::from_millis(200), s.read_exact(&mut buf)).await;
    assert!(early.is_err(), "data should be held by the latency toxic");
    drop(guard);
    within(LONG, "release", s.read_exact(&mut buf)).await??;
    assert_eq!(&buf, b"held");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn bandwidth_limits_throughput() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("bw", echo_server().await?).await?;
    let _t = link.add(Toxic::bandwidth(1000)).await?; // 1 MB/s downstream
    let data = pattern(300_000, 1);
    let start = Instant::now();
    let back = within(LONG, "transfer", echo_through(link.listen_addr(), &data)).await??;
    let took = start.elapsed();
    assert_eq!(back, data);
    assert!(took >= Duration::from_millis(290), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn slow_close_delays_the_eof_not_the_data() -> Result {
    let proxy = FaultProxy::start().await?;
    let (addr, mut accepted) = manual_server().await?;
    let link = proxy.link("sc", addr).await?;
    let _t = link
        .add(Toxic::slow_close(Duration::from_millis(1000)))
        .await?;
    let mut client = TcpStream::connect(link.listen_addr()).await?;
    let mut server = within(LONG, "accept", accepted.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no conn"))?;
    let start = Instant::now();
    server.write_all(b"bye").await?;
    drop(server);
    let mut buf = [0u8; 3];
    client.read_exact(&mut buf).await?;
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "data must not wait for the close"
    );
    let (rest, e) = within(LONG, "eof", read_all(&mut client)).await?;
    assert!(rest.is_empty() && e.is_none());
    assert!(
        start.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn timeout_drops_data_and_closes_after_the_timeout() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("to", echo_server().await?).await?;
    let _t = link
        .add(Toxic::timeout(Duration::from_millis(300)).upstream())
        .await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    let start = Instant::now();
    s.write_all(b"lost").await?;
    let (got, _) = within(LONG, "close", read_all(&mut s)).await?;
    assert!(got.is_empty(), "dropped data came back: {got:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(290),
        "{:?}",
        start.elapsed()
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn removing_a_timeout_toxic_closes_its_connections_on_both_sides() -> Result {
    let proxy = FaultProxy::start().await?;
    let (addr, mut accepted) = manual_server().await?;
    let link = proxy.link("torm", addr).await?;
    let t = link.add(Toxic::timeout(Duration::ZERO)).await?;
    let mut client = TcpStream::connect(link.listen_addr()).await?;
    let mut server = within(LONG, "accept", accepted.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no conn"))?;
    server.write_all(b"swallowed").await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    t.remove()?;
    let (c, _) = within(Duration::from_secs(2), "client eof", read_all(&mut client)).await?;
    let (_, _) = within(Duration::from_secs(2), "server eof", read_all(&mut server)).await?;
    assert!(c.is_empty());
    proxy.shutdown().await;
    Ok(())
}

async fn expect_reset(s: &mut TcpStream) -> Result<Duration> {
    let start = Instant::now();
    let (_, e) = within(LONG, "reset", read_all(s)).await?;
    match e {
        Some(e) if e.kind() == ErrorKind::ConnectionReset => Ok(start.elapsed()),
        other => anyhow::bail!("expected ECONNRESET, got {other:?}"),
    }
}

#[tokio::test]
async fn reset_peer_upstream_resets_the_client_after_the_timeout() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("rst", echo_server().await?).await?;
    let _t = link
        .add(Toxic::reset_peer(Duration::from_millis(200)).upstream())
        .await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    s.write_all(b"trigger").await?;
    let took = expect_reset(&mut s).await?;
    assert!(took >= Duration::from_millis(190), "{took:?}");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn reset_peer_also_resets_connections_open_before_it_was_added() -> Result {
    let proxy = FaultProxy::start().await?;
    let (addr, mut accepted) = manual_server().await?;
    let link = proxy.link("rst2", addr).await?;
    let mut client = TcpStream::connect(link.listen_addr()).await?;
    let mut server = within(LONG, "accept", accepted.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no conn"))?;
    let _t = link.add(Toxic::reset_peer(Duration::ZERO)).await?; // downstream
    server.write_all(b"trigger").await?;
    expect_reset(&mut client).await?;
    let (_, e) = within(LONG, "server side", read_all(&mut server)).await?;
    assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::ConnectionReset));
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn reset_peer_at_toxicity_zero_leaves_normal_closes_alone() -> Result {
    let proxy = FaultProxy::start().await?;
    let (addr, mut accepted) = manual_server().await?;
    let link = proxy.link("rst0", addr).await?;
    let _t = link
        .add(Toxic::reset_peer(Duration::ZERO).toxicity(Toxicity::NEVER))
        .await?;
    let mut client = TcpStream::connect(link.listen_addr()).await?;
    let mut server = within(LONG, "accept", accepted.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no conn"))?;
    server.write_all(b"fine").await?;
    drop(server);
    let (got, e) = within(LONG, "eof", read_all(&mut client)).await?;
    assert_eq!(got, b"fine");
    assert!(e.is_none(), "expected a clean FIN, got {e:?}");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn slicer_keeps_bytes_intact_and_spaces_pieces() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("sl", echo_server().await?).await?;
    // 2,000 bytes in ~100-byte pieces, 2 ms apart: at least ~30 ms.
    let _t = link
        .add(Toxic::slicer(100, 20, Duration::from_millis(2)))
        .await?;
    let data = pattern(2_000, 3);
    let start = Instant::now();
    let back = within(LONG, "sliced", echo_through(link.listen_addr(), &data)).await??;
    assert_eq!(back, data);
    assert!(
        start.elapsed() >= Duration::from_millis(30),
        "{:?}",
        start.elapsed()
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn limit_data_passes_exactly_the_limit_then_closes() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("ld", echo_server().await?).await?;
    let _t = link.add(Toxic::limit_data(1000)).await?;
    let data = pattern(5_000, 4);
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    s.write_all(&data).await?;
    let (got, _) = within(LONG, "limit", read_all(&mut s)).await?;
    assert_eq!(got, &data[..1000]);
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn corrupt_flips_bytes_reproducibly_with_a_seed() -> Result {
    let run = |seed: u64| async move {
        let proxy = FaultProxy::builder().seed(seed).start().await?;
        let link = proxy.link("cor", echo_server().await?).await?;
        let _t = link
            .add(Toxic::corrupt(Toxicity::new(0.01)?).upstream())
            .await?;
        let data = vec![0u8; 20_000];
        let back = within(LONG, "corrupt", echo_through(link.listen_addr(), &data)).await??;
        proxy.shutdown().await;
        anyhow::Ok(back)
    };
    let a = run(7).await?;
    let flipped: Vec<usize> = a
        .iter()
        .enumerate()
        .filter(|(_, b)| **b != 0)
        .map(|(i, _)| i)
        .collect();
    assert!(
        (100..=320).contains(&flipped.len()),
        "{} flipped",
        flipped.len()
    );
    // Same seed, same connection number: the same bytes flipped the same way (the positions
    // depend only on the byte offsets, not on how TCP chunked them).
    assert_eq!(a, run(7).await?);
    assert_ne!(a, run(8).await?);
    Ok(())
}

#[tokio::test]
async fn half_close_is_preserved() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("hc", echo_server().await?).await?;
    let data = pattern(100_000, 5);
    // echo_through shuts the write side first, then reads the whole reply.
    let back = within(LONG, "half close", echo_through(link.listen_addr(), &data)).await??;
    assert_eq!(back, data);
    // Also through a toxic chain.
    let _t = link.add(Toxic::noop()).await?;
    let back = within(LONG, "half close", echo_through(link.listen_addr(), &data)).await??;
    assert_eq!(back, data);
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn upstream_down_gives_connect_then_eof() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("down", dead_addr()).await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    let (got, _) = within(Duration::from_secs(5), "eof", read_all(&mut s)).await?;
    assert!(got.is_empty());
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn disable_closes_connections_and_enable_rebinds_the_same_address() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("toggle", echo_server().await?).await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    round_trip(&mut s, b"a").await?;
    link.disable().await?;
    let (_, _) = within(LONG, "closed", read_all(&mut s)).await?;
    assert!(TcpStream::connect(link.listen_addr()).await.is_err());
    link.enable().await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    assert_eq!(round_trip(&mut s, b"b").await?, b"b");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn guard_drop_removes_and_forget_keeps() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("g", "127.0.0.1:9").await?;
    {
        let _g = link.add(Toxic::noop()).await?;
        assert_eq!(link.toxics()?.len(), 1);
    }
    assert!(link.toxics()?.is_empty());
    let name = link.add(Toxic::noop().upstream()).await?.forget();
    assert_eq!(name, "noop_upstream");
    assert_eq!(link.toxics()?.len(), 1);
    link.reset().await?;
    assert!(link.toxics()?.is_empty());
    let err = link.remove("ghost").await.unwrap_err();
    assert!(err.to_string().contains("ghost"), "{err}");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn toxicity_zero_is_a_noop_until_updated_to_one() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("tox", echo_server().await?).await?;
    let _t = link
        .add(Toxic::timeout(Duration::from_millis(100)).toxicity(Toxicity::NEVER))
        .await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    assert_eq!(round_trip(&mut s, b"passes").await?, b"passes");
    let start = Instant::now();
    link.update(
        "timeout_downstream",
        Toxic::timeout(Duration::from_millis(100)),
    )
    .await?;
    let (_, _) = within(LONG, "timeout after update", read_all(&mut s)).await?;
    assert!(
        start.elapsed() >= Duration::from_millis(95),
        "{:?}",
        start.elapsed()
    );
    // Changing the type is refused with a hint.
    let err = link
        .update("timeout_downstream", Toxic::noop())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("remove it and add a new one"),
        "{err}"
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn connection_survives_repeated_add_and_reset_cycles() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("persist", echo_server().await?).await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    for i in 0..20u8 {
        link.add(Toxic::latency(Duration::from_millis(1)).upstream())
            .await?
            .forget();
        link.add(Toxic::slicer(3, 1, Duration::ZERO))
            .await?
            .forget();
        assert_eq!(round_trip(&mut s, &[i; 32]).await?, [i; 32]);
        proxy.reset().await?;
        assert!(link.toxics()?.is_empty());
    }
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn latency_does_not_limit_throughput() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("latbw", echo_server().await?).await?;
    let _t = link.add(Toxic::latency(Duration::from_millis(100))).await?;
    // 16 MB: if chunks were delayed one after another instead of pipelined, this would take
    // hundreds of 100 ms delays (tens of seconds).
    let data = pattern(16 << 20, 6);
    let start = Instant::now();
    let back = within(
        Duration::from_secs(30),
        "bulk with latency",
        echo_through(link.listen_addr(), &data),
    )
    .await??;
    let took = start.elapsed();
    assert!(back == data, "data changed");
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(
        took < Duration::from_secs(15),
        "latency serialised the stream: {took:?}"
    );
    proxy.shutdown().await;
    Ok(())
}

/// Regression: the old listener used to close only when its task next ran, so re-enabling
/// right after disabling failed with "address already in use".
#[tokio::test]
async fn enable_right_after_disable_rebinds_the_same_port() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("flip", echo_server().await?).await?;
    for _ in 0..20 {
        link.disable().await?;
        link.enable().await?;
    }
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    assert_eq!(round_trip(&mut s, b"up").await?, b"up");
    proxy.shutdown().await;
    Ok(())
}

/// Decided trap: bandwidth `rate: 0` holds every byte (nothing passes, nothing is lost), and
/// removing it through the API answers at once and releases the held bytes in order.
#[tokio::test]
async fn bandwidth_rate_zero_holds_data_and_removal_never_blocks_the_api() -> Result {
    let proxy = FaultProxy::start().await?;
    let api = Api::new(&proxy);
    let link = proxy.link("cut", echo_server().await?).await?;
    let (s, _) = api
        .json(
            "POST",
            "/proxies/cut/toxics",
            Some(r#"{"type":"bandwidth","attributes":{"rate":0}}"#),
        )
        .await?;
    assert_eq!(s, 200);
    let data = pattern(200_000, 9);
    let mut client = TcpStream::connect(link.listen_addr()).await?;
    client.write_all(&data).await?;
    let mut first = [0u8; 1];
    let early =
        tokio::time::timeout(Duration::from_millis(300), client.read_exact(&mut first)).await;
    assert!(early.is_err(), "rate 0 let data through");
    let start = Instant::now();
    let (s, _) = within(
        Duration::from_secs(5),
        "DELETE",
        api.call("DELETE", "/proxies/cut/toxics/bandwidth_downstream", None),
    )
    .await??;
    assert_eq!(s, 204);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let mut back = vec![0u8; data.len()];
    within(LONG, "released data", client.read_exact(&mut back)).await??;
    assert!(back == data, "held bytes changed");
    proxy.shutdown().await;
    Ok(())
}
