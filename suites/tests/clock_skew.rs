//! The clock-skew suite against the reference issuer and API in containers with libfaketime: it
//! must catch both kinds of wrong answer in the naive variant and pass the hardened one, with
//! byte-stable reports.

use std::path::PathBuf;

use shakedown::checker::Validity;
use shakedown::{RunOptions, Suite, Variant};
use shakedown_suites::clock_skew::ClockSkewSuite;

fn suite() -> ClockSkewSuite {
    ClockSkewSuite {
        binary: Some(PathBuf::from(env!("CARGO_BIN_EXE_shakedown"))),
        ..Default::default()
    }
}

const SEED: u64 = 11;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_validator_rejects_fresh_and_accepts_expired_tokens_under_skew() -> anyhow::Result<()>
{
    let run = suite()
        .run(Variant::Naive, &RunOptions::seeded(SEED))
        .await?;
    let r = &run.report;
    assert!(r.anomaly("fresh_token_rejected") > 0, "{r:#?}");
    assert!(r.anomaly("expired_token_accepted") > 0, "{r:#?}");
    assert!(r.anomaly("skew_undetected") > 0, "{r:#?}");
    assert_eq!(r.checks[0].counted["step.baseline.fresh_rejected"], 0);
    assert_eq!(r.checks[0].counted["step.baseline.expired_accepted"], 0);
    assert_eq!(r.verdict, Validity::Invalid);
    insta::assert_yaml_snapshot!("clock_skew_naive", r);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_validator_detects_and_corrects_skew() -> anyhow::Result<()> {
    let run = suite()
        .run(Variant::Hardened, &RunOptions::seeded(SEED))
        .await?;
    let r = &run.report;
    assert_eq!(r.anomaly("fresh_token_rejected"), 0, "{r:#?}");
    assert_eq!(r.anomaly("expired_token_accepted"), 0, "{r:#?}");
    assert_eq!(r.anomaly("skew_undetected"), 0, "{r:#?}");
    assert_eq!(r.checks[0].counted["calls_failed"], 0);
    assert_eq!(r.verdict, Validity::Valid);
    // The expired tokens were refused for expiry, with the skew reported alongside.
    let refusals: Vec<&str> = run.history["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .filter(|o| o["f"] == "expired" && o["kind"] == "ok")
        .filter_map(|o| o["value"]["reason"].as_str())
        .collect();
    assert!(
        !refusals.is_empty() && refusals.iter().all(|r| r.contains("expired")),
        "{refusals:?}"
    );
    insta::assert_yaml_snapshot!("clock_skew_hardened", r);
    Ok(())
}
