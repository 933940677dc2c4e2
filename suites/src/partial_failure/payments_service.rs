//! The reference `payments` service: a ledger in PostgreSQL. It runs inside a runtime container
//! as `shakedown reference payments --variant … --db URL` and behaves the same in both
//! variants (the suite is about the caller): a charge with an idempotency key that was seen
//! before replays the stored charge instead of taking money again.
//!
//! - `POST /charges` `{order_id, amount_cents}` (header `idempotency-key` optional) → 201 with a
//!   [`ChargeReply`](super::ChargeReply) and its checksum header; 200 when replayed.
//! - `GET /charges/by-key/{key}` → 200 with the stored charge, 404 if none.
//! - `GET /ledger` → every charge, in ledger order (read by the checker directly).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde::Deserialize;
use tokio_postgres::Client;

use super::payments_call::{checksum, BODY_CHECKSUM, IDEMPOTENCY_KEY};
use super::{receipt_for, Charge, ChargeReply};
use crate::reference::kit::{self, Mode};

#[derive(Debug, Parser)]
#[command(name = "shakedown reference payments")]
struct Args {
    #[arg(long, value_enum)]
    variant: Mode,
    /// Connection string of the ledger's database.
    #[arg(long)]
    db: String,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
}

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("payments", args)?;
    let db = Arc::new(kit::connect_pg(&args.db).await?);
    let router = Router::new()
        .route("/charges", post(charge))
        .route("/charges/by-key/{key}", get(by_key))
        .route("/ledger", get(ledger))
        .route("/health", get(|| async { "ok" }))
        .with_state(db);
    kit::serve_http("payments service", args.variant, args.listen, router).await
}

#[derive(Debug, Deserialize)]
struct ChargeRequest {
    order_id: String,
    amount_cents: i64,
}

fn reply(status: StatusCode, row: &tokio_postgres::Row) -> Response {
    let (charge_id, order_id, amount_cents): (i64, String, i64) =
        (row.get(0), row.get(1), row.get(2));
    let body = ChargeReply {
        receipt: receipt_for(charge_id, &order_id, amount_cents),
        charge_id,
        order_id,
        amount_cents,
    };
    let bytes = match serde_json::to_vec(&body) {
        Ok(b) => b,
        Err(e) => return kit::internal_error(e),
    };
    let mut resp = (
        status,
        [("content-type", "application/json")],
        bytes.clone(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&checksum(&bytes)) {
        resp.headers_mut().insert(BODY_CHECKSUM, v);
    }
    resp
}

async fn charge(
    State(db): State<Arc<Client>>,
    headers: HeaderMap,
    Json(req): Json<ChargeRequest>,
) -> Response {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // With a key: insert unless the key exists; then answer with whichever row holds the key.
    let inserted = db
        .query_opt(
            "INSERT INTO charges (order_id, amount_cents, idem_key) VALUES ($1, $2, $3)
             ON CONFLICT (idem_key) DO NOTHING RETURNING id, order_id, amount_cents",
            &[&req.order_id, &req.amount_cents, &key],
        )
        .await;
    match inserted {
        Ok(Some(row)) => reply(StatusCode::CREATED, &row),
        Ok(None) => match stored(&db, key.as_deref().unwrap_or_default()).await {
            Ok(Some(row)) => reply(StatusCode::OK, &row),
            Ok(None) => kit::internal_error("the key's charge vanished"),
            Err(e) => kit::internal_error(e),
        },
        Err(e) => kit::internal_error(e),
    }
}

async fn stored(
    db: &Client,
    key: &str,
) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
    db.query_opt(
        "SELECT id, order_id, amount_cents FROM charges WHERE idem_key = $1",
        &[&key],
    )
    .await
}

async fn by_key(State(db): State<Arc<Client>>, Path(key): Path<String>) -> Response {
    match stored(&db, &key).await {
        Ok(Some(row)) => reply(StatusCode::OK, &row),
        Ok(None) => (StatusCode::NOT_FOUND, "no charge under this key").into_response(),
        Err(e) => kit::internal_error(e),
    }
}

async fn ledger(State(db): State<Arc<Client>>) -> Response {
    match db
        .query(
            "SELECT id, order_id, amount_cents FROM charges ORDER BY id",
            &[],
        )
        .await
    {
        Ok(rows) => Json(
            rows.iter()
                .map(|r| Charge {
                    id: r.get(0),
                    order_id: r.get(1),
                    amount_cents: r.get(2),
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => kit::internal_error(e),
    }
}
