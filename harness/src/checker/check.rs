use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::{Deserialize, Serialize};

use crate::fault::Timeline;
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

impl Validity {
    /// `valid`, `unknown` or `invalid`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Unknown => "unknown",
            Validity::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for Validity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// Anomaly class → count. Every class the checker looks for is listed, zero or not, so a
    /// snapshot shows what was looked for (and asking for another is an error).
    pub anomalies: BTreeMap<String, Count>,
    /// Facts the checker counted that are not anomalies (reads checked …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counted: BTreeMap<String, u64>,
    /// Observations that do not decide the verdict (good practice seen or missed, why a verdict
    /// is unknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Anomaly class → examples (up to [`CheckResultBuilder::MAX_EXAMPLES`] each), each the history indices of the operations that show one
    /// occurrence (the write, then the stale read …). Not serialised with the report: examples
    /// depend on scheduling, so they would break snapshots; [`SuiteRun::to_json`] writes them
    /// into the run's `history.json` instead.
    ///
    /// [`SuiteRun::to_json`]: crate::SuiteRun::to_json
    #[serde(skip)]
    pub examples: BTreeMap<String, Vec<Vec<u64>>>,
    /// Anomaly class → how to say it to a person ([`CheckResultBuilder::phrase`]). Kept out of
    /// the serialised report like the examples (so snapshots do not change with wording);
    /// [`SuiteRun::to_json`] writes them into `history.json`.
    ///
    /// [`SuiteRun::to_json`]: crate::SuiteRun::to_json
    #[serde(skip)]
    pub phrases: BTreeMap<String, Phrase>,
}

/// How one anomaly class reads in the verdict sentence: `{n} of {counted[of]} {text}` (`12 of 48
/// reads after the user's own write returned an older profile`: `text` a clause in the plural),
/// or `{text}: {n}` without `of` (`expired tokens accepted: 3`: `text` a noun phrase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phrase {
    /// The counted fact the count is a share of (`reads_checked`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    /// The words after the numbers, in the plural.
    pub text: String,
}

impl Phrase {
    /// The phrase with count `n`, taking the total from `counted`.
    pub fn say(&self, n: Count, counted: &BTreeMap<String, u64>) -> String {
        let n = match n {
            Count::Exact(n) => n.to_string(),
            Count::AtLeast { at_least } => format!("at least {at_least}"),
        };
        match self.of.as_ref().and_then(|k| counted.get(k)) {
            Some(total) => format!("{n} of {total} {}", self.text),
            None => format!("{}: {n}", self.text),
        }
    }
}

impl CheckResult {
    /// Starts a result for checker `checker`.
    ///
    /// ```
    /// use shakedown::checker::{CheckResult, Validity};
    /// let r = CheckResult::builder("read_your_writes")
    ///     .anomaly("stale_read_after_own_write", 2)
    ///     .anomaly("non_monotonic_read", 0)
    ///     .counted("reads_checked", 48)
    ///     .build();
    /// assert_eq!(r.validity, Validity::Invalid);
    /// assert_eq!(r.anomaly("stale_read_after_own_write"), Some(2));
    /// assert_eq!(r.anomaly("stale_raed"), None, "a class nobody declared");
    /// ```
    pub fn builder(checker: impl Into<String>) -> CheckResultBuilder {
        CheckResultBuilder {
            result: CheckResult {
                checker: checker.into(),
                validity: Validity::Valid,
                anomalies: BTreeMap::new(),
                counted: BTreeMap::new(),
                notes: Vec::new(),
                examples: BTreeMap::new(),
                phrases: BTreeMap::new(),
            },
            unknown: false,
        }
    }

    /// The count (or lower bound) of one anomaly class; `None` when this checker does not
    /// declare that class.
    pub fn anomaly(&self, class: &str) -> Option<u64> {
        self.anomalies.get(class).map(Count::floor)
    }

