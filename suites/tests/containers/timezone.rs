//! The timezone suite against the reference billing scheduler and PostgreSQL, both clocks walked
//! by libfaketime around three DST changes: it must catch the naive variant and pass the
//! hardened one, with byte-stable reports; and it must catch the other ways teams get "09:00 in
//! the tenant's zone" wrong, and pass correct schedulers designed differently from ours.

use shakedown::fault::FaultAction;
use shakedown::{Fault, SuiteRun, Variant};
use shakedown_fixtures::PgCluster;
use shakedown_suites::reference::{Mode, ServiceLaunch};
use shakedown_suites::timezone::{
    reference, run_against, BillingOp, BillingValue, Clocks, HttpBilling, Options, SCHEMA,
};

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
            "charge_missed",
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
    // The timeline shows the walks as they happened: every clock jump, between the passes.
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
    let windows = Options::default().windows.len();
    assert_eq!(
        steps.len(),
        2 * (ticks - windows),
        "two clocks, a step between passes of a window"
    );
    assert!(steps
        .iter()
        .all(|e| matches!(e.fault, Fault::ClockSet { .. })));
    insta::assert_yaml_snapshot!("timezone_hardened", r);
    Ok(())
}

/// Schedulers teams build that are not ours: (policy, the anomaly it must show, or `None` for a
/// correct design).
const VARIANTS: &[(&str, Option<&str>)] = &[
    // Only within the hour after 09:00: the late pass misses the day.
    ("nine-window", Some("charge_missed")),
    // The UTC offset taken at signup: an hour off once DST changes.
    ("fixed-offset", Some("charge_at_wrong_local_time")),
    // The 09:00–09:30 slot without a once-per-day key: the retried pass charges twice.
    ("no-guard", Some("charge_doubled")),
    // Charges right, reports by the database session's calendar day.
    ("server-day-report", Some("report_rows_in_wrong_day")),
    // Correct: the next due instant planned at signup and after each charge.
    ("planner", None),
    // Correct: PostgreSQL's own zone rules decide, in one statement.
    ("sql", None),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_schedulers_are_caught_and_correct_designs_pass() -> anyhow::Result<()> {
    let o = Options::default();
    let pg = PgCluster::builder()
        .replicas(0)
        .fake_clock()
        .container_timezone(o.db_zone.clone())
        .server_timezone(o.db_zone.clone())
        .template_sql(SCHEMA)
        .start()
        .await?;
    let launcher = launcher();
    let mut outcomes = Vec::new();
    for (policy, anomaly) in VARIANTS {
        let db = pg.fresh_database().await?;
        let service = launcher
            .launch(
                "timezone",
                pg.topology(),
                ServiceLaunch::new(format!("billing-{policy}"), "billing", Mode::Hardened)
                    .arg(format!("--policy={policy}"))
                    .arg(format!("--db={}", db.internal_primary_url))
                    .arg("--tick-ms=0")
                    .fake_clock()
                    .timezone(o.server_zone.clone()),
            )
            .await?;
        let zones = vec![
            (service.node.name().to_string(), o.server_zone.clone()),
            (pg.primary().name().to_string(), o.db_zone.clone()),
        ];
        let billing = HttpBilling::new(service.url.clone())?;
        let clocks = Clocks {
            nodes: &[&service.node, pg.primary().node()],
            zones: &zones,
        };
        let opts = Options {
            run: options(SEED, Variant::Custom),
            ..o.clone()
        };
        let run = run_against(&billing, clocks, &opts).await?;
        drop(service);
        match anomaly {
            Some(class) => assert_caught(&run.report, &[class]),
            None => assert_handled(&run.report),
        }
        outcomes.push((policy, run.report.anomalies_found()));
    }
    eprintln!("{outcomes:#?}");
    pg.shutdown().await?;
    Ok(())
}
