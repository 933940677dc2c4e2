//! `team-service`: a users service on PostgreSQL, written the way a team writes one — and tested
//! with shakedown in `tests/containers/`.
//!
//! Configuration (environment):
//!
//! - `DATABASE_URL` (required): the primary. Writes, and reads that must see them, go here.
//! - `REPLICA_URL`: a read replica. When set, reads go to it.
//! - `READ_YOUR_WRITES=1`: the fix for replica lag. A session that has written (the `wrote`
//!   cookie) reads from the primary; the others still read the replica.
//! - `DB_DEADLINE_MS` (default 500): how long a request waits for the database before it
//!   answers 503, rather than hanging while the database is slow.
//! - `LISTEN` (default `0.0.0.0:8080`).
//!
//! API: `PUT /users/{id}` (`{"name","email","bio","version"}`), `GET /users/{id}` (the user with
//! `updated_at_ms`, the service's wall clock when it was saved; header `x-served-by: primary |
//! replica`), `GET /healthz` (the primary answers within the deadline).

#![forbid(unsafe_code)]

mod db;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub use db::Db;

/// The table the service keeps its users in.
pub const SCHEMA: &str = "CREATE TABLE users (
    id text PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL,
    bio text NOT NULL,
    version bigint NOT NULL,
    updated_at_ms bigint NOT NULL
)";

#[derive(Debug, Deserialize)]
struct UserIn {
    name: String,
    email: String,
    bio: String,
    version: i64,
}

#[derive(Debug, Serialize)]
struct UserOut {
    id: String,
    name: String,
    email: String,
    bio: String,
    version: i64,
    updated_at_ms: i64,
}

/// What the service runs with.
#[derive(Debug)]
pub struct App {
    /// The primary: writes, and reads that must see them.
    pub primary: Db,
    /// A read replica, if any: the other reads.
    pub replica: Option<Db>,
    /// Sessions that have written read from the primary (the fix for replica lag).
    pub read_your_writes: bool,
}

/// The service's routes.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/users/{id}", get(load).put(save))
        .route("/healthz", get(health))
        .with_state(Arc::new(app))
}

type Shared = Arc<App>;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn save(
    State(app): State<Shared>,
    Path(id): Path<String>,
    Json(u): Json<UserIn>,
) -> Response {
    let sql = "INSERT INTO users (id, name, email, bio, version, updated_at_ms)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (id) DO UPDATE SET name = $2, email = $3, bio = $4, version = $5,
               updated_at_ms = $6";
    let stamp = now_ms();
    let result = app
        .primary
        .run(|c| async move {
            c.execute(sql, &[&id, &u.name, &u.email, &u.bio, &u.version, &stamp])
                .await
        })
        .await;
    match result {
        Ok(_) if app.read_your_writes => (
            StatusCode::NO_CONTENT,
            [(header::SET_COOKIE, "wrote=1; Path=/; HttpOnly")],
        )
            .into_response(),
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn load(State(app): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let wrote = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(';').any(|c| c.trim() == "wrote=1"));
    let db = match &app.replica {
        Some(replica) if !(app.read_your_writes && wrote) => replica,
        _ => &app.primary,
    };
    let sql = "SELECT name, email, bio, version, updated_at_ms FROM users WHERE id = $1";
    let key = id.clone();
    let row = db
        .run(|c| async move { c.query_opt(sql, &[&key]).await })
        .await;
    let served_by = [("x-served-by", db.name())];
    match row {
        Ok(Some(r)) => (
            served_by,
            Json(UserOut {
                id,
                name: r.get(0),
                email: r.get(1),
                bio: r.get(2),
                version: r.get(3),
                updated_at_ms: r.get(4),
            }),
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, served_by).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn health(State(app): State<Shared>) -> Response {
    match app
        .primary
        .run(|c| async move { c.simple_query("SELECT 1").await })
        .await
    {
        Ok(_) => "ok".into_response(),
        Err(e) => e.into_response(),
    }
}
