//! The dead-letter suite: the reference consumer must be caught naive and pass hardened; buggy
//! consumers a team might plausibly ship, run in process against the real broker, proxy node
//! and PostgreSQL (started once for all of them), must each be caught; and a correct consumer
//! designed unlike ours must pass.

use std::time::Duration;

use shakedown::report::Report;
use shakedown::{RunOptions, SuiteRun, Variant};
use shakedown_fixtures::rabbitmq::QueueKind;
use shakedown_suites::dead_letters::{
    in_process, plan, reference, time_to_alert, AckMode, Alert, AlertOn, DlqOp, DlqValue,
    InProcess, Infrastructure, OnFailure, Options, Policy, ALERT, DEAD_LETTER_QUEUE, QUEUE,
};

use crate::support::{assert_caught, assert_handled, launcher, options};

const SEED: u64 = 13;

/// The alert must fire well within the checker's bound (5 s): the evaluator reads the depth
/// every 200 ms and the suite polls every 100 ms.
const ALERT_BOUND: Duration = Duration::from_secs(2);

async fn reference_run(variant: Variant) -> anyhow::Result<SuiteRun<DlqOp, DlqValue>> {
    let o = Options {
        run: options(SEED, variant),
        ..Options::default()
    };
    Ok(reference(&o, &launcher()).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_consumer_drops_failures_at_the_delivery_limit_and_processes_twice(
) -> anyhow::Result<()> {
    let run = reference_run(Variant::Naive).await?;
    assert_caught(
        &run.report,
        &[
            "lost",
            "duplicate_processed",
            "poison_not_dead_lettered",
            "dead_letters_unnoticed",
        ],
    );
    insta::assert_yaml_snapshot!("dead_letters_naive", run.report);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_consumer_dead_letters_poison_alerts_and_redrives_every_message_once(
) -> anyhow::Result<()> {
    let run = reference_run(Variant::Hardened).await?;
    assert_handled(&run.report);
    let t = time_to_alert(&run.history).expect("an alert fired");
    assert!(t < ALERT_BOUND, "alert after {t:?}");
    insta::assert_yaml_snapshot!("dead_letters_hardened", run.report);
    Ok(())
}

/// A consumer a team might ship: the hardened policy with one thing wrong.
struct Candidate {
    name: &'static str,
    policy: Policy,
    /// What the suite must find.
    caught: &'static [&'static str],
}

fn buggy_consumers() -> Vec<Candidate> {
    let h = Policy::hardened();
    vec![
        Candidate {
            name: "reject_on_first_error",
            policy: Policy {
                on_transient: OnFailure::Reject,
                ..h
            },
            caught: &["transient_dead_lettered"],
        },
        Candidate {
            name: "no_alert",
            policy: Policy { alert: None, ..h },
            caught: &["dead_letters_unnoticed"],
        },
        Candidate {
            name: "not_idempotent",
            policy: Policy {
                idempotent: false,
                ..h
            },
            caught: &["duplicate_processed"],
        },
        Candidate {
            name: "requeue_forever_classic",
            policy: Policy {
                queue: QueueKind::Classic,
                dead_letter: false,
                on_transient: OnFailure::Requeue,
                on_poison: OnFailure::Requeue,
                ..h
            },
            caught: &[
                "poison_not_dead_lettered",
                "held_up",
                "dead_letters_unnoticed",
            ],
        },
        Candidate {
            name: "ack_before_processing",
            policy: Policy {
                ack: AckMode::OnReceipt,
                ..h
            },
            caught: &["lost"],
        },
    ]
}

/// Retries in the consumer with backoff, holding the delivery; poison rejected to the
/// dead-letter exchange; a delivery limit of 5 as the safety net; the alert on its own count
/// of rejected messages.
fn in_process_retries() -> Policy {
    Policy {
        delivery_limit: Some(5),
        on_transient: OnFailure::InProcess {
            first: Duration::from_millis(100),
            cap: Duration::from_millis(800),
            attempts: 10,
        },
        alert: Some(AlertOn::GaveUpCounter),
        ..Policy::hardened()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_buggy_consumer_is_caught_and_a_different_correct_one_passes() -> anyhow::Result<()> {
    let base = Options {
        run: RunOptions::seeded(SEED),
        ..Options::default()
    };
    let infra = Infrastructure::start(&base.run, &launcher()).await?;
    let result = async {
        let mut reports: Vec<(&str, Report)> = Vec::new();
        let run = in_process(in_process_retries(), &infra, &base).await?;
        assert_handled(&run.report);
        let t = time_to_alert(&run.history).expect("an alert fired");
        assert!(t < ALERT_BOUND, "alert after {t:?}");
        reports.push(("in_process_retries", run.report));
        for bug in buggy_consumers() {
            let run = in_process(bug.policy, &infra, &base).await?;
            assert_caught(&run.report, bug.caught);
            reports.push((bug.name, run.report));
        }
        anyhow::Ok(reports)
    }
    .await;
    infra.shutdown().await?;
    for (name, report) in result? {
        insta::assert_yaml_snapshot!(format!("dead_letters_{name}"), report);
    }
    Ok(())
}

/// What an operator sees of the hardened consumer: the dead-letter queue's depth as a
/// Prometheus gauge on `/metrics`, and the alert on `/alerts`, within a second of the first
/// dead letter; garbage that no fix can read stays in the queue after a redrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_consumer_exports_its_dead_letter_depth_and_alerts_on_it() -> anyhow::Result<()> {
    let o = Options {
        run: RunOptions::seeded(SEED),
        ..Options::default()
    };
    let infra = Infrastructure::start(&o.run, &launcher()).await?;
    let result = async {
        let db = infra.database(&plan(&o).customers).await?;
        let amqp = infra.rabbit.amqp_url().await?;
        let consumer = InProcess::start(Policy::hardened(), &amqp, &db.url)
            .await
            .map_err(anyhow::Error::msg)?;
        let http = reqwest::Client::new();
        let get = |path: &str| http.get(format!("{}{path}", consumer.url)).send();
        let gauge = "payments_dead_letter_queue_depth{queue=\"payments.dlq\"}";
        // The evaluator reads the depth every 200 ms: wait for the line, at most ALERT_BOUND.
        let metrics_showing = |line: String| async move {
            let started = std::time::Instant::now();
            loop {
                let text = get("/metrics").await?.text().await?;
                if text.contains(&line) || started.elapsed() > ALERT_BOUND {
                    return anyhow::Ok(text);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let metrics = metrics_showing(format!("{gauge} 0")).await?;
        assert!(metrics.contains(&format!("{gauge} 0")), "{metrics}");
        assert_eq!(get("/alerts").await?.text().await?, "[]");
        infra
            .rabbit
            .publish("", QUEUE, b"{not json", Some("garbage"))
            .await?;
        let metrics = metrics_showing(format!("{gauge} 1")).await?;
        assert!(metrics.contains(&format!("{gauge} 1")), "{metrics}");
        assert!(metrics.contains("payments_gave_up_total 1"), "{metrics}");
        let alerts: Vec<Alert> = get("/alerts").await?.json().await?;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].name, ALERT);
        let dead = infra.rabbit.dead_letters(DEAD_LETTER_QUEUE).await?;
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (dead[0].reason.as_str(), dead[0].queue.as_str()),
            ("rejected", QUEUE)
        );
        // The fix reads the legacy format, not garbage: redriven, it is dead-lettered again.
        http.post(format!("{}/fix", consumer.url)).send().await?;
        assert_eq!(infra.rabbit.redrive(DEAD_LETTER_QUEUE).await?, 1);
        infra
            .rabbit
            .wait_depth(DEAD_LETTER_QUEUE, 1, Duration::from_secs(10))
            .await?;
        consumer.stop().await;
        anyhow::Ok(())
    }
    .await;
    infra.shutdown().await?;
    result
}
