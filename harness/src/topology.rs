//! A [`Topology`]: the nodes of one run, on one private container network.
//!
//! A topology creates a uniquely named bridge network labelled with its run id, starts nodes on it
//! ([`Topology::start_node`]), and removes every container and the network when its last handle
//! is dropped, also while a panic unwinds. [`Topology::shutdown`] does the same explicitly and
//! reports errors. Before creating anything it sweeps what killed runs left behind
//! ([`crate::docker::sweep`] with [`SweepScope::Orphaned`](crate::docker::SweepScope)).
//!
//! `SHAKEDOWN_KEEP` ([`KeepPolicy`]) keeps the containers and network instead, for inspection:
//! always, or only when the test failed (a panic while the topology goes away, or a node that did
//! not start). What was kept is printed, with how to inspect it and how to remove it
//! (`shakedown clean`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod keep;
pub use keep::KeepPolicy;
pub(crate) use keep::Keeper;

use testcontainers::bollard::models::NetworkCreateRequest;
use testcontainers::bollard::Docker;

use crate::docker::{
    self, SweepScope, CREATED_LABEL, HOST_LABEL, KEPT_LABEL, OWNER_LABEL, RUN_LABEL,
};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::node::{Node, NodeSpec};

/// The nodes of one run and their private network. Cheap to clone; the last clone (including
/// the ones held by its nodes) cleans up.
///
/// ```no_run
/// # async fn demo() -> shakedown::Result<()> {
/// use shakedown::image::{ensure, BuildPolicy, RUNTIME};
/// use shakedown::{NodeSpec, Topology};
///
/// ensure(&[RUNTIME], BuildPolicy::IfNeeded).await?; // builds it if missing, never pulls
/// let topology = Topology::start().await?;
/// let node = topology
///     .start_node(NodeSpec::new("app", RUNTIME.reference()).cmd(["sleep", "infinity"]))
///     .await?;
/// let out = node.exec(["uname", "-s"]).await?;
/// assert_eq!(out.stdout.trim(), "Linux");
/// topology.shutdown().await?; // or just drop it
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Topology {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    run_id: String,
    network: String,
    owner: String,
    host: String,
    created: String,
    docker: Docker,
    keeper: Keeper,
    engine: Engine,
    cleaned: AtomicBool,
}

impl Topology {
    /// Creates a run with a fresh id and its network; what it keeps after a failure follows
    /// `SHAKEDOWN_KEEP` ([`KeepPolicy::from_env`]).
    pub async fn start() -> Result<Self> {
        Self::start_keeping(KeepPolicy::from_env()?).await
    }

    /// Like [`Topology::start`], with the keep policy given rather than read from the environment.
    ///
    /// Where its nodes' published ports are bound and dialled comes from the environment
    /// ([`Engine::from_env`]): loopback for a local engine, `DOCKER_HOST`'s host for a TCP one.
    pub async fn start_keeping(keep: KeepPolicy) -> Result<Self> {
        let engine = Engine::from_env().await?;
        let docker = docker::client().await?;
        // Leftovers of killed runs; never touches a live process's resources.
        if let Ok(swept) = docker::sweep(&docker, SweepScope::Orphaned).await {
            if swept.containers + swept.networks > 0 {
                tracing::info!(
                    "removed {} container(s) and {} network(s) left by killed runs",
                    swept.containers,
                    swept.networks
                );
            }
        }
        let run_id = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
        let network = format!("shakedown-{run_id}");
        let inner = Inner {
            owner: docker::owner_token(),
            host: docker::host_id(),
            created: docker::unix_now().to_string(),
            keeper: Keeper::new(keep),
            engine,
            cleaned: AtomicBool::new(false),
            docker,
            run_id,
            network,
        };
        inner
            .docker
            .create_network(NetworkCreateRequest {
                name: inner.network.clone(),
                driver: Some("bridge".into()),
                labels: Some(HashMap::from_iter(inner.labels())),
                ..Default::default()
            })
            .await
            .map_err(|source| Error::docker("create network", inner.network.clone(), source))?;
        Ok(Topology {
            inner: Arc::new(inner),
        })
    }

    /// This run's id (the value of the `dev.shakedown.run` label).
    pub fn run_id(&self) -> &str {
        &self.inner.run_id
    }

    /// The name of this run's private network.
    pub fn network(&self) -> &str {
        &self.inner.network
    }

    /// The container name (and DNS name on the run's network) a node called `node` gets.
    pub fn container_name(&self, node: &str) -> String {
        format!("sd-{}-{node}", self.inner.run_id)
    }

    /// The Docker client this topology uses.
    pub fn docker(&self) -> &Docker {
        &self.inner.docker
    }

    pub(crate) fn labels(&self) -> Vec<(String, String)> {
        self.inner.labels()
    }

    /// What this run keeps for inspection.
    pub fn keep_policy(&self) -> KeepPolicy {
        self.inner.keeper.policy()
    }

    /// Marks the run as failed: with [`KeepPolicy::OnFailure`] its containers are then kept when
    /// it goes away. A panic while it goes away, or a node that does not start, marks it too.
    pub fn mark_failed(&self) {
        self.inner.keeper.mark_failed();
    }

    pub(crate) fn keeper(&self) -> &Keeper {
        &self.inner.keeper
    }

    /// Where this topology's published ports are bound and dialled.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Starts a node on this topology's network and waits until it is ready.
    pub async fn start_node(&self, spec: NodeSpec) -> Result<Node> {
        Node::start(self.clone(), spec).await
    }

    /// Removes every container of this run and its network now, reporting failures.
    ///
    /// Nodes still held elsewhere become dead handles. Dropping the last handle does the same.
    ///
    /// A run kept for inspection ([`KeepPolicy`]: always, or on failure after one) stays, as it
    /// would on drop.
    pub async fn shutdown(self) -> Result<()> {
        self.inner.cleaned.store(true, Ordering::SeqCst);
        if self.inner.keeper.keeps_now() {
            eprintln!(
                "{}",
                keep::kept_notice(&self.inner.run_id, self.inner.keeper.policy())
            );
            return Ok(());
        }
        docker::sweep_run_id(&self.inner.docker, &self.inner.run_id).await?;
        Ok(())
    }
}

impl Inner {
    fn labels(&self) -> Vec<(String, String)> {
        let mut labels = vec![
            (RUN_LABEL.to_string(), self.run_id.clone()),
            (OWNER_LABEL.to_string(), self.owner.clone()),
            (HOST_LABEL.to_string(), self.host.clone()),
            (CREATED_LABEL.to_string(), self.created.clone()),
        ];
        if let Some(value) = self.keeper.policy().label() {
            labels.push((KEPT_LABEL.to_string(), value.to_string()));
        }
        labels
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.cleaned.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.keeper.keeps_now() {
            eprintln!("{}", keep::kept_notice(&self.run_id, self.keeper.policy()));
            return;
        }
        // Runs on its own thread and runtime with its own client: works from any runtime flavour,
        // outside a runtime, and while a panic unwinds.
        let run_id = self.run_id.clone();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let docker = docker::standalone_client().map_err(|e| e.to_string())?;
                docker::sweep_run_id(&docker, &run_id)
                    .await
                    .map_err(|e| e.to_string())
            })
        });
        match handle.join() {
            Ok(Ok(_)) => {}
            Ok(Err(why)) => tracing::warn!(
                "could not clean up run {}: {why} (remove it with `shakedown clean`)",
                self.run_id
            ),
            Err(_) => tracing::warn!(
                "could not clean up run {} (remove it with `shakedown clean`)",
                self.run_id
            ),
        }
    }
}
