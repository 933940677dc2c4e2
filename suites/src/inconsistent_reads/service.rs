//! The reference profile pages service, in two variants. It runs inside a runtime container as
//! `shakedown reference profile-pages --variant naive|hardened --primary URL --balancer URL`.
//! Writes go to the primary; reads go through the balancer (HAProxy, round-robin over the
//! replicas), one new connection per read, as a pooled app's reads land on any replica.
//!
//! - `naive`: every read through the balancer, on whichever replica it picks.
//! - `hardened`: monotonic reads and read-your-writes by an LSN floor kept in the session (the
//!   `read_floor` cookie): the highest WAL position the session wrote (the primary's insert
//!   position after its commit) or saw (the replay position of the replica that served it). A
//!   read is served by the replica the balancer picked only once `pg_last_wal_replay_lsn()` *on
//!   that same connection* is at or past the floor, compared as `pg_lsn`; it waits at most
//!   `--read-wait-ms`, then reads the primary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use shakedown_fixtures::Lsn;
use tokio_postgres::{Client, NoTls};

use super::Profile;
use crate::reference::kit::{self, Mode};

#[derive(Debug, Parser)]
#[command(name = "shakedown reference profile-pages")]
struct Args {
    #[arg(long, value_enum)]
    variant: Mode,
    /// Connection string of the primary.
    #[arg(long)]
    primary: String,
    /// Connection string of the balancer in front of the replicas.
    #[arg(long)]
    balancer: String,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Hardened only: how long a read waits for its replica to reach the floor before going to
    /// the primary.
    #[arg(long, default_value_t = 100)]
    read_wait_ms: u64,
}

struct App {
    mode: Mode,
    primary: Client,
    balancer: String,
    read_wait: Duration,
}

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("profile-pages", args)?;
    let app = Arc::new(App {
        mode: args.variant,
        primary: kit::connect_pg(&args.primary).await?,
        balancer: args.balancer,
        read_wait: Duration::from_millis(args.read_wait_ms),
    });
    let router = Router::new()
        .route("/profiles/{id}", get(load).put(save))
        .route("/health", get(|| async { "ok" }))
        .with_state(app);
    kit::serve_http("profile pages service", args.variant, args.listen, router).await
}

/// The session's floor, from a well-formed `read_floor` cookie.
fn session_floor(headers: &HeaderMap) -> Option<Lsn> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix("read_floor="))
        .find_map(|lsn| lsn.parse().ok())
}

/// `response`, carrying `floor` as the session's cookie when there is one.
fn with_floor(mut response: Response, floor: Option<Lsn>) -> Response {
    if let Some(floor) = floor {
        let cookie = format!("read_floor={floor}; Path=/; HttpOnly; SameSite=Lax");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}

async fn save(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(p): Json<Profile>,
) -> Response {
    if let Err(refused) = crate::replica_lag::service::store(&app.primary, &id, &p).await {
        return refused;
    }
    if app.mode == Mode::Naive {
        return StatusCode::NO_CONTENT.into_response();
    }
    // Taken after the commit: a replica has the write once it replays up to here.
    match lsn_of(&app.primary, "pg_current_wal_insert_lsn()").await {
        Ok(written) => with_floor(
            StatusCode::NO_CONTENT.into_response(),
            session_floor(&headers).max(Some(written)),
        ),
        Err(e) => kit::internal_error(e),
    }
}

async fn lsn_of(db: &Client, function: &str) -> Result<Lsn, String> {
    let row = db
        .query_one(&format!("SELECT {function}::text"), &[])
        .await
        .map_err(|e| e.to_string())?;
    row.get::<_, Option<String>>(0)
        .unwrap_or_else(|| "0/0".into())
        .parse()
        .map_err(|e: shakedown_fixtures::postgres::ParseLsnError| e.to_string())
}

/// Opens a new connection through the balancer: the replica it lands on serves the read.
async fn through_balancer(url: &str) -> Result<Client, String> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("connect through the balancer: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Whether the replica behind `replica` has replayed up to `floor`, waiting at most `wait`.
async fn reaches(replica: &Client, floor: Lsn, wait: Duration) -> Result<bool, String> {
    let deadline = Instant::now() + wait;
    let floor = floor.to_string();
    loop {
        let row = replica
            .query_one(
                "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)",
                &[&floor],
            )
            .await
            .map_err(|e| e.to_string())?;
        if row.get::<_, bool>(0) {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reads profile `id` on `db`, with the WAL position `position` names there (what the read
/// saw at least), in one statement.
async fn read(db: &Client, id: &str, position: &str) -> Result<(Option<Profile>, Lsn), String> {
    let row = db
        .query_one(
            &format!(
                "SELECT p.id, p.name, p.email, p.bio, p.version, {position}::text
                 FROM (SELECT 1) AS one LEFT JOIN profiles p ON p.id = $1"
            ),
            &[&id],
        )
        .await
        .map_err(|e| e.to_string())?;
    let seen = row
        .get::<_, Option<String>>(5)
        .unwrap_or_else(|| "0/0".into())
        .parse()
        .map_err(|e: shakedown_fixtures::postgres::ParseLsnError| e.to_string())?;
    let profile = row.get::<_, Option<String>>(0).map(|id| Profile {
        id,
        name: row.get(1),
        email: row.get(2),
        bio: row.get(3),
        version: row.get::<_, i64>(4).max(0) as u64,
    });
    Ok((profile, seen))
}

async fn load(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    match serve_read(&app, &id, session_floor(&headers)).await {
        Ok((profile, served_by, floor)) => {
            let served = [("x-served-by", served_by)];
            let response = match profile {
                None => (StatusCode::NOT_FOUND, served).into_response(),
                Some(p) => (served, Json(p)).into_response(),
            };
            with_floor(response, floor)
        }
        Err(e) => kit::internal_error(e),
    }
}

/// The profile, who served it, and the session's new floor (hardened only).
async fn serve_read(
    app: &App,
    id: &str,
    floor: Option<Lsn>,
) -> Result<(Option<Profile>, &'static str, Option<Lsn>), String> {
    let replica = through_balancer(&app.balancer).await?;
    if app.mode == Mode::Naive {
        let (p, _) = read(&replica, id, "pg_last_wal_replay_lsn()").await?;
        return Ok((p, "replica", None));
    }
    let on_replica = match floor {
        None => true,
        Some(f) => reaches(&replica, f, app.read_wait).await?,
    };
    let (p, seen, served_by) = if on_replica {
        let (p, seen) = read(&replica, id, "pg_last_wal_replay_lsn()").await?;
        (p, seen, "replica")
    } else {
        let (p, seen) = read(&app.primary, id, "pg_current_wal_insert_lsn()").await?;
        (p, seen, "primary")
    };
    Ok((p, served_by, floor.max(Some(seen))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_comes_from_a_well_formed_cookie_only() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; read_floor=0/3000060"),
        );
        assert_eq!(session_floor(&h), Some(Lsn(0x300_0060)));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("read_floor=0/30'; DROP TABLE x"),
        );
        assert_eq!(session_floor(&h), None);
        assert_eq!(session_floor(&HeaderMap::new()), None);
        let r = with_floor(StatusCode::OK.into_response(), Some(Lsn(0x1_0000_0000)));
        assert!(r.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("read_floor=1/0;"));
    }
}
