//! A node's own wall clock, through libfaketime inside its container.
//!
//! A node started with [`NodeSpec::fake_clock`](crate::NodeSpec::fake_clock) runs its process with
//! libfaketime preloaded and `FAKETIME_TIMESTAMP_FILE` pointing at a file the harness rewrites
//! (as root, atomically by rename, through a shell kept open in the node: `agent.rs`). `FAKETIME_NO_CACHE=1` makes the process read the file
//! on every time call, so a change is seen at once; `FAKETIME_DONT_FAKE_MONOTONIC=1` (unless
//! [`FakeClock::fake_monotonic`]) leaves monotonic clocks real, so timeouts keep their length.
//! `FAKETIME` itself is never set: it would win over the file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use testcontainers::bollard::Docker;

use super::agent::WriterSlot;
use super::offset::drifted;
use super::ClockOffset;
use crate::error::{Error, Result};
use crate::node::{FileSource, Node, NodeSpec};

/// Where Debian's libfaketime package puts the library.
pub const DEBIAN_LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// The timestamp file the harness rewrites inside the node.
pub const TIMESTAMP_FILE: &str = "/run/shakedown/faketime.rc";
/// Environment variable the bundled entry scripts read: when set, they preload its value into the
/// final server process only (`LD_PRELOAD="$SHAKEDOWN_FAKETIME_PRELOAD" exec …`).
pub const PRELOAD_VAR: &str = "SHAKEDOWN_FAKETIME_PRELOAD";
/// How often a drifting clock's offset is rewritten.
pub const DRIFT_STEP: Duration = Duration::from_millis(100);

/// How libfaketime gets into the node's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preload {
    /// `LD_PRELOAD` in the container's environment: every process started in the container is
    /// faked. Right when the main process runs as one user and never switches user.
    Environment,
    /// The library path goes in [`PRELOAD_VAR`] and the image's entry script preloads it into the
    /// final server process only. Needed when a process switches user on the way (libfaketime
    /// 0.9.10 then fails with `sem_open failed … Permission denied`), or to keep setup steps
    /// (initdb, base backups) on the real clock.
    EntryScript,
}

/// A node's fake-clock setup (see the module docs).
///
/// ```
/// use shakedown::clock::{FakeClock, Preload};
///
/// let setup = FakeClock::new().preload(Preload::EntryScript);
/// assert!(setup.env().iter().any(|(k, _)| k == "SHAKEDOWN_FAKETIME_PRELOAD"));
/// assert!(!setup.env().iter().any(|(k, _)| k == "LD_PRELOAD" || k == "FAKETIME"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeClock {
    library: String,
    preload: Preload,
    fake_monotonic: bool,
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeClock {
    /// Debian's libfaketime, preloaded through the environment, monotonic clocks left real.
    pub fn new() -> Self {
        FakeClock {
            library: DEBIAN_LIBFAKETIME.to_string(),
            preload: Preload::Environment,
            fake_monotonic: false,
        }
    }

    /// Another path of `libfaketime.so.1` inside the image.
    pub fn library(mut self, path: impl Into<String>) -> Self {
        self.library = path.into();
        self
    }

    /// How the library is preloaded.
    pub fn preload(mut self, preload: Preload) -> Self {
        self.preload = preload;
        self
    }

    /// Fakes `CLOCK_MONOTONIC` too (off by default: timeouts then follow jumps; JVMs and Python
    /// threads may hang, libfaketime#390).
    pub fn fake_monotonic(mut self, on: bool) -> Self {
        self.fake_monotonic = on;
        self
    }

    /// The library's path inside the image.
    pub fn library_path(&self) -> &str {
        &self.library
    }

    /// The environment the node gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("FAKETIME_TIMESTAMP_FILE".into(), TIMESTAMP_FILE.into()),
            ("FAKETIME_NO_CACHE".into(), "1".into()),
        ];
        if !self.fake_monotonic {
            env.push(("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()));
        }
        env.push(match self.preload {
            Preload::Environment => ("LD_PRELOAD".into(), self.library.clone()),
            Preload::EntryScript => (PRELOAD_VAR.into(), self.library.clone()),
        });
        env
    }
}

/// What the harness last asked of a node's clock.
#[derive(Debug)]
pub(crate) struct ClockState {
    pub(crate) setup: FakeClock,
    requested: Mutex<Requested>,
    /// The node's clock writer (shared with a drift's task).
    writer: Arc<WriterSlot>,
}

