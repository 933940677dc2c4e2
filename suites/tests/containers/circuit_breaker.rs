//! The circuit-breaker suite: the reference `checkout` must be caught naive and pass hardened;
//! buggy breakers a team might plausibly ship, run in process against the real payments, proxy
//! node and PostgreSQL (started once for all of them), must each be caught; and a correct
//! breaker designed differently (Polly-style: consecutive failures) must pass.

use std::time::Duration;

use shakedown::report::Report;
use shakedown::{RunOptions, Variant};
use shakedown_suites::circuit_breaker::{
    reference, reference_count, run_against, BreakerCaller, BreakerPolicy, Counts, Options,
};
use shakedown_suites::partial_failure::Dependency;

use crate::support::{assert_caught, assert_handled, launcher, options};

const SEED: u64 = 13;

async fn reference_run(variant: Variant) -> anyhow::Result<Report> {
    let o = Options {
        run: options(SEED, variant),
        ..Options::default()
    };
    Ok(reference(&o, &launcher()).await?.report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_breaker_keeps_calling_the_slow_dependency_and_users_wait() -> anyhow::Result<()> {
    let report = reference_run(Variant::Naive).await?;
    assert_caught(
        &report,
        &[
            "dependency_called_while_down",
            "slow_answers_while_down",
            "slow_to_open",
        ],
    );
    insta::assert_yaml_snapshot!("circuit_breaker_naive", report);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_breaker_opens_fails_fast_and_closes_after_recovery() -> anyhow::Result<()> {
    let report = reference_run(Variant::Hardened).await?;
    assert_handled(&report);
    insta::assert_yaml_snapshot!("circuit_breaker_hardened", report);
    Ok(())
}

/// A breaker in process: the hardened policy with one thing changed.
struct Variation {
    name: &'static str,
    policy: BreakerPolicy,
    /// What the suite must find (empty: a correct breaker, which must pass).
    caught: &'static [&'static str],
}

fn variations() -> Vec<Variation> {
    let h = BreakerPolicy::hardened();
    vec![
        Variation {
            name: "never_half_opens",
            policy: BreakerPolicy {
                open_wait: None,
                ..h
            },
            caught: &["not_closed_after_recovery"],
        },
        Variation {
            name: "window_too_large",
            // resilience4j's defaults, for traffic that never fills them.
            policy: BreakerPolicy {
                window: 100,
                minimum_calls: 100,
                ..h
            },
            caught: &["dependency_called_while_down", "slow_to_open"],
        },
        Variation {
            name: "no_timeout",
            policy: BreakerPolicy { timeout: None, ..h },
            caught: &["dependency_called_while_down", "slow_answers_while_down"],
        },
        Variation {
            name: "ignores_5xx",
            policy: BreakerPolicy {
                counts: Counts {
                    server_errors: false,
                    ..Counts::ALL
                },
                ..h
            },
            caught: &["dependency_called_while_down"],
        },
        Variation {
            // Polly-style: open after 5 consecutive failures, one probe: correct, differently.
            name: "consecutive_failures",
            policy: BreakerPolicy {
                counts: Counts::ALL,
                window: 5,
                minimum_calls: 5,
                failure_rate: 1.0,
                probes: Some(1),
                open_wait: Some(Duration::from_millis(800)),
                ..h
            },
            caught: &[],
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_buggy_breaker_is_caught_and_a_different_correct_one_passes() -> anyhow::Result<()> {
    let base = Options {
        run: RunOptions::seeded(SEED),
        ..Options::default()
    };
    let dep = Dependency::start_for("circuit_breaker", &base.run, &launcher()).await?;
    let result = async {
        let payments = dep.through_proxy().await?;
        let mut reports = Vec::new();
        for v in variations() {
            let o = Options {
                label: v.name.to_string(),
                ..base.clone()
            };
            let caller = BreakerCaller::new(&payments, v.policy)?;
            let count = reference_count(&dep, v.name).await?;
            let run = run_against(&caller, &count, dep.wire(), &o).await?;
            if v.caught.is_empty() {
                assert_handled(&run.report);
            } else {
                assert_caught(&run.report, v.caught);
            }
            reports.push((v.name, run.report));
        }
        anyhow::Ok(reports)
    }
    .await;
    dep.shutdown().await?;
    for (name, report) in result? {
        insta::assert_yaml_snapshot!(format!("circuit_breaker_{name}"), report);
    }
    Ok(())
}
