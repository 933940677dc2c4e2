use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shakedown_fixtures::RabbitMq;

use super::policy::{DEAD_LETTER_QUEUE, QUEUE};
use super::{Message, Policy};
pub use crate::ClientError;

/// A message id the consumer processed, and how many times (more than once: a duplicate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processed {
    /// The message's id.
    pub message_id: String,
    /// How many times its effect was applied.
    pub times: u64,
}

/// A message in the dead-letter queue, and why it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLettered {
    /// The message's id.
    pub message_id: String,
    /// Why (`rejected`, `delivery_limit`, `expired`, or the system's own words).
    pub reason: String,
}

/// An alert firing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Its name.
    pub name: String,
    /// What it says.
    pub summary: String,
}

/// What waits in the broker: to be processed, and dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Backlog {
    /// Messages ready in the queues the consumer reads (retry queues included).
    pub waiting: u32,
    /// Messages in the dead-letter queue.
    pub dead: u32,
}

/// The system under test, as the suite needs it: a consumer of payment messages, its broker,
/// its dead-letter queue, its alerts, and the operator's hands (deploy the fix, redrive).
pub trait PaymentConsumer: Send + Sync {
    /// Publishes `message` to the consumer's queue (persistent, publisher-confirmed, with its
    /// id as `message-id`).
    fn publish(&self, message: &Message) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// What waits in the broker now (the suite waits for the consumer to be done).
    fn backlog(&self) -> impl Future<Output = Result<Backlog, ClientError>> + Send;
    /// Every message id whose effect was applied, with how many times.
    fn processed(&self) -> impl Future<Output = Result<Vec<Processed>, ClientError>> + Send;
    /// The messages in the dead-letter queue (left there), with their reason; empty without one.
    fn dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLettered>, ClientError>> + Send;
    /// The alerts firing now (empty without alerting).
    fn alerts(&self) -> impl Future<Output = Result<Vec<Alert>, ClientError>> + Send;
    /// Deploys the fix that makes every poison message of the workload processable: a
    /// consumer that reads the legacy format and creates the customer it does not know.
    fn deploy_fix(&self) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// Sends the dead letters back to be processed again; answers how many.
    fn redrive(&self) -> impl Future<Output = Result<u64, ClientError>> + Send;
}

/// The reference consumer ([`service`](super::service) or [`InProcess`](super::InProcess)) and
/// its broker: publishes, reads queues and redrives through the [`RabbitMq`] fixture, the rest
/// over the consumer's HTTP API.
///
/// ```no_run
/// # async fn demo(rabbit: &shakedown_fixtures::RabbitMq) -> Result<(), shakedown_suites::ClientError> {
/// use shakedown_suites::dead_letters::{PaymentConsumer, Policy, ReferenceConsumer};
/// let consumer = ReferenceConsumer::new(rabbit, "http://127.0.0.1:8080", Policy::hardened())?;
/// let firing = consumer.alerts().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ReferenceConsumer<'a> {
    rabbit: &'a RabbitMq,
    api: crate::http::Endpoint,
    policy: Policy,
}

impl<'a> ReferenceConsumer<'a> {
    /// The consumer whose HTTP API is at `base`, on `rabbit`, declared as `policy` says.
    pub fn new(
        rabbit: &'a RabbitMq,
        base: impl Into<String>,
        policy: Policy,
    ) -> Result<Self, ClientError> {
        Ok(ReferenceConsumer {
            rabbit,
            api: crate::http::Endpoint::new(base, Duration::from_secs(10))?,
            policy,
        })
    }
}

fn broker(e: shakedown_fixtures::FixtureError) -> ClientError {
    ClientError::Failed(e.to_string())
}

impl PaymentConsumer for ReferenceConsumer<'_> {
    async fn publish(&self, message: &Message) -> Result<(), ClientError> {
        self.rabbit
            .publish("", QUEUE, message.body.as_bytes(), Some(&message.id))
            .await
            .map_err(broker)
    }

    async fn backlog(&self) -> Result<Backlog, ClientError> {
        let mut b = Backlog::default();
        for q in self.policy.waiting_queues() {
            b.waiting += self.rabbit.depth(&q).await.map_err(broker)?;
        }
        if self.policy.dead_letter {
            b.dead = self.rabbit.depth(DEAD_LETTER_QUEUE).await.map_err(broker)?;
        }
        Ok(b)
    }

    async fn processed(&self) -> Result<Vec<Processed>, ClientError> {
        let resp = self.api.get("/processed").send().await?;
        crate::http::json_body(resp).await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLettered>, ClientError> {
        if !self.policy.dead_letter {
            return Ok(Vec::new());
        }
        let dead = self
            .rabbit
            .dead_letters(DEAD_LETTER_QUEUE)
            .await
            .map_err(broker)?;
        Ok(dead
            .into_iter()
            .map(|d| DeadLettered {
                message_id: d.message_id.unwrap_or_default(),
                reason: d.reason,
            })
            .collect())
    }

    async fn alerts(&self) -> Result<Vec<Alert>, ClientError> {
        let resp = self.api.get("/alerts").send().await?;
        crate::http::json_body(resp).await
    }

    async fn deploy_fix(&self) -> Result<(), ClientError> {
        let resp = self.api.post("/fix").send().await?;
        crate::http::json_body::<serde_json::Value>(resp)
            .await
            .map(drop)
    }

    async fn redrive(&self) -> Result<u64, ClientError> {
        if !self.policy.dead_letter {
            return Ok(0);
        }
        let moved = self
            .rabbit
            .redrive(DEAD_LETTER_QUEUE)
            .await
            .map_err(broker)?;
        Ok(moved as u64)
    }
}
