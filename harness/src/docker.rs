//! The Docker engine: the client, the labels every run puts on what it starts, and the sweep that
//! removes what a killed run left behind.
//!
//! Every container and network a run creates carries [`RUN_LABEL`] (the run id), [`OWNER_LABEL`]
//! (`<pid>:<process start time>` of the process that created it), [`HOST_LABEL`] (that process's
//! host) and [`CREATED_LABEL`]. The sweep removes this host's resources whose owner process is
//! gone, and other hosts' only after a time-to-live ([`sweep_verdict`], in `owner.rs`), so parallel
//! test processes never remove each other's containers, also when several hosts or CI jobs share
//! one engine; `shakedown clean --all` removes every labelled resource.

mod owner;

pub use owner::{
    host_id, owner_alive, owner_token, owner_token_of, sweep_ttl, sweep_verdict, unix_now,
    Ownership, SweepContext, SweepVerdict, CREATED_LABEL, DEFAULT_SWEEP_TTL, HOST_LABEL,
    KEPT_LABEL, OWNER_LABEL,
};

use std::collections::HashMap;
use std::time::Duration;

use testcontainers::bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
};
use testcontainers::bollard::Docker;

use crate::error::{Error, Result};

/// Label carrying the run id, on every container and network shakedown starts.
pub const RUN_LABEL: &str = "dev.shakedown.run";

/// A Docker client that has answered a ping.
///
/// Uses the same engine resolution as testcontainers (`DOCKER_HOST`, then the usual sockets).
pub async fn client() -> Result<Docker> {
    let docker = testcontainers::core::client::docker_client_instance()
        .await
        .map_err(|e| Error::DockerUnreachable {
            detail: e.to_string(),
        })?;
    ping(&docker).await?;
    Ok(docker)
}

/// A fresh client not tied to testcontainers' shared one; for use on a private runtime (drop paths).
pub(crate) fn standalone_client() -> Result<Docker> {
    Docker::connect_with_defaults().map_err(|e| Error::DockerUnreachable {
        detail: e.to_string(),
    })
}

pub(crate) async fn ping(docker: &Docker) -> Result<()> {
    match tokio::time::timeout(Duration::from_secs(10), docker.ping()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Error::DockerUnreachable {
            detail: e.to_string(),
        }),
        Err(_) => Err(Error::DockerUnreachable {
            detail: "no answer to a ping within 10s".into(),
        }),
    }
}

/// Which labelled resources a sweep removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepScope {
    /// Only leftovers ([`sweep_verdict`]): this host's whose owning process has exited, other
    /// hosts' older than the time-to-live; never those kept for inspection. Safe while other runs
    /// are going on, here or on another host sharing the engine.
    Orphaned,
    /// [`SweepScope::Orphaned`], and the resources kept for inspection (`SHAKEDOWN_KEEP`) judged
    /// the same way: what `shakedown clean` removes.
    OrphanedAndKept,
    /// Every resource carrying [`RUN_LABEL`].
    All,
    /// Every resource of one run, whatever its owner.
    Run(&'static str),
    /// Every resource this process created (after cancelling a run: creations that were in
    /// flight when it was cancelled are finished by the engine anyway).
    Mine,
}

/// What a sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepSummary {
    /// Containers removed.
    pub containers: usize,
    /// Networks removed.
    pub networks: usize,
}

/// Removes labelled containers, then labelled networks, within `scope`, as seen from this host
/// now ([`SweepContext::current`]).
pub async fn sweep(docker: &Docker, scope: SweepScope) -> Result<SweepSummary> {
    let ctx = SweepContext::current(scope == SweepScope::OrphanedAndKept)?;
    sweep_run(docker, scope, None, &ctx).await
}

