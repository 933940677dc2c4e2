//! Versioned registers: one value per key, each write carrying a version that grows per key.
//! The model behind read-your-writes and monotonic-read checks (replica lag, inconsistent reads).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{CheckResult, Checker};
use crate::fault::Timeline;
use crate::history::{History, OpKind};

/// An operation on a versioned register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterOp {
    /// Write `version` to `key`.
    Write,
    /// Read `key`; the completion carries the version seen (`None`: not found).
    Read,
}

/// The value of a register operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterValue {
    /// The register.
    pub key: String,
    /// The version written, or read (`None`: the key was not found, or a read not yet answered).
    pub version: Option<u64>,
}

impl RegisterValue {
    /// `key` at `version`.
    pub fn new(key: impl Into<String>, version: Option<u64>) -> Self {
        RegisterValue {
            key: key.into(),
            version,
        }
    }
}

/// Checks session guarantees on versioned registers:
///
/// - `stale_read_after_own_write`: a session read a key and saw a version older than the last one
///   that session itself wrote successfully (or nothing at all);
/// - `non_monotonic_read`: a session read a key and saw a version older than one it had already
///   read.
///
/// Writes whose outcome is unknown (`info`) or failed do not raise the expectation. Reads that
/// failed are counted (`reads_failed`), not judged.
///
/// ```
/// use shakedown::checker::{Checker, ReadYourWritesChecker, RegisterOp, RegisterValue};
/// use shakedown::fault::Timeline;
/// use shakedown::history::{build::*, History};
///
/// let mut h = History::new();
/// invoke(&mut h, 1, RegisterOp::Write, RegisterValue::new("k", Some(1)));
/// ok(&mut h, 1, RegisterValue::new("k", Some(1)));
/// invoke(&mut h, 1, RegisterOp::Read, RegisterValue::new("k", None));
/// ok(&mut h, 1, RegisterValue::new("k", None)); // own write not visible
/// let r = ReadYourWritesChecker.check(&h, &Timeline::default());
/// assert_eq!(r.anomaly("stale_read_after_own_write"), Some(1));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadYourWritesChecker;

impl Checker<RegisterOp, RegisterValue> for ReadYourWritesChecker {
    fn name(&self) -> &str {
        "read_your_writes"
    }

    fn check(&self, history: &History<RegisterOp, RegisterValue>, _: &Timeline) -> CheckResult {
        // (process, key) -> highest version acknowledged to that session.
        // Each with the index of the completion that set it (for the examples).
        let mut written: HashMap<(u64, &str), (u64, u64)> = HashMap::new();
        let mut seen: HashMap<(u64, &str), (u64, u64)> = HashMap::new();
        let (mut stale, mut non_monotonic, mut reads, mut failed) = (0u64, 0u64, 0u64, 0u64);
        let mut result = CheckResult::builder(self.name());
        for (inv, done) in history.pairs() {
            let Some(done) = done else { continue };
            let key = (inv.process, inv.value.key.as_str());
            match (inv.f, done.kind) {
                (RegisterOp::Write, OpKind::Ok) => {
                    if let Some(v) = inv.value.version {
                        raise(&mut written, key, v, done.index);
                    }
                }
                (RegisterOp::Read, OpKind::Ok) => {
                    reads += 1;
                    let got = done.value.version;
                    if let Some(&(want, at)) = written.get(&key) {
                        if got.is_none_or(|g| g < want) {
                            stale += 1;
                            result = result.example(
                                "stale_read_after_own_write",
                                &[at, inv.index, done.index],
                            );
                        }
                    }
                    if let Some(&(before, at)) = seen.get(&key) {
                        if got.is_none_or(|g| g < before) {
                            non_monotonic += 1;
                            result =
                                result.example("non_monotonic_read", &[at, inv.index, done.index]);
                        }
                    }
                    if let Some(g) = got {
                        raise(&mut seen, key, g, done.index);
                    }
                }
                (RegisterOp::Read, _) => failed += 1,
                _ => {}
            }
        }
        result
            .anomaly("stale_read_after_own_write", stale)
            .anomaly("non_monotonic_read", non_monotonic)
            .counted("reads_checked", reads)
            .counted("reads_failed", failed)
            .phrase(
                "stale_read_after_own_write",
                Some("reads_checked"),
                "reads after the user's own write returned an older version",
            )
            .phrase(
                "non_monotonic_read",
                Some("reads_checked"),
                "reads went back to a version older than one the session had already seen",
            )
            .build()
    }
}