    /// Anomaly `class` as its phrase says it (`12 of 48 reads … returned an older profile`);
    /// `None` without a phrase or a count.
    pub fn sentence(&self, class: &str) -> Option<String> {
        let phrase = self.phrases.get(class)?;
        Some(phrase.say(*self.anomalies.get(class)?, &self.counted))
    }

    /// An `Unknown` result: the checker could not decide, for `why`.
    pub fn unknown(checker: impl Into<String>, why: impl Into<String>) -> Self {
        CheckResult::builder(checker).undecided(why).build()
    }
}

/// Builds a [`CheckResult`]; the validity follows from the anomalies: invalid if any is above
/// zero, else unknown if [`undecided`](CheckResultBuilder::undecided), else valid.
#[derive(Debug, Clone)]
#[must_use = "call build() to get the result"]
pub struct CheckResultBuilder {
    result: CheckResult,
    unknown: bool,
}

impl CheckResultBuilder {
    /// Declares an anomaly class with its exact count (zero included).
    pub fn anomaly(mut self, class: impl Into<String>, count: u64) -> Self {
        self.result
            .anomalies
            .insert(class.into(), Count::Exact(count));
        self
    }

    /// Declares an anomaly class with a lower bound (the scenario cannot make it exact).
    pub fn anomaly_at_least(mut self, class: impl Into<String>, at_least: u64) -> Self {
        self.result
            .anomalies
            .insert(class.into(), Count::AtLeast { at_least });
        self
    }

    /// Records a counted fact that is not an anomaly.
    pub fn counted(mut self, name: impl Into<String>, n: u64) -> Self {
        self.result.counted.insert(name.into(), n);
        self
    }

    /// Adds `n` to a counted fact (starting from zero).
    pub fn add_counted(mut self, name: impl Into<String>, n: u64) -> Self {
        *self.result.counted.entry(name.into()).or_default() += n;
        self
    }

    /// Adds a note that does not decide the verdict.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.result.notes.push(note.into());
        self
    }

    /// Keeps one example of anomaly `class`: the history indices of the operations that show it
    /// (for a stale read: the session's write, then the read). At most
    /// [`MAX_EXAMPLES`](CheckResultBuilder::MAX_EXAMPLES) are kept per class; the count is
    /// declared with [`anomaly`](CheckResultBuilder::anomaly) as before.
    ///
    /// ```
    /// use shakedown::checker::CheckResult;
    /// let r = CheckResult::builder("read_your_writes")
    ///     .anomaly("stale_read_after_own_write", 1)
    ///     .example("stale_read_after_own_write", &[3, 7])
    ///     .build();
    /// assert_eq!(r.examples["stale_read_after_own_write"], vec![vec![3, 7]]);
    /// ```
    pub fn example(mut self, class: impl Into<String>, ops: &[u64]) -> Self {
        let kept = self.result.examples.entry(class.into()).or_default();
        if kept.len() < Self::MAX_EXAMPLES {
            kept.push(ops.to_vec());
        }
        self
    }

    /// Examples kept per anomaly class.
    pub const MAX_EXAMPLES: usize = 200;

    /// Says anomaly `class` in words for the verdict sentence: `{n} of {counted[of]} {text}`
    /// when `of` names a counted fact, else `{text}: {n}` (see [`Phrase`]). Classes without a phrase read as
    /// `{n} × {class in words}`.
    ///
    /// ```
    /// use shakedown::checker::CheckResult;
    /// let r = CheckResult::builder("read_your_writes")
    ///     .anomaly("stale_read_after_own_write", 12)
    ///     .counted("reads_checked", 48)
    ///     .phrase("stale_read_after_own_write", Some("reads_checked"), "reads after the user's own write returned an older profile")
    ///     .build();
    /// assert_eq!(
    ///     r.sentence("stale_read_after_own_write").as_deref(),
    ///     Some("12 of 48 reads after the user's own write returned an older profile")
    /// );
    /// ```
    pub fn phrase(
        mut self,
        class: impl Into<String>,
        of: Option<&str>,
        text: impl Into<String>,
    ) -> Self {
        self.result.phrases.insert(
            class.into(),
            Phrase {
                of: of.map(str::to_string),
                text: text.into(),
            },
        );
        self
    }

    /// Marks the result undecided (`Unknown` unless an anomaly makes it invalid), with why.
    pub fn undecided(mut self, why: impl Into<String>) -> Self {
        self.unknown = true;
        self.result.notes.push(why.into());
        self
    }

    /// The result.
    pub fn build(mut self) -> CheckResult {
        self.result.validity = if self.result.anomalies.values().any(|c| c.floor() > 0) {
            Validity::Invalid
        } else if self.unknown {
            Validity::Unknown
        } else {
            Validity::Valid
        };
        self.result
    }
}

