//! The reference profiles service. It runs inside a runtime container as
//! `shakedown reference profiles --variant naive|hardened --primary URL --replica URL…`.
//!
//! Writes go to the primary; reads go to a pool of replicas (round-robin), under a read policy:
//!
//! - `naive` (`--read-policy replica`): every read from a replica. What most teams ship on the
//!   day they add read replicas.
//! - `hardened` (`--read-policy lsn`): read-your-writes by WAL position. After a write commits,
//!   the service takes the primary's WAL insert position and hands it to the session (the
//!   `rw_lsn` cookie). A read that carries it waits, for at most `--read-wait-ms`, until the
//!   replica that will serve it has replayed that position (`pg_last_wal_replay_lsn()`), and
//!   reads the primary if it has not.
//!
//! The other policies are how teams also do it — some correct, some not — and the suite's tests
//! use them to show what the suite catches: `primary` (every read from the primary: correct),
//! `lsn-by-user` (the position kept server-side per profile, as GitLab keeps it per user, and
//! no waiting: correct), `lsn-unbounded` (waits for the replica without a bound), `sticky-window`
//! (the primary for `--sticky-ms` after the session's last write, as Rails' role switching),
//! `primary-on-miss` (the primary only when the replica has no such profile), `lag-threshold`
//! (a replica whose replay lag is under `--max-lag-ms`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::{Parser, ValueEnum};
use tokio_postgres::Client;

use super::Profile;
use crate::reference::kit::{self, Mode};

/// Where reads go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReadPolicy {
    /// Always a replica (`naive`).
    Replica,
    /// Read-your-writes by the session's WAL position, bounded wait (`hardened`).
    Lsn,
    /// Always the primary.
    Primary,
    /// The WAL position kept per profile on the server; no waiting.
    LsnByUser,
    /// Read-your-writes by WAL position, waiting without a bound.
    LsnUnbounded,
    /// The primary for a fixed window after the session's last write.
    StickyWindow,
    /// A replica, and the primary only when the replica has no such profile.
    PrimaryOnMiss,
    /// A replica whose replay lag is under a threshold.
    LagThreshold,
}

impl ReadPolicy {
    fn of(mode: Mode) -> Self {
        match mode {
            Mode::Naive => ReadPolicy::Replica,
            Mode::Hardened => ReadPolicy::Lsn,
        }
    }
}

#[derive(Debug, Parser)]
#[command(name = "shakedown reference profiles")]
struct Args {
    #[arg(long, value_enum)]
    variant: Mode,
    /// Overrides the variant's read policy.
    #[arg(long, value_enum)]
    read_policy: Option<ReadPolicy>,
    /// Connection string of the primary.
    #[arg(long)]
    primary: String,
    /// Connection string of a replica (repeat for a pool).
    #[arg(long, required = true)]
    replica: Vec<String>,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// `lsn`: how long a read waits for the replica before going to the primary.
    #[arg(long, default_value_t = 100)]
    read_wait_ms: u64,
    /// `sticky-window`: how long after a write the session reads the primary.
    #[arg(long, default_value_t = 1500)]
    sticky_ms: u64,
    /// `lag-threshold`: the replay lag under which a replica serves reads.
    #[arg(long, default_value_t = 5000)]
    max_lag_ms: u64,
}

struct App {
    policy: ReadPolicy,
    primary: Client,
    replicas: Vec<Client>,
    next: AtomicUsize,
    read_wait: Duration,
    sticky: Duration,
    max_lag: Duration,
    /// `lsn-by-user`: last write position per profile.
    written: Mutex<HashMap<String, String>>,
}

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("profiles", args)?;
    let mut replicas = Vec::new();
    for url in &args.replica {
        replicas.push(kit::connect_pg(url).await?);
    }
    let app = Arc::new(App {
        policy: args.read_policy.unwrap_or(ReadPolicy::of(args.variant)),
        primary: kit::connect_pg(&args.primary).await?,
        replicas,
        next: AtomicUsize::new(0),
        read_wait: Duration::from_millis(args.read_wait_ms),
        sticky: Duration::from_millis(args.sticky_ms),
        max_lag: Duration::from_millis(args.max_lag_ms),
        written: Mutex::new(HashMap::new()),
    });
    let router = Router::new()
        .route("/profiles/{id}", get(load).put(save))
        .route("/health", get(|| async { "ok" }))
        .with_state(app);
    kit::serve_http("profiles service", args.variant, args.listen, router).await
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn save(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Json(p): Json<Profile>,
) -> Response {
    if let Err(refused) = store(&app.primary, &id, &p).await {
        return refused;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let cookie = match app.policy {
        ReadPolicy::Lsn | ReadPolicy::LsnUnbounded | ReadPolicy::LsnByUser => {
            // Taken after the commit: the replica has the write once it replays up to here.
            let lsn: String = match app
                .primary
                .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
                .await
            {
                Ok(row) => row.get(0),
                Err(e) => return kit::internal_error(e),
            };
            if app.policy == ReadPolicy::LsnByUser {
                app.written
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id, lsn);
                None
            } else {
                Some(format!("rw_lsn={lsn}; Path=/; HttpOnly; SameSite=Lax"))
            }
        }
        ReadPolicy::StickyWindow => Some(format!(
            "rw_at={}; Path=/; HttpOnly; SameSite=Lax",
            unix_ms()
        )),
        _ => None,
    };
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
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

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
}

