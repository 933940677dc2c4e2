//! The reference `checkout` service: a [`BreakerCaller`] over HTTP. It runs inside a runtime
//! container as `shakedown reference checkout --variant naive|hardened --payments URL` (the URL
//! goes through the fault proxy), with [`BreakerPolicy::naive`] or [`BreakerPolicy::hardened`].
//!
//! - `POST /orders` [`Order`](crate::partial_failure::Order) → the [`CallAnswer`](super::CallAnswer).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::{BreakerCaller, BreakerPolicy, OrderCaller};
use crate::partial_failure::{CallerArgs, Order};
use crate::reference::kit::{self, Mode};

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: CallerArgs = kit::parse_args("checkout", args)?;
    let policy = match args.variant {
        Mode::Naive => BreakerPolicy::naive(),
        Mode::Hardened => BreakerPolicy::hardened(),
    };
    let caller = Arc::new(BreakerCaller::new(&args.payments, policy).map_err(|e| e.to_string())?);
    let router = Router::new()
        .route("/orders", post(place))
        .route("/health", get(|| async { "ok" }))
        .with_state(caller);
    kit::serve_http("checkout service", args.variant, args.listen, router).await
}

async fn place(State(c): State<Arc<BreakerCaller>>, Json(order): Json<Order>) -> Response {
    match c.place(&order).await {
        Ok(a) => Json(a).into_response(),
        Err(e) => kit::internal_error(e),
    }
}