#[derive(Debug, Default)]
struct Requested {
    offset: ClockOffset,
    drift: Option<Drift>,
}

#[derive(Debug)]
struct Drift {
    rate: f64,
    since: Instant,
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drift {
    /// Stops the rewriting task after its write in flight, so no stale offset lands later.
    async fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Drift {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl ClockState {
    pub(crate) fn new(setup: FakeClock) -> Self {
        ClockState {
            setup,
            requested: Mutex::new(Requested::default()),
            writer: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Requested> {
        self.requested.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Wires a node's [`FakeClock`] (if its spec has one) into the spec before the container is
/// created: the libfaketime environment, and a timestamp file at offset zero. Fails if the spec's
/// own environment sets `FAKETIME`.
pub(crate) fn prepare(spec: &mut NodeSpec) -> Result<()> {
    let Some(setup) = &spec.fake_clock else {
        return Ok(());
    };
    check_env(&spec.name, &spec.env)?;
    spec.env.extend(setup.env());
    let zero = format!("{}\n", ClockOffset::ZERO.faketime_spec());
    spec.files.push((
        TIMESTAMP_FILE.into(),
        FileSource::Bytes(zero.into_bytes()),
        0o644,
    ));
    Ok(())
}

/// Checks, once the container `id` of a spec with a [`FakeClock`] runs, that its image has the
/// library the setup preloads ([`Error::NoLibfaketime`] otherwise).
pub(crate) async fn verify(docker: &Docker, id: &str, spec: &NodeSpec) -> Result<()> {
    match &spec.fake_clock {
        Some(setup) => check_library(docker, id, &spec.name, &spec.image, setup).await,
        None => Ok(()),
    }
}

/// Refuses a `FAKETIME` in the node's own environment: it would win over the timestamp file, and
/// every clock change would silently do nothing.
fn check_env(node: &str, env: &[(String, String)]) -> Result<()> {
    if env.iter().any(|(k, _)| k == "FAKETIME") {
        return Err(Error::InvalidInput {
            what: "environment of a node with a fake clock",
            detail: format!(
                "node `{node}` sets FAKETIME, which overrides the timestamp file the harness \
                 rewrites; remove it and use node.clock() instead"
            ),
        });
    }
    Ok(())
}

/// Checks that the node's image has the library the setup preloads.
async fn check_library(
    docker: &Docker,
    id: &str,
    node: &str,
    image: &str,
    setup: &FakeClock,
) -> Result<()> {
    let lib = setup.library_path();
    let out = crate::exec::exec_in(
        docker,
        id,
        node,
        Some("root"),
        vec!["test".into(), "-r".into(), lib.into()],
    )
    .await?;
    if out.code == 0 {
        return Ok(());
    }
    Err(Error::NoLibfaketime {
        node: node.to_string(),
        image: image.to_string(),
        library: lib.to_string(),
    })
}

/// Puts `offset` in the node's timestamp file: through its clock writer, or by an exec of its
/// own when the writer cannot be started or broke (a restarted container, a paused one).
async fn write_offset(
    writer: &WriterSlot,
    docker: &Docker,
    id: &str,
    node: &str,
    offset: ClockOffset,
) -> Result<()> {
    match writer.write(docker, id, &offset.faketime_spec()).await {
        Ok(()) => Ok(()),
        Err(why) => {
            tracing::debug!("clock writer of {node}: {why}; writing by exec");
            write_spec(docker, id, node, offset).await
        }
    }
}

async fn write_spec(docker: &Docker, id: &str, node: &str, offset: ClockOffset) -> Result<()> {
    let script = r#"printf '%s\n' "$1" > "$2.tmp" && chmod 0644 "$2.tmp" && mv -f "$2.tmp" "$2""#;
    let cmd = vec![
        "sh".to_string(),
        "-c".into(),
        script.into(),
        "sh".into(),
        offset.faketime_spec(),
        TIMESTAMP_FILE.into(),
    ];
    let out = crate::exec::exec_in(docker, id, node, Some("root"), cmd.clone()).await?;
    if out.code != 0 {
        return Err(Error::Exec {
            node: node.to_string(),
            command: cmd.join(" "),
            code: out.code,
            stderr: out.stderr.trim().to_string(),
        });
    }
    Ok(())
}

/// Control of one node's wall clock; get it from [`Node::clock`].
///
/// Offsets are absolute, not cumulative: `skew(90 s)` then `skew(10 s)` leaves the node 10 s
/// ahead. Every call returns once the new offset is in the node's timestamp file, which its
/// process reads on every time call.
///
/// ```no_run
/// # async fn demo(node: &shakedown::Node) -> shakedown::Result<()> {
/// use std::time::Duration;
///
/// node.clock().skew(Duration::from_secs(90)).await?; // 90 s ahead
/// let measured = node.clock().offset().await?; // read from inside the node
/// assert!((measured.as_secs_f64() - 90.0).abs() < 0.05);
/// node.clock().behind(Duration::from_secs(600)).await?;
/// node.clock().drift(1.001).await?; // gains 1 ms a second from here on
/// node.clock().reset().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct NodeClock<'a> {
    pub(crate) node: &'a Node,
}

impl<'a> NodeClock<'a> {
    fn state(&self) -> Result<&'a ClockState> {
        self.node.clock_state().ok_or_else(|| Error::NoFakeClock {
            node: self.node.name().to_string(),
        })
    }

    /// Sets the node's offset from the real time (positive: ahead). Stops a drift.
    pub async fn set_offset(self, offset: ClockOffset) -> Result<()> {
        let state = self.state()?;
        let old = state.lock().drift.take();
        if let Some(d) = old {
            d.stop().await;
        }
        write_offset(
            &state.writer,
            self.node.topology().docker(),
            self.node.id(),
            self.node.name(),
            offset,
        )
        .await?;
        state.lock().offset = offset;
        Ok(())
    }

    /// Puts the node's clock `by` ahead of the real time.
    pub async fn skew(self, by: Duration) -> Result<()> {
        self.set_offset(ClockOffset::ahead(by)).await
    }

    /// Puts the node's clock `by` behind the real time.
    pub async fn behind(self, by: Duration) -> Result<()> {
        self.set_offset(ClockOffset::behind(by)).await
    }

    /// Steps the node's clock to show `to` now; it keeps ticking from there.
    pub async fn jump_to(self, to: SystemTime) -> Result<()> {
        self.set_offset(ClockOffset::between(SystemTime::now(), to))
            .await
    }

    /// Steps the node's clock by `by` from where it is now (a jump during a run).
    pub async fn jump_by(self, by: ClockOffset) -> Result<()> {
        let now = self.requested()?;
        self.set_offset(now.plus(by)).await
    }

    /// Makes the node's clock run at `rate` times real speed from its current offset on (1.001
    /// gains a millisecond per second; 0.5 loses half a second per second; 3600 runs an hour per
    /// second). The harness rewrites the offset every [`DRIFT_STEP`], so the clock advances in
    /// small steps; monotonic clocks and sleeps stay real. Any other clock call stops the drift.
    pub async fn drift(self, rate: f64) -> Result<()> {
        if !rate.is_finite() || rate < 0.0 {
            return Err(Error::InvalidInput {
                what: "clock drift rate",
                detail: format!(
                    "{rate} is not a finite, non-negative speed (1.0 is a correct clock)"
                ),
            });
        }
        let state = self.state()?;
        let start = self.requested()?;
        let old = state.lock().drift.take();
        if let Some(d) = old {
            d.stop().await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let docker = self.node.topology().docker().clone();
        let writer = state.writer.clone();
        let (id, name) = (self.node.id().to_string(), self.node.name().to_string());
        let since = Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(DRIFT_STEP);
            loop {
                tick.tick().await;
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let offset = drifted(start, rate, since.elapsed());
                if write_offset(&writer, &docker, &id, &name, offset)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let mut req = state.lock();
        req.offset = start;
        req.drift = Some(Drift {
            rate,
            since,
            stop,
            task: Some(task),
        });
        Ok(())
    }

    /// Back to the real time (offset zero, no drift).
    pub async fn reset(self) -> Result<()> {
        self.set_offset(ClockOffset::ZERO).await
    }

    /// The offset the harness has asked for right now (a drifting clock's grows with time). See
    /// [`NodeClock::offset`] for what the node actually shows.
    pub fn requested(&self) -> Result<ClockOffset> {
        let req = self.state()?.lock();
        Ok(match &req.drift {
            Some(d) => drifted(req.offset, d.rate, d.since.elapsed()),
            None => req.offset,
        })
    }

    /// The node's offset as measured inside it: a fresh process there reads the real clock, the
    /// faked clock (libfaketime with the node's timestamp file) and the real clock again; the
    /// offset is the faked reading minus the midpoint of the real ones (error: a process start,
    /// about a millisecond). Fails if libfaketime does not take effect.
    pub async fn offset(self) -> Result<ClockOffset> {
        let state = self.state()?;
        // The container's environment may carry LD_PRELOAD: the real readings drop it.
        let script = r#"a=$(env -u LD_PRELOAD date +%s%N); b=$(env LD_PRELOAD="$1" FAKETIME_TIMESTAMP_FILE="$2" FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 date +%s%N); c=$(env -u LD_PRELOAD date +%s%N); echo "$a $b $c""#;
        let out = self
            .node
            .exec_as(
                "root",
                [
                    "sh",
                    "-c",
                    script,
                    "sh",
                    state.setup.library_path(),
                    TIMESTAMP_FILE,
                ],
            )
            .await?;
        parse_measurement(&out.stdout).ok_or_else(|| Error::ClockMeasure {
            node: self.node.name().to_string(),
            detail: format!(
                "unexpected output {:?} (stderr {:?})",
                out.stdout.trim(),
                out.stderr.trim()
            ),
        })
    }

    /// The node's wall-clock time now, as measured inside it.
    pub async fn now(self) -> Result<SystemTime> {
        Ok(self.offset().await?.apply(SystemTime::now()))
    }
}

/// `real faked real` nanosecond readings → the offset of the faked one from the real midpoint.
pub(crate) fn parse_measurement(out: &str) -> Option<ClockOffset> {
    let v: Vec<i128> = out
        .split_whitespace()
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    let [a, b, c] = v[..] else { return None };
    Some(ClockOffset::from_nanos(b - (a + c) / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_preload_sets_ld_preload_and_never_faketime() {
        let env = FakeClock::new().env();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("LD_PRELOAD"), Some(DEBIAN_LIBFAKETIME));
        assert_eq!(get("FAKETIME_TIMESTAMP_FILE"), Some(TIMESTAMP_FILE));
        assert_eq!(get("FAKETIME_NO_CACHE"), Some("1"));
        assert_eq!(get("FAKETIME_DONT_FAKE_MONOTONIC"), Some("1"));
        assert_eq!(get("FAKETIME"), None);
        let mono = FakeClock::new().fake_monotonic(true).env();
        assert!(!mono
            .iter()
            .any(|(k, _)| k == "FAKETIME_DONT_FAKE_MONOTONIC"));
    }

    #[test]
    fn a_faketime_variable_is_refused() {
        let env = vec![("FAKETIME".to_string(), "+1d".to_string())];
        let e = check_env("api", &env).unwrap_err().to_string();
        assert!(e.contains("FAKETIME") && e.contains("node.clock()"), "{e}");
        assert!(check_env("api", &[]).is_ok());
    }

    #[test]
    fn prepare_gives_a_fake_clock_node_its_environment_and_a_zero_timestamp_file() {
        let mut plain = NodeSpec::new("plain", "img:1").env("A", "1");
        prepare(&mut plain).unwrap();
        assert_eq!(plain.env, vec![("A".to_string(), "1".to_string())]);
        assert!(plain.files.is_empty());

        let mut faked = NodeSpec::new("api", "img:1").fake_clock(FakeClock::new());
        prepare(&mut faked).unwrap();
        assert_eq!(faked.env, FakeClock::new().env());
        let [(target, FileSource::Bytes(bytes), 0o644)] = &faked.files[..] else {
            panic!("one timestamp file expected: {:?}", faked.files);
        };
        assert_eq!(
            (target.as_str(), bytes.as_slice()),
            (TIMESTAMP_FILE, &b"+0.000000000\n"[..])
        );

        let mut overridden = NodeSpec::new("api", "img:1")
            .env("FAKETIME", "+1d")
            .fake_clock(FakeClock::new());
        assert!(prepare(&mut overridden).is_err());
    }

    #[test]
    fn measurements_take_the_midpoint_of_the_real_readings() {
        let o = parse_measurement("1000 90000001500 2000\n").unwrap();
        assert_eq!(o.as_nanos(), 90_000_000_000);
        assert_eq!(parse_measurement("1 2"), None);
        assert_eq!(parse_measurement("1 x 3"), None);
    }
}
