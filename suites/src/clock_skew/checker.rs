use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shakedown::checker::{CheckResult, Checker};
use shakedown::fault::Timeline;
use shakedown::history::{History, OpKind};
use shakedown::ClockOffset;

/// A probe of the token system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenOp {
    /// A token issued and used at once: it must be accepted.
    Fresh,
    /// A short-lived token used after it truly expired (beyond any sane leeway): it must be refused.
    Expired,
}

/// What a probe was and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The fault step it ran in.
    pub step: String,
    /// The injected skew when the call was made: issuer's clock minus the API's.
    #[serde(rename = "true_skew_ms")]
    pub true_skew: ClockOffset,
    /// Whether the API accepted the token (`None` until it answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<bool>,
    /// The API's reason for a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The skew the API reported, if any.
    #[serde(
        default,
        rename = "skew_reported_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub skew_reported: Option<ClockOffset>,
}

impl Probe {
    /// A probe in `step` under `true_skew`, not yet answered.
    pub fn new(step: impl Into<String>, true_skew: ClockOffset) -> Self {
        Probe {
            step: step.into(),
            true_skew,
            accepted: None,
            reason: None,
            skew_reported: None,
        }
    }
}

/// Judges token probes, per fault step, on what users saw:
///
/// - `fresh_token_rejected`: a fresh token was refused while the skew was within
///   [`tolerated_skew`](TokenChecker::tolerated_skew) (beyond it, refusing is a fair answer:
///   counted as `fresh_rejected_beyond_tolerance`, not an anomaly);
/// - `expired_token_accepted`: a truly expired token (past any sane leeway) was accepted, at any
///   skew.
///
/// Whether the system reported the skew it saw (a skew of at least `threshold`, reported within
/// half of the truth) is good practice, not an outcome: it shows as a note, never as an anomaly.
/// Calls that failed or timed out are counted (`calls_failed`); availability is judged by
/// [`AvailabilityChecker`](shakedown::checker::AvailabilityChecker).
///
/// ```
/// use shakedown::checker::Checker;
/// use shakedown::fault::Timeline;
/// use shakedown::history::{build::*, History};
/// use shakedown::ClockOffset;
/// use shakedown_suites::clock_skew::{Probe, TokenChecker, TokenOp};
///
/// let skew = ClockOffset::from_millis(300_000);
/// let mut h = History::new();
/// invoke(&mut h, 0, TokenOp::Fresh, Probe::new("issuer_ahead", skew));
/// ok(&mut h, 0, Probe { accepted: Some(false), ..Probe::new("issuer_ahead", skew) });
/// let r = TokenChecker::default().check(&h, &Timeline::default());
/// assert_eq!(r.anomaly("fresh_token_rejected"), Some(1));
/// assert!(r.notes.iter().any(|n| n.contains("issuer_ahead")), "{:?}", r.notes);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokenChecker {
    /// Smallest skew whose report is looked for (the note).
    pub threshold: Duration,
    /// Largest skew under which fresh tokens must still be accepted. Default 5 minutes: RFC 7519
    /// allows "some small leeway, usually no more than a few minutes"; beyond it a system may
    /// refuse until clocks agree.
    pub tolerated_skew: Duration,
}

impl Default for TokenChecker {
    fn default() -> Self {
        TokenChecker {
            threshold: Duration::from_secs(1),
            tolerated_skew: Duration::from_secs(300),
        }
    }
}

impl Checker<TokenOp, Probe> for TokenChecker {
    fn name(&self) -> &str {
        "token_validity_under_skew"
    }

