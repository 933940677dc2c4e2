//! The reference `orders` service: a [`Caller`] over HTTP. It runs inside a runtime container
//! as `shakedown reference orders --variant naive|hardened --payments URL` (the URL goes
//! through the fault proxy), with [`Policy::naive`] or [`Policy::hardened`].
//!
//! - `POST /orders` [`Order`](super::Order) → the [`OrderRecord`](super::OrderRecord).
//! - `POST /reconcile` → resolves pending orders.
//! - `GET /orders` → every order as the service believes it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;

use super::{Caller, Order, OrderService, Policy};
use crate::reference::kit::{self, Mode};

/// The arguments of a reference caller of `payments`: `--variant`, `--payments URL` (through
/// the proxy), `--listen`.
#[derive(Debug, Parser)]
pub(crate) struct CallerArgs {
    #[arg(long, value_enum)]
    pub(crate) variant: Mode,
    /// Base URL of `payments` (through the proxy).
    #[arg(long)]
    pub(crate) payments: String,
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub(crate) listen: SocketAddr,
}

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: CallerArgs = kit::parse_args("orders", args)?;
    let policy = match args.variant {
        Mode::Naive => Policy::naive(),
        Mode::Hardened => Policy::hardened(),
    };
    let caller = Arc::new(Caller::new(&args.payments, policy).map_err(|e| e.to_string())?);
    let router = Router::new()
        .route("/orders", post(place).get(list))
        .route("/reconcile", post(reconcile))
        .route("/health", get(|| async { "ok" }))
        .with_state(caller);
    kit::serve_http("orders service", args.variant, args.listen, router).await
}

async fn place(State(c): State<Arc<Caller>>, Json(order): Json<Order>) -> Response {
    match c.place(&order).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => kit::internal_error(e),
    }
}

async fn reconcile(State(c): State<Arc<Caller>>) -> Response {
    match c.reconcile().await {
        Ok(()) => Json(serde_json::json!({"reconciled": true})).into_response(),
        Err(e) => kit::internal_error(e),
    }
}

async fn list(State(c): State<Arc<Caller>>) -> Response {
    match c.orders().await {
        Ok(r) => Json(r).into_response(),
        Err(e) => kit::internal_error(e),
    }
}
