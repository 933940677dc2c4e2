use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use shakedown::checker::{CheckResult, CheckResultBuilder, Checker};
use shakedown::fault::Timeline;
use shakedown::history::{History, Op, OpKind};

use super::{DlqOp, DlqValue, Kind, Processed, Stage};

/// Judges what became of every published message:
///
/// - `lost`: published (confirmed), never processed, and not in the dead-letter queue with a
///   reason at the end;
/// - `duplicate_processed`: processings beyond the first of one message id;
/// - `transient_dead_lettered`: messages that could only fail transiently (the database cut
///   off) found in the dead-letter queue before the fix;
/// - `poison_not_dead_lettered`: poison messages not in the dead-letter queue before the fix
///   (dropped, or still looping);
/// - `held_up`: healthy messages not processed before the fix (and not dead-lettered), that
///   were once it was deployed: they waited behind poison;
/// - `dead_letters_unnoticed`: messages not processed before the fix (dead-lettered, lost or
///   stuck) when no alert fired within [`alert_within`](DeadLetterChecker::alert_within) of
///   the first of them being published;
/// - `left_after_redrive`: messages still in the dead-letter queue at the end.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetterChecker {
    /// How soon after the first failed message an alert must fire.
    pub alert_within: Duration,
}

impl Default for DeadLetterChecker {
    fn default() -> Self {
        DeadLetterChecker {
            alert_within: Duration::from_secs(5),
        }
    }
}

/// Every class the checker declares.
pub const ANOMALIES: [&str; 7] = [
    "lost",
    "duplicate_processed",
    "transient_dead_lettered",
    "poison_not_dead_lettered",
    "held_up",
    "dead_letters_unnoticed",
    "left_after_redrive",
];

type DlqHistory = History<DlqOp, DlqValue>;

/// A published message as the checker knows it: its kind, when its first publish was
/// confirmed, and its publish operations.
struct Published {
    kind: Kind,
    confirmed_at: Duration,
    ops: Vec<u64>,
}

fn published(history: &DlqHistory) -> BTreeMap<String, Published> {
    let mut out: BTreeMap<String, Published> = BTreeMap::new();
    for op in history.ops() {
        let DlqValue::Publish { message } = &op.value else {
            continue;
        };
        if op.kind != OpKind::Ok {
            continue;
        }
        let p = out.entry(message.id.clone()).or_insert(Published {
            kind: message.kind,
            confirmed_at: op.time,
            ops: Vec::new(),
        });
        p.ops.push(op.index);
    }
    out
}

fn read(history: &DlqHistory, f: DlqOp, at: Stage) -> Option<&Op<DlqOp, DlqValue>> {
    history.ops().iter().rev().find(|o| {
        o.f == f
            && o.kind == OpKind::Ok
            && match &o.value {
                DlqValue::Processed { stage, .. } | DlqValue::DeadLetters { stage, .. } => {
                    *stage == at
                }
                _ => false,
            }
    })
}

fn processed_at(history: &DlqHistory, at: Stage) -> Option<(&[Processed], u64)> {
    match read(history, DlqOp::Processed, at) {
        Some(o) => match &o.value {
            DlqValue::Processed { processed, .. } => Some((processed, o.index)),
            _ => None,
        },
        None => None,
    }
}

fn dead_at(history: &DlqHistory, at: Stage) -> Option<(BTreeSet<&str>, u64)> {
    match read(history, DlqOp::DeadLetters, at) {
        Some(o) => match &o.value {
            DlqValue::DeadLetters { dead, .. } => Some((
                dead.iter()
                    .filter(|d| !d.reason.is_empty())
                    .map(|d| d.message_id.as_str())
                    .collect(),
                o.index,
            )),
            _ => None,
        },
        None => None,
    }
}

/// When the first alert was seen firing, if one was, and the watch that saw it.
fn alert_seen(history: &DlqHistory) -> Option<(Duration, u64)> {
    history.ops().iter().find_map(|o| match &o.value {
        DlqValue::Alerts {
            alerts,
            first_seen: Some(t),
        } if o.kind == OpKind::Ok && !alerts.is_empty() => Some((*t, o.index)),
        _ => None,
    })
}

