//! A [`Node`]: one container of a [`Topology`], and the faults that act on a whole node.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use testcontainers::bollard::models::{
    EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest, PortBinding,
};
use testcontainers::bollard::query_parameters::{
    KillContainerOptionsBuilder, RestartContainerOptionsBuilder,
};
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, CopyTargetOptions, GenericImage, ImageExt};

use crate::clock::{ClockState, FakeClock, NodeClock};
use crate::error::{Error, Result};
use crate::topology::Topology;

/// How the harness decides that a node is ready, at start and after every restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A command run inside the node must exit 0 (e.g. `pg_isready`).
    Exec(Vec<String>),
    /// A TCP connection from the test process to the node's published port must be accepted and
    /// stay open (through Docker's port proxy, which closes at once when nothing listens inside).
    Tcp(u16),
}

/// Where a log line is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// What to start: an image, its command, ports, files and readiness checks.
///
/// ```
/// use std::time::Duration;
/// use shakedown::{NodeSpec, Probe, Stream};
///
/// let spec = NodeSpec::new("cache", "my-team/cache:1.4")
///     .cmd(["sleep", "infinity"])
///     .env("TZ", "Asia/Tokyo")
///     .port(6379)
///     .wait_for_log(Stream::Stdout, "ready")
///     .probe(Probe::Tcp(6379))
///     .startup_timeout(Duration::from_secs(30));
/// assert_eq!(spec.name(), "cache");
/// ```
#[derive(Debug, Clone)]
pub struct NodeSpec {
    name: String,
    image: String,
    cmd: Option<Vec<String>>,
    entrypoint: Option<String>,
    env: Vec<(String, String)>,
    ports: Vec<u16>,
    files: Vec<(String, FileSource, u32)>,
    wait_logs: Vec<(Stream, String)>,
    probes: Vec<Probe>,
    startup_timeout: Duration,
    caps: Vec<String>,
    user: Option<String>,
    fake_clock: Option<FakeClock>,
    timezone: Option<String>,
}

