//! The replica-lag suite against the reference service: it must catch the naive variant and pass
//! the hardened one, with byte-stable reports; and it must catch the other ways teams get read
//! routing wrong, and pass correct designs that are not ours.

use shakedown::checker::{RegisterOp, RegisterValue};
use shakedown::history::OpKind;
use shakedown::{SuiteRun, Variant};
use shakedown_fixtures::PgCluster;
use shakedown_suites::reference::{Mode, ServiceLaunch};
use shakedown_suites::replica_lag::{reference, run_against, HttpProfiles, Options, SCHEMA};

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
    // Under lag the hardened service must have fallen back to the primary, and served from a
    // replica once it had caught up: the history says so.
    let served: Vec<&str> = run
        .history
        .ops()
        .iter()
        .filter(|o| o.f == RegisterOp::Read && o.kind == OpKind::Ok)
        .filter_map(|o| o.node.as_deref())
        .collect();
    assert!(served.contains(&"primary"), "{served:?}");
    assert!(
        served.iter().any(|s| s.starts_with("replica")),
        "{served:?}"
    );
    // Every operation and fault event carries its time, in order.
    assert!(run.history.ops().windows(2).all(|w| w[0].time <= w[1].time));
    let windows = run.timeline.windows();
    assert_eq!(
        windows.len(),
        4,
        "two faults on each of two replicas: {windows:?}"
    );
    assert!(windows.iter().all(|w| w.end.is_some_and(|e| e > w.start)));
    insta::assert_yaml_snapshot!("replica_lag_hardened", run.report);
    Ok(())
}

/// Read policies of the reference service that are not ours: (policy, the anomaly it must show,
/// or `None` for a correct design).
const VARIANTS: &[(&str, Option<&str>)] = &[
    // The primary for 1.5 s after a write (Rails-style role switching): lag outlasts it.
    ("sticky-window", Some("stale_read_after_own_write")),
    // The primary only when the replica has nothing: an update of an existing profile is missed.
    ("primary-on-miss", Some("stale_read_after_own_write")),
    // Replicas whose replay lag is under 5 s: a 3 s lag passes the test.
    ("lag-threshold", Some("stale_read_after_own_write")),
    // Waits for the replica without bound: correct data, but users wait past their patience.
    ("lsn-unbounded", Some("calls_unserved")),
    // Correct: every read from the primary.
    ("primary", None),
    // Correct: the position kept server-side per profile (GitLab's sticking), no waiting.
    ("lsn-by-user", None),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_read_paths_are_caught_and_correct_designs_pass() -> anyhow::Result<()> {
    let pg = PgCluster::builder()
        .replicas(2)
        .template_sql(SCHEMA)
        .start()
        .await?;
    let launcher = launcher();
    let mut outcomes = Vec::new();
    for (policy, anomaly) in VARIANTS {
        let db = pg.fresh_database().await?;
        let mut spec = ServiceLaunch::new(format!("profiles-{policy}"), "profiles", Mode::Naive)
            .arg(format!("--read-policy={policy}"))
            .arg(format!("--primary={}", db.internal_primary_url));
        for url in &db.internal_replica_urls {
            spec = spec.arg(format!("--replica={url}"));
        }
        let service = launcher.launch("replica_lag", pg.topology(), spec).await?;
        let o = Options {
            run: options(SEED, Variant::Custom),
            ..Options::default()
        };
        let run = run_against(&HttpProfiles::new(service.url.clone()), &pg, &o).await?;
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
