//! The reference `reporting` service: reads the orders table of the shared database for a
//! customer's report. It runs inside a runtime container as `shakedown reference
//! shared-reporting --variant … --db URL --table NAME`, and behaves the same in both variants
//! (what differs is the role it connects as, and that role's settings).
//!
//! - `GET /reports/{customer}` → a [`CustomerReport`], read on a
//!   connection of its own (as a pool that grows under load opens them); a refused connection
//!   or a cancelled query is a 503.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use tokio_postgres::NoTls;

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
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
}

struct App {
    db: String,
    sql: String,
}

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("shared-reporting", args)?;
    // Waits for the server once; each report then opens its own connection.
    drop(kit::connect_pg(&args.db).await?);
    let app = Arc::new(App {
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
    kit::serve_http("shared reporting service", args.variant, args.listen, router).await
}

async fn report(State(app): State<Arc<App>>, Path(customer): Path<String>) -> Response {
    match read(&app, &customer).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

async fn read(app: &App, customer: &str) -> Result<CustomerReport, String> {
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
    let row = row?;
    Ok(CustomerReport {
        orders: row.get(0),
        total_cents: row.get(1),
    })
}
