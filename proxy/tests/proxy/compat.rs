//! The `toxiproxy_rust` 0.1.6 client (blocking; run off the async runtime) against the proxy.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use shakedown_proxy::FaultProxy;
use toxiproxy_rust::client::Client;
use toxiproxy_rust::proxy::ProxyPack;

use crate::support::*;

/// A plain-thread server that answers each connection's first message with the same bytes.
fn one_shot_echo() -> Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 64];
            if let Ok(n) = conn.read(&mut buf) {
                let _ = conn.write_all(&buf[..n]);
            }
        }
    });
    Ok(addr)
}

fn client_session(
    api: std::net::SocketAddr,
    listen: std::net::SocketAddr,
    upstream: std::net::SocketAddr,
) -> Result {
    let client = Client::new(api);
    assert!(client.is_running());
    let version = client.version().map_err(anyhow::Error::msg)?;
    assert!(version.contains("2.12.0"), "{version}");
    client.reset().map_err(anyhow::Error::msg)?;

    let proxies = client
        .populate(vec![ProxyPack::new(
            "socket".into(),
            format!("localhost:{}", listen.port()),
            upstream.to_string(),
        )])
        .map_err(anyhow::Error::msg)?;
    assert_eq!(proxies.len(), 1);
    assert_eq!(proxies[0].proxy_pack.name, "socket");
    // Populating the same again changes nothing (listen compared after resolving).
    let again = client
        .populate(vec![ProxyPack::new(
            "socket".into(),
            format!("localhost:{}", listen.port()),
            upstream.to_string(),
        )])
        .map_err(anyhow::Error::msg)?;
    assert_eq!(
        again[0].proxy_pack.listen,
        format!("127.0.0.1:{}", listen.port())
    );

    let all = client.all().map_err(anyhow::Error::msg)?;
    assert_eq!(all.len(), 1);
    assert!(all.contains_key("socket"));

    let proxy = client
        .find_and_reset_proxy("socket")
        .map_err(anyhow::Error::msg)?;
    assert_eq!(proxy.proxy_pack.name, "socket");
    assert!(client.find_proxy("bad-proxy").is_err());
    assert!(client.find_and_reset_proxy("bad-proxy").is_err());

    // Enable / disable.
    assert!(proxy.proxy_pack.enabled);
    proxy
        .with_down(|| {
            let inside = client.find_proxy("socket").expect("find inside with_down");
            assert!(!inside.proxy_pack.enabled);
            assert!(std::net::TcpStream::connect(listen).is_err());
        })
        .map_err(anyhow::Error::msg)?;
    assert!(
        client
            .find_proxy("socket")
            .map_err(anyhow::Error::msg)?
            .proxy_pack
            .enabled
    );

    // Toxics listed inside apply, deleted after.
    assert_eq!(proxy.toxics().map_err(anyhow::Error::msg)?.len(), 0);
    proxy
        .with_latency("downstream".into(), 2000, 0, 1.0)
        .apply(|| {
            let all = client.all().expect("all inside apply");
            assert_eq!(all["socket"].toxics().expect("toxics").len(), 1);
        })
        .map_err(anyhow::Error::msg)?;
    assert_eq!(proxy.toxics().map_err(anyhow::Error::msg)?.len(), 0);

    // Every with_* toxic parses back (integer attributes, stream present).
    proxy
        .with_latency("upstream".into(), 1, 0, 1.0)
        .with_bandwidth("downstream".into(), 100_000, 1.0)
        .with_slow_close("downstream".into(), 1, 1.0)
        .with_timeout("upstream".into(), 0, 0.0)
        .with_slicer("downstream".into(), 1000, 10, 0, 1.0)
        .with_limit_data("upstream".into(), 1 << 30, 1.0);
    let toxics = proxy.toxics().map_err(anyhow::Error::msg)?;
    let mut names: Vec<_> = toxics.iter().map(|t| t.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "bandwidth_downstream",
            "latency_upstream",
            "limit_data_upstream",
            "slicer_downstream",
            "slow_close_downstream",
            "timeout_upstream"
        ]
    );
    let bw = toxics
        .iter()
        .find(|t| t.name == "bandwidth_downstream")
        .ok_or_else(|| anyhow::anyhow!("no bandwidth"))?;
    assert_eq!(bw.attributes["rate"], 100_000);
    proxy.delete_all_toxics().map_err(anyhow::Error::msg)?;
    assert!(proxy.toxics().map_err(anyhow::Error::msg)?.is_empty());

    // A real request takes at least the injected latency.
    proxy.with_latency("downstream".into(), 500, 0, 1.0);
    let start = Instant::now();
    let mut conn = std::net::TcpStream::connect(listen)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.write_all(b"hello")?;
    let mut reply = [0u8; 5];
    conn.read_exact(&mut reply)?;
    let took = start.elapsed();
    assert_eq!(&reply, b"hello");
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    proxy.delete_all_toxics().map_err(anyhow::Error::msg)?;

    proxy.delete().map_err(anyhow::Error::msg)?;
    assert!(client.all().map_err(anyhow::Error::msg)?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxiproxy_rust_client_works_against_the_proxy() -> Result {
    let proxy = FaultProxy::start().await?;
    let api = proxy.api_addr();
    let upstream = one_shot_echo()?;
    let listen = dead_addr();
    within(
        Duration::from_secs(60),
        "toxiproxy_rust session",
        tokio::task::spawn_blocking(move || client_session(api, listen, upstream)),
    )
    .await???;
    proxy.shutdown().await;
    Ok(())
}
