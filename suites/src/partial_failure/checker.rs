use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use shakedown::checker::{CheckResult, CheckResultBuilder, Checker};
use shakedown::fault::Timeline;
use shakedown::history::{History, OpKind};

use super::{receipt_for, Charge, Order, OrderRecord, OrderStatus};

/// An operation of the partial-failure workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOp {
    /// An order placed with the caller.
    Place,
    /// The caller asked to resolve its pending orders.
    Reconcile,
    /// The caller's beliefs, read at the end.
    Believed,
    /// The dependency's ledger, read at the end.
    Ledger,
}

/// What an operation was about, and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentValue {
    /// An order, and the caller's record of it once answered.
    Place {
        /// The order.
        order: Order,
        /// The caller's answer.
        record: Option<OrderRecord>,
    },
    /// A reconciliation pass.
    Reconcile,
    /// Every order as the caller believes it.
    Believed {
        /// The records.
        records: Vec<OrderRecord>,
    },
    /// The ledger's charges (of this run's orders).
    Ledger {
        /// The charges.
        charges: Vec<Charge>,
    },
}

/// Judges the caller's beliefs against the dependency's ledger (read directly, not through the
/// faults), at the end of the run:
///
/// - `duplicate_charge`: charges beyond the first for one order;
/// - `unknown_charge`: charges for orders the caller has no record of;
/// - `failed_but_charged`: orders the caller says failed, yet money was taken (the lie);
/// - `corrupt_reply_accepted`: orders the caller holds as charged with a charge id, amount or
///   receipt that the ledger's charge for that order does not have;
/// - `charged_not_in_ledger`: orders the caller holds as charged with no charge in the ledger;
/// - `unresolved_unknown`: orders still pending at the end.
#[derive(Debug, Clone, Copy, Default)]
pub struct PartialFailureChecker;

/// Every class the checker declares.
pub const ANOMALIES: [&str; 6] = [
    "duplicate_charge",
    "unknown_charge",
    "failed_but_charged",
    "corrupt_reply_accepted",
    "charged_not_in_ledger",
    "unresolved_unknown",
];

fn last_ok(history: &History<PaymentOp, PaymentValue>, f: PaymentOp) -> Option<&PaymentValue> {
    history
        .ops()
        .iter()
        .rev()
        .find(|o| o.f == f && o.kind == OpKind::Ok)
        .map(|o| &o.value)
}

impl Checker<PaymentOp, PaymentValue> for PartialFailureChecker {
    fn name(&self) -> &str {
        "partial_failure"
    }

