//! [`Run`]: one run of a workload against a system, recording every call with its time and every
//! fault as it is injected and healed, then judged by checkers into a [`SuiteRun`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::checker::{check_safe, Checker};
use crate::client_error::ClientError;
use crate::fault::{Fault, FaultAction, FaultGuard, Nemesis, Timeline, TimelineRecorder};
use crate::history::{History, OpKind, Recorder};
use crate::report::{Report, ReportedFault, WorkloadSummary};
use crate::suite::{SuiteError, SuiteRun, Variant};

/// Options every run takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Drives fake data, workload choices and jitter, through [`Run::rng`] streams.
    pub seed: u64,
    /// Report the long steps (cluster start, fault phases) through `tracing` at info level
    /// (off: at debug level).
    pub progress: bool,
    /// How long one client call may take before it is recorded as `info` (outcome unknown).
    pub call_timeout: Duration,
    /// Which system the run is against, for the report (`Custom` for a team's own).
    pub variant: Variant,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: 1,
            progress: false,
            call_timeout: Duration::from_secs(30),
            variant: Variant::Custom,
        }
    }
}

impl RunOptions {
    /// Default options with `seed`.
    pub fn seeded(seed: u64) -> Self {
        RunOptions {
            seed,
            ..Default::default()
        }
    }

    /// These options, labelled as a run against `variant`.
    pub fn variant(self, variant: Variant) -> Self {
        RunOptions { variant, ..self }
    }

    /// Reports a step of the run through `tracing`: at info level when progress is on, else at
    /// debug level. The library prints nothing itself; the command shows these as its progress.
    pub fn progress(&self, message: impl std::fmt::Display) {
        if self.progress {
            tracing::info!(target: "shakedown::run", "{message}");
        } else {
            tracing::debug!(target: "shakedown::run", "{message}");
        }
    }
}

/// One run: the history of client calls and the timeline of faults, on one clock.
///
/// A workload calls [`call`](Run::call) for every client operation (it records invoke, then ok,
/// fail or info, with times; a call that outlives [`RunOptions::call_timeout`] is `info`),
/// [`inject`](Run::inject)s nemeses (the timeline records what was done, when), and ends with
/// [`finish`](Run::finish), which runs the checkers over history and timeline.
///
/// ```
/// # #[tokio::main(flavor = "multi_thread")] async fn main() -> Result<(), shakedown::SuiteError> {
/// use shakedown::checker::{ReadYourWritesChecker, RegisterOp, RegisterValue};
/// use shakedown::history::Done;
/// use shakedown::{Run, RunOptions};
///
/// let run = Run::new("demo", RunOptions::seeded(7));
/// let write = RegisterValue::new("k", Some(1));
/// run.call(0, RegisterOp::Write, write.clone(), async { Ok(Done::new(write.clone())) }).await?;
/// run.call(0, RegisterOp::Read, RegisterValue::new("k", None), async {
///     Ok(Done::new(RegisterValue::new("k", Some(1))).served_by("replica-0"))
/// })
/// .await?;
/// let finished = run.finish(&[&ReadYourWritesChecker]);
/// assert_eq!(finished.report.anomaly("stale_read_after_own_write").unwrap(), 0);
/// assert_eq!(finished.history.len(), 4);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Run<F, V> {
    suite: &'static str,
    options: RunOptions,
    recorder: Recorder<F, V>,
    timeline: TimelineRecorder,
}

