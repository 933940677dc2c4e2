//! The reference profiles service, in two variants. It runs inside a runtime container as
//! `shakedown reference profiles --variant naive|hardened --primary URL --replica URL`.
//!
//! - `naive`: every write goes to the primary, every read to the replica. What most teams ship
//!   on the day they add a read replica.
//! - `hardened`: read-your-writes by WAL position. After a write commits, the service takes the
//!   primary's WAL insert position and hands it to the session (the `rw_lsn` cookie). A read that
//!   carries it waits, for at most `--read-wait-ms`, until the replica has replayed that position
//!   (`pg_last_wal_replay_lsn()`), and reads the primary if it has not.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use tokio_postgres::Client;

use super::Profile;
use crate::reference::kit::{self, Mode};

#[derive(Debug, Parser)]
#[command(name = "shakedown reference profiles")]
struct Args {
    #[arg(long, value_enum)]
    variant: Mode,
    /// Connection string of the primary.
    #[arg(long)]
    primary: String,
    /// Connection string of the replica.
    #[arg(long)]
    replica: String,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Hardened only: how long a read waits for the replica before going to the primary.
    #[arg(long, default_value_t = 100)]
    read_wait_ms: u64,
}

struct App {
    mode: Mode,
    primary: Client,
    replica: Client,
    read_wait: Duration,
}

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("profiles", args)?;
    let app = Arc::new(App {
        mode: args.variant,
        primary: kit::connect_pg(&args.primary).await?,
        replica: kit::connect_pg(&args.replica).await?,
        read_wait: Duration::from_millis(args.read_wait_ms),
    });
    let router = Router::new()
        .route("/profiles/{id}", get(load).put(save))
        .route("/health", get(|| async { "ok" }))
        .with_state(app);
    kit::serve_http("profiles service", args.variant, args.listen, router).await
}

async fn save(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Json(p): Json<Profile>,
) -> Response {
    if let Err(refused) = store(&app.primary, &id, &p).await {
        return refused;
    }
    match app.mode {
        Mode::Naive => StatusCode::NO_CONTENT.into_response(),
        Mode::Hardened => {
            // Taken after the commit: the replica has the write once it replays up to here.
            let lsn: String = match app
                .primary
                .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
                .await
            {
                Ok(row) => row.get(0),
                Err(e) => return kit::internal_error(e),
            };
            let cookie = format!("rw_lsn={lsn}; Path=/; HttpOnly; SameSite=Lax");
            let mut resp = StatusCode::NO_CONTENT.into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
    }
}

/// Upserts profile `p`, saved at path `id`, on `primary`; the answer to give when it cannot.
pub(crate) async fn store(primary: &Client, id: &str, p: &Profile) -> Result<(), Response> {
    if p.id != id {
        return Err((
            StatusCode::BAD_REQUEST,
            "profile id does not match the path",
        )
            .into_response());
    }
    let Ok(version) = i64::try_from(p.version) else {
        return Err((StatusCode::BAD_REQUEST, "version out of range").into_response());
    };
    primary
        .execute(
            "INSERT INTO profiles (id, name, email, bio, version) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET name = $2, email = $3, bio = $4, version = $5",
            &[&p.id, &p.name, &p.email, &p.bio, &version],
        )
        .await
        .map(|_| ())
        .map_err(kit::internal_error)
}

fn session_lsn(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix("rw_lsn="))
        .find(|lsn| {
            lsn.split_once('/').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.chars().chain(b.chars()).all(|c| c.is_ascii_hexdigit())
            })
        })
        .map(str::to_string)
}

/// Whether the replica has replayed up to `lsn`, waiting at most `wait`.
async fn replica_has(
    replica: &Client,
    lsn: &str,
    wait: Duration,
) -> Result<bool, tokio_postgres::Error> {
    let deadline = Instant::now() + wait;
    loop {
        let row = replica
            .query_one(
                "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)",
                &[&lsn],
            )
            .await?;
        if row.get::<_, bool>(0) {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn load(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let use_primary = match (app.mode, session_lsn(&headers)) {
        (Mode::Naive, _) | (Mode::Hardened, None) => false,
        (Mode::Hardened, Some(lsn)) => match replica_has(&app.replica, &lsn, app.read_wait).await {
            Ok(caught_up) => !caught_up,
            Err(e) => return kit::internal_error(e),
        },
    };
    let (db, served_by) = if use_primary {
        (&app.primary, "primary")
    } else {
        (&app.replica, "replica")
    };
    let row = match db
        .query_opt(
            "SELECT id, name, email, bio, version FROM profiles WHERE id = $1",
            &[&id],
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return kit::internal_error(e),
    };
    let served = [("x-served-by", served_by)];
    match row {
        None => (StatusCode::NOT_FOUND, served).into_response(),
        Some(r) => {
            let p = Profile {
                id: r.get(0),
                name: r.get(1),
                email: r.get(2),
                bio: r.get(3),
                version: r.get::<_, i64>(4).max(0) as u64,
            };
            (served, Json(p)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lsn_comes_from_a_well_formed_cookie_only() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; rw_lsn=0/3000060"),
        );
        assert_eq!(session_lsn(&h).as_deref(), Some("0/3000060"));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("rw_lsn=0/30'; DROP TABLE x"),
        );
        assert_eq!(session_lsn(&h), None);
        assert_eq!(session_lsn(&HeaderMap::new()), None);
    }
}