/// How long after the first message that was not processed before the fix was confirmed the
/// first alert was seen; `None` if no message failed or no alert fired.
pub fn time_to_alert(history: &DlqHistory) -> Option<Duration> {
    let (processed, _) = processed_at(history, Stage::BeforeFix)?;
    let done: BTreeSet<&str> = processed.iter().map(|p| p.message_id.as_str()).collect();
    let first = published(history)
        .iter()
        .filter(|(id, _)| !done.contains(id.as_str()))
        .map(|(_, p)| p.confirmed_at)
        .min()?;
    let (seen, _) = alert_seen(history)?;
    Some(seen.saturating_sub(first))
}

fn ids(ps: &[Processed]) -> BTreeMap<&str, u64> {
    ps.iter()
        .map(|p| (p.message_id.as_str(), p.times))
        .collect()
}

impl Checker<DlqOp, DlqValue> for DeadLetterChecker {
    fn name(&self) -> &str {
        "dead_letters"
    }

    fn check(&self, history: &DlqHistory, _timeline: &Timeline) -> CheckResult {
        let mut b = CheckResult::builder(self.name());
        let reads = (
            processed_at(history, Stage::BeforeFix),
            dead_at(history, Stage::BeforeFix),
            processed_at(history, Stage::AfterRedrive),
            dead_at(history, Stage::AfterRedrive),
        );
        let (Some((before, _)), Some((dead_before, _)), Some((after, _)), Some((dead_after, _))) =
            reads
        else {
            for a in ANOMALIES {
                b = b.anomaly(a, 0);
            }
            return b
                .undecided("what was processed and dead-lettered was never read, before the fix and at the end")
                .build();
        };
        let published = published(history);
        let (before, after) = (ids(before), ids(after));
        let mut found: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (id, p) in &published {
            let id = id.as_str();
            let mut class = |c: &'static str| found.entry(c).or_default().push(id);
            if !after.contains_key(id) && !dead_after.contains(id) {
                class("lost");
            }
            if after.get(id).is_some_and(|&n| n > 1) {
                class("duplicate_processed");
            }
            if !p.kind.is_poison() && dead_before.contains(id) {
                class("transient_dead_lettered");
            }
            if p.kind.is_poison() && !dead_before.contains(id) {
                class("poison_not_dead_lettered");
            }
            let waited = !before.contains_key(id) && !dead_before.contains(id);
            if !p.kind.is_poison() && waited && after.contains_key(id) {
                class("held_up");
            }
            if dead_after.contains(id) {
                class("left_after_redrive");
            }
        }
        let failed: Vec<&str> = published
            .keys()
            .map(String::as_str)
            .filter(|id| !before.contains_key(id))
            .collect();
        let alert = alert_seen(history);
        let in_time = time_to_alert(history).is_some_and(|t| t <= self.alert_within);
        if !failed.is_empty() && !in_time {
            found.insert("dead_letters_unnoticed", failed);
        }
        let show = |b: CheckResultBuilder, class: &str, id: &str| match published.get(id) {
            Some(p) => {
                let mut ops = p.ops.clone();
                if class == "dead_letters_unnoticed" {
                    ops.extend(alert.map(|(_, i)| i));
                }
                b.example(class, &ops)
            }
            None => b,
        };
        for class in ANOMALIES {
            let members = found.get(class).map(Vec::as_slice).unwrap_or(&[]);
            let mut n = members.len() as u64;
            if class == "duplicate_processed" {
                n = members.iter().map(|id| after[id] - 1).sum();
            }
            b = b.anomaly(class, n);
            for id in members {
                b = show(b, class, id);
            }
        }
        let count = |k: fn(&Kind) -> bool| published.values().filter(|p| k(&p.kind)).count() as u64;
        let republished = published.values().filter(|p| p.ops.len() > 1).count() as u64;
        b.counted("messages_published", published.len() as u64)
            .counted("published_twice", republished)
            .counted("poison_published", count(Kind::is_poison))
            .counted("transient_published", count(|k| *k == Kind::DuringOutage))
            .counted("processed_before_fix", before.len() as u64)
            .counted("dead_letters_before_fix", dead_before.len() as u64)
            .counted("processed_at_end", after.len() as u64)
            .counted("alert_fired", u64::from(alert.is_some()))
            .phrase(
                "lost",
                Some("messages_published"),
                "messages were lost: never processed, and not in the dead-letter queue",
            )
            .phrase(
                "duplicate_processed",
                None,
                "extra processings of payments already processed",
            )
            .phrase(
                "transient_dead_lettered",
                Some("transient_published"),
                "messages that failed only because the database was briefly down were dead-lettered with the poison",
            )
            .phrase(
                "poison_not_dead_lettered",
                Some("poison_published"),
                "poison messages never reached the dead-letter queue (dropped, or still looping)",
            )
            .phrase(
                "held_up",
                Some("messages_published"),
                "healthy messages waited behind poison until the fix was deployed",
            )
            .phrase(
                "dead_letters_unnoticed",
                Some("messages_published"),
                format!(
                    "messages failed with no alert within {} s of the first",
                    self.alert_within.as_secs_f64()
                ),
            )
            .phrase(
                "left_after_redrive",
                None,
                "dead letters left in the queue after the fix and the redrive",
            )
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Alert, DeadLettered, Message};
    use super::*;
    use shakedown::checker::Validity;
    use shakedown::history::build;

