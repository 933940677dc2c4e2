use std::time::Duration;

use futures::future::try_join_all;
use shakedown::checker::{AvailabilityChecker, ReadYourWritesChecker, RegisterOp, RegisterValue};
use shakedown::history::Done;
use shakedown::{ClientError, FaultGuard, Nemesis, Run, RunOptions, SuiteError, SuiteRun};
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

/// How the suite runs. Each option names the failure it exercises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seed, variant label, call timeout.
    pub run: RunOptions,
    /// Concurrent users, each with its own session and profile.
    pub sessions: u64,
    /// Every replica's apply delay in the first fault phase (`recovery_min_apply_delay`): reads
    /// served by a replica miss writes younger than this. Keep it well above a request's round
    /// trip and apart from the `read_after` points, so counts are exact.
    pub apply_delay: Duration,
    /// When, after saving, the user reloads the page: at once, and at points across and beyond
    /// the lag — a read path that stays on the primary only for a fixed window after a write
    /// is caught by the reads after the window.
    pub read_after: Vec<Duration>,
    /// How long a user waits for a page: a read answered later, or not at all, is unserved (a
    /// read path that waits for a paused replica without bound is caught here).
    pub patience: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            run: RunOptions::default(),
            sessions: 6,
            apply_delay: Duration::from_secs(3),
            read_after: [0, 1000, 2000, 4500]
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
            patience: Duration::from_secs(2),
        }
    }
}

type ProfileRun = Run<RegisterOp, RegisterValue>;

/// Runs the replica-lag workload against `service`, whose reads go to `cluster`'s replicas (any
/// of them: every replica is faulted), and judges it.
///
/// Each user creates a profile while the cluster is healthy (so the replicas hold it), then, in
/// each fault phase, updates it and reloads it at every `read_after` point. Phases, each healed
/// (and caught up) before the next: every replica applies commits `apply_delay` late; then every
/// replica's replay is paused. Judged: reads that miss the user's own last write
/// ([`ReadYourWritesChecker`]), and calls not served within `patience` in any phase
/// ([`AvailabilityChecker`]).
///
/// ```no_run
/// # async fn demo(my_service: shakedown_suites::replica_lag::HttpProfiles, pg: shakedown_fixtures::PgCluster) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::replica_lag::{run_against, Options};
/// let run = run_against(&my_service, &pg, &Options::default()).await?;
/// assert_eq!(run.report.anomaly("stale_read_after_own_write").unwrap(), 0);
/// assert_eq!(run.report.anomaly("calls_unserved").unwrap(), 0);
/// # Ok(()) }
/// ```
pub async fn run_against<S: ProfileService>(
    service: &S,
    cluster: &PgCluster,
    options: &Options,
) -> Result<SuiteRun<RegisterOp, RegisterValue>, SuiteError> {
    if cluster.replicas().is_empty() {
        return Err(SuiteError::new(
            SUITE,
            "pick the replicas",
            "the cluster has no replica: start it with PgClusterBuilder::replicas(1) or more",
        ));
    }
    let run = ProfileRun::new(SUITE, options.run.clone());
    let mut users = Vec::new();
    for _ in 0..options.sessions {
        users.push(
            service
                .session()
                .await
                .map_err(|e| run.error("open a session", e))?,
        );
    }
    // Healthy: every user creates a profile, and the replicas get it.
    try_join_all(
        users
            .iter_mut()
            .enumerate()
            .map(|(p, u)| save(&run, u, p as u64, 1)),
    )
    .await?;
    cluster
        .wait_until_caught_up(Duration::from_secs(30))
        .await
        .map_err(|e| run.error("let the replicas catch up", e))?;

    let n = cluster.replicas().len();
    let lag = inject_all(
        &run,
        (0..n).map(|i| ApplyDelay::new(cluster, i, options.apply_delay)),
    )
    .await?;
    phase(&run, &mut users, options, 2).await?;
    heal_all(lag).await?;

    let paused = inject_all(&run, (0..n).map(|i| ReplayPause::new(cluster, i))).await?;
    phase(&run, &mut users, options, 3).await?;
    heal_all(paused).await?;

    Ok(run.finish(&[
        &ReadYourWritesChecker,
        &AvailabilityChecker::strict().patience(options.patience),
    ]))
}

async fn inject_all<'a, N: Nemesis + 'a>(
    run: &ProfileRun,
    nemeses: impl Iterator<Item = N>,
) -> Result<Vec<FaultGuard<'a>>, SuiteError> {
    let mut guards = Vec::new();
    for n in nemeses {
        guards.push(run.inject(n).await?);
    }
    Ok(guards)
}

async fn heal_all(guards: Vec<FaultGuard<'_>>) -> Result<(), SuiteError> {
    for g in guards {
        g.heal().await?;
    }
    Ok(())
}

/// Every user updates their profile to `version`, then reloads it at each `read_after` point.
async fn phase<U: ProfileSession>(
    run: &ProfileRun,
    users: &mut [U],
    options: &Options,
    version: u64,
) -> Result<(), SuiteError> {
    try_join_all(users.iter_mut().enumerate().map(|(p, user)| async move {
        let p = p as u64;
        save(run, user, p, version).await?;
        let saved = tokio::time::Instant::now();
        for after in &options.read_after {
            tokio::time::sleep_until(saved + *after).await;
            load(run, user, p, options.patience).await?;
        }
        Ok::<_, SuiteError>(())
    }))
    .await?;
    Ok(())
}

fn profile_id(process: u64) -> String {
    format!("user-{process}")
}

async fn save<U: ProfileSession>(
    run: &ProfileRun,
    user: &mut U,
    process: u64,
    version: u64,
) -> Result<(), SuiteError> {
    let id = profile_id(process);
    // One stream per (user, version): the data does not depend on scheduling.
    let mut rng = run.rng(&format!("profiles/{id}/{version}"));
    let profile = Profile::fake(&id, version, &mut rng);
    let written = RegisterValue::new(&id, Some(version));
    run.call(process, RegisterOp::Write, written.clone(), async {
        user.save(&profile).await?;
        Ok(Done::new(written.clone()).served_by("primary"))
    })
    .await?;
    Ok(())
}

async fn load<U: ProfileSession>(
    run: &ProfileRun,
    user: &mut U,
    process: u64,
    patience: Duration,
) -> Result<(), SuiteError> {
    let id = profile_id(process);
    run.call(
        process,
        RegisterOp::Read,
        RegisterValue::new(&id, None),
        async {
            let (p, node) = tokio::time::timeout(patience, user.load(&id))
                .await
                .map_err(|_| {
                    ClientError::Unknown(format!("the user gave up after {patience:?}"))
                })??;
            Ok(Done::new(RegisterValue::new(&id, p.map(|p| p.version))).served_by_maybe(node))
        },
    )
    .await?;
    Ok(())
}