    fn check(
        &self,
        history: &History<PaymentOp, PaymentValue>,
        _timeline: &Timeline,
    ) -> CheckResult {
        let mut b = CheckResult::builder(self.name());
        let records = match last_ok(history, PaymentOp::Believed) {
            Some(PaymentValue::Believed { records }) => records,
            _ => {
                for a in ANOMALIES {
                    b = b.anomaly(a, 0);
                }
                return b.undecided("the caller's beliefs were never read").build();
            }
        };
        let charges = match last_ok(history, PaymentOp::Ledger) {
            Some(PaymentValue::Ledger { charges }) => charges,
            _ => {
                for a in ANOMALIES {
                    b = b.anomaly(a, 0);
                }
                return b.undecided("the ledger was never read").build();
            }
        };
        let mut by_order: BTreeMap<&str, Vec<&Charge>> = BTreeMap::new();
        for c in charges {
            by_order.entry(c.order_id.as_str()).or_default().push(c);
        }
        let known: BTreeSet<&str> = records.iter().map(|r| r.order_id.as_str()).collect();
        let duplicate: usize = by_order.values().map(|cs| cs.len().saturating_sub(1)).sum();
        let unknown = charges
            .iter()
            .filter(|c| !known.contains(c.order_id.as_str()))
            .count();
        let (mut lies, mut corrupt, mut missing, mut pending) = (0, 0, 0, 0);
        let mut statuses: BTreeMap<OrderStatus, u64> = BTreeMap::new();
        for r in records {
            *statuses.entry(r.status).or_default() += 1;
            let taken = by_order
                .get(r.order_id.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            match r.status {
                OrderStatus::Failed if !taken.is_empty() => lies += 1,
                OrderStatus::Pending => pending += 1,
                OrderStatus::Charged if taken.is_empty() => missing += 1,
                OrderStatus::Charged => {
                    let held = r.charge.as_ref();
                    let matches = held.is_some_and(|h| {
                        taken.iter().any(|c| {
                            c.id == h.charge_id
                                && c.amount_cents == h.amount_cents
                                && h.order_id == c.order_id
                                && h.receipt == receipt_for(c.id, &c.order_id, c.amount_cents)
                        })
                    });
                    if !matches {
                        corrupt += 1;
                    }
                }
                OrderStatus::Failed => {}
            }
        }
        let mut calls_of: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for op in history.ops() {
            if let PaymentValue::Place { order, .. } = &op.value {
                calls_of
                    .entry(order.id.as_str())
                    .or_default()
                    .push(op.index);
            }
        }
        let show = |b: CheckResultBuilder, class: &str, order: &str| match calls_of.get(order) {
            Some(ops) => b.example(class, ops),
            None => b,
        };
        for (order, cs) in &by_order {
            if cs.len() > 1 {
                b = show(b, "duplicate_charge", order);
            }
        }
        for r in records {
            let taken = by_order.contains_key(r.order_id.as_str());
            let class = match r.status {
                OrderStatus::Failed if taken => "failed_but_charged",
                OrderStatus::Pending => "unresolved_unknown",
                OrderStatus::Charged if !taken => "charged_not_in_ledger",
                _ => continue,
            };
            b = show(b, class, &r.order_id);
        }
        let placed = history
            .ops()
            .iter()
            .filter(|o| o.f == PaymentOp::Place && o.kind == OpKind::Invoke)
            .count();
        b = b
            .anomaly("duplicate_charge", duplicate as u64)
            .anomaly("unknown_charge", unknown as u64)
            .anomaly("failed_but_charged", lies)
            .anomaly("corrupt_reply_accepted", corrupt)
            .anomaly("charged_not_in_ledger", missing)
            .anomaly("unresolved_unknown", pending)
            .counted("orders_placed", placed as u64)
            .counted("charges_in_ledger", charges.len() as u64)
            .phrase("duplicate_charge", None, "extra charges for orders already charged")
            .phrase("unknown_charge", None, "charges for orders the caller has no record of")
            .phrase(
                "failed_but_charged",
                Some("orders_placed"),
                "orders were shown to the user as failed although the money was taken",
            )
            .phrase(
                "corrupt_reply_accepted",
                Some("orders_placed"),
                "orders hold a charge (id, amount or receipt) the ledger does not have: a corrupt reply was taken as data",
            )
            .phrase(
                "charged_not_in_ledger",
                Some("orders_placed"),
                "orders are held as charged with no charge in the ledger",
            )
            .phrase(
                "unresolved_unknown",
                Some("orders_placed"),
                "orders were left pending: their outcome never resolved",
            );
        for (status, n) in statuses {
            let name = match status {
                OrderStatus::Charged => "orders_charged",
                OrderStatus::Failed => "orders_failed",
                OrderStatus::Pending => "orders_pending",
            };
            b = b.counted(name, n);
        }
        if placed as u64 != records.len() as u64 {
            b = b.note(format!(
                "{placed} orders placed, {} known to the caller",
                records.len()
            ));
        }
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shakedown::checker::Validity;
    use shakedown::history::build;

    use super::super::ChargeReply;

    fn order(id: &str) -> Order {
        Order {
            id: id.into(),
            customer: "ada".into(),
            amount_cents: 100,
        }
    }

    fn charge(id: i64, order: &str) -> Charge {
        Charge {
            id,
            order_id: order.into(),
            amount_cents: 100,
        }
    }

    fn charged(order: &str, id: i64) -> OrderRecord {
        OrderRecord {
            order_id: order.into(),
            status: OrderStatus::Charged,
            charge: Some(ChargeReply {
                charge_id: id,
                order_id: order.into(),
                amount_cents: 100,
                receipt: receipt_for(id, order, 100),
            }),
        }
    }

    fn status(order: &str, status: OrderStatus) -> OrderRecord {
        OrderRecord {
            order_id: order.into(),
            status,
            charge: None,
        }
    }

    fn done(
        h: &mut History<PaymentOp, PaymentValue>,
        f: PaymentOp,
        v: PaymentValue,
        out: PaymentValue,
    ) {
        build::invoke(h, 0, f, v);
        build::ok(h, 0, out);
    }

    fn history(
        placed: &[&str],
        records: Vec<OrderRecord>,
        charges: Vec<Charge>,
    ) -> History<PaymentOp, PaymentValue> {
        let mut h = History::new();
        for id in placed {
            let v = PaymentValue::Place {
                order: order(id),
                record: None,
            };
            done(&mut h, PaymentOp::Place, v.clone(), v);
        }
        let empty = PaymentValue::Believed { records: vec![] };
        done(
            &mut h,
            PaymentOp::Believed,
            empty,
            PaymentValue::Believed { records },
        );
        let empty = PaymentValue::Ledger { charges: vec![] };
        done(
            &mut h,
            PaymentOp::Ledger,
            empty,
            PaymentValue::Ledger { charges },
        );
        h
    }

    fn check(h: &History<PaymentOp, PaymentValue>) -> CheckResult {
        PartialFailureChecker.check(h, &Timeline::default())
    }

    #[test]
    fn one_charge_per_charged_order_and_none_for_failed_ones_is_valid() {
        let h = history(
            &["a", "b"],
            vec![charged("a", 1), status("b", OrderStatus::Failed)],
            vec![charge(1, "a")],
        );
        let r = check(&h);
        assert_eq!(r.validity, Validity::Valid, "{r:?}");
        assert_eq!(r.counted["orders_placed"], 2);
        assert_eq!(r.counted["orders_failed"], 1);
    }

    #[test]
    fn retries_without_a_key_show_as_duplicates_and_lies() {
        let h = history(
            &["a"],
            vec![status("a", OrderStatus::Failed)],
            vec![
                charge(1, "a"),
                charge(2, "a"),
                charge(3, "a"),
                charge(4, "x"),
            ],
        );
        let r = check(&h);
        assert_eq!(r.anomaly("duplicate_charge"), Some(2));
        assert_eq!(r.anomaly("failed_but_charged"), Some(1));
        assert_eq!(r.anomaly("unknown_charge"), Some(1));
        assert_eq!(r.validity, Validity::Invalid);
        // The order's own calls show the duplicate and the lie.
        let calls = &r.examples["duplicate_charge"];
        assert_eq!(
            calls.len(),
            1,
            "one order charged more than once: {calls:?}"
        );
        assert_eq!(r.examples["failed_but_charged"], *calls);
        assert_eq!(
            r.sentence("failed_but_charged").as_deref(),
            Some("1 of 1 orders were shown to the user as failed although the money was taken")
        );
    }

    #[test]
    fn a_held_charge_unlike_the_ledger_is_a_corrupt_reply_accepted() {
        let mut amount = charged("a", 1);
        amount.charge.as_mut().unwrap().amount_cents = 900;
        let mut receipt = charged("b", 2);
        receipt.charge.as_mut().unwrap().receipt.push('!');
        let h = history(
            &["a", "b", "c", "d"],
            vec![
                amount,
                receipt,
                charged("c", 9),
                status("d", OrderStatus::Pending),
            ],
            vec![charge(1, "a"), charge(2, "b")],
        );
        let r = check(&h);
        assert_eq!(r.anomaly("corrupt_reply_accepted"), Some(2));
        assert_eq!(r.anomaly("charged_not_in_ledger"), Some(1));
        assert_eq!(r.anomaly("unresolved_unknown"), Some(1));
        assert_eq!(r.anomaly("duplicate_charge"), Some(0));
    }

    #[test]
    fn without_the_final_reads_the_verdict_is_unknown() {
        let mut h = History::new();
        let v = PaymentValue::Place {
            order: order("a"),
            record: None,
        };
        done(&mut h, PaymentOp::Place, v.clone(), v);
        let r = check(&h);
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(r.anomaly("duplicate_charge"), Some(0));
    }
}
