use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use shakedown::checker::{CheckResult, Checker};
use shakedown::fault::Timeline;
use shakedown::history::{History, OpKind};

use super::{CustomerReport, Order};

/// An operation of the shared-database workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbOp {
    /// `orders` stores an order.
    Place,
    /// `reporting` reads a customer's report.
    Report,
    /// `orders` runs its schema migration.
    Migrate,
    /// The orders stored, read at the end.
    Stored,
}

/// What an operation was about, and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DbValue {
    /// An order to store.
    Place {
        /// The order.
        order: Order,
    },
    /// A customer's report, once read.
    Report {
        /// Whose.
        customer: String,
        /// What it said.
        report: Option<CustomerReport>,
    },
    /// The migration.
    Migrate,
    /// The ids of the orders stored.
    Stored {
        /// The ids.
        ids: Vec<String>,
    },
}

/// Judges what `orders` did to itself while its events ran (their blast radius on `reporting`
/// is [`BlastRadiusChecker`](shakedown::checker::BlastRadiusChecker)'s):
///
/// - `migration_not_completed`: the migration never answered that it was applied;
/// - `lost_write`: orders acknowledged as stored that are not stored at the end.
///
/// Counted: `writes_acknowledged`, `writes_stored` (of this run's orders).
#[derive(Debug, Clone, Copy, Default)]
pub struct SharedDatabaseChecker;

/// Every class the checker declares.
pub const ANOMALIES: [&str; 2] = ["migration_not_completed", "lost_write"];

impl Checker<DbOp, DbValue> for SharedDatabaseChecker {
    fn name(&self) -> &str {
        "shared_database"
    }

    fn check(&self, history: &History<DbOp, DbValue>, _timeline: &Timeline) -> CheckResult {
        let mut b = CheckResult::builder(self.name());
        let calls = history.calls();
        let stored = calls.iter().rev().find_map(|c| match c.completion {
            Some(done) if c.invoke.f == DbOp::Stored && done.kind == OpKind::Ok => {
                match &done.value {
                    DbValue::Stored { ids } => {
                        Some(ids.iter().map(String::as_str).collect::<BTreeSet<_>>())
                    }
                    _ => None,
                }
            }
            _ => None,
        });
        let Some(stored) = stored else {
            for a in ANOMALIES {
                b = b.anomaly(a, 0);
            }
            return b.undecided("the stored orders were never read").build();
        };
        let migrations: Vec<_> = calls
            .iter()
            .filter(|c| c.invoke.f == DbOp::Migrate)
            .collect();
        let migrated = migrations.iter().any(|c| c.is_ok());
        if !migrated {
            for c in &migrations {
                let ops: Vec<u64> = std::iter::once(c.invoke.index)
                    .chain(c.completion.map(|d| d.index))
                    .collect();
                b = b.example("migration_not_completed", &ops);
            }
        }
        let mut acknowledged = BTreeSet::new();
        let mut ours = BTreeSet::new();
        let mut lost = 0;
        for c in calls.iter().filter(|c| c.invoke.f == DbOp::Place) {
            let DbValue::Place { order } = &c.invoke.value else {
                continue;
            };
            ours.insert(order.id.as_str());
            if c.is_ok()
                && acknowledged.insert(order.id.as_str())
                && !stored.contains(order.id.as_str())
            {
                lost += 1;
                let ops: Vec<u64> = std::iter::once(c.invoke.index)
                    .chain(c.completion.map(|d| d.index))
                    .collect();
                b = b.example("lost_write", &ops);
            }
        }
        if migrations.is_empty() {
            b = b.undecided("the migration was never run");
        }
        b.anomaly(
            "migration_not_completed",
            u64::from(!migrated && !migrations.is_empty()),
        )
        .anomaly("lost_write", lost)
        .counted("writes_acknowledged", acknowledged.len() as u64)
        .counted(
            "writes_stored",
            ours.iter().filter(|id| stored.contains(*id)).count() as u64,
        )
        .phrase(
            "migration_not_completed",
            None,
            "migrations that never completed",
        )
        .phrase(
            "lost_write",
            Some("writes_acknowledged"),
            "acknowledged writes are missing from the database",
        )
        .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shakedown::checker::Validity;
    use shakedown::history::build::*;

    fn place(h: &mut History<DbOp, DbValue>, p: u64, id: &str, kind: OpKind) {
        let v = DbValue::Place {
            order: Order {
                id: id.into(),
                customer: "ada".into(),
                amount_cents: 100,
            },
        };
        invoke(h, p, DbOp::Place, v.clone());
        match kind {
            OpKind::Ok => ok(h, p, v),
            OpKind::Fail => fail(h, p, v),
            _ => info(h, p, v),
        }
    }

    fn migrate(h: &mut History<DbOp, DbValue>, applied: bool) {
        invoke(h, 0, DbOp::Migrate, DbValue::Migrate);
        if applied {
            ok(h, 0, DbValue::Migrate);
        } else {
            fail(h, 0, DbValue::Migrate);
        }
    }

    fn stored(h: &mut History<DbOp, DbValue>, ids: &[&str]) {
        invoke(h, 1, DbOp::Stored, DbValue::Stored { ids: vec![] });
        let ids = ids.iter().map(|s| s.to_string()).collect();
        ok(h, 1, DbValue::Stored { ids });
    }

    fn check(h: &History<DbOp, DbValue>) -> CheckResult {
        SharedDatabaseChecker.check(h, &Timeline::default())
    }

    #[test]
    fn an_applied_migration_and_every_acknowledged_order_stored_is_valid() {
        let mut h = History::new();
        place(&mut h, 2, "a", OpKind::Ok);
        place(&mut h, 3, "b", OpKind::Fail); // refused: not stored, not lost
        place(&mut h, 4, "c", OpKind::Info); // unknown, and in fact stored
        migrate(&mut h, true);
        stored(&mut h, &["a", "c"]);
        let r = check(&h);
        assert_eq!(r.validity, Validity::Valid, "{r:?}");
        assert_eq!(r.counted["writes_acknowledged"], 1);
        assert_eq!(r.counted["writes_stored"], 2);
    }

    #[test]
    fn a_migration_that_gave_up_and_an_acknowledged_order_missing_are_caught() {
        let mut h = History::new();
        place(&mut h, 2, "a", OpKind::Ok);
        place(&mut h, 3, "b", OpKind::Ok);
        migrate(&mut h, false);
        stored(&mut h, &["b"]);
        let r = check(&h);
        assert_eq!(r.anomaly("migration_not_completed"), Some(1));
        assert_eq!(r.anomaly("lost_write"), Some(1));
        assert_eq!(r.examples["lost_write"], vec![vec![0, 1]]);
        // A retry that got through later counts as applied.
        migrate(&mut h, true);
        stored(&mut h, &["a", "b"]);
        assert_eq!(check(&h).validity, Validity::Valid);
    }

    #[test]
    fn without_the_final_read_the_verdict_is_unknown() {
        let mut h = History::new();
        place(&mut h, 2, "a", OpKind::Ok);
        migrate(&mut h, true);
        let r = check(&h);
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(r.anomaly("lost_write"), Some(0));
    }
}
