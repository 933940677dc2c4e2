//! Staleness of each read of a versioned register, and [`SessionChecker`]: the session
//! guarantees of [`ReadYourWritesChecker`] with how stale every read was, in versions and in time.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::{CheckResult, Checker, ReadYourWritesChecker, RegisterOp, RegisterValue};
use crate::fault::Timeline;
use crate::history::{History, OpKind};

/// How stale one successful read was, against the writes acknowledged (to any session) before
/// the read started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadStaleness {
    /// The reading session.
    pub process: u64,
    /// The register.
    pub key: String,
    /// History index of the read's completion.
    pub index: u64,
    /// The version it returned (`None`: not found).
    pub got: Option<u64>,
    /// The newest version acknowledged before the read started.
    pub latest: Option<u64>,
    /// Acknowledged versions it missed (`latest − got`, a missing key counting as version 0).
    pub versions_behind: u64,
    /// How long what it returned had already been superseded when the read started: from the
    /// acknowledgement of the first newer version to the read's invocation (zero when fresh).
    pub behind: Duration,
    /// Which node served it, when known.
    pub node: Option<String>,
}

impl ReadStaleness {
    /// Whether it missed an acknowledged write.
    pub fn is_stale(&self) -> bool {
        self.versions_behind > 0
    }
}

/// The staleness of every successful read in `history`, in completion order.
///
/// ```
/// use std::time::Duration;
/// use shakedown::checker::{read_staleness, RegisterOp, RegisterValue};
/// use shakedown::history::{build::*, History, OpKind};
///
/// let ms = Duration::from_millis;
/// let mut h = History::new();
/// invoke_at(&mut h, ms(0), 1, RegisterOp::Write, RegisterValue::new("k", Some(1)));
/// complete_at(&mut h, ms(10), 1, OpKind::Ok, RegisterValue::new("k", Some(1)));
/// invoke_at(&mut h, ms(250), 2, RegisterOp::Read, RegisterValue::new("k", None));
/// complete_at(&mut h, ms(260), 2, OpKind::Ok, RegisterValue::new("k", None));
/// let s = &read_staleness(&h)[0];
/// assert_eq!((s.versions_behind, s.behind), (1, ms(240)));
/// ```
pub fn read_staleness(history: &History<RegisterOp, RegisterValue>) -> Vec<ReadStaleness> {
    // key -> (version, acknowledged at), for every acknowledged write.
    let mut acked: HashMap<&str, Vec<(u64, Duration)>> = HashMap::new();
    let calls = history.calls();
    for c in &calls {
        if let (RegisterOp::Write, Some(done), Some(v)) =
            (c.invoke.f, c.completion, c.invoke.value.version)
        {
            if done.kind == OpKind::Ok {
                acked
                    .entry(c.invoke.value.key.as_str())
                    .or_default()
                    .push((v, done.time));
            }
        }
    }
    let mut out = Vec::new();
    for c in &calls {
        let Some(done) = c.completion else { continue };
        if c.invoke.f != RegisterOp::Read || done.kind != OpKind::Ok {
            continue;
        }
        let key = c.invoke.value.key.as_str();
        let started = c.invoke.time;
        let before: Vec<(u64, Duration)> = acked
            .get(key)
            .map(|w| w.iter().copied().filter(|(_, t)| *t <= started).collect())
            .unwrap_or_default();
        let latest = before.iter().map(|(v, _)| *v).max();
        let got = done.value.version;
        let floor = got.unwrap_or(0);
        let superseded = before
            .iter()
            .filter(|(v, _)| *v > floor)
            .map(|(_, t)| *t)
            .min();
        out.push(ReadStaleness {
            process: c.invoke.process,
            key: key.to_string(),
            index: done.index,
            got,
            latest,
            versions_behind: latest.unwrap_or(0).saturating_sub(floor),
            behind: superseded.map_or(Duration::ZERO, |t| started.saturating_sub(t)),
            node: done.node.clone(),
        });
    }
    out
}

/// Session guarantees on versioned registers, with staleness: the anomalies of
/// [`ReadYourWritesChecker`] (`stale_read_after_own_write`, `non_monotonic_read`), and, counted,
/// the reads that missed any acknowledged write (`stale_reads`, another session's included) and
/// the most versions one read missed (`max_versions_behind`). The time each read was behind is
/// in [`read_staleness`] (a wall time: it belongs in assertions on bounds, not in snapshots).
///
/// ```
/// use shakedown::checker::{Checker, RegisterOp, RegisterValue, SessionChecker};
/// use shakedown::fault::Timeline;
/// use shakedown::history::{build::*, History};
///
/// let mut h = History::new();
/// invoke(&mut h, 1, RegisterOp::Write, RegisterValue::new("k", Some(2)));
/// ok(&mut h, 1, RegisterValue::new("k", Some(2)));
/// invoke(&mut h, 2, RegisterOp::Read, RegisterValue::new("k", None));
/// ok(&mut h, 2, RegisterValue::new("k", None)); // another session: stale, but no guarantee broken
/// let r = SessionChecker.check(&h, &Timeline::default());
/// assert_eq!(r.anomaly("stale_read_after_own_write"), Some(0));
/// assert_eq!((r.counted["stale_reads"], r.counted["max_versions_behind"]), (1, 2));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionChecker;

