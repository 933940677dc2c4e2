//! The harness's error type: every variant names its subject and says how to fix it.

use std::time::Duration;

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the harness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Docker engine did not answer.
    #[error(
        "cannot reach the Docker engine ({detail}); start it (`systemctl start docker` or `dockerd &`) \
         or point DOCKER_HOST at a running one"
    )]
    DockerUnreachable {
        /// What the client reported.
        detail: String,
    },
    /// An environment variable that says where the engine is (or where it binds ports) cannot be
    /// used.
    #[error("{var}=`{value}` cannot be used: {detail}")]
    EngineAddress {
        /// The variable (`DOCKER_HOST`, `SHAKEDOWN_ENGINE_HOST`, `SHAKEDOWN_BIND_ADDR` …).
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong and what to write instead.
        detail: String,
    },
    /// An image a run needs is not present (or not current) and building it was not allowed.
    #[error(
        "image `{image}` is {state}; build it with `shakedown images build` (or `just images`)"
    )]
    ImageMissing {
        /// `repository:tag`.
        image: String,
        /// `missing` or `stale (built from an older recipe)`.
        state: String,
    },
    /// Building an image failed.
    #[error("building image `{image}` failed: {detail}\n(the whole build log is in {log}; run `shakedown images build` to retry)")]
    ImageBuild {
        /// `repository:tag`.
        image: String,
        /// The last lines of the build output, or the cause.
        detail: String,
        /// The file holding the whole build output.
        log: String,
    },
    /// A Docker API call failed.
    #[error("docker could not {action} `{subject}`: {source}")]
    Docker {
        /// What was being done (`create network`, `kill container` …).
        action: &'static str,
        /// The network, container or image concerned.
        subject: String,
        /// The engine's answer.
        #[source]
        source: Box<testcontainers::bollard::errors::Error>,
    },
    /// Starting or driving a container through testcontainers failed.
    #[error("node `{node}`: could not {action}: {source}")]
    Container {
        /// The node's name in its topology.
        node: String,
        /// What was being done.
        action: &'static str,
        /// The testcontainers error.
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },
    /// A node did not become ready: its checks did not pass in time, or its process exited.
    #[error(
        "node `{node}` was not ready after {waited:?}: {detail}{}\n{}{hint}",
        .exit_code.map(|c| format!(" (its process exited with code {c})")).unwrap_or_default(),
        if .log_tail.is_empty() {
            "it wrote nothing to stdout or stderr\n".to_string()
        } else {
            format!("the last lines of its log:\n{}\n", indent(.log_tail))
        }
    )]
    NotReady {
        /// The node's name.
        node: String,
        /// How long the harness waited.
        waited: Duration,
        /// The last failed check, or what ended the wait.
        detail: String,
        /// The exit code of the container's process, if it had stopped.
        exit_code: Option<i32>,
        /// The last lines (about 20) of its stdout and stderr, interleaved.
        log_tail: String,
        /// Where the container is now and how to look at it (still running, kept for
        /// inspection, or removed and how to keep it next time).
        hint: String,
    },
    /// A binary cannot run in the image it is about to be copied into.
    #[error("binary `{binary}` cannot run in image `{image}`: {reason}; {fix}")]
    BinaryIncompatible {
        /// The host path of the binary.
        binary: String,
        /// The image it was meant for.
        image: String,
        /// What does not fit (format, architecture, C library, glibc version).
        reason: String,
        /// What to do about it.
        fix: String,
    },
    /// A command run inside a node exited non-zero.
    #[error("`{command}` in node `{node}` exited with {code}: {stderr}")]
    Exec {
        /// The node's name.
        node: String,
        /// The command line.
        command: String,
        /// Its exit code (-1 when unknown).
        code: i64,
        /// What it wrote to stderr (trimmed).
        stderr: String,
    },
    /// A local I/O operation failed.
    #[error("could not {action}: {source}")]
    Io {
        /// What was being done, with the path.
        action: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A value given by the caller is out of range or malformed.
    #[error("invalid {what}: {detail}")]
    InvalidInput {
        /// What was wrong (`seed`, `suite name` …).
        what: &'static str,
        /// Why, and what is accepted.
        detail: String,
    },
    /// A file of a run's output folder could not be read back.
    #[error("cannot use `{path}`: {detail}; point `shakedown report` at a folder that `shakedown run` wrote, or run again")]
    Artifact {
        /// The file or folder.
        path: String,
        /// What was wrong with it.
        detail: String,
    },
    /// A history broke the client protocol (a completion with no open invocation …).
    #[error("invalid history: {0}")]
    History(String),
    /// A report was asked for an anomaly class that none of its checkers declares.
    #[error(
        "suite `{suite}` has no anomaly class `{class}` (its checkers declare: {known}); check the spelling"
    )]
    UnknownAnomaly {
        /// The suite.
        suite: String,
        /// The class asked for.
        class: String,
        /// The classes its checkers declare, comma-separated.
        known: String,
    },
    /// A node's image lacks the libfaketime library its fake clock preloads.
    #[error(
        "node `{node}`: image `{image}` has no `{library}`, so its clock cannot be faked; \
         install Debian's `libfaketime` package in the image (the bundled images have it), or point \
         FakeClock::library at where the image keeps libfaketime.so.1"
    )]
    NoLibfaketime {
        /// The node.
        node: String,
        /// Its image.
        image: String,
        /// The library path looked for.
        library: String,
    },
    /// A clock call on a node started without a fake clock.
    #[error(
        "node `{node}` has no fake clock; start it with `NodeSpec::fake_clock(FakeClock::new())` \
         (or the fixture's `fake_clock()` option)"
    )]
    NoFakeClock {
        /// The node.
        node: String,
    },
    /// Measuring a node's clock gave no usable reading.
    #[error("could not measure the clock of node `{node}`: {detail} (does the image have `sh`, `env` and GNU `date`?)")]
    ClockMeasure {
        /// The node.
        node: String,
        /// What came back.
        detail: String,
    },
    /// A waited-for condition did not hold in time.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// The condition.
        what: String,
        /// How long was waited.
        timeout: Duration,
    },
}

/// Indents every line by two spaces (log excerpts inside an error message).
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    pub(crate) fn docker(
        action: &'static str,
        subject: impl Into<String>,
        source: testcontainers::bollard::errors::Error,
    ) -> Self {
        Error::Docker {
            action,
            subject: subject.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn container(
        node: impl Into<String>,
        action: &'static str,
        source: testcontainers::TestcontainersError,
    ) -> Self {
        Error::Container {
            node: node.into(),
            action,
            source: Box::new(source),
        }
    }

    pub(crate) fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            action: action.into(),
            source,
        }
    }
}
