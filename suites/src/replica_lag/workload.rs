use std::time::Duration;

use futures::future::try_join_all;
use shakedown::checker::{ReadYourWritesChecker, RegisterOp, RegisterValue};
use shakedown::history::Done;
use shakedown::{Run, RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::postgres::{ApplyDelay, ReplayPause};
use shakedown_fixtures::PgCluster;

use super::{Profile, ProfileService, ProfileSession};

pub(super) const SUITE: &str = "replica_lag";

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
    /// Seed, variant label, call timeout.
    pub run: RunOptions,
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
            run: RunOptions::default(),
            sessions: 4,
            profiles_per_session: 3,
            apply_delay: Duration::from_secs(3),
            replica: 0,
        }
    }
}

type ProfileRun = Run<RegisterOp, RegisterValue>;

/// Runs the replica-lag workload against `service`, whose reads go to `cluster`'s replica
/// `options.replica`, and judges it.
///
/// Two phases, each healed before the next: the replica applies commits `apply_delay` late; then
/// its replay is paused. In each, every session saves each of its profiles, reads it back at once,
/// saves a new version and reads it back again. A read that does not return the session's own
/// last write is a stale read.
///
/// ```no_run
/// # async fn demo(my_service: shakedown_suites::replica_lag::HttpProfiles, pg: shakedown_fixtures::PgCluster) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::replica_lag::{run_against, Options};
/// let run = run_against(&my_service, &pg, &Options::default()).await?;
/// assert_eq!(run.report.anomaly("stale_read_after_own_write").unwrap(), 0);
/// # Ok(()) }
/// ```
pub async fn run_against<S: ProfileService>(
    service: &S,
    cluster: &PgCluster,
    options: &Options,
) -> Result<SuiteRun<RegisterOp, RegisterValue>, SuiteError> {
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
    let run = ProfileRun::new(SUITE, options.run.clone());

    let lag = run
        .inject(ApplyDelay::new(cluster, options.replica, options.apply_delay))
        .await?;
    phase(service, &run, options, 0).await?;
    lag.heal().await?;

    let paused = run.inject(ReplayPause::new(cluster, options.replica)).await?;
    phase(service, &run, options, 1).await?;
    paused.heal().await?;

    Ok(run.finish(&[&ReadYourWritesChecker]))
}

async fn phase<S: ProfileService>(
    service: &S,
    run: &ProfileRun,
    options: &Options,
    phase: u64,
) -> Result<(), SuiteError> {
    try_join_all((0..options.sessions).map(|s| session(service, run, options, phase, s))).await?;
    Ok(())
}

async fn session<S: ProfileService>(
    service: &S,
    run: &ProfileRun,
    options: &Options,
    phase: u64,
    process: u64,
) -> Result<(), SuiteError> {
    let mut user = service
        .session()
        .await
        .map_err(|e| run.error("open a session", e))?;
    // One stream per (phase, session): the data does not depend on scheduling.
    let mut rng = run.rng(&format!("profiles/{phase}/{process}"));
    for n in 0..options.profiles_per_session {
        let id = format!("p{phase}-s{process}-{n}");
        for version in 1..=2 {
            let profile = Profile::fake(&id, version, &mut rng);
            let written = RegisterValue::new(&id, Some(version));
            run.call(process, RegisterOp::Write, written.clone(), async {
                user.save(&profile).await?;
                Ok(Done::new(written.clone()).served_by("primary"))
            })
            .await?;
            run.call(
                process,
                RegisterOp::Read,
                RegisterValue::new(&id, None),
                async {
                    let (p, node) = user.load(&id).await?;
                    Ok(Done::new(RegisterValue::new(&id, p.map(|p| p.version)))
                        .served_by_maybe(node))
                },
            )
            .await?;
        }
    }
    Ok(())
}