impl Checker<RegisterOp, RegisterValue> for SessionChecker {
    fn name(&self) -> &str {
        "session_guarantees"
    }

    fn check(
        &self,
        history: &History<RegisterOp, RegisterValue>,
        timeline: &Timeline,
    ) -> CheckResult {
        let base = ReadYourWritesChecker.check(history, timeline);
        let staleness = read_staleness(history);
        let mut b = CheckResult::builder(self.name());
        for (class, count) in &base.anomalies {
            b = b.anomaly(class.clone(), count.floor());
        }
        for (name, n) in &base.counted {
            b = b.counted(name.clone(), *n);
        }
        for (class, examples) in &base.examples {
            for ops in examples {
                b = b.example(class.clone(), ops);
            }
        }
        for (class, p) in &base.phrases {
            b = b.phrase(class.clone(), p.of.as_deref(), p.text.clone());
        }
        b.counted(
            "stale_reads",
            staleness.iter().filter(|s| s.is_stale()).count() as u64,
        )
        .counted(
            "max_versions_behind",
            staleness
                .iter()
                .map(|s| s.versions_behind)
                .max()
                .unwrap_or(0),
        )
        .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::history::build::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn v(version: Option<u64>) -> RegisterValue {
        RegisterValue::new("k", version)
    }

    #[test]
    fn staleness_counts_versions_missed_and_time_since_superseded() {
        let mut h = History::new();
        // Session 1 writes v1 (acked at 10 ms) and v2 (acked at 110 ms).
        invoke_at(&mut h, ms(0), 1, RegisterOp::Write, v(Some(1)));
        complete_at(&mut h, ms(10), 1, OpKind::Ok, v(Some(1)));
        invoke_at(&mut h, ms(100), 1, RegisterOp::Write, v(Some(2)));
        // A read overlapping v2's write: only v1 was acknowledged when it started.
        invoke_at(&mut h, ms(105), 2, RegisterOp::Read, v(None));
        complete_at(&mut h, ms(110), 1, OpKind::Ok, v(Some(2)));
        complete_at(&mut h, ms(115), 2, OpKind::Ok, v(Some(1)));
        // Nothing at 300 ms: both versions missed, superseded since v1's ack.
        invoke_at(&mut h, ms(300), 2, RegisterOp::Read, v(None));
        complete_at(&mut h, ms(301), 2, OpKind::Ok, v(None));
        // v1 at 400 ms: one missed, superseded since v2's ack.
        invoke_at(&mut h, ms(400), 1, RegisterOp::Read, v(None));
        complete_at(&mut h, ms(401), 1, OpKind::Ok, v(Some(1)));
        // A failed read is not judged.
        invoke_at(&mut h, ms(500), 1, RegisterOp::Read, v(None));
        complete_at(&mut h, ms(501), 1, OpKind::Fail, v(None));
        let s = read_staleness(&h);
        let got: Vec<(u64, u64, Duration)> = s
            .iter()
            .map(|r| (r.process, r.versions_behind, r.behind))
            .collect();
        assert_eq!(
            got,
            vec![(2, 0, ms(0)), (2, 2, ms(290)), (1, 1, ms(290))],
            "{s:#?}"
        );
        assert_eq!(s[1].latest, Some(2));
        let r = SessionChecker.check(&h, &Timeline::default());
        assert_eq!(r.anomaly("stale_read_after_own_write"), Some(1));
        assert_eq!(r.anomaly("non_monotonic_read"), Some(1), "v1, then nothing");
        assert_eq!(r.counted["stale_reads"], 2);
        assert_eq!(r.counted["max_versions_behind"], 2);
        assert_eq!(r.counted["reads_failed"], 1);
        assert_eq!(r.validity, Validity::Invalid);
        // Read-your-writes' examples and phrases carry over.
        assert!(
            !r.examples["non_monotonic_read"].is_empty(),
            "{:?}",
            r.examples
        );
        assert!(r.sentence("stale_read_after_own_write").is_some());
    }

    #[test]
    fn unacknowledged_writes_make_no_read_stale() {
        let mut h = History::new();
        invoke(&mut h, 1, RegisterOp::Write, v(Some(1)));
        info(&mut h, 1, v(Some(1)));
        invoke(&mut h, 2, RegisterOp::Write, v(Some(2)));
        fail(&mut h, 2, v(Some(2)));
        invoke(&mut h, 3, RegisterOp::Read, v(None));
        ok(&mut h, 3, v(None));
        let r = SessionChecker.check(&h, &Timeline::default());
        assert_eq!(r.validity, Validity::Valid);
        assert_eq!(
            (r.counted["stale_reads"], r.counted["max_versions_behind"]),
            (0, 0)
        );
        assert!(read_staleness(&h).iter().all(|s| s.latest.is_none()));
    }
}
