use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::ClientError;

/// An order `orders` writes: one row in its table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Order {
    /// The order's id (unique per run).
    pub id: String,
    /// Who placed it.
    pub customer: String,
    /// How much, in cents.
    pub amount_cents: i64,
}

/// What `reporting` answers for one customer: their orders, counted and summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerReport {
    /// How many orders the customer has.
    pub orders: i64,
    /// Their total, in cents.
    pub total_cents: i64,
}

/// The writing service, as the suite needs it: it places orders, runs its schema migration
/// (the event whose blast radius is measured), and lists what it stored.
pub trait OrdersService: Send + Sync {
    /// Places (stores) `order`; `Ok` means it is stored.
    fn place(&self, order: &Order) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// Runs the service's schema migration (a new column on its table, a new index) and
    /// returns once it is applied; `Err` if it gave up. Applying it twice does nothing more.
    fn migrate(&self) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// The ids of every order stored (read at the end, after the events).
    fn stored(&self) -> impl Future<Output = Result<Vec<String>, ClientError>> + Send;
}

/// The reading service, as the suite needs it: the other service on the same database, whose
/// availability and latency the suite measures.
pub trait ReportingService: Send + Sync {
    /// The report of one customer.
    fn report(
        &self,
        customer: &str,
    ) -> impl Future<Output = Result<CustomerReport, ClientError>> + Send;
}

/// A client of the reference `orders` service (`POST /orders`, `POST /migrate`, `GET /orders`).
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::ClientError> {
/// use shakedown_suites::shared_database::{HttpOrders, Order, OrdersService};
/// let orders = HttpOrders::new("http://127.0.0.1:8080")?;
/// orders.place(&Order { id: "o-1".into(), customer: "ada".into(), amount_cents: 1250 }).await?;
/// orders.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpOrders {
    api: crate::http::Endpoint,
}

impl HttpOrders {
    /// A client of the service at `base` (`http://host:port`), 60 s per request (a migration
    /// may retry for a while).
    pub fn new(base: impl Into<String>) -> Result<Self, ClientError> {
        Ok(HttpOrders {
            api: crate::http::Endpoint::new(base, Duration::from_secs(60))?,
        })
    }
}

/// A client of the reference `reporting` service (`GET /reports/{customer}`).
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::ClientError> {
/// use shakedown_suites::shared_database::{HttpReporting, ReportingService};
/// let reporting = HttpReporting::new("http://127.0.0.1:8081")?;
/// let report = reporting.report("ada").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpReporting {
    api: crate::http::Endpoint,
}

impl HttpReporting {
    /// A client of the service at `base` (`http://host:port`), 30 s per request.
    pub fn new(base: impl Into<String>) -> Result<Self, ClientError> {
        Ok(HttpReporting {
            api: crate::http::Endpoint::new(base, Duration::from_secs(30))?,
        })
    }
}

impl OrdersService for HttpOrders {
    async fn place(&self, order: &Order) -> Result<(), ClientError> {
        let resp = self.api.post("/orders").json(order).send().await?;
        crate::http::json_body::<serde_json::Value>(resp)
            .await
            .map(|_| ())
    }

    async fn migrate(&self) -> Result<(), ClientError> {
        let resp = self.api.post("/migrate").send().await?;
        crate::http::json_body::<serde_json::Value>(resp)
            .await
            .map(|_| ())
    }

    async fn stored(&self) -> Result<Vec<String>, ClientError> {
        let resp = self.api.get("/orders").send().await?;
        crate::http::json_body(resp).await
    }
}

impl ReportingService for HttpReporting {
    async fn report(&self, customer: &str) -> Result<CustomerReport, ClientError> {
        let resp = self.api.get(&format!("/reports/{customer}")).send().await?;
        crate::http::json_body(resp).await
    }
}