impl<F, V> Run<F, V>
where
    F: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A run of suite `suite`; its clock starts now.
    pub fn new(suite: &'static str, options: RunOptions) -> Self {
        let recorder: Recorder<F, V> = Recorder::starting_at(Instant::now());
        let position = {
            let r = recorder.clone();
            Arc::new(move || (r.len() as u64, r.now()))
        };
        Run {
            suite,
            options,
            recorder,
            timeline: TimelineRecorder::new(position),
        }
    }

    /// The suite's name.
    pub fn suite(&self) -> &'static str {
        self.suite
    }

    /// The options.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.recorder.now()
    }

    /// A random stream derived from the run's seed and `name`: the same name gives the same
    /// numbers on every run with the same seed, whatever other streams were used or in which
    /// order tasks ran (one per session, per phase …).
    pub fn rng(&self, name: &str) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.options.seed ^ fnv1a(name.as_bytes()))
    }

    /// Prints progress (when on).
    pub fn progress(&self, message: impl std::fmt::Display) {
        self.options.progress(message)
    }

    /// A [`SuiteError`] of this run's suite.
    pub fn error(
        &self,
        step: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> SuiteError {
        SuiteError::new(self.suite, step, source)
    }

    /// Performs one client operation by `process`: records the invocation (`f`, `value`), awaits
    /// `op`, and records its completion — `ok` with what [`Done`](crate::history::Done) says,
    /// `fail` for [`ClientError::Failed`], `info` for [`ClientError::Unknown`] or when `op` takes
    /// longer than the call timeout (it is then dropped: its outcome is unknown, never guessed).
    /// Returns how it ended. A process performs one operation at a time.
    pub async fn call<Fut>(
        &self,
        process: u64,
        f: F,
        value: V,
        op: Fut,
    ) -> Result<OpKind, SuiteError>
    where
        Fut: Future<Output = Result<crate::history::Done<V>, ClientError>>,
    {
        let pending = self
            .recorder
            .invoke(process, f, value.clone())
            .map_err(|e| self.error("record an operation", e))?;
        let outcome = tokio::time::timeout(self.options.call_timeout, op).await;
        let (kind, recorded) = match outcome {
            Ok(Ok(done)) => (OpKind::Ok, pending.ok(done.value, done.node)),
            Ok(Err(ClientError::Failed(e))) => (OpKind::Fail, pending.fail(value, e)),
            Ok(Err(ClientError::Unknown(e))) => (OpKind::Info, pending.info(value, e)),
            Err(_) => (
                OpKind::Info,
                pending.info(
                    value,
                    format!(
                        "timed out after {:?} (call timeout)",
                        self.options.call_timeout
                    ),
                ),
            ),
        };
        recorded.map_err(|e| self.error("record an operation", e))?;
        Ok(kind)
    }

    /// Injects `nemesis` now and records it; the guard heals it (and records the heal).
    pub async fn inject<'n>(
        &self,
        nemesis: impl Nemesis + 'n,
    ) -> Result<FaultGuard<'n>, SuiteError> {
        FaultGuard::inject(Box::new(nemesis), self.timeline.clone(), self.suite).await
    }

    /// Records a condition that holds for the whole run and is not injected by it (a node
    /// started in a time zone): in the timeline from now on, never healed.
    pub fn standing(&self, fault: Fault) {
        let id = self.timeline.allocate();
        self.timeline.record(id, FaultAction::Inject, fault);
    }

    /// The history so far.
    pub fn history(&self) -> History<F, V> {
        self.recorder.snapshot()
    }

    /// The fault timeline so far.
    pub fn timeline(&self) -> Timeline {
        self.timeline.snapshot()
    }

    /// Ends the run: judges history and timeline with every checker (a panicking checker is
    /// `unknown`), and builds the report. The variant is the one in the options.
    pub fn finish(self, checkers: &[&dyn Checker<F, V>]) -> SuiteRun<F, V>
    where
        F: Serialize,
    {
        let history = self.recorder.snapshot();
        let timeline = self.timeline.snapshot();
        let checks = checkers
            .iter()
            .map(|c| check_safe(*c, &history, &timeline))
            .collect();
        let report = Report::new(
            self.suite,
            self.options.variant,
            self.options.seed,
            ReportedFault::of(&timeline),
            WorkloadSummary::of(&history),
            checks,
        );
        SuiteRun {
            report,
            history,
            timeline,
        }
    }
}

