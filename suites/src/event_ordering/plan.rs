//! The seeded publication plan: which orders, how each one's life goes, and in which order its
//! events reach the broker. The plan fixes every order's arrival order itself (one event per
//! order per round, a round settled before the next), so the anomalies a consumer makes of it
//! are the same on every run, whatever the jitter and whichever replica takes which event.

use fake::faker::name::en::FirstName;
use fake::Fake;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{EventKind, Lifecycle, OrderEvent};

/// How an order's events are published, against the order they happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Twist {
    /// In version order.
    InOrder,
    /// Two neighbours swapped: the later event arrives first (shipped before paid, cancelled
    /// before created).
    Early,
    /// Like `Early`, and the early event published twice (its producer retried after a lost
    /// confirm) before the gap fills.
    EarlyRepeated,
    /// In order, then one earlier event published again at the end (a retry that arrives after
    /// the order moved on).
    RepublishedLate,
    /// One event, not the last, never published: the events after it wait for a gap that never
    /// fills.
    Gap,
}

impl Twist {
    /// Every twist.
    pub const ALL: [Twist; 5] = [
        Twist::InOrder,
        Twist::Early,
        Twist::EarlyRepeated,
        Twist::RepublishedLate,
        Twist::Gap,
    ];
}

/// One order of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOrder {
    /// Its id.
    pub order_id: String,
    /// How its life goes.
    pub lifecycle: Lifecycle,
    /// How its events are published.
    pub twist: Twist,
    /// Its events in publication order (retries included, a gap left out).
    pub publications: Vec<OrderEvent>,
}

/// What a run publishes: the orders published round by round, then a burst of new orders
/// created at once (published while a consumer's acknowledgements are held, before it is
/// killed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The orders with a lifecycle and a twist.
    pub orders: Vec<PlannedOrder>,
    /// The burst: one `created` event per new order.
    pub burst: Vec<OrderEvent>,
}

impl Plan {
    /// A plan of `orders` orders (every lifecycle and twist dealt in turn, then shuffled) and a
    /// burst of `burst` new orders, with fake customers from `rng`; ids start with `label`.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use shakedown_suites::event_ordering::Plan;
    /// let plan = Plan::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1), "eo", 15, 4);
    /// assert_eq!(plan.orders.len(), 15);
    /// assert_eq!(plan.rounds()[0].len(), 15, "every order has a first publication");
    /// assert_eq!(plan.burst.len(), 4);
    /// ```
    pub fn new(rng: &mut impl Rng, label: &str, orders: usize, burst: usize) -> Plan {
        let mut deals: Vec<(Lifecycle, Twist)> = (0..orders)
            .map(|i| {
                let l = Lifecycle::ALL[i % Lifecycle::ALL.len()];
                let t = Twist::ALL[(i / Lifecycle::ALL.len()) % Twist::ALL.len()];
                (l, t)
            })
            .collect();
        deals.shuffle(rng);
        let orders = deals
            .into_iter()
            .enumerate()
            .map(|(i, (lifecycle, twist))| {
                let order_id = format!("{label}-{i}");
                let customer = customer(rng);
                let events = events(&order_id, &customer, lifecycle.kinds());
                let publications = publish_order(rng, events, twist);
                PlannedOrder {
                    order_id,
                    lifecycle,
                    twist,
                    publications,
                }
            })
            .collect();
        let burst = (0..burst)
            .map(|i| {
                let order_id = format!("{label}-burst-{i}");
                let customer = customer(rng);
                events(&order_id, &customer, &[EventKind::Created]).remove(0)
            })
            .collect();
        Plan { orders, burst }
    }

    /// Round `r` holds publication `r` of every order that has one.
    pub fn rounds(&self) -> Vec<Vec<OrderEvent>> {
        let n = self
            .orders
            .iter()
            .map(|o| o.publications.len())
            .max()
            .unwrap_or(0);
        (0..n)
            .map(|r| {
                self.orders
                    .iter()
                    .filter_map(|o| o.publications.get(r).cloned())
                    .collect()
            })
            .collect()
    }
}

fn customer(rng: &mut impl Rng) -> String {
    let name: String = FirstName().fake_with_rng(rng);
    name.to_lowercase()
}

fn events(order_id: &str, customer: &str, kinds: &[EventKind]) -> Vec<OrderEvent> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| OrderEvent {
            order_id: order_id.to_string(),
            event_id: format!("{order_id}-v{}", i + 1),
            version: i as i32 + 1,
            kind: *kind,
            customer: customer.to_string(),
        })
        .collect()
}

/// `events` (at least two, in version order) in the publication order `twist` makes.
fn publish_order(rng: &mut impl Rng, mut events: Vec<OrderEvent>, twist: Twist) -> Vec<OrderEvent> {
    let n = events.len();
    // A position with a neighbour after it.
    let k = rng.random_range(0..n - 1);
    match twist {
        Twist::InOrder => {}
        Twist::Early => events.swap(k, k + 1),
        Twist::EarlyRepeated => {
            events.swap(k, k + 1);
            let early = events[k].clone();
            events.insert(k + 1, early);
        }
        Twist::RepublishedLate => {
            let again = events[k].clone();
            events.push(again);
        }
        Twist::Gap => {
            events.remove(k);
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn plan(seed: u64) -> Plan {
        Plan::new(
            &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            "t",
            30,
            5,
        )
    }

    #[test]
    fn the_same_seed_makes_the_same_plan() {
        assert_eq!(plan(3), plan(3));
        assert_ne!(plan(3), plan(4));
    }

    #[test]
    fn every_lifecycle_meets_every_twist() {
        let p = plan(1);
        for l in Lifecycle::ALL {
            for t in Twist::ALL {
                assert!(
                    p.orders.iter().any(|o| o.lifecycle == l && o.twist == t),
                    "{l:?} {t:?}"
                );
            }
        }
    }

    #[test]
    fn twists_publish_what_they_say() {
        for o in plan(2).orders {
            let versions: Vec<i32> = o.publications.iter().map(|e| e.version).collect();
            let n = o.lifecycle.kinds().len();
            let sorted = versions.windows(2).all(|w| w[0] < w[1]);
            match o.twist {
                Twist::InOrder => assert_eq!(versions, (1..=n as i32).collect::<Vec<_>>()),
                Twist::Early => assert!(!sorted && versions.len() == n),
                Twist::EarlyRepeated => assert_eq!(versions.len(), n + 1),
                Twist::RepublishedLate => {
                    assert_eq!(versions.len(), n + 1);
                    assert!(versions[n] < versions[n - 1]);
                }
                Twist::Gap => {
                    assert_eq!(versions.len(), n - 1);
                    assert!(sorted);
                    assert_eq!(versions.last(), Some(&(n as i32)));
                }
            }
        }
    }
}
