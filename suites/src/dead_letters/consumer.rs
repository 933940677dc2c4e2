//! The reference consumer: declares its queues as its [`Policy`] says, consumes `payments` one
//! delivery at a time, stores each payment, and treats failures as the policy says (requeue,
//! reject to the dead-letter exchange, a delayed-retry queue, retries in process).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

use super::policy::{DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, QUEUE};
use super::store::{Failure, Store};
use super::{AckMode, OnFailure, Payment, Policy};

/// The header a retrying consumer counts its retries in.
pub const RETRIES_HEADER: &str = "x-retries";

/// What the consumer counts, read by `/metrics` and the alert.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Messages given up on: rejected without requeue (dead-lettered, or dropped).
    pub(crate) gave_up: AtomicU64,
    /// Payments stored.
    pub(crate) processed: AtomicU64,
    /// The dead-letter queue's depth as last read, plus one (0: never read).
    pub(crate) dead_letter_depth: AtomicU64,
}

/// One consumer: its policy, its database, whether the fix is deployed, its counters.
#[derive(Debug)]
pub(crate) struct Consumer {
    pub(crate) policy: Policy,
    pub(crate) store: Store,
    /// The fix is deployed: legacy bodies are read and unknown customers created.
    pub(crate) fixed: AtomicBool,
    pub(crate) counters: Counters,
}

