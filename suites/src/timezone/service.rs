//! The reference billing scheduler, in two variants, backed by PostgreSQL. It runs in a runtime
//! container as `shakedown reference billing --variant V --db URL [--tick-ms N]`.
//!
//! - `POST /tenants {"id", "name", "zone"}` registers a tenant.
//! - `POST /tick` runs one scheduler pass now and answers `{"charged": [tenant ids]}`; a pass
//!   also runs every `--tick-ms` (0: only on request, as the suite runs it, so every simulated
//!   instant is evaluated exactly once).
//! - `GET /reports/{tenant}/{YYYY-MM-DD}` answers `{"charges": n}` for that day.
//!
//! `naive` fires every tenant once the server's local wall clock (`TZ`) passes 09:00 and no charge
//! of that tenant has a stored date equal to the server's date; it inserts into
//! `charges_naive.charged_at timestamp DEFAULT now()`, i.e. the database's clock rendered in the
//! database's zone, and reports by the stored date. `hardened` computes, per tenant, 09:00 of the
//! tenant's local day in its IANA zone (jiff; DST-aware), fires within an hour after it, stores
//! the instant as `timestamptz` with the local day under a unique key, and reports over the
//! tenant's `[local midnight, next local midnight)` converted to instants.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use shakedown_fixtures::tenants::Tenant;
use tokio::sync::Mutex;
use tokio_postgres::Client;

use crate::reference::kit::{self, Mode};

/// The local time every tenant is charged at.
pub const CHARGE_AT: Time = super::checker::CHARGE_AT;
/// How late after [`CHARGE_AT`] the hardened scheduler still charges a day.
pub const GRACE: Duration = Duration::from_secs(3600);

#[derive(Debug, Parser)]
#[command(name = "shakedown reference billing")]
struct Args {
    #[arg(long, value_enum)]
    variant: Mode,
    /// Connection string of the database.
    #[arg(long)]
    db: String,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Run a pass every this many milliseconds (0: only on `POST /tick`).
    #[arg(long, default_value_t = 1000)]
    tick_ms: u64,
}

struct App {
    mode: Mode,
    db: Client,
    /// One pass at a time.
    pass: Mutex<()>,
}

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("billing", args)?;
    let app = Arc::new(App {
        mode: args.variant,
        db: kit::connect_pg(&args.db).await?,
        pass: Mutex::new(()),
    });
    if args.tick_ms > 0 {
        let app = app.clone();
        let every = Duration::from_millis(args.tick_ms);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = pass(&app).await {
                    eprintln!("scheduler pass failed: {e}");
                }
            }
        });
    }
    let router = Router::new()
        .route("/tenants", post(add_tenant))
        .route("/tick", post(tick))
        .route("/reports/{tenant}/{day}", get(report))
        .with_state(app);
    kit::serve_http("billing service", args.variant, args.listen, router).await
}

async fn add_tenant(State(app): State<Arc<App>>, Json(t): Json<Tenant>) -> Response {
    if TimeZone::get(&t.zone).is_err() {
        return (
            StatusCode::BAD_REQUEST,
            format!("unknown time zone `{}`", t.zone),
        )
            .into_response();
    }
    match app
        .db
        .execute(
            "INSERT INTO tenants (id, name, zone) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET name = $2, zone = $3",
            &[&t.id, &t.name, &t.zone],
        )
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => kit::internal_error(e),
    }
}

async fn tick(State(app): State<Arc<App>>) -> Response {
    match pass(&app).await {
        Ok(charged) => Json(serde_json::json!({ "charged": charged })).into_response(),
        Err(e) => kit::internal_error(e),
    }
}

