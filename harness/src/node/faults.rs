//! Faults that act on a whole node: kill, signal, pause, restart, disconnect — and what undoes
//! each (start again, unpause, reconnect).

use std::time::Duration;

use testcontainers::bollard::models::{
    EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest,
};
use testcontainers::bollard::query_parameters::{
    KillContainerOptionsBuilder, RestartContainerOptionsBuilder,
};

use super::Node;
use crate::error::{Error, Result};

impl Node {
    /// Sends `SIGKILL` to the node's main process and returns once the container has stopped.
    /// [`Node::start_again`] brings it back.
    pub async fn kill(&self) -> Result<()> {
        self.signal("SIGKILL").await?;
        for _ in 0..500 {
            let state = self
                .topology
                .docker()
                .inspect_container(self.id(), None)
                .await
                .map_err(|source| {
                    Error::docker("inspect container", self.container_name.clone(), source)
                })?
                .state;
            if state.and_then(|s| s.running) != Some(true) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(Error::Timeout {
            what: format!("node `{}` to stop after SIGKILL", self.name),
            timeout: Duration::from_secs(5),
        })
    }

    /// Sends a signal (`SIGTERM`, `SIGHUP` …) to the node's main process.
    pub async fn signal(&self, signal: &str) -> Result<()> {
        self.port_cache().clear();
        self.topology
            .docker()
            .kill_container(
                self.id(),
                Some(KillContainerOptionsBuilder::new().signal(signal).build()),
            )
            .await
            .map_err(|source| {
                Error::docker("signal container", self.container_name.clone(), source)
            })
    }

    /// Starts a stopped (killed) node again and waits until its probes pass.
    pub async fn start_again(&self) -> Result<()> {
        self.port_cache().clear();
        self.container
            .start()
            .await
            .map_err(|source| Error::container(self.name.clone(), "start again", source))?;
        self.wait_ready().await
    }

    /// Freezes every process of the node (the cgroup freezer): connections stay open, nothing
    /// answers.
    pub async fn pause(&self) -> Result<()> {
        self.container
            .pause()
            .await
            .map_err(|source| Error::container(self.name.clone(), "pause", source))
    }

    /// Thaws a paused node.
    pub async fn unpause(&self) -> Result<()> {
        self.container
            .unpause()
            .await
            .map_err(|source| Error::container(self.name.clone(), "unpause", source))
    }

    /// Restarts the container (stop with a grace period, start) and waits until its probes pass.
    pub async fn restart(&self) -> Result<()> {
        self.port_cache().clear();
        self.topology
            .docker()
            .restart_container(
                self.id(),
                Some(RestartContainerOptionsBuilder::new().t(10).build()),
            )
            .await
            .map_err(|source| {
                Error::docker("restart container", self.container_name.clone(), source)
            })?;
        self.wait_ready().await
    }

    /// Cuts the node off the run's network (its peers can no longer resolve or reach it, and
    /// neither can the test process: its published ports go with it).
    pub async fn disconnect(&self) -> Result<()> {
        let done = self
            .topology
            .docker()
            .disconnect_network(
                self.topology.network(),
                NetworkDisconnectRequest {
                    container: self.id().to_string(),
                    force: Some(true),
                },
            )
            .await
            .map_err(|source| {
                Error::docker(
                    "disconnect from the network",
                    self.container_name.clone(),
                    source,
                )
            });
        self.port_cache().clear();
        done
    }

    /// Puts a disconnected node back on the run's network, under its name. The engine publishes
    /// its ports again on new host ports: [`Node::host_port`] looks them up afresh.
    pub async fn reconnect(&self) -> Result<()> {
        let done = self
            .topology
            .docker()
            .connect_network(
                self.topology.network(),
                NetworkConnectRequest {
                    container: self.id().to_string(),
                    endpoint_config: Some(EndpointSettings {
                        aliases: Some(vec![self.name.clone()]),
                        ..Default::default()
                    }),
                },
            )
            .await
            .map_err(|source| {
                Error::docker(
                    "connect to the network",
                    self.container_name.clone(),
                    source,
                )
            });
        self.port_cache().clear();
        done
    }
}