/// A pure judgement over a history and the faults that were in force (jepsen's checker).
pub trait Checker<F, V> {
    /// A stable name, used in reports.
    fn name(&self) -> &str;
    /// Judges the history, knowing when each fault was injected and healed. Must not panic on
    /// any well-formed history; [`check_safe`] guards against it anyway.
    fn check(&self, history: &History<F, V>, timeline: &Timeline) -> CheckResult;
}

/// Runs a checker, turning a panic into an `Unknown` verdict.
pub fn check_safe<F, V>(
    checker: &dyn Checker<F, V>,
    history: &History<F, V>,
    timeline: &Timeline,
) -> CheckResult {
    match catch_unwind(AssertUnwindSafe(|| checker.check(history, timeline))) {
        Ok(r) => r,
        Err(p) => {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            CheckResult::unknown(checker.name(), format!("the checker panicked: {why}"))
        }
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
        fn check(&self, _: &History<(), ()>, _: &Timeline) -> CheckResult {
            panic!("checker bug")
        }
    }

    #[test]
    fn a_panicking_checker_is_unknown_and_invalid_outranks_it() {
        let r = check_safe(&Panics, &History::new(), &Timeline::default());
        assert_eq!(r.validity, Validity::Unknown);
        assert!(r.notes[0].contains("checker bug"), "{r:?}");
        let bad = CheckResult::builder("x").anomaly("a", 2).build();
        let good = CheckResult::builder("y").anomaly("a", 0).build();
        assert_eq!(bad.validity, Validity::Invalid);
        assert_eq!(good.validity, Validity::Valid);
        assert_eq!(compose([&good, &r]), Validity::Unknown);
        assert_eq!(compose([&good, &r, &bad]), Validity::Invalid);
        assert_eq!(compose([]), Validity::Valid);
    }

    #[test]
    fn an_undecided_result_is_unknown_unless_an_anomaly_was_found() {
        let r = CheckResult::builder("x")
            .anomaly("a", 0)
            .undecided("too few reads")
            .build();
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(r.notes, vec!["too few reads".to_string()]);
        let r = CheckResult::builder("x")
            .anomaly_at_least("a", 1)
            .undecided("too few reads")
            .build();
        assert_eq!(r.validity, Validity::Invalid);
        let r = CheckResult::builder("x")
            .add_counted("n", 2)
            .add_counted("n", 3)
            .note("fine")
            .build();
        assert_eq!((r.counted["n"], r.validity), (5, Validity::Valid));
    }

    #[test]
    fn examples_stay_out_of_the_serialised_result_so_snapshots_do_not_see_them() {
        let plain = CheckResult::builder("x").anomaly("a", 1).build();
        let with = CheckResult::builder("x")
            .anomaly("a", 1)
            .example("a", &[1, 2])
            .build();
        assert_eq!(with.examples["a"], vec![vec![1, 2]]);
        assert_eq!(
            serde_json::to_string(&with).unwrap(),
            serde_json::to_string(&plain).unwrap()
        );
        let mut many = CheckResult::builder("x");
        for i in 0..CheckResultBuilder::MAX_EXAMPLES as u64 + 5 {
            many = many.example("a", &[i]);
        }
        assert_eq!(
            many.build().examples["a"].len(),
            CheckResultBuilder::MAX_EXAMPLES
        );
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
