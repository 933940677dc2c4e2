//! What suites use to start a reference service on a topology and reach it.

use std::net::SocketAddr;
use std::path::PathBuf;

use shakedown::{Node, SuiteError, Topology};
use shakedown_fixtures::{start_service, ServiceSpec};

use super::{Mode, READY_LINE};

/// The port every reference service listens on inside its container.
const PORT: u16 = 8080;

/// Starts reference services from the `shakedown` binary.
#[derive(Debug, Clone, Default)]
pub struct Launcher {
    /// The `shakedown` binary to copy into containers (default: [`shakedown_binary`]).
    pub binary: Option<PathBuf>,
}

/// One reference service to start.
///
/// ```no_run
/// # async fn demo(topology: &shakedown::Topology) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::reference::{Launcher, Mode, ServiceLaunch};
/// let profiles = Launcher::default()
///     .launch("replica_lag", topology, ServiceLaunch::new("profiles", "profiles", Mode::Naive)
///         .arg("--primary=postgres://…").arg("--replica=postgres://…"))
///     .await?;
/// println!("{}", profiles.url); // http://127.0.0.1:<published port> (local engine)
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ServiceLaunch {
    node: String,
    service: &'static str,
    mode: Mode,
    args: Vec<String>,
    fake_clock: bool,
    timezone: Option<String>,
}

impl ServiceLaunch {
    /// Reference service `service` as node `node`, in `mode`.
    pub fn new(node: impl Into<String>, service: &'static str, mode: Mode) -> Self {
        ServiceLaunch {
            node: node.into(),
            service,
            mode,
            args: Vec::new(),
            fake_clock: false,
            timezone: None,
        }
    }

    /// Adds an argument after `--variant`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Runs it with a fake clock (libfaketime), for clock nemeses.
    pub fn fake_clock(mut self) -> Self {
        self.fake_clock = true;
        self
    }

    /// Runs it in time zone `zone` (`TZ`).
    pub fn timezone(mut self, zone: impl Into<String>) -> Self {
        self.timezone = Some(zone.into());
        self
    }
}

/// A started reference service.
#[derive(Debug)]
pub struct Launched {
    /// Its node (clock, logs, faults).
    pub node: Node,
    /// Its published address, as the test process reaches it ([`shakedown::Node::host_addr`]).
    pub addr: SocketAddr,
    /// `http://<addr>`, for the test process.
    pub url: String,
    /// `http://<container>:8080`, for other containers of the run.
    pub internal_url: String,
}

impl Launcher {
    /// A launcher copying `binary` into containers.
    pub fn with_binary(binary: impl Into<PathBuf>) -> Self {
        Launcher {
            binary: Some(binary.into()),
        }
    }

    /// The binary it copies: the one given, else [`shakedown_binary`].
    pub fn binary(&self, suite: &'static str) -> Result<PathBuf, SuiteError> {
        match &self.binary {
            Some(b) => Ok(b.clone()),
            None => shakedown_binary()
                .map_err(|e| SuiteError::new(suite, "find the reference binary", e)),
        }
    }

    /// Starts `spec` on `topology`, waits until it prints its ready line and answers on its
    /// port, and returns where to reach it. Errors name `suite` and the service.
    pub async fn launch(
        &self,
        suite: &'static str,
        topology: &Topology,
        spec: ServiceLaunch,
    ) -> Result<Launched, SuiteError> {
        let step = format!("start the {} {} service", spec.mode, spec.service);
        let mut s = ServiceSpec::new(spec.node.clone(), self.binary(suite)?)
            .arg("reference")
            .arg(spec.service)
            .arg(format!("--variant={}", spec.mode))
            .port(PORT)
            .ready_line(READY_LINE);
        for a in spec.args {
            s = s.arg(a);
        }
        if spec.fake_clock {
            s = s.fake_clock();
        }
        if let Some(zone) = spec.timezone {
            s = s.timezone(zone);
        }
        let node = start_service(topology, s)
            .await
            .map_err(|e| SuiteError::new(suite, step.clone(), e))?;
        let addr = node
            .host_addr(PORT)
            .await
            .map_err(|e| SuiteError::new(suite, step, e))?;
        Ok(Launched {
            url: format!("http://{addr}"),
            internal_url: format!("http://{}:{PORT}", node.container_name()),
            addr,
            node,
        })
    }
}

/// The `shakedown` binary to copy into containers: `$SHAKEDOWN_BIN`, else this process if it is
/// `shakedown`, else a `shakedown` next to this executable or one directory up (where cargo puts
/// binaries next to `deps/` test executables), else one on `PATH` (where `cargo install
/// shakedown-cli` puts it).
pub fn shakedown_binary() -> Result<PathBuf, BinaryNotFound> {
    if let Some(p) = std::env::var_os("SHAKEDOWN_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(BinaryNotFound(format!(
                "SHAKEDOWN_BIN names {}, which is not a file",
                p.display()
            )))
        };
    }
    let exe = std::env::current_exe()
        .map_err(|e| BinaryNotFound(format!("cannot locate this executable: {e}")))?;
    if exe.file_name().is_some_and(|n| n == "shakedown") {
        return Ok(exe);
    }
    let near = exe.ancestors().skip(1).take(2).map(PathBuf::from);
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    near.chain(on_path)
        .map(|d| d.join("shakedown"))
        .find(|c| c.is_file())
        .ok_or_else(|| {
            BinaryNotFound(
                "cannot find the `shakedown` binary that runs the reference services and the \
                 proxy node: build it with `cargo build -p shakedown-cli` (or `cargo install \
                 shakedown-cli`), or set SHAKEDOWN_BIN to its path"
                    .into(),
            )
        })
}

/// Why [`shakedown_binary`] found no binary, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryNotFound(String);

impl std::fmt::Display for BinaryNotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BinaryNotFound {}
