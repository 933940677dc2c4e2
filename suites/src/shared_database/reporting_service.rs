//! The reference `reporting` service: reads the orders table of the shared database for a
//! customer's report. It runs inside a runtime container as `shakedown reference
//! shared-reporting --variant … --db URL --table NAME`, and behaves the same in both variants
//! (what differs is the role it connects as, and that role's settings).
//!
//! - `GET /reports/{customer}` → a [`CustomerReport`], read on a
//!   connection of its own (as a pool that grows under load opens them), or with `--pool N` on
//!   one of N connections opened at start; a refused connection or a cancelled query is a 503.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use tokio_postgres::{Client, NoTls};

use super::orders_service::table_name;
use super::CustomerReport;
use crate::reference::kit::{self, Mode};

#[derive(Debug, Parser)]
#[command(name = "shakedown reference shared-reporting")]
struct Args {
    #[arg(long, value_enum)]
    variant: Mode,
    /// Connection string the service reads with (its role).
    #[arg(long)]
    db: String,
    /// The orders table, schema-qualified.
    #[arg(long, value_parser = table_name)]
    table: String,
    /// Keep this many connections open from the start and read on them.
    #[arg(long)]
    pool: Option<usize>,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
}

struct App {
    db: String,
    sql: String,
    /// The connections opened at start (empty: one per report).
    pool: Vec<Client>,
    next: AtomicUsize,
}

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("shared-reporting", args)?;
    // Waits for the server once; without a pool each report then opens its own connection.
    let first = kit::connect_pg(&args.db).await?;
    let mut pool = Vec::new();
    if let Some(n) = args.pool {
        pool.push(first);
        for _ in 1..n {
            pool.push(kit::connect_pg(&args.db).await?);
        }
    }
    let app = Arc::new(App {
        pool,
        next: AtomicUsize::new(0),
        sql: format!(
            "SELECT count(*), coalesce(sum(amount_cents), 0)::bigint FROM {} WHERE customer = $1",
            args.table
        ),
        db: args.db,
    });
    let router = Router::new()
        .route("/reports/{customer}", get(report))
        .route("/health", get(|| async { "ok" }))
        .with_state(app);
    kit::serve_http(
        "shared reporting service",
        args.variant,
        args.listen,
        router,
    )
    .await
}

async fn report(State(app): State<Arc<App>>, Path(customer): Path<String>) -> Response {
    match read(&app, &customer).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

async fn read(app: &App, customer: &str) -> Result<CustomerReport, String> {
    if !app.pool.is_empty() {
        let db = &app.pool[app.next.fetch_add(1, Ordering::Relaxed) % app.pool.len()];
        let row = db
            .query_one(&app.sql, &[&customer])
            .await
            .map_err(|e| format!("report: {e}"))?;
        return Ok(report_of(&row));
    }
    let (db, conn) = tokio_postgres::connect(&app.db, NoTls)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let driver = tokio::spawn(conn);
    let row = db
        .query_one(&app.sql, &[&customer])
        .await
        .map_err(|e| format!("report: {e}"));
    drop(db);
    let _ = driver.await;
    Ok(report_of(&row?))
}

fn report_of(row: &tokio_postgres::Row) -> CustomerReport {
    CustomerReport {
        orders: row.get(0),
        total_cents: row.get(1),
    }
}