/// FNV-1a: a stable hash of a stream name (std's hasher is not stable across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Nemesis, NemesisFuture};
    use crate::history::Done;
    use rand::Rng;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Default)]
    struct Counting {
        injected: AtomicU32,
        healed: AtomicU32,
    }

    impl Nemesis for &Counting {
        fn describe(&self) -> Fault {
            Fault::component("db", "lock_held").param("table", "orders")
        }
        fn inject(&self) -> NemesisFuture<'_> {
            self.injected.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
        fn heal(&self) -> NemesisFuture<'_> {
            self.healed.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn calls_record_outcomes_with_times_and_a_hung_call_is_unknown() {
        let run: Run<&str, u32> = Run::new(
            "t",
            RunOptions {
                call_timeout: Duration::from_millis(50),
                ..RunOptions::seeded(1)
            },
        );
        assert_eq!(
            run.call(0, "w", 1, async { Ok(Done::new(1)) })
                .await
                .unwrap(),
            OpKind::Ok
        );
        assert_eq!(
            run.call(0, "w", 2, async { Err(ClientError::Failed("no".into())) })
                .await
                .unwrap(),
            OpKind::Fail
        );
        let hung = run
            .call(
                1,
                "w",
                3,
                std::future::pending::<Result<Done<u32>, ClientError>>(),
            )
            .await
            .unwrap();
        assert_eq!(hung, OpKind::Info);
        let h = run.history();
        assert_eq!(h.len(), 6);
        let last = h.ops().last().unwrap();
        assert!(
            last.error.as_deref().unwrap().contains("timed out"),
            "{last:?}"
        );
        assert!(last.time >= Duration::from_millis(50), "{last:?}");
        let calls = h.calls();
        assert!(calls[2].duration().unwrap() >= Duration::from_millis(50));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn faults_are_placed_in_the_history_when_done_and_a_dropped_guard_heals() {
        let n = Counting::default();
        let run: Run<&str, u32> = Run::new("t", RunOptions::seeded(1));
        run.call(0, "w", 1, async { Ok(Done::new(1)) })
            .await
            .unwrap();
        let g = run.inject(&n).await.unwrap();
        run.call(0, "w", 2, async { Ok(Done::new(2)) })
            .await
            .unwrap();
        g.heal().await.unwrap();
        {
            let _dropped = run.inject(&n).await.unwrap();
        }
        run.standing(Fault::Timezone {
            target: "db".into(),
            zone: "Asia/Tokyo".into(),
        });
        assert_eq!(
            (
                n.injected.load(Ordering::SeqCst),
                n.healed.load(Ordering::SeqCst)
            ),
            (2, 2)
        );
        let t = run.timeline();
        let w = t.windows();
        assert_eq!(w.len(), 3);
        assert_eq!((w[0].injected_at_op, w[0].healed_at_op), (2, Some(4)));
        assert_eq!(w[1].healed_at_op, Some(4), "the dropped guard healed");
        assert_eq!(
            w[2].healed_at_op, None,
            "a standing condition is never healed"
        );
        let done = run.finish(&[]);
        assert_eq!(done.report.faults.len(), 3);
        assert_eq!(done.report.workload.sessions, 1);
        let json = done.to_json();
        assert_eq!(json["timeline"].as_array().unwrap().len(), 5);
        assert!(json["ops"][0]["time_ns"].is_u64());
    }

    /// Steps through three positions, then has no more.
    #[derive(Default)]
    struct Stepping {
        at: AtomicU32,
    }

    impl Nemesis for Stepping {
        fn describe(&self) -> Fault {
            Fault::component("clock", "walk")
        }
        fn inject(&self) -> NemesisFuture<'_> {
            Box::pin(async { Ok(()) })
        }
        fn heal(&self) -> NemesisFuture<'_> {
            Box::pin(async { Ok(()) })
        }
        fn step(&self) -> NemesisFuture<'_, Option<Fault>> {
            Box::pin(async {
                let n = self.at.fetch_add(1, Ordering::SeqCst);
                Ok((n < 3).then(|| Fault::component("clock", "set").param("to", n)))
            })
        }
    }

    #[tokio::test]
    async fn a_stepping_fault_records_each_step_and_stops_when_done() {
        let run: Run<&str, u32> = Run::new("t", RunOptions::seeded(1));
        let mut walk = run.inject(Stepping::default()).await.unwrap();
        let mut steps = 0;
        while walk.step().await.unwrap() {
            run.call(0, "tick", steps, async { Ok(Done::new(0)) })
                .await
                .unwrap();
            steps += 1;
        }
        walk.heal().await.unwrap();
        assert_eq!(steps, 3);
        let t = run.timeline();
        let actions: Vec<FaultAction> = t.events().iter().map(|e| e.action).collect();
        use FaultAction::*;
        assert_eq!(actions, vec![Inject, Step, Step, Step, Heal]);
        assert_eq!(
            t.events()[2].at_op,
            2,
            "the second step came after the first tick"
        );
        assert_eq!(t.windows()[0].steps, 3);
        let r = run.finish(&[]).report;
        assert_eq!(r.faults[0].steps, 3);
    }

    #[tokio::test]
    async fn a_failing_injection_is_a_suite_error_naming_the_fault_and_records_nothing() {
        struct Broken;
        impl Nemesis for Broken {
            fn describe(&self) -> Fault {
                Fault::component("pg-replica-0", "replay_paused")
            }
            fn inject(&self) -> NemesisFuture<'_> {
                Box::pin(async { Err("connection refused".into()) })
            }
            fn heal(&self) -> NemesisFuture<'_> {
                Box::pin(async { Ok(()) })
            }
        }
        let run: Run<&str, u32> = Run::new("demo", RunOptions::seeded(1));
        let e = run.inject(Broken).await.unwrap_err().to_string();
        assert!(
            e.contains("demo")
                && e.contains("replay_paused on pg-replica-0")
                && e.contains("refused"),
            "{e}"
        );
        assert!(run.timeline().is_empty());
    }

    #[test]
    fn named_streams_depend_on_seed_and_name_only() {
        let a: Run<&str, u32> = Run::new("t", RunOptions::seeded(3));
        let b: Run<&str, u32> = Run::new("t", RunOptions::seeded(3));
        let _ = b.rng("other").random::<u64>();
        assert_eq!(a.rng("s1").random::<u64>(), b.rng("s1").random::<u64>());
        assert_ne!(a.rng("s1").random::<u64>(), a.rng("s2").random::<u64>());
        let c: Run<&str, u32> = Run::new("t", RunOptions::seeded(4));
        assert_ne!(a.rng("s1").random::<u64>(), c.rng("s1").random::<u64>());
    }
}
