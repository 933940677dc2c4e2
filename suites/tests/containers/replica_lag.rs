//! The replica-lag suite against the reference service: it must catch the naive variant and pass
//! the hardened one, with byte-stable reports.

use shakedown::checker::{RegisterOp, RegisterValue};
use shakedown::history::OpKind;
use shakedown::{SuiteRun, Variant};
use shakedown_suites::replica_lag::{reference, Options};

use crate::support::{assert_caught, assert_handled, launcher, options};

const SEED: u64 = 7;

async fn run(variant: Variant) -> anyhow::Result<SuiteRun<RegisterOp, RegisterValue>> {
    let o = Options {
        run: options(SEED, variant),
        ..Options::default()
    };
    Ok(reference(&o, &launcher()).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_service_serves_stale_reads_after_own_write() -> anyhow::Result<()> {
    let run = run(Variant::Naive).await?;
    assert_caught(&run.report, &["stale_read_after_own_write"]);
    insta::assert_yaml_snapshot!("replica_lag_naive", run.report);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_service_reads_its_own_writes_under_lag() -> anyhow::Result<()> {
    let run = run(Variant::Hardened).await?;
    assert_handled(&run.report);
    // Under lag the hardened service must have fallen back to the primary: the history says so.
    let served: Vec<&str> = run
        .history
        .ops()
        .iter()
        .filter(|o| o.f == RegisterOp::Read && o.kind == OpKind::Ok)
        .filter_map(|o| o.node.as_deref())
        .collect();
    assert!(
        served.contains(&"primary"),
        "no read fell back to the primary: {served:?}"
    );
    // Every operation and fault event carries its time, in order.
    assert!(run.history.ops().windows(2).all(|w| w[0].time <= w[1].time));
    let windows = run.timeline.windows();
    assert_eq!(windows.len(), 2, "{windows:?}");
    assert!(windows.iter().all(|w| w.end.is_some_and(|e| e > w.start)));
    insta::assert_yaml_snapshot!("replica_lag_hardened", run.report);
    Ok(())
}
