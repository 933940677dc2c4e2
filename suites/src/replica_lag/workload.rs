use std::time::Duration;

use fake::faker::internet::en::SafeEmail;
use fake::faker::lorem::en::Sentence;
use fake::faker::name::en::Name;
use fake::Fake;
use futures::future::try_join_all;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shakedown::checker::{check_safe, ReadYourWritesChecker, RegisterOp, RegisterValue};
use shakedown::history::Recorder;
use shakedown::{Fault, FaultAction, SuiteError, SuiteRun, Variant};
use shakedown_fixtures::PgCluster;

use super::{ClientError, Profile, ProfileService, ProfileSession};

const SUITE: &str = "replica_lag";

/// The table the reference service uses; put it in the cluster's template.
pub const SCHEMA: &str = "CREATE TABLE profiles (
    id text PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL,
    bio text NOT NULL,
    version bigint NOT NULL
)";

/// How the suite runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Drives the fake profiles.
    pub seed: u64,
    /// Concurrent user sessions.
    pub sessions: u64,
    /// Profiles each session saves per fault phase (each saved twice, each save read back).
    pub profiles_per_session: u64,
    /// The replica's apply delay in the first phase. Keep it well above a request's round trip so
    /// the naive count is exact.
    pub apply_delay: Duration,
    /// Which replica the service reads from.
    pub replica: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            sessions: 4,
            profiles_per_session: 3,
            apply_delay: Duration::from_secs(3),
            replica: 0,
        }
    }
}

type Rec = Recorder<RegisterOp, RegisterValue>;

fn err(step: &str, e: impl std::error::Error + Send + Sync + 'static) -> SuiteError {
    SuiteError::new(SUITE, step, e)
}

/// Runs the replica-lag workload against `service`, whose reads go to `cluster`'s replica
/// `options.replica`, and judges it.
///
/// Two phases, each healed before the next: the replica applies commits `apply_delay` late; then
/// its replay is paused. In each, every session saves each of its profiles, reads it back at once,
/// saves a new version and reads it back again. A read that does not return the session's own
/// last write is a stale read.
pub async fn check<S: ProfileService>(
    service: &S,
    cluster: &PgCluster,
    options: &Options,
    variant: Variant,
) -> Result<SuiteRun, SuiteError> {
    if options.replica >= cluster.replicas().len() {
        return Err(SuiteError::new(
            SUITE,
            "pick the replica",
            format!(
                "replica {} asked, the cluster has {}",
                options.replica,
                cluster.replicas().len()
            ),
        ));
    }
    let replica = cluster.replica(options.replica);
    let target = replica.name().to_string();
    let rec = Rec::new();
    let mut faults = Vec::new();

    let delay = Fault::ReplicaApplyDelay {
        target: target.clone(),
        delay: options.apply_delay,
    };
    replica
        .set_lag(options.apply_delay)
        .await
        .map_err(|e| err("inject the apply delay", e))?;
    faults.push(rec.fault_event(FaultAction::Inject, &delay));
    phase(service, &rec, options, 0).await?;
    replica
        .set_lag(Duration::ZERO)
        .await
        .map_err(|e| err("heal the apply delay", e))?;
    cluster
        .wait_until_caught_up(options.apply_delay + Duration::from_secs(30))
        .await
        .map_err(|e| err("let the replica catch up", e))?;
    faults.push(rec.fault_event(FaultAction::Heal, &delay));

    let paused = Fault::ReplayPaused { target };
    replica
        .pause_replay()
        .await
        .map_err(|e| err("pause replay", e))?;
    faults.push(rec.fault_event(FaultAction::Inject, &paused));
    phase(service, &rec, options, 1).await?;
    replica
        .resume_replay()
        .await
        .map_err(|e| err("resume replay", e))?;
    cluster
        .wait_until_caught_up(Duration::from_secs(30))
        .await
        .map_err(|e| err("let the replica catch up", e))?;
    faults.push(rec.fault_event(FaultAction::Heal, &paused));

    let history = rec.snapshot();
    let checks = vec![check_safe(&ReadYourWritesChecker, &history)];
    SuiteRun::new(
        SUITE,
        variant,
        options.seed,
        faults,
        &history,
        options.sessions,
        checks,
    )
    .map_err(|e| err("serialise the history", e))
}

async fn phase<S: ProfileService>(
    service: &S,
    rec: &Rec,
    options: &Options,
    phase: u64,
) -> Result<(), SuiteError> {
    try_join_all((0..options.sessions).map(|s| session(service, rec, options, phase, s))).await?;
    Ok(())
}

async fn session<S: ProfileService>(
    service: &S,
    rec: &Rec,
    options: &Options,
    phase: u64,
    process: u64,
) -> Result<(), SuiteError> {
    let mut user = service
        .session()
        .await
        .map_err(|e| err("open a session", e))?;
    // One generator per (seed, phase, session): the data does not depend on scheduling.
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ (phase << 32) ^ process);
    for n in 0..options.profiles_per_session {
        let id = format!("p{phase}-s{process}-{n}");
        for version in 1..=2 {
            let profile = Profile {
                id: id.clone(),
                name: Name().fake_with_rng(&mut rng),
                email: SafeEmail().fake_with_rng(&mut rng),
                bio: Sentence(3..8).fake_with_rng(&mut rng),
                version,
            };
            let op = rec
                .invoke(
                    process,
                    RegisterOp::Write,
                    RegisterValue::new(&id, Some(version)),
                )
                .map_err(|e| err("record a write", e))?;
            let value = RegisterValue::new(&id, Some(version));
            match user.save(&profile).await {
                Ok(()) => op.ok(value, Some("primary".into())),
                Err(ClientError::Failed(e)) => op.fail(value, e),
                Err(ClientError::Unknown(e)) => op.info(value, e),
            }
            .map_err(|e| err("record a write", e))?;

            let op = rec
                .invoke(process, RegisterOp::Read, RegisterValue::new(&id, None))
                .map_err(|e| err("record a read", e))?;
            match user.load(&id).await {
                Ok((p, node)) => op.ok(RegisterValue::new(&id, p.map(|p| p.version)), node),
                Err(ClientError::Failed(e)) => op.fail(RegisterValue::new(&id, None), e),
                Err(ClientError::Unknown(e)) => op.info(RegisterValue::new(&id, None), e),
            }
            .map_err(|e| err("record a read", e))?;
        }
    }
    Ok(())
}
