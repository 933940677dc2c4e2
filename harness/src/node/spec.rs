//! [`NodeSpec`]: what to start as a node — image, command, environment, ports, files, readiness
//! checks — and [`Stream`], the log a line is expected on.

use std::path::PathBuf;
use std::time::Duration;

use super::Probe;
use crate::clock::FakeClock;

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
    pub(crate) name: String,
    pub(crate) image: String,
    pub(super) cmd: Option<Vec<String>>,
    pub(super) entrypoint: Option<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(super) ports: Vec<u16>,
    pub(crate) files: Vec<(String, FileSource, u32)>,
    pub(super) wait_logs: Vec<(Stream, String)>,
    pub(super) probes: Vec<Probe>,
    pub(super) startup_timeout: Duration,
    pub(super) caps: Vec<String>,
    pub(super) user: Option<String>,
    pub(crate) fake_clock: Option<FakeClock>,
    pub(super) timezone: Option<String>,
}

/// Where a file copied into the container comes from.
#[derive(Debug, Clone)]
pub(crate) enum FileSource {
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

    /// Publishes a TCP port to the test process: on 127.0.0.1 only for a local engine, on
    /// [`Engine::bind_addr`](crate::engine::Engine::bind_addr) for a remote one.
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

    /// Gives the node its own wall clock (libfaketime), controlled with
    /// [`Node::clock`](crate::Node::clock). The image must contain the library; start fails with
    /// [`Error::NoLibfaketime`](crate::Error::NoLibfaketime) otherwise.
    ///
    /// ```
    /// use shakedown::clock::FakeClock;
    /// use shakedown::NodeSpec;
    ///
    /// let spec = NodeSpec::new("issuer", "shakedown/runtime:trixie").fake_clock(FakeClock::new());
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