#[derive(Debug, Clone)]
enum FileSource {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

impl NodeSpec {
    /// A node called `name` (unique within its topology) running `image` (`repository:tag`).
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        NodeSpec {
            name: name.into(),
            image: image.into(),
            cmd: None,
            entrypoint: None,
            env: Vec::new(),
            ports: Vec::new(),
            files: Vec::new(),
            wait_logs: Vec::new(),
            probes: Vec::new(),
            startup_timeout: Duration::from_secs(120),
            caps: Vec::new(),
            user: None,
            fake_clock: None,
            timezone: None,
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Replaces the image's command.
    pub fn cmd(mut self, cmd: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cmd = Some(cmd.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces the image's entrypoint (a single executable; arguments go in [`NodeSpec::cmd`]).
    pub fn entrypoint(mut self, entrypoint: impl Into<String>) -> Self {
        self.entrypoint = Some(entrypoint.into());
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Publishes a TCP port to the test process, on 127.0.0.1 only.
    pub fn port(mut self, port: u16) -> Self {
        self.ports.push(port);
        self
    }

    /// Copies a host file into the container before it starts, with the given mode.
    pub fn copy_file(
        mut self,
        host: impl Into<PathBuf>,
        target: impl Into<String>,
        mode: u32,
    ) -> Self {
        self.files
            .push((target.into(), FileSource::Path(host.into()), mode));
        self
    }

    /// Writes bytes to a file in the container before it starts, with the given mode.
    pub fn copy_bytes(
        mut self,
        bytes: impl Into<Vec<u8>>,
        target: impl Into<String>,
        mode: u32,
    ) -> Self {
        self.files
            .push((target.into(), FileSource::Bytes(bytes.into()), mode));
        self
    }

    /// At first start, waits for this line in the container's log (before the probes run).
    pub fn wait_for_log(mut self, stream: Stream, line: impl Into<String>) -> Self {
        self.wait_logs.push((stream, line.into()));
        self
    }

    /// Adds a readiness probe, checked at start and after every restart.
    pub fn probe(mut self, probe: Probe) -> Self {
        self.probes.push(probe);
        self
    }

    /// How long start (and each restart) may take before failing (default 120 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Adds a Linux capability (e.g. `NET_ADMIN` for traffic control inside the node).
    pub fn cap_add(mut self, cap: impl Into<String>) -> Self {
        self.caps.push(cap.into());
        self
    }

    /// Runs the container's process as this user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Gives the node its own wall clock (libfaketime), controlled with [`Node::clock`]. The
    /// image must contain the library; start fails with [`Error::NoLibfaketime`] otherwise.
    ///
    /// ```
    /// use shakedown::clock::FakeClock;
    /// use shakedown::NodeSpec;
    ///
    /// let spec = NodeSpec::new("issuer", "shakedown/runtime:bookworm").fake_clock(FakeClock::new());
    /// ```
    pub fn fake_clock(mut self, setup: FakeClock) -> Self {
        self.fake_clock = Some(setup);
        self
    }

    /// The node's time zone: its `TZ`, an IANA name such as `Asia/Tokyo` (the image needs
    /// tzdata; the bundled ones have it).
    pub fn timezone(mut self, zone: impl Into<String>) -> Self {
        self.timezone = Some(zone.into());
        self
    }
}

/// What a command run inside a node printed, and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code (-1 when the engine did not report one).
    pub code: i64,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// One running container of a [`Topology`]. Dropping it removes the container.
#[derive(Debug)]
pub struct Node {
    name: String,
    container_name: String,
    clock: Option<ClockState>,
    probes: Vec<Probe>,
    timeout: Duration,
    /// Published ports, looked up once; forgotten when the container restarts.
    ports: std::sync::Mutex<HashMap<u16, u16>>,
    // Field order matters: the container goes before the topology handle, so the network is
    // removed after its last container.
    container: ContainerAsync<GenericImage>,
    topology: Topology,
}

impl Node {
    pub(crate) async fn start(topology: Topology, mut spec: NodeSpec) -> Result<Node> {
        if let Some(zone) = &spec.timezone {
            crate::clock::validate_zone(zone)?;
            spec.env.push(("TZ".into(), zone.clone()));
        }
        if let Some(setup) = &spec.fake_clock {
            crate::clock::check_env(&spec.name, &spec.env)?;
            spec.env.extend(setup.env());
            let zero = format!("{}\n", crate::clock::ClockOffset::ZERO.faketime_spec());
            spec.files.push((
                crate::clock::TIMESTAMP_FILE.into(),
                FileSource::Bytes(zero.into_bytes()),
                0o644,
            ));
        }
        let container_name = topology.container_name(&spec.name);
        let (repo, tag) = crate::image::split_reference(&spec.image);
        let mut image = GenericImage::new(repo, tag);
        for (stream, line) in &spec.wait_logs {
            image = image.with_wait_for(match stream {
                Stream::Stdout => WaitFor::message_on_stdout(line),
                Stream::Stderr => WaitFor::message_on_stderr(line),
            });
        }
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
        // Publish on loopback only: a test database must not be reachable from the network.
        let ports = spec.ports.clone();
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
                                host_ip: Some("127.0.0.1".into()),
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
        if let Some(setup) = &spec.fake_clock {
            crate::clock::check_library(
                topology.docker(),
                container.id(),
                &spec.name,
                &spec.image,
                setup,
            )
            .await?;
        }
        let node = Node {
            name: spec.name,
            container_name,
            clock: spec.fake_clock.map(ClockState::new),
            probes: spec.probes,
            timeout: spec.startup_timeout,
            ports: Default::default(),
            container,
            topology,
        };
        node.wait_ready().await?;
        Ok(node)
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

    /// The host port (on 127.0.0.1) that the container's TCP `port` is published on.
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

    fn port_cache(&self) -> std::sync::MutexGuard<'_, HashMap<u16, u16>> {
        self.ports.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `127.0.0.1:<published port>` for the container's TCP `port`.
    pub async fn host_addr(&self, port: u16) -> Result<SocketAddr> {
        Ok(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            self.host_port(port).await?,
        )))
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

    /// Cuts the node off the run's network (its peers can no longer resolve or reach it).
    pub async fn disconnect(&self) -> Result<()> {
        self.topology
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
            })
    }

    /// Puts a disconnected node back on the run's network, under its name.
    pub async fn reconnect(&self) -> Result<()> {
        self.topology
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
            })
    }

    /// Polls the node's probes until all pass, or fails after its startup timeout.
    pub async fn wait_ready(&self) -> Result<()> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(20);
        loop {
            let failed = self.failed_probe().await;
            let Some(detail) = failed else {
                return Ok(());
            };
            if started.elapsed() >= self.timeout {
                return Err(Error::NotReady {
                    node: self.name.clone(),
                    container: self.container_name.clone(),
                    timeout: self.timeout,
                    detail,
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(250));
        }
    }

    async fn failed_probe(&self) -> Option<String> {
        for probe in &self.probes {
            match probe {
                Probe::Exec(cmd) => match self.exec(cmd.clone()).await {
                    Ok(out) if out.code == 0 => {}
                    Ok(out) => {
                        return Some(format!(
                            "`{}` exited {}: {}",
                            cmd.join(" "),
                            out.code,
                            out.stderr.trim()
                        ))
                    }
                    Err(e) => return Some(e.to_string()),
                },
                Probe::Tcp(port) => {
                    let addr = match self.host_addr(*port).await {
                        Ok(a) => a,
                        Err(e) => return Some(e.to_string()),
                    };
                    if let Err(e) = tcp_answers(addr).await {
                        return Some(format!("TCP port {port} (published at {addr}): {e}"));
                    }
                }
            }
        }
        None
    }
}

/// Whether something in the container accepts on a published port. Docker's userland proxy
/// accepts on the host side whether or not the container listens, and closes the connection at
/// once when it does not: so a connection that is not closed within a short wait counts as ready
/// (client-speaks-first servers wait silently; server-speaks-first ones send a greeting).
async fn tcp_answers(addr: SocketAddr) -> std::result::Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(150), stream.read(&mut buf)).await {
        Err(_) | Ok(Ok(1..)) => Ok(()),
        Ok(Ok(0)) => Err("connection closed at once (nothing listens in the container yet)".into()),
        Ok(Err(e)) => Err(e.to_string()),
    }
}
