//! The timezone suite against the reference billing scheduler and PostgreSQL, both clocks walked
//! by libfaketime across a DST change: it must catch the naive variant and pass the hardened one,
//! with byte-stable reports.

use shakedown::fault::FaultAction;
use shakedown::{Fault, SuiteRun, Variant};
use shakedown_suites::timezone::{reference, BillingOp, BillingValue, Options};

use crate::support::{assert_caught, assert_handled, launcher, options};

const SEED: u64 = 5;

async fn run(variant: Variant) -> anyhow::Result<SuiteRun<BillingOp, BillingValue>> {
    let o = Options {
        run: options(SEED, variant),
        ..Options::default()
    };
    Ok(reference(&o, &launcher()).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_scheduler_charges_in_server_time_and_cuts_days_at_server_midnight(
) -> anyhow::Result<()> {
    let run = run(Variant::Naive).await?;
    let r = &run.report;
    assert_caught(
        r,
        &[
            "charge_at_wrong_local_time",
            "charge_doubled",
            "report_rows_in_wrong_day",
        ],
    );
    assert_eq!(r.checks[0].counted["calls_failed"], 0);
    insta::assert_yaml_snapshot!("timezone_naive", r);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_scheduler_charges_at_nine_local_once_a_day_across_dst() -> anyhow::Result<()> {
    let run = run(Variant::Hardened).await?;
    let r = &run.report;
    assert_handled(r);
    let counted = &r.checks[0].counted;
    assert!(counted["dst_change_days_judged"] > 0, "{counted:?}");
    assert_eq!(counted["charges_seen"], counted["tenant_days_judged"]);
    // The timeline shows the walk as it happened: every clock jump, between the passes.
    let ticks = run
        .history
        .ops()
        .iter()
        .filter(|o| o.f == BillingOp::Tick && o.kind != shakedown::history::OpKind::Invoke)
        .count();
    let steps: Vec<_> = run
        .timeline
        .events()
        .iter()
        .filter(|e| e.action == FaultAction::Step)
        .collect();
    assert_eq!(
        steps.len(),
        2 * (ticks - 1),
        "two clocks, a step between passes"
    );
    assert!(steps
        .iter()
        .all(|e| matches!(e.fault, Fault::ClockSet { .. })));
    insta::assert_yaml_snapshot!("timezone_hardened", r);
    Ok(())
}
