//! [`Node`]: the handle of one running container — how it starts and is removed, its names and
//! addresses, exec and logs. Its faults are in `faults.rs`, its readiness probes in `probe.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use testcontainers::bollard::models::PortBinding;
use testcontainers::core::IntoContainerPort;
use testcontainers::runners::AsyncRunner;
use testcontainers::{CopyTargetOptions, GenericImage, ImageExt};

use super::held::Held;
use super::{FileSource, NodeSpec, Probe, Stream};
use crate::clock::{ClockState, NodeClock};
use crate::error::{Error, Result};
use crate::exec::ExecOutput;
use crate::topology::Topology;

/// One running container of a [`Topology`]. Dropping it removes the container.
#[derive(Debug)]
pub struct Node {
    pub(super) name: String,
    pub(super) container_name: String,
    pub(super) clock: Option<ClockState>,
    pub(super) probes: Vec<Probe>,
    pub(super) timeout: Duration,
    /// Published ports, looked up once; forgotten when the container restarts.
    pub(super) ports: std::sync::Mutex<HashMap<u16, u16>>,
    // Field order matters: the container goes before the topology handle, so the network is
    // removed after its last container.
    pub(super) container: Held,
    pub(super) topology: Topology,
}

impl Node {
    pub(crate) async fn start(topology: Topology, mut spec: NodeSpec) -> Result<Node> {
        if let Some(zone) = &spec.timezone {
            crate::clock::validate_zone(zone)?;
            spec.env.push(("TZ".into(), zone.clone()));
        }
        crate::clock::prepare(&mut spec)?;
        let container_name = topology.container_name(&spec.name);
        let (repo, tag) = crate::image::split_reference(&spec.image);
        // Log lines are waited for after start (`wait_for_lines`), not by testcontainers, which
        // would remove the container on failure before its log could be read.
        let mut image = GenericImage::new(repo, tag);
        if let Some(ep) = &spec.entrypoint {
            image = image.with_entrypoint(ep);
        }
        for p in &spec.ports {
            image = image.with_exposed_port(p.tcp());
        }
        let mut req = image
            .with_container_name(&container_name)
            .with_network(topology.network())
            .with_labels(topology.labels())
            .with_startup_timeout(spec.startup_timeout);
        if let Some(cmd) = &spec.cmd {
            req = req.with_cmd(cmd.clone());
        }
        if let Some(user) = &spec.user {
            req = req.with_user(user);
        }
        for (k, v) in &spec.env {
            req = req.with_env_var(k, v);
        }
        for cap in &spec.caps {
            req = req.with_cap_add(cap);
        }
        for (target, source, mode) in &spec.files {
            let target = CopyTargetOptions::new(target.clone()).with_mode(*mode);
            req = match source {
                FileSource::Path(p) => req.with_copy_to(target, p.clone()),
                FileSource::Bytes(b) => req.with_copy_to(target, b.clone()),
            };
        }
        // Publish on loopback only for a local engine (a test database must not be reachable
        // from the network); a remote engine binds where the test process reaches it.
        let ports = spec.ports.clone();
        let bind = topology.engine().bind_addr().to_string();
        req = req.with_host_config_modifier(move |hc| {
            if ports.is_empty() {
                hc.publish_all_ports = Some(false);
                return;
            }
            hc.publish_all_ports = Some(false);
            hc.port_bindings = Some(
                ports
                    .iter()
                    .map(|p| {
                        (
                            format!("{p}/tcp"),
                            Some(vec![PortBinding {
                                host_ip: Some(bind.clone()),
                                host_port: Some(String::new()),
                            }]),
                        )
                    })
                    .collect::<HashMap<_, _>>(),
            );
        });
        let container = req
            .start()
            .await
            .map_err(|source| Error::container(spec.name.clone(), "start", source))?;
        crate::clock::verify(topology.docker(), container.id(), &spec).await?;
        let started = Instant::now();
        let node = Node {
            name: spec.name,
            container_name,
            clock: spec.fake_clock.map(ClockState::new),
            probes: spec.probes,
            timeout: spec.startup_timeout,
            ports: Default::default(),
            container: Held::new(container, topology.keeper().clone()),
            topology,
        };
        let ready = match node.wait_for_lines(&spec.wait_logs, started).await {
            Ok(()) => node.poll_ready(started).await,
            Err(why) => Err(why),
        };
        if let Err((waited, detail)) = ready {
            // A failed start is a failed test: with SHAKEDOWN_KEEP=on-failure the run stays.
            node.topology.mark_failed();
            let hint = node.failed_start_hint();
            return Err(node.not_ready(waited, detail, hint).await);
        }
        Ok(node)
    }

