use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use shakedown::checker::{CheckResult, Checker};
use shakedown::fault::Timeline;
use shakedown::history::{History, OpKind};

use super::{EventKind, Observation, OrderEvent, Producer};

/// An operation of the event-ordering workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderingOp {
    /// An event published by its producer (ok once the broker confirmed it).
    Publish,
    /// What the consumer applied, parked and holds, read at the end.
    Observe,
}

/// What an operation was about, and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderingValue {
    /// An event and who published it.
    Publish {
        /// The publishing service.
        producer: Producer,
        /// The event.
        event: OrderEvent,
    },
    /// The consumer's observation, once read.
    Observe {
        /// What it answered.
        observation: Option<Observation>,
    },
}

/// Judges a consumer's applications against the events the producers published (the truth:
/// per order, the state its versions lead to, up to the first version never published), from
/// the consumer's observation read at the end (after the events settled, or a patience ran
/// out):
///
/// - `wrong_final_state`: orders whose state is not what their events lead to;
/// - `invalid_transition`: first applications of an event that moved the order along a
///   transition its lifecycle does not have (shipped before paid, a cancelled order revived);
/// - `applied_out_of_order`: first applications of an event whose version is not the one after
///   the order's previous application;
/// - `duplicate_applied`: applications of an event already applied (a redelivery or a
///   producer's retry applied twice);
/// - `event_lost`: confirmed events neither applied nor parked (dropped, or stuck where nobody
///   sees them).
///
/// Publications whose outcome is unknown are never counted lost, and their order's final state
/// is not judged (noted instead). Counted: `orders`, `events.published` (distinct confirmed
/// events), `publications`, `applications`, `events.parked`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderingChecker;

/// Every class the checker declares.
pub const ANOMALIES: [&str; 5] = [
    "wrong_final_state",
    "invalid_transition",
    "applied_out_of_order",
    "duplicate_applied",
    "event_lost",
];

/// What the producers did with one order's events.
#[derive(Debug, Default)]
struct Published<'a> {
    /// Confirmed events by version.
    confirmed: BTreeMap<i32, &'a OrderEvent>,
    /// Some publication's outcome is unknown.
    uncertain: bool,
}

impl Published<'_> {
    /// The state the order's events lead to: through every version from 1 without a gap.
    fn truth(&self) -> Option<EventKind> {
        let mut state = None;
        let mut v = 1;
        while let Some(e) = self.confirmed.get(&v) {
            state = Some(e.kind);
            v += 1;
        }
        state
    }
}

type OrderingHistory = History<OrderingOp, OrderingValue>;

fn observation(history: &OrderingHistory) -> Option<(u64, &Observation)> {
    history
        .ops()
        .iter()
        .rev()
        .find_map(|o| match (&o.value, o.kind) {
            (
                OrderingValue::Observe {
                    observation: Some(obs),
                },
                OpKind::Ok,
            ) => Some((o.index, obs)),
            _ => None,
        })
}

impl Checker<OrderingOp, OrderingValue> for OrderingChecker {
    fn name(&self) -> &str {
        "event_ordering"
    }

