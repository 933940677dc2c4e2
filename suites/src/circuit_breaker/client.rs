use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::http::json_body;
use crate::partial_failure::{HttpLedger, Order, PaymentsLedger};
pub use crate::ClientError;

/// What the caller told the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The dependency took the payment.
    Charged,
    /// Answered without the dependency: the order accepted, the payment to follow.
    Fallback,
    /// The user was told the order failed.
    Failed,
}

/// What the caller believes happened to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAnswer {
    /// What the user was told.
    pub outcome: Outcome,
    /// Whether the caller sent the request to the dependency (`false`: its breaker, or a load
    /// limit, answered without it).
    pub called: bool,
}

/// The system under test, as the suite needs it: a caller that charges a dependency for each
/// order, behind whatever protection it has.
pub trait OrderCaller: Send + Sync {
    /// Places `order` and answers what the caller believes happened.
    fn place(&self, order: &Order) -> impl Future<Output = Result<CallAnswer, ClientError>> + Send;
}

/// The dependency's own count of the requests that reached it (or the fault proxy's in front of
/// it), read at phase boundaries: the truth about calls made while it was down, which the
/// caller's word is not.
pub trait DependencyCount: Send + Sync {
    /// Requests that have reached the dependency so far.
    fn reached(&self) -> impl Future<Output = Result<u64, ClientError>> + Send;
}

/// A client of the reference `checkout` service (`POST /orders` → a [`CallAnswer`]).
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::ClientError> {
/// use shakedown_suites::circuit_breaker::{HttpCheckout, OrderCaller};
/// use shakedown_suites::partial_failure::Order;
/// let checkout = HttpCheckout::new("http://127.0.0.1:8080")?;
/// let order = Order { id: "cb-1".into(), customer: "ada".into(), amount_cents: 1250 };
/// let answer = checkout.place(&order).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpCheckout {
    http: reqwest::Client,
    orders: String,
}

impl HttpCheckout {
    /// A client of the service at `base` (`http://host:port`).
    pub fn new(base: impl Into<String>) -> Result<Self, ClientError> {
        let base = base.into();
        Ok(HttpCheckout {
            http: crate::http::client(super::caller::SERVICE_TIMEOUT, false)?,
            orders: format!("{}/orders", base.trim_end_matches('/')),
        })
    }
}

impl OrderCaller for HttpCheckout {
    async fn place(&self, order: &Order) -> Result<CallAnswer, ClientError> {
        let resp = self.http.post(&self.orders).json(order).send().await?;
        json_body(resp).await
    }
}

/// The reference dependency's count: the charges of this run's orders in `payments`' ledger
/// (a request that reached payments is a charge: the caller sends no idempotency key), plus,
/// [`with_proxy`](LedgerCount::with_proxy), the requests the fault proxy's HTTP toxics answered
/// in payments' place (from its `/metrics`).
#[derive(Debug, Clone)]
pub struct LedgerCount {
    ledger: HttpLedger,
    prefix: String,
    proxy: Option<(reqwest::Client, String, String)>,
}

impl LedgerCount {
    /// Counts the charges in `ledger` of orders whose id starts with `prefix`.
    pub fn new(ledger: HttpLedger, prefix: impl Into<String>) -> Self {
        LedgerCount {
            ledger,
            prefix: prefix.into(),
            proxy: None,
        }
    }

    /// Also counts the requests that HTTP toxics of proxy `proxy` answered, read from the
    /// proxy's API at `api` (`http://host:port`, its `/metrics`).
    pub fn with_proxy(
        mut self,
        api: impl Into<String>,
        proxy: impl Into<String>,
    ) -> Result<Self, ClientError> {
        let http = crate::http::client(std::time::Duration::from_secs(10), false)?;
        let metrics = format!("{}/metrics", api.into().trim_end_matches('/'));
        self.proxy = Some((http, metrics, proxy.into()));
        Ok(self)
    }
}

/// The sum of `shakedown_http_toxic_requests_total{action="answered"}` of proxy `proxy` in a
/// Prometheus text page.
fn answered_at_proxy(page: &str, proxy: &str) -> Result<u64, ClientError> {
    let label = format!("proxy=\"{proxy}\"");
    let mut total = 0;
    for line in page.lines() {
        let Some(rest) = line.strip_prefix("shakedown_http_toxic_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        if !labels.split(',').any(|l| l == label) || !labels.contains("action=\"answered\"") {
            continue;
        }
        total += value.trim().parse::<u64>().map_err(|e| {
            ClientError::Failed(format!("bad counter in the proxy's metrics ({line}): {e}"))
        })?;
    }
    Ok(total)
}

impl DependencyCount for LedgerCount {
    async fn reached(&self) -> Result<u64, ClientError> {
        let charges = self.ledger.charges().await?;
        let charged = charges
            .iter()
            .filter(|c| c.order_id.starts_with(&self.prefix))
            .count() as u64;
        let answered = match &self.proxy {
            Some((http, metrics, proxy)) => {
                let page = http.get(metrics).send().await?;
                let status = page.status();
                let text = page.text().await?;
                if !status.is_success() {
                    return Err(ClientError::Failed(format!("proxy metrics: HTTP {status}")));
                }
                answered_at_proxy(&text, proxy)?
            }
            None => 0,
        };
        Ok(charged + answered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_proxys_answered_requests_are_summed() {
        let page = "\
# TYPE shakedown_http_toxic_requests_total counter
shakedown_http_toxic_requests_total{action=\"answered\",proxy=\"payments\",toxic=\"a\"} 7
shakedown_http_toxic_requests_total{action=\"answered\",proxy=\"payments\",toxic=\"b\"} 2
shakedown_http_toxic_requests_total{action=\"delayed\",proxy=\"payments\",toxic=\"c\"} 5
shakedown_http_toxic_requests_total{action=\"answered\",proxy=\"payments-2\",toxic=\"a\"} 4
shakedown_http_requests_total{proxy=\"payments\"} 30
";
        assert_eq!(answered_at_proxy(page, "payments").unwrap(), 9);
        assert_eq!(answered_at_proxy(page, "other").unwrap(), 0);
        let bad = "shakedown_http_toxic_requests_total{action=\"answered\",proxy=\"p\"} x";
        assert!(answered_at_proxy(bad, "p").is_err());
    }
}
