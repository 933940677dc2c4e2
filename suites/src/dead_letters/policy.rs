//! [`Policy`]: how the reference consumer treats a message it cannot process — requeue it,
//! retry it later, reject it to a dead-letter exchange — what its queues are, whether it is
//! idempotent and whether anyone is told. `naive` and `hardened` are two policies; the suite's
//! tests run other, plausibly buggy ones, and one correct design unlike ours.

use std::time::Duration;

use shakedown_fixtures::rabbitmq::{QueueKind, QueueSpec};

/// The queue the payments are published to (on the default exchange).
pub const QUEUE: &str = "payments";
/// The dead-letter exchange of a policy with one.
pub const DEAD_LETTER_EXCHANGE: &str = "payments.dlx";
/// The dead-letter queue bound to it (routing key [`QUEUE`]).
pub const DEAD_LETTER_QUEUE: &str = "payments.dlq";

/// What the consumer does with a delivery it could not process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// `basic.nack` with `requeue`: the broker delivers it again at once (on a quorum queue
    /// until its delivery limit, then it is dead-lettered, or dropped without a dead-letter
    /// exchange; on a classic queue for ever).
    Requeue,
    /// `basic.reject` without requeue: dead-lettered (dropped without a dead-letter exchange).
    Reject,
    /// Published to a delayed-retry queue (`payments.retry.<n>`, TTLs doubling from `first`,
    /// `levels` of them; the last one is reused), then acked; after `max_retries` retries,
    /// rejected.
    RetryQueue {
        /// The first retry's delay.
        first: Duration,
        /// How many retry queues (delays `first`, `2 × first` …).
        levels: u32,
        /// Retries before the message is rejected.
        max_retries: u32,
    },
    /// Retried in the consumer, holding the delivery, with doubling sleeps from `first` up to
    /// `cap`, `attempts` times in all; then `basic.nack` with `requeue`, so the queue's
    /// delivery limit dead-letters what keeps failing.
    InProcess {
        /// The first sleep.
        first: Duration,
        /// The longest sleep.
        cap: Duration,
        /// Attempts in all.
        attempts: u32,
    },
}

/// When the consumer acknowledges a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// After processing (or after deciding what to do with a failure).
    AfterProcessing,
    /// On receipt, before processing: a failure loses the message.
    OnReceipt,
}

/// What raises the "dead letters" alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertOn {
    /// The dead-letter queue's depth, read from the broker every 200 ms (also a gauge on
    /// `/metrics`): firing while it is above zero.
    DeadLetterDepth,
    /// The consumer's own count of messages it gave up on (a counter on `/metrics`): firing once
    /// it is above zero.
    GaveUpCounter,
}

/// How the reference consumer handles payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The payments queue's type.
    pub queue: QueueKind,
    /// A dead-letter exchange and queue ([`DEAD_LETTER_EXCHANGE`], [`DEAD_LETTER_QUEUE`]).
    pub dead_letter: bool,
    /// `x-delivery-limit` on the payments queue (quorum only; `None`: RabbitMQ 4's default, 20).
    pub delivery_limit: Option<u32>,
    /// What a transient failure (the database unreachable) gets.
    pub on_transient: OnFailure,
    /// What a poison message (unreadable, or about a customer that does not exist) gets.
    pub on_poison: OnFailure,
    /// When deliveries are acknowledged.
    pub ack: AckMode,
    /// Each message id processed once (an inbox table in the payment's transaction).
    pub idempotent: bool,
    /// The alert on dead letters, if any.
    pub alert: Option<AlertOn>,
}

impl Policy {
    /// What teams ship: a quorum queue without a dead-letter exchange, every failure requeued
    /// (so RabbitMQ 4's delivery limit of 20 silently drops what keeps failing), no
    /// idempotency, no alert.
    pub fn naive() -> Self {
        Policy {
            queue: QueueKind::Quorum,
            dead_letter: false,
            delivery_limit: None,
            on_transient: OnFailure::Requeue,
            on_poison: OnFailure::Requeue,
            ack: AckMode::AfterProcessing,
            idempotent: false,
            alert: None,
        }
    }

