use std::time::Duration;

use fake::faker::internet::en::Username;
use fake::Fake;
use rand_chacha::ChaCha8Rng;
use shakedown::checker::AvailabilityChecker;
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

/// How the suite runs. Each option names the failure it exercises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seed (drives the fake subjects), variant label, call timeout.
    pub run: RunOptions,
    /// Fresh tokens per step (issued and used at once): refused ones are the skew breaking
    /// sign-ins.
    pub fresh_per_step: u64,
    /// Expired tokens per step: accepted ones are the skew letting old tokens in.
    pub expired_per_step: u64,
    /// Lifetime asked for the tokens that are used expired.
    pub expired_ttl: Duration,
    /// How far past its expiry (in true time) an expired token is used. Default 120 s: well past
    /// the 60 s leeway JWT libraries default to (jsonwebtoken, Auth0), so a system with that
    /// leeway is not failed for it. True time is moved on by jumping both clocks, so no real
    /// time is waited.
    pub expired_margin: Duration,
    /// Largest skew under which fresh tokens must still be accepted (see
    /// [`TokenChecker::tolerated_skew`]).
    pub tolerated_skew: Duration,
    /// The fault steps, in order: skews from seconds to beyond any sane limit.
    pub steps: Vec<Step>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            run: RunOptions::default(),
            fresh_per_step: 4,
            expired_per_step: 3,
            expired_ttl: Duration::from_secs(30),
            expired_margin: Duration::from_secs(120),
            tolerated_skew: TokenChecker::default().tolerated_skew,
            steps: vec![
                Step::new("baseline", 0, 0, None),
                Step::new("issuer_ahead_seconds", 4_000, 0, None),
                // Past the 60 s leeway libraries default to.
                Step::new("issuer_ahead_past_leeway", 90_000, 0, None),
                Step::new("issuer_ahead_minutes", 300_000, 0, None),
                Step::new("issuer_behind_minutes", -300_000, 0, None),
                // Expired tokens look fresh to a validator that trusts its own clock.
                Step::new("validator_far_behind", 0, -600_000, None),
                // Beyond any tolerated skew: refusing is fair, accepting expired tokens is not.
                Step::new("issuer_far_ahead", 1_200_000, 0, None),
                // The issuer's clock steps ahead mid-run: its short-lived tokens then expire
                // 5 s after the API's clock reaches their true expiry plus the margin, so an API
                // that trusts its own clock accepts them; 5 s, not 0, so that the outcome does
                // not hang on both reads falling in the same second.
                Step::new("issuer_jumps_ahead", 0, 0, Some(125_000)),
            ],
        }
    }
}

type TokenRun = Run<TokenOp, Probe>;

/// Runs the clock-skew workload against `system`, whose issuer runs on node `issuer` and whose
/// API runs on node `validator` (both started with a fake clock), and judges it.
///
/// Per step: set the clocks; issue half the fresh tokens and use each at once; apply the jump, if
/// any; use the other fresh tokens; issue the short-lived tokens; move true time on by their
/// lifetime plus `expired_margin` (both clocks jump by that much: the skew stays); use them;
/// heal the clocks. Judged: [`TokenChecker`] (fresh refused within the tolerated skew, expired
/// accepted) and [`AvailabilityChecker`] (calls that failed or went unanswered).
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
        for _ in half..options.fresh_per_step {
            fresh(system, &run, step, skew, &mut rng).await?;
        }
        let mut expiring = Vec::new();
        for _ in 0..options.expired_per_step {
            let sub: String = Username().fake_with_rng(&mut rng);
            match system.issue(&sub, options.expired_ttl).await {
                Ok(token) => expiring.push(token),
                // The probe could not even start: recorded as what the issuer said.
                Err(e) => {
                    run.call(0, TokenOp::Expired, Probe::new(&step.name, skew), async {
                        Err(e)
                    })
                    .await?;
                }
            }
        }
        if !expiring.is_empty() {
            // True time moves on: both clocks, so the skew between them stays.
            let passes = ClockOffset::ahead(options.expired_ttl + options.expired_margin);
            for node in [issuer, validator] {
                faults.push(run.inject(JumpClock::new(node, passes)).await?);
            }
        }
        for token in expiring {
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
    let checker = TokenChecker {
        tolerated_skew: options.tolerated_skew,
        ..TokenChecker::default()
    };
    Ok(run.finish(&[&checker, &AvailabilityChecker::strict()]))
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
