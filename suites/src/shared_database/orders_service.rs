//! The reference `orders` service: writes orders to its table in the shared database and
//! migrates that table. It runs inside a runtime container as `shakedown reference
//! shared-orders --variant … --db URL --migrate-db URL --table NAME [policy flags]`; the flags
//! come from a [`Policy`](super::Policy).
//!
//! - `POST /orders` [`Order`] → 201 once stored.
//! - `POST /migrate` → 200 once the migration is applied: a column added (`ACCESS EXCLUSIVE`
//!   on the table), then an index on `customer` (`CONCURRENTLY` with `--concurrent-index`).
//!   With `--lock-timeout-ms` its session sets `lock_timeout` for the DDL; with
//!   `--retry-for-ms` it retries a lock timeout with backoff (100 ms doubling to 1 s) for that
//!   long; otherwise it gives up (500).
//! - `GET /orders` → the ids of every order stored.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::Order;
use crate::reference::kit::{self, Mode};

#[derive(Debug, Parser)]
#[command(name = "shakedown reference shared-orders")]
struct Args {
    #[arg(long, value_enum)]
    variant: Mode,
    /// Connection string the service writes with (its app role).
    #[arg(long)]
    db: String,
    /// Connection string the migration runs with (the table's owner).
    #[arg(long)]
    migrate_db: String,
    /// The orders table, schema-qualified.
    #[arg(long, value_parser = table_name)]
    table: String,
    /// `lock_timeout` the migration's session sets before its DDL.
    #[arg(long)]
    lock_timeout_ms: Option<u64>,
    /// How long the migration retries after a lock timeout (0: it gives up at once).
    #[arg(long, default_value_t = 0)]
    retry_for_ms: u64,
    /// Build the index with `CREATE INDEX CONCURRENTLY`.
    #[arg(long)]
    concurrent_index: bool,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
}

/// A schema-qualified table name of letters, digits and `_`.
pub(super) fn table_name(s: &str) -> Result<String, String> {
    let ok = s.split('.').count() == 2
        && s.split('.').all(|p| {
            !p.is_empty()
                && !p.starts_with(|c: char| c.is_ascii_digit())
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a schema-qualified table name (schema.table)"
        ))
    }
}

struct App {
    db: Client,
    migrate_db: String,
    table: String,
    lock_timeout: Option<Duration>,
    retry_for: Duration,
    concurrent_index: bool,
}

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("shared-orders", args)?;
    let app = Arc::new(App {
        db: kit::connect_pg(&args.db).await?,
        migrate_db: args.migrate_db,
        table: args.table,
        lock_timeout: args.lock_timeout_ms.map(Duration::from_millis),
        retry_for: Duration::from_millis(args.retry_for_ms),
        concurrent_index: args.concurrent_index,
    });
    let router = Router::new()
        .route("/orders", post(place).get(stored))
        .route("/migrate", post(migrate))
        .route("/health", get(|| async { "ok" }))
        .with_state(app);
    kit::serve_http("shared orders service", args.variant, args.listen, router).await
}

async fn place(State(app): State<Arc<App>>, Json(o): Json<Order>) -> Response {
    let sql = format!(
        "INSERT INTO {} (id, customer, amount_cents) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        app.table
    );
    match app
        .db
        .execute(&sql, &[&o.id, &o.customer, &o.amount_cents])
        .await
    {
        Ok(_) => (StatusCode::CREATED, Json(serde_json::json!({}))).into_response(),
        Err(e) => kit::internal_error(e),
    }
}

async fn stored(State(app): State<Arc<App>>) -> Response {
    let sql = format!(
        "SELECT id FROM {} WHERE id NOT LIKE 'past-%' ORDER BY id",
        app.table
    );
    match app.db.query(&sql, &[]).await {
        Ok(rows) => Json(rows.iter().map(|r| r.get(0)).collect::<Vec<String>>()).into_response(),
        Err(e) => kit::internal_error(e),
    }
}

async fn migrate(State(app): State<Arc<App>>) -> Response {
    match run_migration(&app).await {
        Ok(attempts) => {
            Json(serde_json::json!({ "applied": true, "attempts": attempts })).into_response()
        }
        Err(e) => kit::internal_error(format!("migration not applied: {e}")),
    }
}

/// Applies the migration; returns how many attempts the DDL took.
async fn run_migration(app: &App) -> Result<u32, String> {
    let db = kit::connect_pg(&app.migrate_db).await?;
    let run = |sql: String| {
        let db = &db;
        async move {
            let done = db.batch_execute(&sql).await;
            done.map_err(|e| (sql, e))
        }
    };
    if let Some(t) = app.lock_timeout {
        run(format!("SET lock_timeout = '{}ms'", t.as_millis()))
            .await
            .map_err(|(sql, e)| format!("{sql}: {e}"))?;
    }
    let deadline = Instant::now() + app.retry_for;
    let mut backoff = Duration::from_millis(100);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match run(format!(
            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS note text",
            app.table
        ))
        .await
        {
            Ok(()) => break,
            Err((_, e))
                if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
                    && Instant::now() + backoff < deadline =>
            {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            Err((sql, e)) => return Err(format!("{sql} (attempt {attempts}): {e}")),
        }
    }
    // The index: built concurrently it blocks nobody, so it may wait as long as it needs.
    if app.lock_timeout.is_some() {
        run("SET lock_timeout = 0".into())
            .await
            .map_err(|(sql, e)| format!("{sql}: {e}"))?;
    }
    let concurrently = if app.concurrent_index {
        " CONCURRENTLY"
    } else {
        ""
    };
    run(format!(
        "CREATE INDEX{concurrently} IF NOT EXISTS orders_customer_idx ON {} (customer)",
        app.table
    ))
    .await
    .map_err(|(sql, e)| format!("{sql}: {e}"))?;
    Ok(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_schema_qualified_plain_table_names_are_taken() {
        assert_eq!(table_name("orders.orders").as_deref(), Ok("orders.orders"));
        for bad in [
            "orders",
            "a.b.c",
            "orders.1x",
            "orders.o; DROP TABLE x",
            ".x",
        ] {
            assert!(table_name(bad).is_err(), "{bad}");
        }
    }
}