fn well_formed_lsn(lsn: &str) -> bool {
    lsn.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_hexdigit())
    })
}

fn session_lsn(headers: &HeaderMap) -> Option<String> {
    cookie(headers, "rw_lsn")
        .filter(|l| well_formed_lsn(l))
        .map(str::to_string)
}

/// Whether `replica` has replayed up to `lsn`, waiting at most `wait` (`None`: without a bound).
async fn replica_has(
    replica: &Client,
    lsn: &str,
    wait: Option<Duration>,
) -> Result<bool, tokio_postgres::Error> {
    let deadline = wait.map(|w| Instant::now() + w);
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
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The replica's replay lag: now minus the commit time of the last transaction it replayed.
async fn replay_lag(replica: &Client) -> Result<Duration, tokio_postgres::Error> {
    let row = replica
        .query_one(
            "SELECT coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8",
            &[],
        )
        .await?;
    Ok(Duration::from_secs_f64(row.get::<_, f64>(0).max(0.0)))
}

async fn query(db: &Client, id: &str) -> Result<Option<Profile>, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT id, name, email, bio, version FROM profiles WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(row.map(|r| Profile {
        id: r.get(0),
        name: r.get(1),
        email: r.get(2),
        bio: r.get(3),
        version: r.get::<_, i64>(4).max(0) as u64,
    }))
}

/// Which database serves a read under the app's policy: `true` for the primary.
async fn use_primary(
    app: &App,
    replica: &Client,
    id: &str,
    headers: &HeaderMap,
) -> Result<bool, tokio_postgres::Error> {
    Ok(match app.policy {
        ReadPolicy::Replica | ReadPolicy::PrimaryOnMiss => false,
        ReadPolicy::Primary => true,
        ReadPolicy::Lsn | ReadPolicy::LsnUnbounded => match session_lsn(headers) {
            None => false,
            Some(lsn) => {
                let wait = (app.policy == ReadPolicy::Lsn).then_some(app.read_wait);
                !replica_has(replica, &lsn, wait).await?
            }
        },
        ReadPolicy::LsnByUser => {
            let lsn = app
                .written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(id)
                .cloned();
            match lsn {
                None => false,
                Some(lsn) => !replica_has(replica, &lsn, Some(Duration::ZERO)).await?,
            }
        }
        ReadPolicy::StickyWindow => cookie(headers, "rw_at")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|at| unix_ms().saturating_sub(at) < app.sticky.as_millis() as u64),
        ReadPolicy::LagThreshold => replay_lag(replica).await? >= app.max_lag,
    })
}

async fn load(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let i = app.next.fetch_add(1, Ordering::Relaxed) % app.replicas.len();
    let replica = &app.replicas[i];
    let primary = match use_primary(&app, replica, &id, &headers).await {
        Ok(p) => p,
        Err(e) => return kit::internal_error(e),
    };
    let mut found = if primary {
        query(&app.primary, &id).await
    } else {
        query(replica, &id).await
    };
    let mut served_by = if primary {
        "primary".to_string()
    } else {
        format!("replica-{i}")
    };
    if app.policy == ReadPolicy::PrimaryOnMiss && matches!(found, Ok(None)) {
        found = query(&app.primary, &id).await;
        served_by = "primary".into();
    }
    let served = [("x-served-by", served_by)];
    match found {
        Err(e) => kit::internal_error(e),
        Ok(None) => (StatusCode::NOT_FOUND, served).into_response(),
        Ok(Some(p)) => (served, Json(p)).into_response(),
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
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("rw_at=17; rw_lsnx=1/2"),
        );
        assert_eq!(cookie(&h, "rw_at"), Some("17"));
        assert_eq!(
            session_lsn(&h),
            None,
            "a cookie whose name only starts alike"
        );
    }
}
