//! The clock-skew suite against the reference issuer and API in containers with libfaketime: it
//! must catch both kinds of wrong answer in the naive variant and pass the hardened one, with
//! byte-stable reports.

use shakedown::history::OpKind;
use shakedown::{Fault, SuiteRun, Variant};
use shakedown_suites::clock_skew::{reference, Options, Probe, TokenOp};

use crate::support::{assert_caught, assert_handled, launcher, options};

const SEED: u64 = 11;

async fn run(variant: Variant) -> anyhow::Result<SuiteRun<TokenOp, Probe>> {
    let o = Options {
        run: options(SEED, variant),
        ..Options::default()
    };
    Ok(reference(&o, &launcher()).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_validator_rejects_fresh_and_accepts_expired_tokens_under_skew() -> anyhow::Result<()>
{
    let run = run(Variant::Naive).await?;
    let r = &run.report;
    assert_caught(
        r,
        &[
            "fresh_token_rejected",
            "expired_token_accepted",
            "skew_undetected",
        ],
    );
    assert_eq!(r.checks[0].counted["step.baseline.fresh_rejected"], 0);
    assert_eq!(r.checks[0].counted["step.baseline.expired_accepted"], 0);
    insta::assert_yaml_snapshot!("clock_skew_naive", r);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_validator_detects_and_corrects_skew() -> anyhow::Result<()> {
    let run = run(Variant::Hardened).await?;
    let r = &run.report;
    assert_handled(r);
    assert_eq!(r.checks[0].counted["calls_failed"], 0);
    // The expired tokens were refused for expiry.
    let refusals: Vec<&str> = run
        .history
        .ops()
        .iter()
        .filter(|o| o.f == TokenOp::Expired && o.kind == OpKind::Ok)
        .filter_map(|o| o.value.reason.as_deref())
        .collect();
    assert!(
        !refusals.is_empty() && refusals.iter().all(|r| r.contains("expired")),
        "{refusals:?}"
    );
    // The jump happened in the middle of its step: after some probes, before others.
    let windows = run.timeline.windows();
    let jump = windows
        .iter()
        .find(|w| matches!(w.fault, Fault::ClockJump { .. }))
        .expect("the jump is in the timeline");
    assert!(jump.injected_at_op > 0 && jump.healed_at_op > Some(jump.injected_at_op));
    insta::assert_yaml_snapshot!("clock_skew_hardened", r);
    Ok(())
}
