//! [`Caller`]: the orders side's charging logic, configured by a [`Policy`]. The reference
//! `orders` service serves it over HTTP (`naive` and `hardened` policies); tests run buggy
//! policies of it in process against the real `payments`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::payments_call::{Answer, PaymentsCall};
use super::{ClientError, Order, OrderRecord, OrderService, OrderStatus};

/// Which idempotency key an attempt carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScheme {
    /// No key: every attempt is a new charge.
    None,
    /// One key per order, the same on every attempt (correct).
    PerOrder,
    /// A new key on every attempt (bug: a retry is a new charge).
    PerAttempt,
    /// One key per customer (bug: the key is not scoped to the request, so another order of the
    /// same customer gets the first order's charge replayed).
    PerCustomer,
}

impl KeyScheme {
    fn key(self, order: &Order, attempt: u32) -> Option<String> {
        match self {
            KeyScheme::None => None,
            KeyScheme::PerOrder => Some(format!("order-{}", order.id)),
            KeyScheme::PerAttempt => Some(format!("order-{}-try-{attempt}", order.id)),
            KeyScheme::PerCustomer => Some(format!("customer-{}", order.customer)),
        }
    }
}

/// How a caller charges an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts after the first one, when an outcome is unknown.
    pub retries: u32,
    /// The idempotency key of each attempt.
    pub key: KeyScheme,
    /// Validate every reply (checksum, that it is about this order and amount); an invalid one
    /// is an unknown outcome. Without it, any parsable 2xx is taken as the charge.
    pub validate: bool,
    /// Ask `payments` for the charge's status by key before a retry, leave an unresolved order
    /// [`OrderStatus::Pending`] and resolve it at [`OrderService::reconcile`]. Without it, an
    /// unknown outcome after the last attempt is a failure.
    pub resolve: bool,
    /// Timeout of one call to `payments`.
    pub timeout: Duration,
}

impl Policy {
    /// What most teams ship: retry twice on timeout or reset, no key, lenient parsing, an
    /// unknown outcome reported as a failure.
    pub fn naive() -> Self {
        Policy {
            retries: 2,
            key: KeyScheme::None,
            validate: false,
            resolve: false,
            timeout: Duration::from_millis(400),
        }
    }

    /// The fix: a key per order, strict validation, unknown outcomes resolved by status.
    pub fn hardened() -> Self {
        Policy {
            retries: 2,
            key: KeyScheme::PerOrder,
            validate: true,
            resolve: true,
            timeout: Duration::from_millis(400),
        }
    }
}

/// The orders side, in process: charges each order at `payments` under a [`Policy`] and keeps
/// what it believes of every order in memory.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::partial_failure::ClientError> {
/// use shakedown_suites::partial_failure::{Caller, Order, OrderService, Policy};
/// let orders = Caller::new("http://127.0.0.1:18080", Policy::hardened())?;
/// let order = Order { id: "o-1".into(), customer: "ada".into(), amount_cents: 1250 };
/// let record = orders.place(&order).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Caller {
    payments: PaymentsCall,
    policy: Policy,
    orders: Mutex<BTreeMap<String, (Order, OrderRecord)>>,
}

impl Caller {
    /// A caller of the `payments` service at `payments` (`http://host:port`).
    pub fn new(payments: &str, policy: Policy) -> Result<Self, ClientError> {
        Ok(Caller {
            payments: PaymentsCall::new(payments, policy.timeout, policy.validate)
                .map_err(ClientError::Failed)?,
            policy,
            orders: Mutex::new(BTreeMap::new()),
        })
    }

    fn remember(&self, order: &Order, record: OrderRecord) -> OrderRecord {
        let mut orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        orders.insert(order.id.clone(), (order.clone(), record.clone()));
        record
    }

    async fn charge(&self, order: &Order) -> OrderRecord {
        let record = |status, charge| OrderRecord {
            order_id: order.id.clone(),
            status,
            charge,
        };
        for attempt in 0..=self.policy.retries {
            let key = self.policy.key.key(order, attempt);
            if attempt > 0 && self.policy.resolve {
                if let Some(k) = &key {
                    if let Answer::Charged(c) = self.payments.status(order, k).await {
                        return record(OrderStatus::Charged, Some(c));
                    }
                }
            }
            match self.payments.charge(order, key.as_deref()).await {
                Answer::Charged(c) => return record(OrderStatus::Charged, Some(c)),
                Answer::Refused(_) => return record(OrderStatus::Failed, None),
                Answer::NotSent | Answer::Unknown(_) => continue,
            }
        }
        if self.policy.resolve && self.policy.key != KeyScheme::None {
            record(OrderStatus::Pending, None)
        } else {
            record(OrderStatus::Failed, None)
        }
    }
}

impl OrderService for Caller {
    async fn place(&self, order: &Order) -> Result<OrderRecord, ClientError> {
        let record = self.charge(order).await;
        Ok(self.remember(order, record))
    }

    async fn reconcile(&self) -> Result<(), ClientError> {
        if !self.policy.resolve {
            return Ok(());
        }
        let pending: Vec<Order> = {
            let orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
            orders
                .values()
                .filter(|(_, r)| r.status == OrderStatus::Pending)
                .map(|(o, _)| o.clone())
                .collect()
        };
        for order in pending {
            // The key of the last attempt: for a correct scheme, the order's only key.
            let Some(key) = self.policy.key.key(&order, self.policy.retries) else {
                continue;
            };
            let resolved = match self.payments.status(&order, &key).await {
                Answer::Charged(c) => (OrderStatus::Charged, Some(c)),
                // The dependency answered cleanly that it holds no charge: not taken.
                Answer::Refused(_) => (OrderStatus::Failed, None),
                Answer::NotSent | Answer::Unknown(_) => continue,
            };
            self.remember(
                &order,
                OrderRecord {
                    order_id: order.id.clone(),
                    status: resolved.0,
                    charge: resolved.1,
                },
            );
        }
        Ok(())
    }

    async fn orders(&self) -> Result<Vec<OrderRecord>, ClientError> {
        let orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        Ok(orders.values().map(|(_, r)| r.clone()).collect())
    }
}
