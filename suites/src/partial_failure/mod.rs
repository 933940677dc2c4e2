//! Partial failure: `orders` charges `payments`, the reply is lost, and the caller cannot tell
//! whether the money was taken — so it charges twice, or tells the customer the order failed
//! while the money is gone.
//!
//! - Faults (each its own phase, on the real wire through a [`ProxyNode`](shakedown_fixtures::ProxyNode)
//!   between the two containers): the reply lost after payments applied the charge
//!   (`limit_data` 0 on the reply stream), the connection reset mid-response (`reset_peer`),
//!   reply bytes corrupted (`corrupt`), the reply slower than the caller's timeout (`latency`).
//! - Workload: seeded fake orders (customers repeat), a healthy phase, then the fault phases,
//!   each healed and followed by a reconciliation; then the caller's beliefs and the ledger.
//! - Checker: [`PartialFailureChecker`] — duplicate charges, charges the caller does not know
//!   of, orders marked failed that were charged, corrupt replies accepted, charged orders with
//!   no charge, unknown outcomes left unresolved.
//! - Reference (`orders` over [`Caller`], `payments` over PostgreSQL): `naive` retries without
//!   an idempotency key, takes any parsable 2xx, and reports an unknown outcome as a failure;
//!   `hardened` sends one key per order (payments stores it and replays the charge), trusts
//!   only a reply whose checksum and content match the request, asks payments for the charge by
//!   key before retrying, and resolves what is left pending after the fault.
//!
//! To run it against your own caller, implement [`OrderService`] for it and [`PaymentsLedger`]
//! for your dependency's ledger, put a proxy node between them and call [`run_against`].

mod caller;
mod checker;
mod client;
pub mod orders_service;
mod payments_call;
pub mod payments_service;
mod suite;
mod workload;

pub use caller::{Caller, KeyScheme, Policy};
pub use checker::{PartialFailureChecker, PaymentOp, PaymentValue, ANOMALIES};
pub use client::{
    receipt_for, Charge, ChargeReply, ClientError, HttpLedger, HttpOrders, Order, OrderRecord,
    OrderService, OrderStatus, PaymentsLedger,
};
pub(crate) use orders_service::CallerArgs;
pub use payments_call::{checksum, BODY_CHECKSUM, IDEMPOTENCY_KEY};
pub use suite::{reference, Dependency, PAYMENTS_LINK, PAYMENTS_PROXY_PORT, SUITE};
pub(crate) use workload::fake_orders;
pub use workload::{orders, phases, run_against, Options, Wire, SCHEMA};
