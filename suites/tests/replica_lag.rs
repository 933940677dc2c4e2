//! The replica-lag suite against the reference service: it must catch the naive variant and pass
//! the hardened one, with byte-stable reports.

use std::path::PathBuf;

use shakedown::checker::Validity;
use shakedown::{RunOptions, Suite, Variant};
use shakedown_suites::replica_lag::ReplicaLagSuite;

fn suite() -> ReplicaLagSuite {
    ReplicaLagSuite {
        binary: Some(PathBuf::from(env!("CARGO_BIN_EXE_shakedown"))),
        ..Default::default()
    }
}

const SEED: u64 = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_service_serves_stale_reads_after_own_write() -> anyhow::Result<()> {
    let run = suite()
        .run(Variant::Naive, &RunOptions::seeded(SEED))
        .await?;
    let r = &run.report;
    assert!(r.anomaly("stale_read_after_own_write") > 0, "{r:#?}");
    assert_eq!(r.verdict, Validity::Invalid);
    insta::assert_yaml_snapshot!("replica_lag_naive", r);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_service_reads_its_own_writes_under_lag() -> anyhow::Result<()> {
    let run = suite()
        .run(Variant::Hardened, &RunOptions::seeded(SEED))
        .await?;
    let r = &run.report;
    assert_eq!(r.anomaly("stale_read_after_own_write"), 0, "{r:#?}");
    assert_eq!(r.verdict, Validity::Valid);
    // Under lag the hardened service must have fallen back to the primary: the history says so.
    let served: Vec<&str> = run.history["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .filter(|o| o["f"] == "read" && o["kind"] == "ok")
        .filter_map(|o| o["node"].as_str())
        .collect();
    assert!(
        served.contains(&"primary"),
        "no read fell back to the primary: {served:?}"
    );
    insta::assert_yaml_snapshot!("replica_lag_hardened", r);
    Ok(())
}
