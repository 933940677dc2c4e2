//! The fault proxy as a container node: containers reach each other through it by name, and the
//! test drives it through its Toxiproxy API on a published port, with plain HTTP as any Toxiproxy
//! client would.

use std::time::{Duration, Instant};

use serde_json::json;
use shakedown_fixtures::{PgCluster, ProxyNode};
use tokio_postgres::NoTls;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_talk_through_the_proxy_node_and_its_toxics_apply() -> anyhow::Result<()> {
    let pg = PgCluster::builder().replicas(0).start().await?;
    let proxy = ProxyNode::start(
        pg.topology(),
        shakedown_suites::reference::shakedown_binary().expect("build shakedown-cli first"),
        &[15432],
    )
    .await?;
    let api = proxy.api_url().await?;
    let http = reqwest::Client::new();

    let upstream = format!("{}:5432", pg.primary().node().container_name());
    let created = http
        .post(format!("{api}/proxies"))
        .json(&json!({"name": "pg", "listen": "0.0.0.0:15432", "upstream": upstream}))
        .send()
        .await?;
    assert_eq!(created.status().as_u16(), 201, "{}", created.text().await?);

    // Container → proxy → container: the primary's own pg_isready, through the proxy node by name.
    let proxy_host = proxy.node().container_name().to_string();
    let ready = ["pg_isready", "-q", "-h", proxy_host.as_str(), "-p", "15432"];
    assert_eq!(pg.primary().node().exec(ready).await?.code, 0);

    // Test process → proxy → container, and a latency toxic on the way back.
    let url = format!(
        "postgres://postgres@{}/postgres",
        proxy.host_addr(15432).await?
    );
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(conn);
    client.query_one("SELECT 1", &[]).await?;
    let toxic = http
        .post(format!("{api}/proxies/pg/toxics"))
        .json(&json!({"type": "latency", "stream": "downstream", "attributes": {"latency": 300}}))
        .send()
        .await?;
    assert_eq!(toxic.status().as_u16(), 200, "{}", toxic.text().await?);
    let started = Instant::now();
    client.query_one("SELECT 1", &[]).await?;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "a query through a 300 ms latency toxic took {took:?}"
    );

    // Disabling the proxy cuts the path.
    let disabled = http
        .post(format!("{api}/proxies/pg"))
        .json(&json!({"enabled": false}))
        .send()
        .await?;
    assert_eq!(disabled.status().as_u16(), 200);
    assert_ne!(
        pg.primary().node().exec(ready).await?.code,
        0,
        "a disabled proxy must refuse"
    );
    Ok(())
}
