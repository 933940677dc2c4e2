//! A hand-made run folder: a replica-lag-like naive run (four sessions writing and reading their
//! own profile under two faults, some reads stale, one failed write, one timed-out read, one
//! call that never completed), a hardened run of the same shape, and a run that could not
//! finish.

use std::path::PathBuf;
use std::time::Duration;

use shakedown::checker::{Checker, ReadYourWritesChecker, RegisterOp, RegisterValue};
use shakedown::fault::{Fault, FaultAction, FaultEvent, Timeline};
use shakedown::history::{History, OpKind};
use shakedown::report::{write_run, Report, ReportedFault, RunArtifacts, WorkloadSummary};
use shakedown::{SuiteRun, Variant};

/// Calls in each sample history (bars in its timeline).
pub const CALLS: usize = ROUNDS * SESSIONS * 2 + 1;
const ROUNDS: usize = 12;
const SESSIONS: usize = 4;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Event {
    at: Duration,
    process: u64,
    step: Step,
}

enum Step {
    Invoke(RegisterOp, RegisterValue),
    Done(
        OpKind,
        RegisterValue,
        Option<&'static str>,
        Option<&'static str>,
    ),
}

fn history(naive: bool) -> History<RegisterOp, RegisterValue> {
    let mut events = Vec::new();
    for r in 0..ROUNDS as u64 {
        for p in 0..SESSIONS as u64 {
            let key = format!("user-{p}");
            let t = ms(r * 500 + p * 100);
            let version = r + 1;
            let faulty = t >= ms(1000) && t < ms(5000);
            let write = RegisterValue::new(&key, Some(version));
            events.push(Event {
                at: t,
                process: p,
                step: Step::Invoke(RegisterOp::Write, write.clone()),
            });
            let write_fails = p == 1 && r == 7;
            let done = if write_fails {
                Step::Done(
                    OpKind::Fail,
                    write,
                    Some("primary"),
                    Some("connection reset by peer"),
                )
            } else {
                Step::Done(OpKind::Ok, write, Some("primary"), None)
            };
            events.push(Event {
                at: t + ms(20),
                process: p,
                step: done,
            });
            events.push(Event {
                at: t + ms(40),
                process: p,
                step: Step::Invoke(RegisterOp::Read, RegisterValue::new(&key, None)),
            });
            let (took, done) = if p == 3 && r == 5 {
                (
                    300,
                    Step::Done(
                        OpKind::Info,
                        RegisterValue::new(&key, None),
                        None,
                        Some("timed out after 300ms"),
                    ),
                )
            } else if faulty && p % 2 == 0 && naive {
                let seen = if r == 2 { None } else { Some(version - 1) };
                (
                    25,
                    Step::Done(
                        OpKind::Ok,
                        RegisterValue::new(&key, seen),
                        Some("pg-replica-0"),
                        None,
                    ),
                )
            } else if faulty && !naive {
                (
                    60,
                    Step::Done(
                        OpKind::Ok,
                        RegisterValue::new(&key, Some(version)),
                        Some("primary"),
                        None,
                    ),
                )
            } else {
                let seen = if write_fails { version - 1 } else { version };
                (
                    15,
                    Step::Done(
                        OpKind::Ok,
                        RegisterValue::new(&key, Some(seen)),
                        Some("pg-replica-0"),
                        None,
                    ),
                )
            };
            events.push(Event {
                at: t + ms(40 + took),
                process: p,
                step: done,
            });
        }
    }
    let end = ms(ROUNDS as u64 * 500);
    events.push(Event {
        at: end,
        process: 3,
        step: Step::Invoke(RegisterOp::Read, RegisterValue::new("user-3", None)),
    });
    events.sort_by_key(|e| e.at);
    let mut h = History::new();
    for e in events {
        match e.step {
            Step::Invoke(f, v) => {
                h.invoke(e.process, e.at, f, v).unwrap();
            }
            Step::Done(kind, v, node, error) => {
                h.complete(
                    e.process,
                    e.at,
                    kind,
                    v,
                    node.map(Into::into),
                    error.map(Into::into),
                )
                .unwrap();
            }
        }
    }
    h
}

fn timeline(h: &History<RegisterOp, RegisterValue>) -> Timeline {
    let at_op = |t: Duration| h.ops().iter().filter(|o| o.time < t).count() as u64;
    let delay = Fault::component("pg-replica-0", "replica_apply_delay").param("delay_ms", 3000);
    let paused = Fault::component("pg-replica-0", "replay_paused");
    let event = |fault_id, t: u64, action, fault: &Fault| FaultEvent {
        fault_id,
        at_op: at_op(ms(t)),
        time: ms(t),
        action,
        fault: fault.clone(),
    };
    Timeline::from_events(vec![
        event(0, 1000, FaultAction::Inject, &delay),
        event(0, 3500, FaultAction::Heal, &delay),
        event(1, 3500, FaultAction::Inject, &paused),
        event(1, 5000, FaultAction::Heal, &paused),
    ])
}

fn suite_run(variant: Variant) -> RunArtifacts {
    let history = history(variant == Variant::Naive);
    let timeline = timeline(&history);
    let check = ReadYourWritesChecker.check(&history, &timeline);
    let report = Report::new(
        "replica_lag",
        variant,
        7,
        ReportedFault::of(&timeline),
        WorkloadSummary::of(&history),
        vec![check],
    );
    let run = SuiteRun {
        report,
        history,
        timeline,
    };
    RunArtifacts {
        suite: "replica_lag".into(),
        variant: variant.to_string(),
        report: Some(run.report.clone()),
        history: Some(run.to_json()),
        expected: variant.expected(),
        error: None,
        duration: Some(Duration::from_millis(21_400)),
    }
}

/// Writes the sample runs into a fresh folder named after `name`; returns it.
pub fn write_report(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shakedown-browser-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let failed = RunArtifacts {
        suite: "clock_skew".into(),
        variant: "naive".into(),
        report: None,
        history: None,
        expected: Variant::Naive.expected(),
        error: Some("suite `clock_skew` could not start the issuer: image `shakedown/runtime` is missing; build it with `shakedown images build`".into()),
        duration: Some(Duration::from_millis(800)),
    };
    write_run(
        &dir,
        &[
            suite_run(Variant::Naive),
            suite_run(Variant::Hardened),
            failed,
        ],
    )
    .expect("write the sample report");
    dir
}