    fn msg(id: &str, kind: Kind) -> Message {
        Message {
            id: id.into(),
            kind,
            body: "{}".into(),
        }
    }

    fn done(h: &mut DlqHistory, process: u64, f: DlqOp, v: DlqValue) {
        build::invoke(h, process, f, v.clone());
        build::ok(h, process, v);
    }

    fn processed(pairs: &[(&str, u64)]) -> Vec<Processed> {
        pairs
            .iter()
            .map(|(id, n)| Processed {
                message_id: id.to_string(),
                times: *n,
            })
            .collect()
    }

    fn dead(ids: &[&str]) -> Vec<DeadLettered> {
        ids.iter()
            .map(|id| DeadLettered {
                message_id: id.to_string(),
                reason: "rejected".into(),
            })
            .collect()
    }

    fn start_watching(h: &mut DlqHistory) {
        let none = DlqValue::Alerts {
            alerts: vec![],
            first_seen: None,
        };
        build::invoke(h, 2, DlqOp::WatchAlerts, none);
    }

    /// Publishes `messages`, then (with `alert`) sees the alert fire right after, reads
    /// `before`/`dead_before`, deploys the fix, redrives, and reads `after`/`dead_after`.
    fn history(
        messages: &[Message],
        alert: bool,
        before: (&[(&str, u64)], &[&str]),
        after: (&[(&str, u64)], &[&str]),
    ) -> DlqHistory {
        let mut h = History::new();
        start_watching(&mut h);
        for m in messages {
            done(
                &mut h,
                0,
                DlqOp::Publish,
                DlqValue::Publish { message: m.clone() },
            );
        }
        let (alerts, first_seen) = if alert {
            let a = Alert {
                name: "DeadLetters".into(),
                summary: "1".into(),
            };
            (vec![a], h.ops().last().map(|o| o.time))
        } else {
            (vec![], None)
        };
        build::ok(&mut h, 2, DlqValue::Alerts { alerts, first_seen });
        let reads = |h: &mut DlqHistory, stage, (p, d): (&[(&str, u64)], &[&str])| {
            let v = DlqValue::Processed {
                stage,
                processed: processed(p),
            };
            done(h, 1, DlqOp::Processed, v);
            let v = DlqValue::DeadLetters {
                stage,
                dead: dead(d),
            };
            done(h, 1, DlqOp::DeadLetters, v);
        };
        reads(&mut h, Stage::BeforeFix, before);
        done(&mut h, 1, DlqOp::DeployFix, DlqValue::DeployFix);
        done(&mut h, 1, DlqOp::Redrive, DlqValue::Redrive { moved: None });
        reads(&mut h, Stage::AfterRedrive, after);
        h
    }

    fn check(h: &DlqHistory) -> CheckResult {
        DeadLetterChecker::default().check(h, &Timeline::default())
    }

    fn workload() -> Vec<Message> {
        vec![
            msg("g1", Kind::Good),
            msg("p1", Kind::Legacy),
            msg("g1", Kind::Republished),
            msg("t1", Kind::DuringOutage),
            msg("p2", Kind::UnknownCustomer),
        ]
    }

    #[test]
    fn poison_dead_lettered_and_alerted_then_redriven_once_is_valid() {
        let h = history(
            &workload(),
            true,
            (&[("g1", 1), ("t1", 1)], &["p1", "p2"]),
            (&[("g1", 1), ("t1", 1), ("p1", 1), ("p2", 1)], &[]),
        );
        let r = check(&h);
        assert_eq!(r.validity, Validity::Valid, "{r:?}");
        assert_eq!(r.counted["messages_published"], 4);
        assert_eq!(r.counted["published_twice"], 1);
        assert_eq!(r.counted["poison_published"], 2);
        assert_eq!(r.counted["dead_letters_before_fix"], 2);
        assert!(time_to_alert(&h).unwrap() < Duration::from_millis(10));
    }