    /// Removes the container now (forced, with its anonymous volumes) and reports a failure, like
    /// [`Topology::shutdown`] does for a whole run. Dropping the node removes it too, but can only
    /// log a failure. The topology and its other nodes stay.
    pub async fn remove(self) -> Result<()> {
        let Node {
            name, container, ..
        } = self;
        container
            .into_inner()
            .rm()
            .await
            .map_err(|source| Error::container(name, "remove the container", source))
    }

    /// The node's name in its topology.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The container's name, which is also its host name on the run's network.
    pub fn container_name(&self) -> &str {
        &self.container_name
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        self.container.id()
    }

    /// The topology this node belongs to.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The node's wall clock (needs [`NodeSpec::fake_clock`]; calls on a node without it fail
    /// with [`Error::NoFakeClock`]).
    pub fn clock(&self) -> NodeClock<'_> {
        NodeClock { node: self }
    }

    pub(crate) fn clock_state(&self) -> Option<&ClockState> {
        self.clock.as_ref()
    }

    /// The port on the engine's host ([`Node::host_addr`]) that the container's TCP `port` is
    /// published on.
    ///
    /// Looked up once and remembered until the node is killed or restarted (Docker may then
    /// publish on a new port).
    pub async fn host_port(&self, port: u16) -> Result<u16> {
        if let Some(p) = self.port_cache().get(&port) {
            return Ok(*p);
        }
        let host = self
            .container
            .get_host_port_ipv4(port.tcp())
            .await
            .map_err(|source| {
                Error::container(self.name.clone(), "look up a published port", source)
            })?;
        self.port_cache().insert(port, host);
        Ok(host)
    }

    pub(super) fn port_cache(&self) -> std::sync::MutexGuard<'_, HashMap<u16, u16>> {
        self.ports.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the test process reaches the container's TCP `port`: `127.0.0.1:<published port>`
    /// on a local engine, `<engine host>:<published port>` on a remote one
    /// ([`Topology::engine`]).
    pub async fn host_addr(&self, port: u16) -> Result<SocketAddr> {
        Ok(self.topology.engine().addr(self.host_port(port).await?))
    }

    /// Runs a command inside the node and returns its output, whatever its exit code.
    pub async fn exec<I, S>(&self, cmd: I) -> Result<ExecOutput>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let cmd: Vec<String> = cmd.into_iter().map(Into::into).collect();
        crate::exec::exec_in(
            self.topology.docker(),
            self.id(),
            &self.container_name,
            None,
            cmd,
        )
        .await
    }

    /// Runs a command inside the node as `user` (e.g. `root`, whatever the image's user is).
    pub async fn exec_as<I, S>(&self, user: &str, cmd: I) -> Result<ExecOutput>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let cmd: Vec<String> = cmd.into_iter().map(Into::into).collect();
        crate::exec::exec_in(
            self.topology.docker(),
            self.id(),
            &self.container_name,
            Some(user),
            cmd,
        )
        .await
    }

    /// Runs a command inside the node; a non-zero exit is an [`Error::Exec`].
    pub async fn exec_ok<I, S>(&self, cmd: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let cmd: Vec<String> = cmd.into_iter().map(Into::into).collect();
        let out = self.exec(cmd.clone()).await?;
        if out.code == 0 {
            Ok(out.stdout)
        } else {
            Err(Error::Exec {
                node: self.name.clone(),
                command: cmd.join(" "),
                code: out.code,
                stderr: out.stderr.trim().to_string(),
            })
        }
    }

    /// Everything the container has written to stdout and stderr so far.
    pub async fn logs(&self) -> Result<String> {
        let map = |source| Error::container(self.name.clone(), "read logs", source);
        let out = self.container.stdout_to_vec().await.map_err(map)?;
        let err = self.container.stderr_to_vec().await.map_err(map)?;
        let mut s = String::from_utf8_lossy(&out).into_owned();
        s.push_str(&String::from_utf8_lossy(&err));
        Ok(s)
    }

    /// The container's stdout or stderr as a line-readable stream; with `follow`, it stays open
    /// and yields new output as the node writes it (until the container stops).
    ///
    /// ```no_run
    /// # async fn demo(node: &shakedown::Node) {
    /// use tokio::io::AsyncBufReadExt;
    /// let mut lines = node.log_stream(shakedown::Stream::Stderr, true).lines();
    /// while let Ok(Some(line)) = lines.next_line().await {
    ///     if line.contains("ready") { break; }
    /// }
    /// # }
    /// ```
    pub fn log_stream(
        &self,
        stream: Stream,
        follow: bool,
    ) -> std::pin::Pin<Box<dyn tokio::io::AsyncBufRead + Send>> {
        match stream {
            Stream::Stdout => self.container.stdout(follow),
            Stream::Stderr => self.container.stderr(follow),
        }
    }
}