/// Connects to the broker, retrying for up to 30 s while it comes up.
pub(crate) async fn connect_amqp(url: &str) -> Result<Connection, String> {
    let started = Instant::now();
    loop {
        match Connection::connect(url, ConnectionProperties::default()).await {
            Ok(c) => return Ok(c),
            Err(e) if started.elapsed() > Duration::from_secs(30) => {
                return Err(format!("connect to the broker: {e}"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn amqp(what: &str) -> impl Fn(lapin::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Declares the policy's exchange and queues.
pub(crate) async fn declare(ch: &Channel, policy: &Policy) -> Result<(), String> {
    if policy.dead_letter {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            ShortString::from(DEAD_LETTER_EXCHANGE),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(amqp("declare the dead-letter exchange"))?;
    }
    for q in policy.queues() {
        ch.queue_declare(
            ShortString::from(q.name()),
            QueueDeclareOptions::durable(),
            q.arguments(),
        )
        .await
        .map_err(|e| format!("declare queue `{}`: {e}", q.name()))?;
    }
    if policy.dead_letter {
        ch.queue_bind(
            ShortString::from(DEAD_LETTER_QUEUE),
            ShortString::from(DEAD_LETTER_EXCHANGE),
            ShortString::from(QUEUE),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(amqp("bind the dead-letter queue"))?;
    }
    Ok(())
}

fn retries(d: &Delivery) -> u32 {
    let value = d
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(RETRIES_HEADER).cloned());
    match value {
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(n).unwrap_or(u32::MAX),
        Some(AMQPValue::LongInt(n)) => u32::try_from(n).unwrap_or(u32::MAX),
        Some(AMQPValue::LongUInt(n)) => n,
        _ => 0,
    }
}

impl Consumer {
    pub(crate) fn new(policy: Policy, db_url: &str) -> Self {
        Consumer {
            policy,
            store: Store::new(db_url),
            fixed: AtomicBool::new(false),
            counters: Counters::default(),
        }
    }

    /// Declares the queues and subscribes to `payments` (prefetch 1); [`Consumer::consume`]
    /// then handles the deliveries.
    pub(crate) async fn subscribe(
        &self,
        conn: &Connection,
    ) -> Result<(Channel, lapin::Consumer), String> {
        let ch = conn
            .create_channel()
            .await
            .map_err(amqp("open a channel"))?;
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(amqp("enable publisher confirms"))?;
        declare(&ch, &self.policy).await?;
        ch.basic_qos(1, BasicQosOptions::default())
            .await
            .map_err(amqp("set the prefetch"))?;
        let deliveries = ch
            .basic_consume(
                ShortString::from(QUEUE),
                ShortString::from("payments-consumer"),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(amqp("consume"))?;
        Ok((ch, deliveries))
    }

    /// Handles deliveries one at a time until the connection or channel fails; answers why.
    pub(crate) async fn consume(
        self: Arc<Self>,
        _conn: Arc<Connection>,
        ch: Channel,
        mut deliveries: lapin::Consumer,
    ) -> String {
        while let Some(d) = deliveries.next().await {
            let handled = match d {
                Ok(d) => self.handle(&ch, d).await,
                Err(e) => Err(format!("receive: {e}")),
            };
            if let Err(e) = handled {
                return e;
            }
        }
        "the broker cancelled the consumer".into()
    }

    async fn handle(&self, ch: &Channel, d: Delivery) -> Result<(), String> {
        let on_receipt = self.policy.ack == AckMode::OnReceipt;
        if on_receipt {
            d.acker
                .ack(BasicAckOptions::default())
                .await
                .map_err(amqp("ack"))?;
        }
        let outcome = self.process(&d).await;
        let (action, why) = match outcome {
            Ok(()) if on_receipt => return Ok(()),
            Ok(()) => {
                return d
                    .acker
                    .ack(BasicAckOptions::default())
                    .await
                    .map(drop)
                    .map_err(amqp("ack"))
            }
            Err(Failure::Poison(why)) => (self.policy.on_poison, why),
            Err(Failure::Transient(why)) => (self.policy.on_transient, why),
        };
        if !d.redelivered {
            eprintln!("payment {}: {why}", message_id(&d));
        }
        if on_receipt {
            return Ok(()); // already acked: gone
        }
        match action {
            OnFailure::Requeue | OnFailure::InProcess { .. } => d
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await
                .map(drop)
                .map_err(amqp("nack")),
            OnFailure::Reject => self.give_up(&d).await,
            OnFailure::RetryQueue { max_retries, .. } => {
                let n = retries(&d);
                match self.policy.retry_queue(n) {
                    Some(q) if n < max_retries => {
                        let mut headers = FieldTable::default();
                        headers.insert(
                            ShortString::from(RETRIES_HEADER),
                            AMQPValue::LongLongInt(i64::from(n) + 1),
                        );
                        let props = d.properties.clone().with_headers(headers);
                        ch.basic_publish(
                            ShortString::from(""),
                            ShortString::from(q.name()),
                            BasicPublishOptions::default(),
                            &d.data,
                            props,
                        )
                        .await
                        .map_err(amqp("publish to the retry queue"))?
                        .await
                        .map_err(amqp("confirm the retry"))?;
                        d.acker
                            .ack(BasicAckOptions::default())
                            .await
                            .map(drop)
                            .map_err(amqp("ack"))
                    }
                    _ => self.give_up(&d).await,
                }
            }
        }
    }

    async fn give_up(&self, d: &Delivery) -> Result<(), String> {
        self.counters.gave_up.fetch_add(1, Ordering::Relaxed);
        d.acker
            .reject(BasicRejectOptions { requeue: false })
            .await
            .map(drop)
            .map_err(amqp("reject"))
    }

    async fn process(&self, d: &Delivery) -> Result<(), Failure> {
        let fixed = self.fixed.load(Ordering::Relaxed);
        let payment = Payment::parse(&d.data, fixed).map_err(Failure::Poison)?;
        let id = message_id(d);
        let (mut left, mut sleep, cap) = match self.policy.on_transient {
            OnFailure::InProcess {
                first,
                cap,
                attempts,
            } => (attempts.max(1), first, cap),
            _ => (1, Duration::ZERO, Duration::ZERO),
        };
        loop {
            left -= 1;
            match self
                .store
                .store(&id, &payment, self.policy.idempotent, fixed)
                .await
            {
                Ok(stored) => {
                    if stored {
                        self.counters.processed.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(());
                }
                Err(Failure::Transient(_)) if left > 0 => {
                    tokio::time::sleep(sleep).await;
                    sleep = (sleep * 2).min(cap);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn message_id(d: &Delivery) -> String {
    d.properties
        .message_id()
        .as_ref()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}
