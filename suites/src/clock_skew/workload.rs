use std::time::{Duration, Instant};

use fake::faker::internet::en::Username;
use fake::Fake;
use rand_chacha::ChaCha8Rng;
use shakedown::fault::nemeses::{JumpClock, OffsetClock};
use shakedown::history::Done;
use shakedown::{ClockOffset, Node, Run, RunOptions, SuiteError, SuiteRun};

use super::{ClientError, Probe, TokenChecker, TokenOp, TokenSystem};

pub(super) const SUITE: &str = "clock_skew";

/// One fault step: the clocks while it runs, and an optional jump of the issuer's clock halfway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Its name in the report.
    pub name: String,
    /// The issuer's offset from the real time.
    pub issuer: ClockOffset,
    /// The API's offset from the real time.
    pub validator: ClockOffset,
    /// A step of the issuer's clock after half the fresh probes.
    pub issuer_jump: Option<ClockOffset>,
}

impl Step {
    fn new(name: &str, issuer_ms: i64, validator_ms: i64, jump_ms: Option<i64>) -> Self {
        Step {
            name: name.into(),
            issuer: ClockOffset::from_millis(issuer_ms),
            validator: ClockOffset::from_millis(validator_ms),
            issuer_jump: jump_ms.map(ClockOffset::from_millis),
        }
    }
}

/// How the suite runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seed (drives the fake subjects), variant label, call timeout.
    pub run: RunOptions,
    /// Fresh tokens per step.
    pub fresh_per_step: u64,
    /// Expired tokens per step.
    pub expired_per_step: u64,
    /// Lifetime asked for the tokens that are used expired.
    pub expired_ttl: Duration,
    /// How long after issue (on the real clock) they are used. Keep `expired_used_after −
    /// expired_ttl` above any leeway you tolerate: the token is truly expired by that much.
    pub expired_used_after: Duration,
    /// The fault steps, in order.
    pub steps: Vec<Step>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            run: RunOptions::default(),
            fresh_per_step: 4,
            expired_per_step: 3,
            expired_ttl: Duration::from_secs(3),
            expired_used_after: Duration::from_secs(6),
            steps: vec![
                Step::new("baseline", 0, 0, None),
                // Within the age of the expired tokens: a validator that refuses future `iat`
                // still takes them, trusting `exp` on its own (slower) clock.
                Step::new("issuer_ahead_seconds", 4_000, 0, None),
                Step::new("issuer_ahead_minutes", 300_000, 0, None),
                Step::new("issuer_behind_minutes", -300_000, 0, None),
                Step::new("validator_far_behind", 0, -600_000, None),
                Step::new("issuer_jumps_ahead", 0, 0, Some(120_000)),
            ],
        }
    }
}

type TokenRun = Run<TokenOp, Probe>;

/// Runs the clock-skew workload against `system`, whose issuer runs on node `issuer` and whose
/// API runs on node `validator` (both started with a fake clock), and judges it.
///
/// Per step: set the clocks; issue half the fresh tokens and use each at once; apply the jump, if
/// any; issue the short-lived tokens; use the other fresh tokens; use the short-lived ones
/// `expired_used_after` after their issue (real clock), when they are truly expired; heal the
/// clocks.
///
/// ```no_run
/// # async fn demo(system: shakedown_suites::clock_skew::HttpTokens, issuer: shakedown::Node, api: shakedown::Node) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::clock_skew::{run_against, Options};
/// let run = run_against(&system, (&issuer, &api), &Options::default()).await?;
/// assert_eq!(run.report.anomaly("expired_token_accepted").unwrap(), 0);
/// # Ok(()) }
/// ```
pub async fn run_against<S: TokenSystem>(
    system: &S,
    (issuer, validator): (&Node, &Node),
    options: &Options,
) -> Result<SuiteRun<TokenOp, Probe>, SuiteError> {
    let run = TokenRun::new(SUITE, options.run.clone());
    let mut rng = run.rng("subjects");
    for step in &options.steps {
        let mut faults = Vec::new();
        for (node, offset) in [(issuer, step.issuer), (validator, step.validator)] {
            if offset != ClockOffset::ZERO {
                faults.push(run.inject(OffsetClock::new(node, offset)).await?);
            }
        }
        let mut skew = step.issuer.minus(step.validator);
        let half = options.fresh_per_step / 2;
        for _ in 0..half {
            fresh(system, &run, step, skew, &mut rng).await?;
        }
        if let Some(by) = step.issuer_jump {
            faults.push(run.inject(JumpClock::new(issuer, by)).await?);
            skew = skew.plus(by);
        }
        let mut expiring = Vec::new();
        for _ in 0..options.expired_per_step {
            let sub: String = Username().fake_with_rng(&mut rng);
            let issued_at = Instant::now();
            match system.issue(&sub, options.expired_ttl).await {
                Ok(token) => expiring.push((token, issued_at)),
                // The probe could not even start: recorded as what the issuer said.
                Err(e) => {
                    run.call(0, TokenOp::Expired, Probe::new(&step.name, skew), async {
                        Err(e)
                    })
                    .await?;
                }
            }
        }
        for _ in half..options.fresh_per_step {
            fresh(system, &run, step, skew, &mut rng).await?;
        }
        for (token, issued_at) in expiring {
            let due = issued_at + options.expired_used_after;
            tokio::time::sleep_until(due.into()).await;
            let base = Probe::new(&step.name, skew);
            run.call(0, TokenOp::Expired, base.clone(), async {
                answered(base, system.call(&token).await)
            })
            .await?;
        }
        // Healed last-injected first: each heal puts the node's clock back on the real time.
        while let Some(f) = faults.pop() {
            f.heal().await?;
        }
    }
    Ok(run.finish(&[&TokenChecker::default()]))
}

async fn fresh<S: TokenSystem>(
    system: &S,
    run: &TokenRun,
    step: &Step,
    skew: ClockOffset,
    rng: &mut ChaCha8Rng,
) -> Result<(), SuiteError> {
    let sub: String = Username().fake_with_rng(rng);
    let base = Probe::new(&step.name, skew);
    run.call(0, TokenOp::Fresh, base.clone(), async {
        let token = system.issue(&sub, Duration::from_secs(60)).await?;
        answered(base, system.call(&token).await)
    })
    .await?;
    Ok(())
}

/// The probe's completion from the API's answer.
fn answered(
    base: Probe,
    outcome: Result<super::CallOutcome, ClientError>,
) -> Result<Done<Probe>, ClientError> {
    let o = outcome?;
    Ok(Done::new(Probe {
        accepted: Some(o.accepted),
        reason: o.reason,
        skew_reported: o.skew_reported,
        ..base
    }))
}
