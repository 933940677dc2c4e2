//! An order's lifecycle events and the transitions between them: what producers publish and
//! what a consumer applies.

use serde::{Deserialize, Serialize};

/// What happened to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The customer placed it (published by `orders`).
    Created,
    /// It was paid (published by `payments`).
    Paid,
    /// It left the warehouse (published by `orders`).
    Shipped,
    /// It was cancelled (published by `orders`).
    Cancelled,
    /// Its payment went back (published by `payments`).
    Refunded,
}

/// Who publishes an event: each service on its own connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Producer {
    /// The orders service: created, shipped, cancelled.
    Orders,
    /// The payments service: paid, refunded.
    Payments,
}

impl EventKind {
    /// Its name, as stored and sent (`created` …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Paid => "paid",
            EventKind::Shipped => "shipped",
            EventKind::Cancelled => "cancelled",
            EventKind::Refunded => "refunded",
        }
    }

    /// The kind called `name`, if any.
    pub fn parse(name: &str) -> Option<EventKind> {
        [
            EventKind::Created,
            EventKind::Paid,
            EventKind::Shipped,
            EventKind::Cancelled,
            EventKind::Refunded,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// The service that publishes it.
    pub fn producer(self) -> Producer {
        match self {
            EventKind::Paid | EventKind::Refunded => Producer::Payments,
            _ => Producer::Orders,
        }
    }

    /// Whether an order in state `from` (`None`: not created yet) may move to this event's state.
    ///
    /// ```
    /// use shakedown_suites::event_ordering::EventKind::*;
    /// assert!(Shipped.follows(Some(Paid)));
    /// assert!(!Shipped.follows(Some(Created)), "shipped before paid");
    /// assert!(!Created.follows(Some(Cancelled)), "a cancelled order revived");
    /// ```
    pub fn follows(self, from: Option<EventKind>) -> bool {
        use EventKind::*;
        matches!(
            (from, self),
            (None, Created)
                | (Some(Created), Paid)
                | (Some(Created), Cancelled)
                | (Some(Paid), Shipped)
                | (Some(Paid), Cancelled)
                | (Some(Cancelled), Refunded)
        )
    }
}

/// One lifecycle event of one order. `version` is the aggregate's version after the event: an
/// order's events are numbered 1, 2, 3 … in the order they happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderEvent {
    /// The order.
    pub order_id: String,
    /// Unique per event (a producer's retry republishes the same id).
    pub event_id: String,
    /// The order's version once this event is applied (from 1).
    pub version: i32,
    /// What happened.
    pub kind: EventKind,
    /// The customer (fake data, carried as a real event would).
    pub customer: String,
}

/// The ways an order's life goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Created, paid, shipped.
    Shipped,
    /// Created, cancelled.
    Cancelled,
    /// Created, paid, cancelled, refunded.
    Refunded,
}

impl Lifecycle {
    /// Every lifecycle.
    pub const ALL: [Lifecycle; 3] = [
        Lifecycle::Shipped,
        Lifecycle::Cancelled,
        Lifecycle::Refunded,
    ];

    /// Its events, in the order they happen (version 1 first).
    pub fn kinds(self) -> &'static [EventKind] {
        use EventKind::*;
        match self {
            Lifecycle::Shipped => &[Created, Paid, Shipped],
            Lifecycle::Cancelled => &[Created, Cancelled],
            Lifecycle::Refunded => &[Created, Paid, Cancelled, Refunded],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lifecycle_is_a_chain_of_allowed_transitions() {
        for l in Lifecycle::ALL {
            let mut state = None;
            for k in l.kinds() {
                assert!(k.follows(state), "{l:?}: {k:?} after {state:?}");
                state = Some(*k);
            }
        }
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for l in Lifecycle::ALL {
            for k in l.kinds() {
                assert_eq!(EventKind::parse(k.as_str()), Some(*k));
            }
        }
        assert_eq!(EventKind::parse("teleported"), None);
    }
}
