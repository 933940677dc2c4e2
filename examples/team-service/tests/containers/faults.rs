//! The service behind shakedown's fault proxy: its database link made slow, then cut.

use std::time::Duration;

use shakedown::proxy::Toxic;
use shakedown_fixtures::ProxyNode;
use shakedown_suites::reference::shakedown_binary;

use crate::support::{cluster, start, url, Config};

/// The proxy's port in front of the primary.
const PG_THROUGH_PROXY: u16 = 15432;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_then_unreachable_database_is_a_503_within_the_deadline_and_it_recovers(
) -> anyhow::Result<()> {
    let pg = cluster().await?;
    let db = pg.fresh_database().await?;
    // The proxy runs as a node beside the service, so this works on a remote engine too.
    let proxy = ProxyNode::start(pg.topology(), shakedown_binary()?, &[PG_THROUGH_PROXY]).await?;
    proxy
        .create_proxy("pg", PG_THROUGH_PROXY, &pg.primary().internal_addr())
        .await?;
    let users = start(
        &pg,
        Config {
            primary: format!(
                "postgres://postgres@{}/{}",
                proxy.internal_addr(PG_THROUGH_PROXY),
                db.name
            ),
            replica: None,
            ..Config::on("users", &db)
        },
    )
    .await?;
    let health = format!("{}/healthz", url(&users).await?);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let status = |r: reqwest::Response| async move {
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    };
    assert_eq!(
        status(http.get(&health).send().await?).await,
        (200, "ok".into())
    );

    // 2 s on every reply from the database, four times the service's 500 ms deadline.
    let slow = Toxic::latency(Duration::from_secs(2)).named("slow_db");
    proxy.add_toxic("pg", &slow).await?;
    let (code, body) = status(http.get(&health).send().await?).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("no answer within 500ms"), "{body}");
    proxy.remove_toxic("pg", &slow.name()).await?;

    // Cut: the connection is dropped and new ones are refused.
    proxy.set_enabled("pg", false).await?;
    let (code, body) = status(http.get(&health).send().await?).await;
    assert_eq!(code, 503, "{body}");
    proxy.set_enabled("pg", true).await?;

    // Healed: the service reconnects on its own (within a few tries; no restart).
    let mut last = (0, String::new());
    for _ in 0..20 {
        last = status(http.get(&health).send().await?).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last, (200, "ok".into()));
    pg.shutdown().await?;
    Ok(())
}
