use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{EventKind, OrderEvent};
pub use crate::ClientError;

/// One event as the consumer applied it (its state change committed), in the order applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The order.
    pub order_id: String,
    /// The event.
    pub event_id: String,
    /// Its version.
    pub version: i32,
    /// What it was.
    pub kind: EventKind,
}

/// An order's state as the consumer holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    /// The order.
    pub order_id: String,
    /// Its status (`None`: known, nothing applied yet).
    pub status: Option<EventKind>,
}

/// What the consumer did with the events, read at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Every application, in the order they were committed (an event applied twice appears
    /// twice).
    pub applied: Vec<Applied>,
    /// Events the consumer holds without applying them (parked, waiting for an earlier
    /// version: a gap it flags): their ids.
    pub parked: Vec<String>,
    /// Every order it knows, with its status.
    pub orders: Vec<OrderState>,
}

/// A producer of order events, as the suite drives it: one per service (`orders`,
/// `payments`), each on its own connection to the broker.
pub trait EventPublisher: Send + Sync {
    /// Publishes `event` and returns once the broker confirmed it (a refused publish is
    /// [`ClientError::Failed`]; a lost confirm [`ClientError::Unknown`]).
    fn publish(&self, event: &OrderEvent) -> impl Future<Output = Result<(), ClientError>> + Send;
}

/// The consumer under test, as the suite observes it: what it applied, what it parked, the
/// state it holds. A team's consumer answers this from its own tables (an applied-events
/// journal is what most keep for audit anyway).
pub trait ConsumerView: Send + Sync {
    /// What the consumer has done so far.
    fn observe(&self) -> impl Future<Output = Result<Observation, ClientError>> + Send;
}

/// A client of the reference consumer's view (`GET /observed`), served by any replica.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::event_ordering::ClientError> {
/// use shakedown_suites::event_ordering::{ConsumerView, HttpConsumer};
/// let consumer = HttpConsumer::new("http://127.0.0.1:8080")?;
/// let seen = consumer.observe().await?;
/// println!("{} applications, {} parked", seen.applied.len(), seen.parked.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpConsumer {
    api: crate::http::Endpoint,
}

impl HttpConsumer {
    /// A client of the consumer at `base` (`http://host:port`), 10 s per request.
    pub fn new(base: impl Into<String>) -> Result<Self, ClientError> {
        Ok(HttpConsumer {
            api: crate::http::Endpoint::new(base, Duration::from_secs(10))?,
        })
    }
}

impl ConsumerView for HttpConsumer {
    async fn observe(&self) -> Result<Observation, ClientError> {
        let resp = self.api.get("/observed").send().await?;
        crate::http::json_body(resp).await
    }
}
