use std::time::{Duration, Instant};

use fake::faker::internet::en::Username;
use fake::Fake;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shakedown::checker::check_safe;
use shakedown::history::Recorder;
use shakedown::{ClockOffset, Fault, FaultAction, Node, SuiteError, SuiteRun, Variant};

use super::{ClientError, Probe, TokenChecker, TokenOp, TokenSystem};

const SUITE: &str = "clock_skew";

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
    /// Drives the fake subjects.
    pub seed: u64,
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
            seed: 1,
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

type Rec = Recorder<TokenOp, Probe>;

fn err(step: &str, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SuiteError {
    SuiteError::new(SUITE, step, e)
}

/// Runs the clock-skew workload against `system`, whose issuer runs on node `issuer` and whose
/// API runs on node `validator` (both started with a fake clock), and judges it.
///
/// Per step: set the clocks; issue half the fresh tokens and use each at once; apply the jump, if
/// any; issue the short-lived tokens; use the other fresh tokens; use the short-lived ones
/// `expired_used_after` after their issue (real clock), when they are truly expired; reset the
/// clocks.
pub async fn check<S: TokenSystem>(
    system: &S,
    issuer: &Node,
    validator: &Node,
    options: &Options,
    variant: Variant,
) -> Result<SuiteRun, SuiteError> {
    let rec = Rec::new();
    let mut faults = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    for step in &options.steps {
        let mut injected = Vec::new();
        for (node, offset) in [(issuer, step.issuer), (validator, step.validator)] {
            if offset != ClockOffset::ZERO {
                node.clock()
                    .set_offset(offset)
                    .await
                    .map_err(|e| err("set a node's clock", e))?;
                injected.push(Fault::ClockOffset {
                    target: node.name().into(),
                    offset,
                });
            }
        }
        for f in &injected {
            faults.push(rec.fault_event(FaultAction::Inject, f));
        }
        let mut skew = step.issuer.minus(step.validator);
        let half = options.fresh_per_step / 2;
        for _ in 0..half {
            fresh(system, &rec, step, skew, &mut rng).await?;
        }
        if let Some(by) = step.issuer_jump {
            issuer
                .clock()
                .jump_by(by)
                .await
                .map_err(|e| err("jump the issuer's clock", e))?;
            let jump = Fault::ClockJump {
                target: issuer.name().into(),
                by,
            };
            faults.push(rec.fault_event(FaultAction::Inject, &jump));
            injected.push(jump);
            skew = skew.plus(by);
        }
        let mut expiring = Vec::new();
        for _ in 0..options.expired_per_step {
            let sub: String = Username().fake_with_rng(&mut rng);
            let issued_at = Instant::now();
            match system.issue(&sub, options.expired_ttl).await {
                Ok(token) => expiring.push((token, issued_at)),
                Err(e) => record_issue_failure(&rec, TokenOp::Expired, step, skew, e)?,
            }
        }
        for _ in half..options.fresh_per_step {
            fresh(system, &rec, step, skew, &mut rng).await?;
        }
        for (token, issued_at) in expiring {
            let due = issued_at + options.expired_used_after;
            tokio::time::sleep_until(due.into()).await;
            let op = rec
                .invoke(0, TokenOp::Expired, Probe::new(&step.name, skew))
                .map_err(|e| err("record a probe", e))?;
            complete(op, system.call(&token).await, step, skew)?;
        }
        for node in [issuer, validator] {
            node.clock()
                .reset()
                .await
                .map_err(|e| err("reset a node's clock", e))?;
        }
        for f in &injected {
            faults.push(rec.fault_event(FaultAction::Heal, f));
        }
    }
    let history = rec.snapshot();
    let checks = vec![check_safe(&TokenChecker::default(), &history)];
    SuiteRun::new(SUITE, variant, options.seed, faults, &history, 1, checks)
        .map_err(|e| err("serialise the history", e))
}

async fn fresh<S: TokenSystem>(
    system: &S,
    rec: &Rec,
    step: &Step,
    skew: ClockOffset,
    rng: &mut ChaCha8Rng,
) -> Result<(), SuiteError> {
    let sub: String = Username().fake_with_rng(rng);
    let op = rec
        .invoke(0, TokenOp::Fresh, Probe::new(&step.name, skew))
        .map_err(|e| err("record a probe", e))?;
    let outcome = match system.issue(&sub, Duration::from_secs(60)).await {
        Ok(token) => system.call(&token).await,
        Err(e) => Err(e),
    };
    complete(op, outcome, step, skew)
}

fn complete(
    op: shakedown::history::Pending<TokenOp, Probe>,
    outcome: Result<super::CallOutcome, ClientError>,
    step: &Step,
    skew: ClockOffset,
) -> Result<(), SuiteError> {
    let base = Probe::new(&step.name, skew);
    match outcome {
        Ok(o) => op.ok(
            Probe {
                accepted: Some(o.accepted),
                reason: o.reason,
                skew_reported: o.skew_reported,
                ..base
            },
            None,
        ),
        Err(ClientError::Failed(e)) => op.fail(base, e),
        Err(ClientError::Unknown(e)) => op.info(base, e),
    }
    .map(|_| ())
    .map_err(|e| err("record a probe", e))
}

fn record_issue_failure(
    rec: &Rec,
    f: TokenOp,
    step: &Step,
    skew: ClockOffset,
    e: ClientError,
) -> Result<(), SuiteError> {
    let op = rec
        .invoke(0, f, Probe::new(&step.name, skew))
        .map_err(|e| err("record a probe", e))?;
    complete(op, Err(e), step, skew)
}