    fn check(&self, history: &OrderingHistory, _timeline: &Timeline) -> CheckResult {
        let mut b = CheckResult::builder(self.name());
        let Some((observed_at, obs)) = observation(history) else {
            for a in ANOMALIES {
                b = b.anomaly(a, 0);
            }
            return b.undecided("the consumer was never observed").build();
        };
        let mut orders: BTreeMap<&str, Published<'_>> = BTreeMap::new();
        let mut publish_ops: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        let mut confirmed: BTreeSet<&str> = BTreeSet::new();
        let mut publications = 0;
        for call in history.calls() {
            let OrderingValue::Publish { event, .. } = &call.invoke.value else {
                continue;
            };
            let entry = orders.entry(event.order_id.as_str()).or_default();
            publish_ops
                .entry(event.event_id.as_str())
                .or_default()
                .push(call.invoke.index);
            match call.kind() {
                Some(OpKind::Ok) => {
                    publications += 1;
                    confirmed.insert(event.event_id.as_str());
                    entry.confirmed.insert(event.version, event);
                }
                Some(OpKind::Fail) => {}
                _ => entry.uncertain = true,
            }
        }
        let ops_of = |event_id: &str| -> Vec<u64> {
            let mut ops = publish_ops.get(event_id).cloned().unwrap_or_default();
            ops.push(observed_at);
            ops
        };
        let mut applied_by_order: BTreeMap<&str, Vec<&super::Applied>> = BTreeMap::new();
        for a in &obs.applied {
            applied_by_order
                .entry(a.order_id.as_str())
                .or_default()
                .push(a);
        }
        let (mut duplicate, mut out_of_order, mut invalid) = (0, 0, 0);
        for applied in applied_by_order.values() {
            let mut seen = BTreeSet::new();
            let (mut state, mut last) = (None, 0);
            for a in applied {
                if !seen.insert(a.event_id.as_str()) {
                    duplicate += 1;
                    b = b.example("duplicate_applied", &ops_of(&a.event_id));
                    continue;
                }
                if a.version != last + 1 {
                    out_of_order += 1;
                    b = b.example("applied_out_of_order", &ops_of(&a.event_id));
                }
                if !a.kind.follows(state) {
                    invalid += 1;
                    b = b.example("invalid_transition", &ops_of(&a.event_id));
                }
                state = Some(a.kind);
                last = a.version;
            }
        }
        let held: BTreeMap<&str, Option<EventKind>> = obs
            .orders
            .iter()
            .map(|o| (o.order_id.as_str(), o.status))
            .collect();
        let mut wrong = 0;
        for (order, published) in &orders {
            if published.uncertain {
                b = b.note(format!(
                    "{order}: a publication's outcome is unknown; its final state is not judged"
                ));
                continue;
            }
            let truth = published.truth();
            let state = held.get(order).copied().flatten();
            if state != truth {
                wrong += 1;
                let mut ops: Vec<u64> = published
                    .confirmed
                    .values()
                    .flat_map(|e| {
                        publish_ops
                            .get(e.event_id.as_str())
                            .cloned()
                            .unwrap_or_default()
                    })
                    .collect();
                ops.sort_unstable();
                ops.push(observed_at);
                b = b.example("wrong_final_state", &ops);
            }
        }
        let kept: BTreeSet<&str> = obs
            .applied
            .iter()
            .map(|a| a.event_id.as_str())
            .chain(obs.parked.iter().map(String::as_str))
            .collect();
        let mut lost = 0;
        for id in confirmed.iter().filter(|id| !kept.contains(*id)) {
            lost += 1;
            b = b.example("event_lost", &ops_of(id));
        }
        let parked: BTreeSet<&str> = obs.parked.iter().map(String::as_str).collect();
        b.anomaly("wrong_final_state", wrong)
            .anomaly("invalid_transition", invalid)
            .anomaly("applied_out_of_order", out_of_order)
            .anomaly("duplicate_applied", duplicate)
            .anomaly("event_lost", lost)
            .counted("orders", orders.len() as u64)
            .counted("events.published", confirmed.len() as u64)
            .counted("publications", publications)
            .counted("applications", obs.applied.len() as u64)
            .counted("events.parked", parked.len() as u64)
            .phrase(
                "wrong_final_state",
                Some("orders"),
                "orders ended in a state their events do not lead to",
            )
            .phrase(
                "invalid_transition",
                Some("applications"),
                "applications moved an order along a transition its lifecycle does not have (shipped before paid, a cancelled order revived)",
            )
            .phrase(
                "applied_out_of_order",
                Some("applications"),
                "applications applied an event out of version order",
            )
            .phrase(
                "duplicate_applied",
                Some("applications"),
                "applications applied an event that had already been applied",
            )
            .phrase(
                "event_lost",
                Some("events.published"),
                "confirmed events were neither applied nor parked",
            )
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_ordering::{Applied, OrderState};
    use shakedown::checker::Validity;
    use shakedown::history::build::{info, invoke, ok};
    use EventKind::*;

    fn event(order: &str, version: i32, kind: EventKind) -> OrderEvent {
        OrderEvent {
            order_id: order.into(),
            event_id: format!("{order}-v{version}"),
            version,
            kind,
            customer: "ada".into(),
        }
    }

    /// Created, paid, shipped: versions 1 to 3 of `order`.
    fn shipped(order: &str) -> [OrderEvent; 3] {
        [Created, Paid, Shipped]
            .iter()
            .enumerate()
            .map(|(i, k)| event(order, i as i32 + 1, *k))
            .collect::<Vec<_>>()
            .try_into()
            .expect("three events")
    }

    fn applied(e: &OrderEvent) -> Applied {
        Applied {
            order_id: e.order_id.clone(),
            event_id: e.event_id.clone(),
            version: e.version,
            kind: e.kind,
        }
    }

    /// Publishes `published` (each confirmed unless its index is in `unknown`), then observes.
    fn judge(
        published: &[OrderEvent],
        unknown: &[usize],
        applications: &[&OrderEvent],
        parked: &[&OrderEvent],
        states: &[(&str, Option<EventKind>)],
    ) -> CheckResult {
        let mut h = History::new();
        for (i, e) in published.iter().enumerate() {
            let v = OrderingValue::Publish {
                producer: e.kind.producer(),
                event: e.clone(),
            };
            invoke(&mut h, i as u64, OrderingOp::Publish, v.clone());
            if unknown.contains(&i) {
                info(&mut h, i as u64, v);
            } else {
                ok(&mut h, i as u64, v);
            }
        }
        let p = published.len() as u64;
        invoke(
            &mut h,
            p,
            OrderingOp::Observe,
            OrderingValue::Observe { observation: None },
        );
        let obs = Observation {
            applied: applications.iter().map(|e| applied(e)).collect(),
            parked: parked.iter().map(|e| e.event_id.clone()).collect(),
            orders: states
                .iter()
                .map(|(o, s)| OrderState {
                    order_id: o.to_string(),
                    status: *s,
                })
                .collect(),
        };
        ok(
            &mut h,
            p,
            OrderingValue::Observe {
                observation: Some(obs),
            },
        );
        OrderingChecker.check(&h, &Timeline::default())
    }

    fn counts(r: &CheckResult) -> [u64; 5] {
        ANOMALIES.map(|a| r.anomaly(a).expect("declared"))
    }

    #[test]
    fn a_consumer_that_parks_early_events_and_flags_a_gap_is_valid() {
        let [a1, a2, a3] = shipped("a");
        let (b1, b3) = (event("b", 1, Created), event("b", 3, Shipped));
        // Published: a3 before a2 (parked, then applied once a2 came), b2 never.
        let r = judge(
            &[a1.clone(), a3.clone(), a2.clone(), b1.clone(), b3.clone()],
            &[],
            &[&a1, &b1, &a2, &a3],
            &[&b3],
            &[("a", Some(Shipped)), ("b", Some(Created))],
        );
        assert_eq!(counts(&r), [0; 5], "{r:#?}");
        assert_eq!(r.validity, Validity::Valid);
        assert_eq!(r.counted["events.published"], 5);
        assert_eq!(r.counted["applications"], 4);
        assert_eq!(r.counted["events.parked"], 1);
        assert_eq!(r.counted["orders"], 2);
    }

    #[test]
    fn shipped_applied_before_paid_is_out_of_order_invalid_and_ends_wrong() {
        let [a1, a2, a3] = shipped("a");
        let r = judge(
            &[a1.clone(), a3.clone(), a2.clone()],
            &[],
            &[&a1, &a3, &a2],
            &[],
            &[("a", Some(Paid))],
        );
        // a3 after a1, a2 after a3: both out of order and both invalid; final paid, not shipped.
        assert_eq!(counts(&r), [1, 2, 2, 0, 0], "{r:#?}");
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(r.examples["wrong_final_state"], vec![vec![0, 2, 4, 7]]);
        assert!(r
            .sentence("invalid_transition")
            .unwrap()
            .starts_with("2 of 3 applications"));
    }

    #[test]
    fn created_after_cancelled_revives_the_order() {
        let (c1, c2) = (event("c", 1, Created), event("c", 2, Cancelled));
        let r = judge(
            &[c2.clone(), c1.clone()],
            &[],
            &[&c2, &c1],
            &[],
            &[("c", Some(Created))],
        );
        assert_eq!(counts(&r), [1, 2, 2, 0, 0], "{r:#?}");
    }

    #[test]
    fn an_event_applied_twice_is_a_duplicate_and_nothing_else() {
        let (a1, a2) = (event("a", 1, Created), event("a", 2, Paid));
        let r = judge(
            &[a1.clone(), a2.clone(), a1.clone()],
            &[],
            &[&a1, &a2, &a1],
            &[],
            &[("a", Some(Created))],
        );
        // The late retry of `created` dragged the order back: a duplicate, and a wrong state.
        assert_eq!(counts(&r), [1, 0, 0, 1, 0], "{r:#?}");
        assert_eq!(r.examples["duplicate_applied"], vec![vec![0, 4, 7]]);
        assert_eq!(r.counted["publications"], 3);
        assert_eq!(r.counted["events.published"], 2);
    }

    #[test]
    fn a_dropped_early_event_is_lost_and_the_order_stops_short() {
        let [a1, a2, a3] = shipped("a");
        let r = judge(
            &[a1.clone(), a3.clone(), a2.clone()],
            &[],
            &[&a1, &a2],
            &[],
            &[("a", Some(Paid))],
        );
        assert_eq!(counts(&r), [1, 0, 0, 0, 1], "{r:#?}");
        assert_eq!(r.examples["event_lost"], vec![vec![2, 7]]);
    }

    #[test]
    fn an_unknown_publication_is_never_lost_and_its_order_not_judged() {
        let (a1, a2) = (event("a", 1, Created), event("a", 2, Paid));
        let r = judge(
            &[a1.clone(), a2.clone()],
            &[1],
            &[&a1],
            &[],
            &[("a", Some(Created))],
        );
        assert_eq!(counts(&r), [0; 5], "{r:#?}");
        assert_eq!(r.counted["events.published"], 1);
        assert_eq!(r.notes.len(), 1);
    }

    #[test]
    fn an_order_the_consumer_never_heard_of_ends_wrong() {
        let a1 = event("a", 1, Created);
        let r = judge(std::slice::from_ref(&a1), &[], &[], &[], &[]);
        assert_eq!(counts(&r), [1, 0, 0, 0, 1], "{r:#?}");
    }

    #[test]
    fn without_an_observation_the_verdict_is_unknown() {
        let mut h = History::new();
        let v = OrderingValue::Observe { observation: None };
        invoke(&mut h, 0, OrderingOp::Observe, v.clone());
        info(&mut h, 0, v);
        let r = OrderingChecker.check(&h, &Timeline::default());
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(counts(&r), [0; 5]);
    }
}