async fn tenants(db: &Client) -> Result<Vec<(String, String)>, tokio_postgres::Error> {
    Ok(db
        .query("SELECT id, zone FROM tenants ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// One scheduler pass at this process's wall clock.
async fn pass(app: &App) -> Result<Vec<String>, String> {
    let _one = app.pass.lock().await;
    let db = &app.db;
    let tenants = tenants(db).await.map_err(|e| e.to_string())?;
    let mut charged = Vec::new();
    match app.mode {
        Mode::Naive => {
            // "09:00" on the server's clock, in the server's zone.
            let now = Zoned::now();
            if now.time() < CHARGE_AT {
                return Ok(charged);
            }
            let today = now.date().to_string();
            for (id, _) in tenants {
                let done = db
                    .query_opt(
                        "SELECT 1 FROM charges_naive WHERE tenant_id = $1
                         AND to_char(charged_at, 'YYYY-MM-DD') = $2 LIMIT 1",
                        &[&id, &today],
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                if done.is_none() {
                    db.execute("INSERT INTO charges_naive (tenant_id) VALUES ($1)", &[&id])
                        .await
                        .map_err(|e| e.to_string())?;
                    charged.push(id);
                }
            }
        }
        Mode::Hardened => {
            let now = Timestamp::now();
            for (id, zone) in tenants {
                let tz = TimeZone::get(&zone).map_err(|e| format!("tenant {id}: {e}"))?;
                let local = now.to_zoned(tz.clone());
                let day = local.date();
                let due = day
                    .to_datetime(CHARGE_AT)
                    .to_zoned(tz)
                    .map_err(|e| e.to_string())?
                    .timestamp();
                let grace = jiff::SignedDuration::try_from(GRACE).map_err(|e| e.to_string())?;
                if now < due || now >= due + grace {
                    continue;
                }
                let n = db
                    .execute(
                        "INSERT INTO charges (tenant_id, charged_at, local_day)
                         VALUES ($1, $2::text::timestamptz, $3::text::date)
                         ON CONFLICT (tenant_id, local_day) DO NOTHING",
                        &[&id, &now.to_string(), &day.to_string()],
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                if n == 1 {
                    charged.push(id);
                }
            }
        }
    }
    Ok(charged)
}

async fn report(
    State(app): State<Arc<App>>,
    Path((tenant, day)): Path<(String, String)>,
) -> Response {
    let Ok(date) = day.parse::<Date>() else {
        return (StatusCode::BAD_REQUEST, "day must be YYYY-MM-DD").into_response();
    };
    let count = match app.mode {
        Mode::Naive => {
            app.db
                .query_one(
                    "SELECT count(*) FROM charges_naive WHERE tenant_id = $1
                     AND charged_at >= $2::text::timestamp
                     AND charged_at < $2::text::timestamp + interval '1 day'",
                    &[&tenant, &date.to_string()],
                )
                .await
        }
        Mode::Hardened => {
            let zone = match app
                .db
                .query_opt("SELECT zone FROM tenants WHERE id = $1", &[&tenant])
                .await
            {
                Ok(Some(r)) => r.get::<_, String>(0),
                Ok(None) => return (StatusCode::NOT_FOUND, "no such tenant").into_response(),
                Err(e) => return kit::internal_error(e),
            };
            let window = TimeZone::get(&zone).and_then(|tz| {
                let from = date.to_zoned(tz.clone())?.timestamp();
                let to = date.checked_add(1.day())?.to_zoned(tz)?.timestamp();
                Ok((from.to_string(), to.to_string()))
            });
            let Ok((from, to)) = window else {
                return kit::internal_error(format!(
                    "tenant {tenant}: bad zone `{zone}`"
                ));
            };
            app.db
                .query_one(
                    "SELECT count(*) FROM charges WHERE tenant_id = $1
                     AND charged_at >= $2::text::timestamptz AND charged_at < $3::text::timestamptz",
                    &[&tenant, &from, &to],
                )
                .await
        }
    };
    match count {
        Ok(row) => {
            Json(serde_json::json!({ "charges": row.get::<_, i64>(0).max(0) })).into_response()
        }
        Err(e) => kit::internal_error(e),
    }
}