/// [`sweep`] as seen from the host and time `ctx` describes, limited to run `run` if given: how
/// the two-host test plays both hosts on one engine without touching other runs.
pub async fn sweep_as(
    docker: &Docker,
    scope: SweepScope,
    run: Option<&str>,
    ctx: &SweepContext,
) -> Result<SweepSummary> {
    sweep_run(docker, scope, run, ctx).await
}

/// Removes every container and network of run `run_id`.
pub(crate) async fn sweep_run_id(docker: &Docker, run_id: &str) -> Result<SweepSummary> {
    let ctx = SweepContext {
        host: host_id(),
        ttl: DEFAULT_SWEEP_TTL,
        now: 0,
        include_kept: true,
    };
    sweep_run(docker, SweepScope::All, Some(run_id), &ctx).await
}

async fn sweep_run(
    docker: &Docker,
    scope: SweepScope,
    run: Option<&str>,
    ctx: &SweepContext,
) -> Result<SweepSummary> {
    let run = run.or(match scope {
        SweepScope::Run(r) => Some(r),
        _ => None,
    });
    let label = match run {
        Some(run) => format!("{RUN_LABEL}={run}"),
        None => RUN_LABEL.to_string(),
    };
    let filters: HashMap<&str, Vec<String>> = HashMap::from([("label", vec![label])]);
    let me = owner_token();
    let doomed = |labels: Option<&HashMap<String, String>>, created: Option<u64>| match scope {
        SweepScope::Orphaned | SweepScope::OrphanedAndKept => {
            sweep_verdict(&Ownership::from_labels(labels, created), ctx, owner_alive).removes()
        }
        SweepScope::Mine => {
            let own = Ownership::from_labels(labels, None);
            own.owner == Some(me.as_str()) && own.host == Some(ctx.host.as_str())
        }
        _ => true,
    };

    let mut summary = SweepSummary::default();
    // The first failure is reported, after every other resource has had its removal tried.
    let mut failed: Option<Error> = None;
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|source| Error::docker("list containers labelled", RUN_LABEL, source))?;
    for c in containers {
        let created = c.created.and_then(|t| u64::try_from(t).ok());
        if !doomed(c.labels.as_ref(), created) {
            continue;
        }
        let Some(id) = c.id else { continue };
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(&id, Some(opts)).await {
            Ok(()) => summary.containers += 1,
            // Gone, or being removed by someone else already (testcontainers' own drop, a
            // `docker rm -f`): the network removal below waits for it.
            Err(e) if is_not_found(&e) || is_conflict(&e) => {}
            Err(source) => {
                failed.get_or_insert(Error::docker("remove container", id, source));
            }
        }
    }

    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(|source| Error::docker("list networks labelled", RUN_LABEL, source))?;
    for n in networks {
        if !doomed(n.labels.as_ref(), None) {
            continue;
        }
        let Some(name) = n.name else { continue };
        // A container still being removed keeps its endpoint on the network for a moment (403
        // "has active endpoints"): wait for it, a few seconds at most.
        let mut tries = 0;
        loop {
            match docker.remove_network(&name).await {
                Ok(()) => summary.networks += 1,
                Err(e) if is_not_found(&e) => {}
                Err(e) if has_active_endpoints(&e) && tries < NETWORK_TRIES => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
                Err(source) => {
                    failed.get_or_insert(Error::docker("remove network", name, source));
                }
            }
            break;
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// How often a network removal is retried while its containers are still going away.
const NETWORK_TRIES: u32 = 25;

/// The engine refuses to remove a network that still has endpoints (403, or 409 on older
/// engines).
fn has_active_endpoints(e: &testcontainers::bollard::errors::Error) -> bool {
    matches!(
        e,
        testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 403 | 409,
            message,
        } if message.contains("active endpoints")
    )
}

fn is_conflict(e: &testcontainers::bollard::errors::Error) -> bool {
    matches!(
        e,
        testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        }
    )
}

pub(crate) fn is_not_found(e: &testcontainers::bollard::errors::Error) -> bool {
    matches!(
        e,
        testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
