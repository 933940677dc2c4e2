//! The fault proxy as a container node: containers reach each other through it by name, and the
//! test drives it through its Toxiproxy API on a published port, with plain HTTP as any Toxiproxy
//! client would.

use std::time::{Duration, Instant};

use serde_json::json;
use shakedown::proxy::Toxic;
use shakedown::{Run, RunOptions};
use shakedown_fixtures::{NodeToxic, PgCluster, ProxyDisabled, ProxyNode};
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

    // The same through the node's nemeses, in a run's timeline: a toxic, then the proxy
    // disabled and enabled again.
    let enabled = http
        .post(format!("{api}/proxies/pg"))
        .json(&json!({"enabled": true}))
        .send()
        .await?;
    assert_eq!(enabled.status().as_u16(), 200);
    let run: Run<&'static str, ()> = Run::new("proxy_node", RunOptions::seeded(1));
    let slow = Toxic::latency(Duration::from_millis(300)).named("slow_pg");
    let toxic = run.inject(NodeToxic::new(&proxy, "pg", slow)).await?;
    let listed: serde_json::Value = http
        .get(format!("{api}/proxies/pg/toxics"))
        .send()
        .await?
        .json()
        .await?;
    let ours = listed
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == "slow_pg"))
        .unwrap_or_else(|| panic!("the nemesis's toxic is not listed: {listed}"));
    assert_eq!(ours["attributes"]["latency"], 300, "{listed}");
    toxic.heal().await?;
    let down = run.inject(ProxyDisabled::new(&proxy, "pg")).await?;
    assert_ne!(
        pg.primary().node().exec(ready).await?.code,
        0,
        "disabled by the nemesis"
    );
    down.heal().await?;
    assert_eq!(
        pg.primary().node().exec(ready).await?.code,
        0,
        "enabled by its heal"
    );
    let timeline = run.timeline();
    let kinds: Vec<&str> = timeline.windows().iter().map(|w| w.fault.kind()).collect();
    assert_eq!(kinds, ["proxy_toxic", "proxy_disabled"]);
    let missing = proxy.remove_toxic("pg", "nope").await.unwrap_err();
    assert!(
        missing.to_string().contains("remove toxic nope from pg"),
        "{missing}"
    );
    Ok(())
}