    #[test]
    fn dropped_messages_are_lost_duplicates_counted_and_nobody_told() {
        // The naive consumer: poison and the transient message dropped at the delivery limit,
        // the republished message processed twice, no alert.
        let h = history(&workload(), false, (&[("g1", 2)], &[]), (&[("g1", 2)], &[]));
        let r = check(&h);
        assert_eq!(r.anomaly("lost"), Some(3));
        assert_eq!(r.anomaly("duplicate_processed"), Some(1));
        assert_eq!(r.anomaly("poison_not_dead_lettered"), Some(2));
        assert_eq!(r.anomaly("dead_letters_unnoticed"), Some(3));
        assert_eq!(r.anomaly("transient_dead_lettered"), Some(0));
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(
            r.sentence("lost").as_deref(),
            Some("3 of 4 messages were lost: never processed, and not in the dead-letter queue")
        );
        // Each lost message is shown by its publish.
        assert_eq!(r.examples["lost"].len(), 3);
        assert_eq!(time_to_alert(&h), None);
    }

    #[test]
    fn a_transient_failure_in_the_dead_letter_queue_is_wrongly_dead_lettered() {
        let h = history(
            &workload(),
            true,
            (&[("g1", 1)], &["p1", "p2", "t1"]),
            (&[("g1", 1), ("t1", 1), ("p1", 1)], &["p2"]),
        );
        let r = check(&h);
        assert_eq!(r.anomaly("transient_dead_lettered"), Some(1));
        assert_eq!(r.anomaly("left_after_redrive"), Some(1));
        assert_eq!(
            r.anomaly("lost"),
            Some(0),
            "left in the DLQ is accounted for"
        );
    }

    #[test]
    fn messages_stuck_behind_looping_poison_are_held_up() {
        let h = history(
            &workload(),
            false,
            (&[("g1", 1)], &[]),
            (&[("g1", 1), ("t1", 1), ("p1", 1), ("p2", 1)], &[]),
        );
        let r = check(&h);
        assert_eq!(r.anomaly("held_up"), Some(1));
        assert_eq!(r.anomaly("poison_not_dead_lettered"), Some(2));
        assert_eq!(r.anomaly("dead_letters_unnoticed"), Some(3));
        assert_eq!(r.anomaly("lost"), Some(0));
    }

    #[test]
    fn an_alert_later_than_the_bound_is_no_alert() {
        let mut h = History::new();
        start_watching(&mut h);
        let m = msg("p1", Kind::Legacy);
        build::invoke(
            &mut h,
            0,
            DlqOp::Publish,
            DlqValue::Publish { message: m.clone() },
        );
        build::complete_at(
            &mut h,
            Duration::from_secs(1),
            0,
            OpKind::Ok,
            DlqValue::Publish { message: m },
        );
        let alerts = vec![Alert {
            name: "DeadLetters".into(),
            summary: "late".into(),
        }];
        let seen = DlqValue::Alerts {
            alerts,
            first_seen: Some(Duration::from_secs(7)),
        };
        build::complete_at(&mut h, Duration::from_secs(9), 2, OpKind::Ok, seen);
        for (stage, p) in [
            (Stage::BeforeFix, vec![]),
            (Stage::AfterRedrive, processed(&[("p1", 1)])),
        ] {
            done(
                &mut h,
                1,
                DlqOp::Processed,
                DlqValue::Processed {
                    stage,
                    processed: p,
                },
            );
            let d = if stage == Stage::BeforeFix {
                dead(&["p1"])
            } else {
                vec![]
            };
            done(
                &mut h,
                1,
                DlqOp::DeadLetters,
                DlqValue::DeadLetters { stage, dead: d },
            );
        }
        assert_eq!(time_to_alert(&h), Some(Duration::from_secs(6)));
        let r = check(&h);
        assert_eq!(r.anomaly("dead_letters_unnoticed"), Some(1));
        let patient = DeadLetterChecker {
            alert_within: Duration::from_secs(10),
        };
        assert_eq!(
            patient.check(&h, &Timeline::default()).validity,
            Validity::Valid
        );
    }

    #[test]
    fn without_the_reads_the_verdict_is_unknown() {
        let mut h = History::new();
        done(
            &mut h,
            0,
            DlqOp::Publish,
            DlqValue::Publish {
                message: msg("g", Kind::Good),
            },
        );
        let r = check(&h);
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(r.anomaly("lost"), Some(0));
    }
}