    /// The fix: a dead-letter exchange and queue; transient failures retried with backoff
    /// through delayed-retry queues (200 ms doubling to 1.6 s, up to 12 retries); poison
    /// rejected to the dead-letter queue at once; idempotent by message id; an alert on the
    /// dead-letter queue's depth.
    pub fn hardened() -> Self {
        Policy {
            queue: QueueKind::Quorum,
            dead_letter: true,
            delivery_limit: None,
            on_transient: OnFailure::RetryQueue {
                first: Duration::from_millis(200),
                levels: 4,
                max_retries: 12,
            },
            on_poison: OnFailure::Reject,
            ack: AckMode::AfterProcessing,
            idempotent: true,
            alert: Some(AlertOn::DeadLetterDepth),
        }
    }

    /// The delayed-retry queue for retry number `retry` (from 0), if the policy has them.
    pub fn retry_queue(&self, retry: u32) -> Option<QueueSpec> {
        match self.on_transient {
            OnFailure::RetryQueue { first, levels, .. } => {
                let level = retry.min(levels.saturating_sub(1));
                let delay = first * 2u32.saturating_pow(level);
                Some(QueueSpec::delayed_retry(
                    format!("{QUEUE}.retry.{level}"),
                    QUEUE,
                    delay,
                ))
            }
            _ => None,
        }
    }

    /// Every queue the consumer declares, in declaration order (dead-letter queue first).
    pub fn queues(&self) -> Vec<QueueSpec> {
        let mut out = Vec::new();
        if self.dead_letter {
            out.push(QueueSpec::quorum(DEAD_LETTER_QUEUE));
        }
        let mut main = match self.queue {
            QueueKind::Quorum => QueueSpec::quorum(QUEUE),
            QueueKind::Classic => QueueSpec::classic(QUEUE),
        };
        if self.dead_letter {
            main = main.dead_letter(DEAD_LETTER_EXCHANGE, QUEUE);
        }
        if let Some(limit) = self.delivery_limit {
            main = main.delivery_limit(limit);
        }
        out.push(main);
        if let OnFailure::RetryQueue { levels, .. } = self.on_transient {
            out.extend((0..levels).filter_map(|l| self.retry_queue(l)));
        }
        out
    }

    /// The queues where messages wait to be processed (the payments queue and the retry
    /// queues): what the suite watches to know the consumer is done.
    pub fn waiting_queues(&self) -> Vec<String> {
        self.queues()
            .into_iter()
            .map(|q| q.name().to_string())
            .filter(|n| n != DEAD_LETTER_QUEUE)
            .collect()
    }

    /// Checks the combination can be declared and run.
    pub fn validate(&self) -> Result<(), String> {
        self.queues().iter().try_for_each(QueueSpec::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &Policy) -> Vec<String> {
        p.queues().iter().map(|q| q.name().to_string()).collect()
    }

    #[test]
    fn naive_declares_only_its_queue_and_hardened_a_dead_letter_queue_and_retry_queues() {
        assert_eq!(names(&Policy::naive()), ["payments"]);
        assert_eq!(
            names(&Policy::hardened()),
            [
                "payments.dlq",
                "payments",
                "payments.retry.0",
                "payments.retry.1",
                "payments.retry.2",
                "payments.retry.3"
            ]
        );
        assert_eq!(
            Policy::hardened().waiting_queues(),
            [
                "payments",
                "payments.retry.0",
                "payments.retry.1",
                "payments.retry.2",
                "payments.retry.3"
            ]
        );
        assert_eq!(Policy::naive().validate(), Ok(()));
        assert_eq!(Policy::hardened().validate(), Ok(()));
    }

    #[test]
    fn retries_past_the_last_level_reuse_the_longest_delay() {
        let h = Policy::hardened();
        assert_eq!(h.retry_queue(0).unwrap().name(), "payments.retry.0");
        assert_eq!(h.retry_queue(3).unwrap().name(), "payments.retry.3");
        assert_eq!(h.retry_queue(9).unwrap(), h.retry_queue(3).unwrap());
        assert_eq!(Policy::naive().retry_queue(0), None);
    }

    #[test]
    fn a_delivery_limit_on_a_classic_queue_is_refused() {
        let p = Policy {
            queue: QueueKind::Classic,
            delivery_limit: Some(3),
            ..Policy::hardened()
        };
        assert!(p.validate().unwrap_err().contains("quorum"));
    }
}
