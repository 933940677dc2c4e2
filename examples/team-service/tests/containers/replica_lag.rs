//! shakedown's ready-made replica-lag suite against the team's own read path: reading every
//! page from the replica is caught; the fix (a session that wrote reads the primary) passes.

use shakedown::{RunOptions, Variant};
use shakedown_suites::replica_lag::{run_against, Options};
use shakedown_suites::{assert_caught, assert_handled};

use crate::client::Users;
use crate::support::{cluster, start, url, Config};

async fn suite_against(
    read_your_writes: bool,
    variant: Variant,
) -> anyhow::Result<shakedown::report::Report> {
    let pg = cluster().await?;
    let db = pg.fresh_database().await?;
    let users = start(
        &pg,
        Config {
            read_your_writes,
            ..Config::on("users", &db)
        },
    )
    .await?;
    let options = Options {
        run: RunOptions::seeded(7).variant(variant),
        ..Options::default()
    };
    let run = run_against(&Users::new(url(&users).await?), &pg, &options).await?;
    pg.shutdown().await?;
    Ok(run.report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_from_the_replica_is_caught_serving_stale_profiles() -> anyhow::Result<()> {
    let report = suite_against(false, Variant::Naive).await?;
    assert_caught(&report, &["stale_read_after_own_write"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_your_writes_from_the_primary_passes_the_suite() -> anyhow::Result<()> {
    let report = suite_against(true, Variant::Hardened).await?;
    assert_handled(&report);
    Ok(())
}
