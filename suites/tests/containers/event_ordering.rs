//! The event-ordering suite: the reference consumer must be caught naive and pass hardened;
//! buggy consumers a team might plausibly ship, run as the same two competing replicas on one
//! broker (started once for all of them), must each be caught; and a correct consumer designed
//! differently (an event store projected in version order) must pass.

use shakedown::report::Report;
use shakedown::{RunOptions, Variant};
use shakedown_suites::event_ordering::{reference, ApplyPolicy, Broker, Options};

use crate::support::{assert_caught, assert_handled, launcher, options};

const SEED: u64 = 17;

async fn reference_run(variant: Variant) -> anyhow::Result<Report> {
    let o = Options {
        run: options(SEED, variant),
        ..Options::default()
    };
    Ok(reference(&o, &launcher()).await?.report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_consumer_ships_unpaid_orders_revives_cancelled_ones_and_applies_redeliveries_twice(
) -> anyhow::Result<()> {
    let report = reference_run(Variant::Naive).await?;
    assert_caught(
        &report,
        &[
            "wrong_final_state",
            "invalid_transition",
            "applied_out_of_order",
            "duplicate_applied",
        ],
    );
    insta::assert_yaml_snapshot!("event_ordering_naive", report);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_consumer_parks_early_events_ignores_duplicates_and_survives_the_kill(
) -> anyhow::Result<()> {
    let report = reference_run(Variant::Hardened).await?;
    assert_handled(&report);
    insta::assert_yaml_snapshot!("event_ordering_hardened", report);
    Ok(())
}

/// A consumer policy, and what the suite must find with it (empty: correct, must pass).
struct Variation {
    name: &'static str,
    policy: ApplyPolicy,
    caught: &'static [&'static str],
}

fn variations() -> Vec<Variation> {
    vec![
        Variation {
            // Early events dropped: the orders stop short.
            name: "no_parking",
            policy: ApplyPolicy::NoParking,
            caught: &["event_lost", "wrong_final_state"],
        },
        Variation {
            // An early event published twice is parked twice, then applied twice.
            name: "parking_without_dedupe",
            policy: ApplyPolicy::ParkingWithoutDedupe,
            caught: &["duplicate_applied"],
        },
        Variation {
            // Each replica sees part of an order's events: what it parks waits forever.
            name: "replica_memory",
            policy: ApplyPolicy::ReplicaMemory,
            caught: &["event_lost", "wrong_final_state"],
        },
        Variation {
            name: "event_store",
            policy: ApplyPolicy::EventStore,
            caught: &[],
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_buggy_consumer_is_caught_and_an_event_store_passes() -> anyhow::Result<()> {
    let base = Options {
        run: RunOptions::seeded(SEED),
        ..Options::default()
    };
    let launcher = launcher();
    let broker = Broker::start(&base.run, &launcher).await?;
    let result = async {
        let mut reports = Vec::new();
        for v in variations() {
            let o = Options {
                label: v.name.replace('_', "-"),
                ..base.clone()
            };
            let run = broker.run(&o, &launcher, v.policy).await?;
            if v.caught.is_empty() {
                assert_handled(&run.report);
            } else {
                assert_caught(&run.report, v.caught);
            }
            reports.push((v.name, run.report));
        }
        Ok(reports)
    }
    .await;
    let reports = broker.finish(result).await?;
    for (name, report) in reports {
        // Which replica takes which event decides what a replica-memory consumer loses: only
        // the deterministic ones are snapshotted.
        if name != "replica_memory" {
            insta::assert_yaml_snapshot!(format!("event_ordering_{name}"), report);
        }
    }
    Ok(())
}
