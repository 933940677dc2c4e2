//! The clock-skew suite against the reference issuer and API in containers with libfaketime: it
//! must catch both kinds of wrong answer in the naive variant and pass the hardened one, with
//! byte-stable reports.

use shakedown::history::OpKind;
use shakedown::{Fault, SuiteRun, Topology, Variant};
use shakedown_suites::clock_skew::{reference, run_against, HttpTokens, Options, Probe, TokenOp};
use shakedown_suites::reference::{Mode, ServiceLaunch};

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
    assert_caught(r, &["fresh_token_rejected", "expired_token_accepted"]);
    // It never reported the skew: a note, not a verdict.
    assert!(!r.checks[0].notes.is_empty(), "{r:#?}");
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
    // The expired tokens were refused for expiry (or, beyond the tolerated skew, for the skew).
    let refusals: Vec<&str> = run
        .history
        .ops()
        .iter()
        .filter(|o| o.f == TokenOp::Expired && o.kind == OpKind::Ok)
        .filter_map(|o| o.value.reason.as_deref())
        .collect();
    assert!(
        !refusals.is_empty()
            && refusals
                .iter()
                .all(|r| r.contains("expired") || r.contains("clock skew")),
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

/// Validators teams ship that are not ours: (name, base preset, flags, the anomaly it must show,
/// or `None` for a correct design).
#[allow(clippy::type_complexity)]
const VARIANTS: &[(&str, Mode, &[&str], Option<&str>)] = &[
    // jsonwebtoken's defaults: 60 s leeway, nbf and iat unchecked, the API's own clock.
    (
        "library-defaults",
        Mode::Naive,
        &["--leeway-s=60", "--no-nbf", "--no-iat"],
        Some("expired_token_accepted"),
    ),
    // "Skew errors keep paging us": an hour of leeway.
    (
        "hour-of-leeway",
        Mode::Naive,
        &["--leeway-s=3600"],
        Some("expired_token_accepted"),
    ),
    // Skew measured once at start and kept: stale as soon as a clock moves.
    (
        "skew-measured-once",
        Mode::Hardened,
        &["--skew-source=at-start"],
        Some("fresh_token_rejected"),
    ),
    // Signature checked, expiry forgotten.
    (
        "expiry-unchecked",
        Mode::Naive,
        &["--no-exp"],
        Some("expired_token_accepted"),
    ),
    // Refuses everything at the first second of skew.
    (
        "refuses-any-skew",
        Mode::Hardened,
        &["--max-skew-s=1"],
        Some("fresh_token_rejected"),
    ),
    // Correct: the issuer judges its own tokens (introspection), so skew cannot matter.
    ("introspection", Mode::Naive, &["--introspect"], None),
    // Correct: library defaults, but judged on the issuer's clock (skew corrected per call).
    (
        "corrected-library-defaults",
        Mode::Hardened,
        &["--leeway-s=60", "--no-nbf", "--no-iat"],
        None,
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_validators_are_caught_and_correct_designs_pass() -> anyhow::Result<()> {
    let topology = Topology::start().await?;
    let launcher = launcher();
    let secret = format!("{:032x}", rand::random::<u128>());
    let issuer = launcher
        .launch(
            "clock_skew",
            &topology,
            ServiceLaunch::new("issuer", "token-issuer", Mode::Hardened)
                .arg(format!("--secret={secret}"))
                .fake_clock(),
        )
        .await?;
    let mut outcomes = Vec::new();
    for (name, mode, flags, anomaly) in VARIANTS {
        let mut spec = ServiceLaunch::new(format!("api-{name}"), "token-api", *mode)
            .arg(format!("--secret={secret}"))
            .arg(format!("--issuer={}", issuer.internal_url))
            .fake_clock();
        for f in *flags {
            spec = spec.arg(*f);
        }
        let api = launcher.launch("clock_skew", &topology, spec).await?;
        let system = HttpTokens::new(issuer.url.clone(), api.url.clone())?;
        let o = Options {
            run: options(SEED, Variant::Custom),
            ..Options::default()
        };
        let run = run_against(&system, (&issuer.node, &api.node), &o).await?;
        drop(api);
        match anomaly {
            Some(class) => assert_caught(&run.report, &[class]),
            None => assert_handled(&run.report),
        }
        outcomes.push((name, run.report.anomalies_found()));
    }
    eprintln!("{outcomes:#?}");
    drop(issuer);
    topology.shutdown().await?;
    Ok(())
}
