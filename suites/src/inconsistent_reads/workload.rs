use std::time::Duration;

use shakedown::checker::{RegisterOp, RegisterValue, SessionChecker};
use shakedown::history::Done;
use shakedown::{Run, RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::postgres::{ApplyDelay, ReplayPause};
use shakedown_fixtures::PgCluster;

use super::{PageSession, Profile, ProfilePages};

pub(super) const SUITE: &str = "inconsistent_reads";

/// How the suite runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seed, variant label, call timeout.
    pub run: RunOptions,
    /// User sessions per phase, one after the other (so the balancer's round-robin, and with it
    /// every count, is the same on every run).
    pub sessions: u64,
    /// Profiles each session saves per phase (each saved twice).
    pub profiles_per_session: u64,
    /// After each save, the profile is reloaded once per entry, that long after the previous
    /// load (or the save); the session reconnects before the second reload.
    pub reloads: Vec<Duration>,
    /// How far behind the lagging replica applies commits. Keep it above a save with its reloads
    /// so that the naive counts are exact.
    pub lag: Duration,
    /// The replica that stays near zero lag in the first phase and is paused in the second.
    pub near_replica: usize,
    /// The replica that lags by `lag` throughout.
    pub lagging_replica: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            run: RunOptions::default(),
            sessions: 3,
            profiles_per_session: 1,
            reloads: vec![
                Duration::from_millis(20),
                Duration::from_millis(100),
                Duration::from_millis(300),
            ],
            lag: Duration::from_secs(2),
            near_replica: 0,
            lagging_replica: 1,
        }
    }
}

type PageRun = Run<RegisterOp, RegisterValue>;

/// Runs the inconsistent-reads workload against `service`, whose reads are balanced over
/// `cluster`'s replicas, and judges it with [`SessionChecker`].
///
/// Two phases: replica `lagging_replica` applies commits `lag` late while `near_replica` keeps
/// up; then `near_replica`'s replay is also paused. In each, sessions one after the other save
/// each of their profiles twice and reload it after each save, at the `reloads` delays (on a
/// new connection from the second reload on). A session that does not see its own last save
/// broke read-your-writes; one that sees an older version than it already saw broke monotonic
/// reads. Staleness per read is counted too.
///
/// ```no_run
/// # async fn demo(my_service: shakedown_suites::inconsistent_reads::HttpPages, pg: shakedown_fixtures::PgCluster) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::inconsistent_reads::{run_against, Options};
/// let run = run_against(&my_service, &pg, &Options::default()).await?;
/// assert_eq!(run.report.anomaly("non_monotonic_read").unwrap(), 0);
/// # Ok(()) }
/// ```
pub async fn run_against<S: ProfilePages>(
    service: &S,
    cluster: &PgCluster,
    options: &Options,
) -> Result<SuiteRun<RegisterOp, RegisterValue>, SuiteError> {
    let n = cluster.replicas().len();
    let (near, lagging) = (options.near_replica, options.lagging_replica);
    if near >= n || lagging >= n || near == lagging {
        return Err(SuiteError::new(
            SUITE,
            "pick the replicas",
            format!(
                "near_replica {near} and lagging_replica {lagging} must be two different replicas of the {n} the cluster has"
            ),
        ));
    }
    let run = PageRun::new(SUITE, options.run.clone());
    let lag = run
        .inject(ApplyDelay::new(cluster, lagging, options.lag))
        .await?;
    phase(service, &run, options, 0).await?;
    let paused = run.inject(ReplayPause::new(cluster, near)).await?;
    phase(service, &run, options, 1).await?;
    paused.heal().await?;
    lag.heal().await?;
    Ok(run.finish(&[&SessionChecker]))
}

async fn phase<S: ProfilePages>(
    service: &S,
    run: &PageRun,
    options: &Options,
    phase: u64,
) -> Result<(), SuiteError> {
    for s in 0..options.sessions {
        session(service, run, options, phase, phase * options.sessions + s).await?;
    }
    Ok(())
}

async fn session<S: ProfilePages>(
    service: &S,
    run: &PageRun,
    options: &Options,
    phase: u64,
    process: u64,
) -> Result<(), SuiteError> {
    let mut user = service
        .session()
        .await
        .map_err(|e| run.error("open a session", e))?;
    let mut rng = run.rng(&format!("profile-pages/{phase}/{process}"));
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
            for (i, delay) in options.reloads.iter().enumerate() {
                tokio::time::sleep(*delay).await;
                if i == 1 {
                    user.reconnect()
                        .await
                        .map_err(|e| run.error("reconnect a session", e))?;
                }
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
    }
    Ok(())
}