/// Raises `key`'s version to `v` (remembering the completion `at` that showed it).
fn raise<'a>(map: &mut HashMap<(u64, &'a str), (u64, u64)>, key: (u64, &'a str), v: u64, at: u64) {
    let e = map.entry(key).or_insert((v, at));
    if v > e.0 {
        *e = (v, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::history::build::*;

    fn v(key: &str, version: Option<u64>) -> RegisterValue {
        RegisterValue::new(key, version)
    }

    fn write(h: &mut History<RegisterOp, RegisterValue>, p: u64, key: &str, ver: u64) {
        invoke(h, p, RegisterOp::Write, v(key, Some(ver)));
        ok(h, p, v(key, Some(ver)));
    }

    fn read(h: &mut History<RegisterOp, RegisterValue>, p: u64, key: &str, got: Option<u64>) {
        invoke(h, p, RegisterOp::Read, v(key, None));
        ok(h, p, v(key, got));
    }

    #[test]
    fn reading_own_latest_write_is_valid() {
        let mut h = History::new();
        write(&mut h, 1, "a", 1);
        read(&mut h, 1, "a", Some(1));
        write(&mut h, 1, "a", 2);
        read(&mut h, 1, "a", Some(2));
        let r = ReadYourWritesChecker.check(&h, &Timeline::default());
        assert_eq!(r.validity, Validity::Valid);
        assert_eq!(r.counted["reads_checked"], 2);
    }

    #[test]
    fn missing_or_older_version_after_own_write_is_stale() {
        let mut h = History::new();
        write(&mut h, 1, "a", 1);
        read(&mut h, 1, "a", None);
        write(&mut h, 1, "a", 2);
        read(&mut h, 1, "a", Some(1));
        read(&mut h, 1, "a", Some(3)); // newer than own write: fine
        let r = ReadYourWritesChecker.check(&h, &Timeline::default());
        assert_eq!(r.anomaly("stale_read_after_own_write"), Some(2));
        assert_eq!(r.validity, Validity::Invalid);
        // Each example: the write's completion, the read's invocation and completion.
        assert_eq!(
            r.examples["stale_read_after_own_write"],
            vec![vec![1, 2, 3], vec![5, 6, 7]]
        );
    }

    #[test]
    fn other_sessions_writes_and_unknown_writes_set_no_expectation() {
        let mut h = History::new();
        write(&mut h, 1, "a", 5);
        read(&mut h, 2, "a", None); // session 2 never wrote "a"
        invoke(&mut h, 2, RegisterOp::Write, v("b", Some(1)));
        info(&mut h, 2, v("b", Some(1)));
        read(&mut h, 2, "b", None);
        invoke(&mut h, 2, RegisterOp::Read, v("a", None));
        fail(&mut h, 2, v("a", None));
        let r = ReadYourWritesChecker.check(&h, &Timeline::default());
        assert_eq!(r.anomaly("stale_read_after_own_write"), Some(0));
        assert_eq!(r.counted["reads_failed"], 1);
    }

    #[test]
    fn going_back_to_an_older_version_is_non_monotonic() {
        let mut h = History::new();
        read(&mut h, 3, "a", Some(2));
        read(&mut h, 3, "a", Some(1));
        read(&mut h, 3, "a", None);
        read(&mut h, 3, "a", Some(2));
        let r = ReadYourWritesChecker.check(&h, &Timeline::default());
        assert_eq!(r.anomaly("non_monotonic_read"), Some(2));
        assert_eq!(
            r.examples["non_monotonic_read"],
            vec![vec![1, 2, 3], vec![1, 4, 5]]
        );
        assert_eq!(r.anomaly("stale_read_after_own_write"), Some(0));
    }
}
