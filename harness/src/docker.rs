//! The Docker engine: the client, the labels every run puts on what it starts, and the sweep that
//! removes what a killed run left behind.
//!
//! Every container and network a run creates carries [`RUN_LABEL`] (the run id) and
//! [`OWNER_LABEL`] (`<pid>:<process start time>` of the process that created it). The sweep
//! removes only resources whose owner process is gone, so parallel test processes never remove
//! each other's containers; `shakedown clean --all` removes every labelled resource.

use std::collections::HashMap;
use std::time::Duration;

use testcontainers::bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
};
use testcontainers::bollard::Docker;

use crate::error::{Error, Result};

/// Label carrying the run id, on every container and network shakedown starts.
pub const RUN_LABEL: &str = "dev.shakedown.run";
/// Label carrying `<pid>:<start time>` of the process that owns the resource.
pub const OWNER_LABEL: &str = "dev.shakedown.owner";

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

/// `<pid>:<start time in clock ticks since boot>` of this process.
pub fn owner_token() -> String {
    let pid = std::process::id();
    format!("{pid}:{}", process_start_time(pid).unwrap_or(0))
}

/// The owner token another running process puts on what it creates (`None` if it is not running).
pub fn owner_token_of(pid: u32) -> Option<String> {
    Some(format!("{pid}:{}", process_start_time(pid)?))
}

fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (comm) may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    // `rest` starts at field 3; start time is field 22.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process named by an owner token is still running on this host.
pub fn owner_alive(token: &str) -> bool {
    let Some((pid, start)) = token.split_once(':') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    process_start_time(pid) == Some(start)
}

/// Which labelled resources a sweep removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepScope {
    /// Only those whose owning process has exited (safe while other runs are going on).
    Orphaned,
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

/// Removes labelled containers, then labelled networks, within `scope`.
pub async fn sweep(docker: &Docker, scope: SweepScope) -> Result<SweepSummary> {
    sweep_run(docker, scope, None).await
}

/// Removes every container and network of run `run_id`.
pub(crate) async fn sweep_run_id(docker: &Docker, run_id: &str) -> Result<SweepSummary> {
    sweep_run(docker, SweepScope::All, Some(run_id)).await
}

async fn sweep_run(docker: &Docker, scope: SweepScope, run: Option<&str>) -> Result<SweepSummary> {
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
    let doomed = |labels: Option<&HashMap<String, String>>| match scope {
        SweepScope::Orphaned => labels
            .and_then(|l| l.get(OWNER_LABEL))
            .is_none_or(|owner| !owner_alive(owner)),
        SweepScope::Mine => labels.and_then(|l| l.get(OWNER_LABEL)) == Some(&me),
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
        if !doomed(c.labels.as_ref()) {
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
        if !doomed(n.labels.as_ref()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_made_up_one_is_not() {
        assert!(owner_alive(&owner_token()));
        assert!(!owner_alive("4194304:1"));
        assert!(!owner_alive(&format!("{}:1", std::process::id())));
        assert!(!owner_alive("garbage"));
    }
}
