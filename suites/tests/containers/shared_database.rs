//! The shared-database suite: the reference `orders` and `reporting` must be caught naive and
//! pass hardened; and database policies a team might plausibly ship — each the hardened one
//! with one thing wrong, run through the same reference services against their own
//! PostgreSQL — must each be caught.

use shakedown::report::Report;
use shakedown::{RunOptions, Variant};
use shakedown_suites::shared_database::{reference, reference_with, LockTimeout, Options, Policy};

use crate::support::{assert_caught, assert_handled, launcher, options};

const SEED: u64 = 12;

async fn reference_run(variant: Variant) -> anyhow::Result<Report> {
    let o = Options {
        run: options(SEED, variant),
        ..Options::default()
    };
    Ok(reference(&o, &launcher()).await?.report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_reporting_stalls_behind_the_migration_and_fails_when_connections_run_out(
) -> anyhow::Result<()> {
    let report = reference_run(Variant::Naive).await?;
    assert_caught(&report, &["slowed_during_fault", "errors_during_fault"]);
    // The lock queue stalls reports (nothing times out); the flood refuses every one of them.
    assert_eq!(report.anomaly("slowed_during_fault")?, 1, "{report:#?}");
    assert_eq!(report.anomaly("errors_during_fault")?, 1, "{report:#?}");
    assert_eq!(report.anomaly("migration_not_completed")?, 0, "{report:#?}");
    assert_eq!(report.anomaly("lost_write")?, 0, "{report:#?}");
    // Each event is healed at a set time, while the phase's calls may still be answering (a
    // stall is what the suite measures): where in the history that falls is not exact.
    insta::assert_yaml_snapshot!("shared_database_naive", report, {
        ".faults[].healed_at_op" => "[while calls answer]",
    });
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_reporting_is_untouched_and_the_migration_completes() -> anyhow::Result<()> {
    let report = reference_run(Variant::Hardened).await?;
    assert_handled(&report);
    // Each event is healed at a set time, while the phase's calls may still be answering (a
    // stall is what the suite measures): where in the history that falls is not exact.
    insta::assert_yaml_snapshot!("shared_database_hardened", report, {
        ".faults[].healed_at_op" => "[while calls answer]",
    });
    Ok(())
}

/// A buggy policy: the hardened one with one thing wrong.
struct Buggy {
    name: &'static str,
    policy: Policy,
    /// What the suite must find.
    caught: &'static [&'static str],
}

fn buggy_policies() -> Vec<Buggy> {
    let h = Policy::hardened();
    vec![
        Buggy {
            // Reports queued behind the migration are cancelled at their statement timeout.
            name: "statement_timeout_without_lock_timeout",
            policy: Policy {
                lock_timeout: LockTimeout::Never,
                ..h
            },
            caught: &["errors_during_fault"],
        },
        Buggy {
            // The migration runs as the owner, which has none of the app role's settings.
            name: "lock_timeout_on_the_app_role_only",
            policy: Policy {
                lock_timeout: LockTimeout::OnAppRole(std::time::Duration::from_millis(200)),
                ..h
            },
            caught: &["errors_during_fault"],
        },
        Buggy {
            // orders' role takes every connection the server has left.
            name: "no_connection_limit",
            policy: Policy {
                orders_connection_limit: None,
                ..h
            },
            caught: &["errors_during_fault"],
        },
        Buggy {
            // The first lock timeout ends the migration for good.
            name: "lock_timeout_without_retry",
            policy: Policy {
                retry_migration: false,
                ..h
            },
            caught: &["migration_not_completed"],
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_buggy_policy_is_caught() -> anyhow::Result<()> {
    for bug in buggy_policies() {
        let o = Options {
            run: RunOptions::seeded(SEED),
            ..Options::default()
        };
        let report = reference_with(bug.policy, &o, &launcher()).await?.report;
        assert_caught(&report, bug.caught);
        // Whatever else it breaks, it loses no write.
        assert_eq!(report.anomaly("lost_write")?, 0, "{}", bug.name);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_design_unlike_ours_passes() -> anyhow::Result<()> {
    // No connection limit on orders' role: reporting reserves its own pool instead. A longer
    // lock_timeout in the retry loop, and a plain CREATE INDEX once the lock is free.
    let theirs = Policy {
        orders_connection_limit: None,
        reporting_pool: Some(2),
        lock_timeout: LockTimeout::InMigration(std::time::Duration::from_millis(500)),
        concurrent_index: false,
        ..Policy::hardened()
    };
    let o = Options {
        run: RunOptions::seeded(SEED),
        ..Options::default()
    };
    let report = reference_with(theirs, &o, &launcher()).await?.report;
    assert_handled(&report);
    Ok(())
}
