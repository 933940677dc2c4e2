//! [`BreakerCaller`]: the orders side, charging `payments` through a [`Breaker`]. The reference
//! `checkout` service serves it over HTTP (naive and hardened policies); tests run buggy
//! policies of it in process against the real `payments`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{
    Breaker, BreakerPolicy, BreakerState, CallAnswer, CallEnd, ClientError, OrderCaller, Outcome,
};
use crate::partial_failure::Order;

/// Charges each order at `payments` (`POST /charges`, a fresh connection per call so each one
/// crosses the fault proxy) through a breaker with a [`BreakerPolicy`].
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::ClientError> {
/// use shakedown_suites::circuit_breaker::{BreakerCaller, BreakerPolicy, OrderCaller};
/// use shakedown_suites::partial_failure::Order;
/// let caller = BreakerCaller::new("http://127.0.0.1:18080", BreakerPolicy::hardened())?;
/// let order = Order { id: "cb-1".into(), customer: "ada".into(), amount_cents: 1250 };
/// let answer = caller.place(&order).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BreakerCaller {
    http: reqwest::Client,
    charges: String,
    breaker: Mutex<Breaker>,
}

impl BreakerCaller {
    /// A caller of the `payments` service at `payments` (`http://host:port`).
    pub fn new(payments: &str, policy: BreakerPolicy) -> Result<Self, ClientError> {
        let mut http = reqwest::Client::builder().pool_max_idle_per_host(0);
        if let Some(t) = policy.timeout {
            http = http.timeout(t);
        }
        let http = http
            .build()
            .map_err(|e| ClientError::Failed(format!("build the HTTP client: {e}")))?;
        Ok(BreakerCaller {
            http,
            charges: format!("{}/charges", payments.trim_end_matches('/')),
            breaker: Mutex::new(Breaker::new(policy)),
        })
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The breaker's state now.
    pub fn state(&self) -> BreakerState {
        self.breaker().state()
    }

    async fn charge(&self, order: &Order) -> CallEnd {
        let started = Instant::now();
        let body = serde_json::json!({"order_id": order.id, "amount_cents": order.amount_cents});
        let sent = self.http.post(&self.charges).json(&body).send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => return CallEnd::ConnectionError,
            Err(e) if e.is_timeout() => return CallEnd::Timeout,
            Err(_) => return CallEnd::Other,
        };
        let status = resp.status();
        // The body is part of the call (and of its timeout).
        match resp.bytes().await {
            Err(e) if e.is_timeout() => CallEnd::Timeout,
            Err(_) => CallEnd::Other,
            Ok(_) if status.is_success() => CallEnd::Success {
                took: started.elapsed(),
            },
            Ok(_) if status.is_server_error() => CallEnd::ServerError,
            Ok(_) => CallEnd::Other,
        }
    }
}

impl OrderCaller for BreakerCaller {
    async fn place(&self, order: &Order) -> Result<CallAnswer, ClientError> {
        let fallback = self.breaker().policy().fallback;
        let unpaid = if fallback {
            Outcome::Fallback
        } else {
            Outcome::Failed
        };
        let Some(permit) = self.breaker().acquire(Instant::now()) else {
            return Ok(CallAnswer {
                outcome: unpaid,
                called: false,
            });
        };
        let end = self.charge(order).await;
        self.breaker().record(permit, end, Instant::now());
        let outcome = match end {
            CallEnd::Success { .. } => Outcome::Charged,
            _ => unpaid,
        };
        Ok(CallAnswer {
            outcome,
            called: true,
        })
    }
}

/// How long a reference caller's HTTP client waits for its own service (longer than any call
/// the service makes, so the suite's patience, not this, decides).
pub(crate) const SERVICE_TIMEOUT: Duration = Duration::from_secs(30);
