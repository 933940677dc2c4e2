use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::{Deserialize, Serialize};

use crate::history::History;

/// A verdict, ranked as jepsen does: `Invalid` beats `Unknown` beats `Valid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// No anomaly found.
    Valid,
    /// The checker could not decide (it panicked, or the history was too thin).
    Unknown,
    /// At least one anomaly.
    Invalid,
}

/// How many times an anomaly happened: exact, or a bound where the scenario cannot make it exact.
///
/// Serialises as a plain number, or as `{ at_least: n }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Count {
    /// Exactly this many.
    Exact(u64),
    /// At least this many.
    AtLeast {
        /// The lower bound.
        at_least: u64,
    },
}

impl Count {
    /// The exact count, or the lower bound.
    pub fn floor(&self) -> u64 {
        match *self {
            Count::Exact(n) | Count::AtLeast { at_least: n } => n,
        }
    }
}

/// What one checker found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The checker's name.
    pub checker: String,
    /// Its verdict.
    pub validity: Validity,
    /// Anomaly class → count. Classes with zero occurrences are listed too, so a snapshot shows
    /// what was looked for.
    pub anomalies: BTreeMap<String, Count>,
    /// Facts the checker counted that are not anomalies (reads checked …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counted: BTreeMap<String, u64>,
}

impl CheckResult {
    /// A result whose validity follows from its anomalies: invalid if any is above zero.
    pub fn from_anomalies(
        checker: &str,
        anomalies: BTreeMap<String, Count>,
        counted: BTreeMap<String, u64>,
    ) -> Self {
        let validity = if anomalies.values().any(|c| c.floor() > 0) {
            Validity::Invalid
        } else {
            Validity::Valid
        };
        CheckResult {
            checker: checker.to_string(),
            validity,
            anomalies,
            counted,
        }
    }

    /// The count of one anomaly class (0 when absent).
    pub fn anomaly(&self, class: &str) -> u64 {
        self.anomalies.get(class).map_or(0, Count::floor)
    }
}

/// A pure judgement over a history.
pub trait Checker<F, V> {
    /// A stable name, used in reports.
    fn name(&self) -> &str;
    /// Judges the history. Must not panic on any well-formed history; [`check_safe`] guards
    /// against it anyway.
    fn check(&self, history: &History<F, V>) -> CheckResult;
}

/// Runs a checker, turning a panic into an `Unknown` verdict.
pub fn check_safe<F, V>(checker: &dyn Checker<F, V>, history: &History<F, V>) -> CheckResult {
    match catch_unwind(AssertUnwindSafe(|| checker.check(history))) {
        Ok(r) => r,
        Err(_) => CheckResult {
            checker: checker.name().to_string(),
            validity: Validity::Unknown,
            anomalies: BTreeMap::new(),
            counted: BTreeMap::new(),
        },
    }
}

/// The overall verdict of several results (the worst one; `Valid` for none).
pub fn compose<'a>(results: impl IntoIterator<Item = &'a CheckResult>) -> Validity {
    results
        .into_iter()
        .map(|r| r.validity)
        .max()
        .unwrap_or(Validity::Valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Panics;
    impl Checker<(), ()> for Panics {
        fn name(&self) -> &str {
            "panics"
        }
        fn check(&self, _: &History<(), ()>) -> CheckResult {
            panic!("checker bug")
        }
    }

    #[test]
    fn a_panicking_checker_is_unknown_and_invalid_outranks_it() {
        let r = check_safe(&Panics, &History::new());
        assert_eq!(r.validity, Validity::Unknown);
        let bad = CheckResult::from_anomalies(
            "x",
            [("a".into(), Count::Exact(2))].into(),
            Default::default(),
        );
        let good = CheckResult::from_anomalies(
            "y",
            [("a".into(), Count::Exact(0))].into(),
            Default::default(),
        );
        assert_eq!(bad.validity, Validity::Invalid);
        assert_eq!(good.validity, Validity::Valid);
        assert_eq!(compose([&good, &r]), Validity::Unknown);
        assert_eq!(compose([&good, &r, &bad]), Validity::Invalid);
        assert_eq!(compose([]), Validity::Valid);
    }

    #[test]
    fn counts_serialise_as_number_or_bound() {
        assert_eq!(serde_json::to_string(&Count::Exact(3)).unwrap(), "3");
        assert_eq!(
            serde_json::to_string(&Count::AtLeast { at_least: 1 }).unwrap(),
            r#"{"at_least":1}"#
        );
    }
}