    fn check(&self, history: &History<TokenOp, Probe>, _: &Timeline) -> CheckResult {
        let (mut fresh_rejected, mut expired_accepted, mut checked, mut failed) = (0, 0, 0, 0);
        let mut beyond = 0;
        let mut counted: BTreeMap<String, u64> = BTreeMap::new();
        let mut skewed_steps: BTreeSet<String> = BTreeSet::new();
        let mut detected_steps: BTreeSet<String> = BTreeSet::new();
        let mut examples: Vec<(&str, [u64; 2])> = Vec::new();
        for (inv, done) in history.pairs() {
            let step = &inv.value.step;
            let key = |what: &str| format!("step.{step}.{what}");
            counted.entry(key("fresh_rejected")).or_insert(0);
            counted.entry(key("expired_accepted")).or_insert(0);
            let skew = inv.value.true_skew.magnitude();
            if skew >= self.threshold {
                skewed_steps.insert(step.clone());
            }
            let Some(done) = done.filter(|d| d.kind == OpKind::Ok) else {
                failed += 1;
                continue;
            };
            let Some(accepted) = done.value.accepted else {
                failed += 1;
                continue;
            };
            checked += 1;
            match (inv.f, accepted) {
                (TokenOp::Fresh, false) if skew <= self.tolerated_skew => {
                    examples.push(("fresh_token_rejected", [inv.index, done.index]));
                    fresh_rejected += 1;
                    *counted.entry(key("fresh_rejected")).or_default() += 1;
                }
                (TokenOp::Fresh, false) => beyond += 1,
                (TokenOp::Expired, true) => {
                    examples.push(("expired_token_accepted", [inv.index, done.index]));
                    expired_accepted += 1;
                    *counted.entry(key("expired_accepted")).or_default() += 1;
                }
                _ => {}
            }
            if let (true, Some(reported)) = (skew >= self.threshold, done.value.skew_reported) {
                let truth = inv.value.true_skew;
                let allowed = (truth.magnitude() / 2).max(self.threshold);
                if reported.minus(truth).magnitude() <= allowed {
                    detected_steps.insert(step.clone());
                }
            }
        }
        for step in &skewed_steps {
            counted.insert(
                format!("step.{step}.skew_reported"),
                detected_steps.contains(step) as u64,
            );
        }
        counted.insert("probes_checked".into(), checked);
        counted.insert("calls_failed".into(), failed);
        counted.insert("fresh_rejected_beyond_tolerance".into(), beyond);
        let mut result = CheckResult::builder(self.name())
            .anomaly("fresh_token_rejected", fresh_rejected)
            .anomaly("expired_token_accepted", expired_accepted)
            .phrase(
                "fresh_token_rejected",
                None,
                "fresh tokens refused while the clocks were within the tolerated skew",
            )
            .phrase(
                "expired_token_accepted",
                None,
                "tokens accepted long after they had expired",
            );
        for (class, ops) in examples {
            result = result.example(class, &ops);
        }
        let unreported: Vec<&String> = skewed_steps.difference(&detected_steps).collect();
        if !unreported.is_empty() {
            let names: Vec<&str> = unreported.iter().map(|s| s.as_str()).collect();
            result = result.note(format!(
                "the skew was not reported in step(s) {}: measuring and exposing it (a metric, a header) tells operators before tokens fail",
                names.join(", ")
            ));
        }
        for (name, n) in counted {
            result = result.counted(name, n);
        }
        result.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shakedown::checker::Validity;
    use shakedown::history::build::*;

    fn probe(
        h: &mut History<TokenOp, Probe>,
        f: TokenOp,
        step: &str,
        skew_ms: i64,
        accepted: bool,
        reported_ms: Option<i64>,
    ) {
        let p = Probe::new(step, ClockOffset::from_millis(skew_ms));
        invoke(h, 0, f, p.clone());
        ok(
            h,
            0,
            Probe {
                accepted: Some(accepted),
                skew_reported: reported_ms.map(ClockOffset::from_millis),
                ..p
            },
        );
    }

    #[test]
    fn right_answers_with_reported_skew_are_valid() {
        let mut h = History::new();
        probe(&mut h, TokenOp::Fresh, "base", 0, true, None);
        probe(&mut h, TokenOp::Expired, "base", 0, false, None);
        probe(
            &mut h,
            TokenOp::Fresh,
            "ahead",
            300_000,
            true,
            Some(299_990),
        );
        probe(
            &mut h,
            TokenOp::Expired,
            "ahead",
            300_000,
            false,
            Some(300_004),
        );
        let r = TokenChecker::default().check(&h, &Timeline::default());
        assert_eq!(r.validity, Validity::Valid, "{r:?}");
        assert_eq!(r.counted["step.ahead.skew_reported"], 1);
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        assert_eq!(r.counted["probes_checked"], 4);
    }

    #[test]
    fn wrong_answers_are_counted_per_step() {
        let mut h = History::new();
        probe(&mut h, TokenOp::Fresh, "ahead", 30_000, false, None);
        probe(&mut h, TokenOp::Fresh, "ahead", 30_000, false, None);
        probe(&mut h, TokenOp::Expired, "behind", -600_000, true, Some(5));
        let r = TokenChecker::default().check(&h, &Timeline::default());
        assert_eq!(r.anomaly("fresh_token_rejected"), Some(2));
        assert_eq!(r.anomaly("expired_token_accepted"), Some(1));
        // A reported skew far from the truth is no report: a note, not an anomaly.
        assert!(
            r.notes[0].contains("ahead") && r.notes[0].contains("behind"),
            "{:?}",
            r.notes
        );
        assert_eq!(r.counted["step.ahead.fresh_rejected"], 2);
        assert_eq!(r.counted["step.behind.expired_accepted"], 1);
        assert_eq!(r.counted["step.behind.skew_reported"], 0);
        // Each wrong answer is an example: the probe's call, invoke and completion.
        assert_eq!(
            r.examples["fresh_token_rejected"],
            vec![vec![0, 1], vec![2, 3]]
        );
        assert_eq!(r.examples["expired_token_accepted"], vec![vec![4, 5]]);
        assert_eq!(
            r.sentence("expired_token_accepted").as_deref(),
            Some("tokens accepted long after they had expired: 1")
        );
    }

    #[test]
    fn refusing_fresh_tokens_beyond_the_tolerated_skew_is_fair() {
        let mut h = History::new();
        probe(
            &mut h,
            TokenOp::Fresh,
            "far",
            1_200_000,
            false,
            Some(1_200_000),
        );
        probe(
            &mut h,
            TokenOp::Expired,
            "far",
            1_200_000,
            true,
            Some(1_200_000),
        );
        let r = TokenChecker::default().check(&h, &Timeline::default());
        assert_eq!(r.anomaly("fresh_token_rejected"), Some(0));
        assert_eq!(r.counted["fresh_rejected_beyond_tolerance"], 1);
        assert_eq!(r.anomaly("expired_token_accepted"), Some(1), "never fair");
    }

    #[test]
    fn failed_calls_are_counted_not_judged() {
        let mut h = History::new();
        let p = Probe::new("s", ClockOffset::ZERO);
        invoke(&mut h, 0, TokenOp::Fresh, p.clone());
        info(&mut h, 0, p.clone());
        invoke(&mut h, 1, TokenOp::Expired, p.clone());
        fail(&mut h, 1, p);
        let r = TokenChecker::default().check(&h, &Timeline::default());
        assert_eq!(r.validity, Validity::Valid);
        assert_eq!(r.counted["calls_failed"], 2);
    }
}
