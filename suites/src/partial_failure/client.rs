use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::ClientError;

/// An order to place: `orders` charges `amount_cents` to `customer` through `payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The order's id (unique per run).
    pub id: String,
    /// Who pays.
    pub customer: String,
    /// How much, in cents.
    pub amount_cents: i64,
}

/// What the caller believes became of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Paid: the caller holds the charge's id, amount and receipt.
    Charged,
    /// Not paid, and the caller says so to the customer.
    Failed,
    /// The outcome is not known yet (a reply was lost); to be resolved.
    Pending,
}

/// An order as the caller records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The order's id.
    pub order_id: String,
    /// What the caller believes.
    pub status: OrderStatus,
    /// The charge the caller holds (when charged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge: Option<ChargeReply>,
}

/// What `payments` answers for a charge: the charge, and its receipt text. The suite's
/// contract between caller and dependency ([`receipt_for`] makes the receipt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeReply {
    /// The ledger's id of the charge.
    pub charge_id: i64,
    /// The order it pays.
    pub order_id: String,
    /// The amount taken, in cents.
    pub amount_cents: i64,
    /// The receipt shown to the customer.
    pub receipt: String,
}

/// One row of the dependency's ledger: money actually taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// The ledger's id.
    pub id: i64,
    /// The order it pays.
    pub order_id: String,
    /// The amount taken, in cents.
    pub amount_cents: i64,
}

/// The receipt `payments` writes for a charge: a fixed text, long enough (about 1 KiB) that
/// corruption on the wire lands in the body far more often than in the headers.
///
/// ```
/// use shakedown_suites::partial_failure::receipt_for;
/// assert!(receipt_for(7, "o-1", 1250).starts_with("charge 7: 1250 cents for order o-1."));
/// ```
pub fn receipt_for(charge_id: i64, order_id: &str, amount_cents: i64) -> String {
    let line = format!("charge {charge_id}: {amount_cents} cents for order {order_id}. ");
    line.repeat(1024 / line.len() + 1)
}

/// The system under test, as the suite needs it: the caller (`orders`) that charges a
/// dependency for each order.
pub trait OrderService: Send + Sync {
    /// Places `order`: charges it and answers what the caller now believes.
    fn place(&self, order: &Order)
        -> impl Future<Output = Result<OrderRecord, ClientError>> + Send;
    /// Resolves what it can of the orders left [`OrderStatus::Pending`] (asks the dependency;
    /// a caller without that notion does nothing).
    fn reconcile(&self) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// Every order it knows of, as it believes them now.
    fn orders(&self) -> impl Future<Output = Result<Vec<OrderRecord>, ClientError>> + Send;
}

/// The dependency's ledger, read directly (not through the faults): the truth the checker
/// holds the caller's beliefs against.
pub trait PaymentsLedger: Send + Sync {
    /// Every charge, in ledger order.
    fn charges(&self) -> impl Future<Output = Result<Vec<Charge>, ClientError>> + Send;
}

/// A client of the reference `orders` service (`POST /orders`, `POST /reconcile`,
/// `GET /orders`).
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::partial_failure::ClientError> {
/// use shakedown_suites::partial_failure::{HttpOrders, Order, OrderService};
/// let orders = HttpOrders::new("http://127.0.0.1:8080")?;
/// let order = Order { id: "o-1".into(), customer: "ada".into(), amount_cents: 1250 };
/// let record = orders.place(&order).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpOrders {
    api: crate::http::Endpoint,
}

impl HttpOrders {
    /// A client of the service at `base` (`http://host:port`), 30 s per request (an order may
    /// take several attempts at the dependency).
    pub fn new(base: impl Into<String>) -> Result<Self, ClientError> {
        Ok(HttpOrders {
            api: crate::http::Endpoint::new(base, Duration::from_secs(30))?,
        })
    }
}

/// A client of the reference `payments` service's ledger (`GET /ledger`).
#[derive(Debug, Clone)]
pub struct HttpLedger {
    api: crate::http::Endpoint,
}

impl HttpLedger {
    /// A client of the ledger of the service at `base` (`http://host:port`).
    pub fn new(base: impl Into<String>) -> Result<Self, ClientError> {
        Ok(HttpLedger {
            api: crate::http::Endpoint::new(base, Duration::from_secs(10))?,
        })
    }
}

impl OrderService for HttpOrders {
    async fn place(&self, order: &Order) -> Result<OrderRecord, ClientError> {
        let resp = self.api.post("/orders").json(order).send().await?;
        crate::http::json_body(resp).await
    }

    async fn reconcile(&self) -> Result<(), ClientError> {
        let resp = self.api.post("/reconcile").send().await?;
        crate::http::json_body::<serde_json::Value>(resp)
            .await
            .map(|_| ())
    }

    async fn orders(&self) -> Result<Vec<OrderRecord>, ClientError> {
        let resp = self.api.get("/orders").send().await?;
        crate::http::json_body(resp).await
    }
}

impl PaymentsLedger for HttpLedger {
    async fn charges(&self) -> Result<Vec<Charge>, ClientError> {
        let resp = self.api.get("/ledger").send().await?;
        crate::http::json_body(resp).await
    }
}
