//! The timezone suite against the reference billing scheduler and PostgreSQL, both clocks walked
//! by libfaketime across a DST change: it must catch the naive variant and pass the hardened one,
//! with byte-stable reports.

use std::path::PathBuf;

use shakedown::checker::Validity;
use shakedown::{RunOptions, Suite, Variant};
use shakedown_suites::timezone::TimezoneSuite;

fn suite() -> TimezoneSuite {
    TimezoneSuite {
        binary: Some(PathBuf::from(env!("CARGO_BIN_EXE_shakedown"))),
        ..Default::default()
    }
}

const SEED: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_scheduler_charges_in_server_time_and_cuts_days_at_server_midnight(
) -> anyhow::Result<()> {
    let run = suite()
        .run(Variant::Naive, &RunOptions::seeded(SEED))
        .await?;
    let r = &run.report;
    assert!(r.anomaly("charge_at_wrong_local_time") > 0, "{r:#?}");
    assert!(r.anomaly("charge_doubled") > 0, "{r:#?}");
    assert!(r.anomaly("report_rows_in_wrong_day") > 0, "{r:#?}");
    assert_eq!(r.checks[0].counted["calls_failed"], 0);
    assert_eq!(r.verdict, Validity::Invalid);
    insta::assert_yaml_snapshot!("timezone_naive", r);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_scheduler_charges_at_nine_local_once_a_day_across_dst() -> anyhow::Result<()> {
    let run = suite()
        .run(Variant::Hardened, &RunOptions::seeded(SEED))
        .await?;
    let r = &run.report;
    for class in [
        "charge_at_wrong_local_time",
        "charge_missed",
        "charge_doubled",
        "report_rows_in_wrong_day",
    ] {
        assert_eq!(r.anomaly(class), 0, "{class}: {r:#?}");
    }
    let counted = &r.checks[0].counted;
    assert!(counted["dst_change_days_judged"] > 0, "{counted:?}");
    assert_eq!(counted["charges_seen"], counted["tenant_days_judged"]);
    assert_eq!(r.verdict, Validity::Valid);
    insta::assert_yaml_snapshot!("timezone_hardened", r);
    Ok(())
}
