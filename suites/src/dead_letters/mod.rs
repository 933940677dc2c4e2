//! Dead letters ignored: a consumer of payment messages meets poison (a legacy format it cannot
//! read, a customer that does not exist yet) and transient failures (its PostgreSQL cut off),
//! and either loses them, processes them twice, buries transient failures with the poison, or
//! lets dead letters pile up where nobody looks.
//!
//! - Faults (in the timeline): the consumer's PostgreSQL cut off through a
//!   [`ProxyNode`](shakedown_fixtures::ProxyNode)
//!   ([`ProxyDisabled`](shakedown_fixtures::ProxyDisabled)) for 2 s while payments keep coming;
//!   the poison messages themselves.
//! - Workload ([`plan`], seeded fake payments): good payments with poison among them and two
//!   published twice (a producer's retry after a lost confirm), then more while the database is
//!   down; the alerts watched from the start; what was processed and dead-lettered read; the
//!   fix deployed (legacy format read, unknown customers created) and the dead letters
//!   redriven; everything read again.
//! - Checker: [`DeadLetterChecker`] — lost messages, duplicates processed, transient failures
//!   dead-lettered, poison not dead-lettered, healthy messages held up behind poison, failures
//!   with no alert within 5 s, dead letters left after the redrive; [`time_to_alert`].
//! - Reference ([`service`], a [`Policy`]): `naive` consumes a quorum queue without a
//!   dead-letter exchange and requeues every failure, so RabbitMQ 4's delivery limit (20)
//!   silently drops it, processes a republished message twice and has no alert; `hardened`
//!   rejects poison to a dead-letter exchange at once, retries transient failures with backoff
//!   through delayed-retry queues, is idempotent by message id (an inbox row in the payment's
//!   transaction), exports the dead-letter queue's depth on `/metrics` and alerts on it.
//!
//! To run it against your own consumer, implement [`PaymentConsumer`] for it, create the
//! [`plan`]'s customers, put a proxy node between it and its database and call
//! [`run_against`].

mod alerting;
mod checker;
mod client;
mod consumer;
mod message;
mod ops;
mod policy;
pub mod service;
mod store;
mod suite;
mod workload;

pub use alerting::{ALERT, DEPTH_EVERY};
pub use checker::{time_to_alert, DeadLetterChecker, ANOMALIES};
pub use client::{
    Alert, Backlog, ClientError, DeadLettered, PaymentConsumer, Processed, ReferenceConsumer,
};
pub use consumer::RETRIES_HEADER;
pub use message::{Kind, Message, Payment};
pub use ops::{DlqOp, DlqValue, Stage};
pub use policy::{
    AckMode, AlertOn, OnFailure, Policy, DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, QUEUE,
};
pub use service::InProcess;
pub use store::SCHEMA;
pub use suite::{
    in_process, reference, ConsumerDb, Infrastructure, POSTGRES_LINK, POSTGRES_PROXY_PORT, SUITE,
};
pub use workload::{plan, run_against, DbLink, Options, Plan};
