//! The partial-failure suite: the reference `orders` must be caught naive and pass hardened;
//! and buggy callers a team might plausibly ship, run in process against the real payments,
//! proxy node and PostgreSQL (started once for all of them), must each be caught.

use shakedown::report::Report;
use shakedown::{RunOptions, Variant};
use shakedown_suites::partial_failure::{
    reference, run_against, Caller, Dependency, KeyScheme, Options, Policy,
};

use crate::support::{assert_caught, assert_handled, launcher, options};

const SEED: u64 = 11;

async fn reference_run(variant: Variant) -> anyhow::Result<Report> {
    let o = Options {
        run: options(SEED, variant),
        ..Options::default()
    };
    Ok(reference(&o, &launcher()).await?.report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_orders_double_charge_lie_and_accept_corrupt_replies() -> anyhow::Result<()> {
    let report = reference_run(Variant::Naive).await?;
    assert_caught(
        &report,
        &[
            "duplicate_charge",
            "failed_but_charged",
            "corrupt_reply_accepted",
        ],
    );
    insta::assert_yaml_snapshot!("partial_failure_naive", report);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_orders_charge_once_and_resolve_every_unknown_outcome() -> anyhow::Result<()> {
    let report = reference_run(Variant::Hardened).await?;
    assert_handled(&report);
    insta::assert_yaml_snapshot!("partial_failure_hardened", report);
    Ok(())
}

/// A buggy caller: the hardened policy with one thing wrong.
struct Buggy {
    name: &'static str,
    policy: Policy,
    /// What the suite must find.
    caught: &'static [&'static str],
}

fn buggy_callers() -> Vec<Buggy> {
    let h = Policy::hardened();
    vec![
        Buggy {
            name: "key_per_attempt",
            policy: Policy {
                key: KeyScheme::PerAttempt,
                ..h
            },
            caught: &["duplicate_charge"],
        },
        Buggy {
            name: "key_per_customer",
            policy: Policy {
                key: KeyScheme::PerCustomer,
                ..h
            },
            caught: &["unresolved_unknown"],
        },
        Buggy {
            name: "no_validation",
            policy: Policy {
                validate: false,
                ..h
            },
            caught: &["corrupt_reply_accepted"],
        },
        Buggy {
            name: "unknown_as_failure",
            policy: Policy {
                resolve: false,
                ..h
            },
            caught: &["failed_but_charged"],
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_buggy_caller_is_caught() -> anyhow::Result<()> {
    let base = Options {
        run: RunOptions::seeded(SEED),
        ..Options::default()
    };
    let dep = Dependency::start(&base, &launcher()).await?;
    let result = async {
        let payments = dep.through_proxy().await?;
        let ledger = dep.ledger()?;
        let mut reports = Vec::new();
        for bug in buggy_callers() {
            let o = Options {
                label: bug.name.to_string(),
                ..base.clone()
            };
            let caller = Caller::new(&payments, bug.policy)?;
            let run = run_against(&caller, &ledger, dep.wire(), &o).await?;
            assert_caught(&run.report, bug.caught);
            reports.push((bug.name, run.report));
        }
        anyhow::Ok(reports)
    }
    .await;
    dep.shutdown().await?;
    for (name, report) in result? {
        insta::assert_yaml_snapshot!(format!("partial_failure_{name}"), report);
    }
    Ok(())
}
