//! The reference billing scheduler, backed by PostgreSQL. It runs in a runtime container as
//! `shakedown reference billing --variant V --db URL [--tick-ms N] [--policy P]`.
//!
//! - `POST /tenants {"id", "name", "zone"}` registers a tenant.
//! - `POST /tick` runs one scheduler pass now and answers `{"charged": [tenant ids]}`; a pass
//!   also runs every `--tick-ms` (0: only on request, as the suite runs it).
//! - `GET /reports/{tenant}/{YYYY-MM-DD}` answers `{"charges": n}` for that day.
//!
//! `naive` (`server-time`) fires every tenant once the server's local wall clock (`TZ`) passes
//! 09:00 and no charge of that tenant has a stored date equal to the server's date; it inserts
//! into `charges_naive.charged_at timestamp DEFAULT now()` (the database's clock in the
//! database's zone) and reports by the stored date. `hardened` (`local-catch-up`) computes, per
//! tenant, 09:00 of the tenant's local day in its IANA zone (jiff; DST-aware), charges at the
//! first pass at or after it — also when that pass is late — once per local day (a unique key),
//! stores the instant as `timestamptz`, and reports over the tenant's `[local midnight, next
//! local midnight)`.
//!
//! The other policies are how teams also build it — some correct, some not — and the suite's
//! tests use them to show what the suite catches: `planner` (the next due instant stored per
//! tenant, planned at signup: correct), `sql` (PostgreSQL's own zone rules decide, in one
//! statement: correct), `nine-window` (charges only within the hour after 09:00: a late pass
//! misses the day), `fixed-offset` (the UTC offset taken at signup: an hour off after a DST
//! change), `no-guard` (the 09:00–09:30 slot, no once-per-day key: a retried pass charges twice),
//! `server-day-report` (charges right, reports by the database session's day).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::{Parser, ValueEnum};
use jiff::civil::{Date, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};
use shakedown_fixtures::tenants::Tenant;
use tokio::sync::Mutex;
use tokio_postgres::Client;

use crate::reference::kit::{self, Mode};

/// The local time every tenant is charged at.
pub const CHARGE_AT: Time = super::checker::CHARGE_AT;

/// How the scheduler decides, and how it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// 09:00 on the server's clock, naive timestamps (`naive`).
    ServerTime,
    /// 09:00 in the tenant's zone, first pass at or after it, once per local day (`hardened`).
    LocalCatchUp,
    /// The next due instant kept per tenant, planned at signup and after each charge.
    Planner,
    /// PostgreSQL decides with its own zone rules, in one statement.
    Sql,
    /// Only within the hour after 09:00 local.
    NineWindow,
    /// The tenant's UTC offset taken at signup, kept forever.
    FixedOffset,
    /// The 09:00–09:30 local slot, no once-per-day key.
    NoGuard,
    /// Charges as `local-catch-up`; reports by the database session's calendar day.
    ServerDayReport,
}

impl Policy {
    fn of(mode: Mode) -> Self {
        match mode {
            Mode::Naive => Policy::ServerTime,
            Mode::Hardened => Policy::LocalCatchUp,
        }
    }
}

#[derive(Debug, Parser)]
#[command(name = "shakedown reference billing")]
struct Args {
    #[arg(long, value_enum)]
    variant: Mode,
    /// Overrides the variant's policy.
    #[arg(long, value_enum)]
    policy: Option<Policy>,
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
    policy: Policy,
    db: Client,
    /// One pass at a time.
    pass: Mutex<()>,
}

/// Parses the arguments and serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("billing", args)?;
    let app = Arc::new(App {
        policy: args.policy.unwrap_or(Policy::of(args.variant)),
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

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// 09:00 of `day` in `tz` (a 09:00 that does not exist is taken after the gap).
fn due(day: Date, tz: &TimeZone) -> Result<Timestamp, String> {
    Ok(day
        .to_datetime(CHARGE_AT)
        .to_zoned(tz.clone())
        .map_err(err)?
        .timestamp())
}

async fn add_tenant(State(app): State<Arc<App>>, Json(t): Json<Tenant>) -> Response {
    let Ok(tz) = TimeZone::get(&t.zone) else {
        return (
            StatusCode::BAD_REQUEST,
            format!("unknown time zone `{}`", t.zone),
        )
            .into_response();
    };
    let now = Timestamp::now();
    let offset = tz.to_offset(now).seconds();
    let res = app
        .db
        .execute(
            "INSERT INTO tenants (id, name, zone, signup_offset_s) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET name = $2, zone = $3, signup_offset_s = $4",
            &[&t.id, &t.name, &t.zone, &offset],
        )
        .await;
    if let Err(e) = res {
        return kit::internal_error(e);
    }
    if app.policy == Policy::Planner {
        // The first charge: today's 09:00 if it is still ahead, else tomorrow's.
        let first = (|| {
            let today = now.to_zoned(tz.clone()).date();
            let d = due(today, &tz)?;
            if d >= now {
                Ok(d)
            } else {
                due(today.tomorrow().map_err(err)?, &tz)
            }
        })();
        let first: Timestamp = match first {
            Ok(t) => t,
            Err(e) => return kit::internal_error(e),
        };
        if let Err(e) = app
            .db
            .execute(
                "INSERT INTO tenant_plans (tenant_id, next_due) VALUES ($1, $2::text::timestamptz)
                 ON CONFLICT (tenant_id) DO UPDATE SET next_due = $2::text::timestamptz",
                &[&t.id, &first.to_string()],
            )
            .await
        {
            return kit::internal_error(e);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn tick(State(app): State<Arc<App>>) -> Response {
    match pass(&app).await {
        Ok(charged) => Json(serde_json::json!({ "charged": charged })).into_response(),
        Err(e) => kit::internal_error(e),
    }
}

async fn tenants(db: &Client) -> Result<Vec<(String, String, i32)>, String> {
    Ok(db
        .query(
            "SELECT id, zone, coalesce(signup_offset_s, 0) FROM tenants ORDER BY id",
            &[],
        )
        .await
        .map_err(err)?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Records a charge for `day` unless there is one: `true` if this call charged.
async fn charge_once(db: &Client, id: &str, now: Timestamp, day: Date) -> Result<bool, String> {
    let n = db
        .execute(
            "INSERT INTO charges (tenant_id, charged_at, local_day)
             VALUES ($1, $2::text::timestamptz, $3::text::date)
             ON CONFLICT (tenant_id, local_day) DO NOTHING",
            &[&id, &now.to_string(), &day.to_string()],
        )
        .await
        .map_err(err)?;
    Ok(n == 1)
}

/// One scheduler pass at this process's wall clock.
async fn pass(app: &App) -> Result<Vec<String>, String> {
    let _one = app.pass.lock().await;
    let db = &app.db;
    let now = Timestamp::now();
    let mut charged = Vec::new();
    match app.policy {
        Policy::ServerTime => {
            // "09:00" on the server's clock, in the server's zone.
            let server = Zoned::now();
            if server.time() < CHARGE_AT {
                return Ok(charged);
            }
            let today = server.date().to_string();
            for (id, _, _) in tenants(db).await? {
                let done = db
                    .query_opt(
                        "SELECT 1 FROM charges_naive WHERE tenant_id = $1
                         AND to_char(charged_at, 'YYYY-MM-DD') = $2 LIMIT 1",
                        &[&id, &today],
                    )
                    .await
                    .map_err(err)?;
                if done.is_none() {
                    db.execute("INSERT INTO charges_naive (tenant_id) VALUES ($1)", &[&id])
                        .await
                        .map_err(err)?;
                    charged.push(id);
                }
            }
        }
        Policy::Sql => {
            let rows = db
                .query(
                    "INSERT INTO charges (tenant_id, charged_at, local_day)
                     SELECT id, now(), (now() AT TIME ZONE zone)::date FROM tenants
                     WHERE (now() AT TIME ZONE zone)::time >= $1::text::time
                     ON CONFLICT (tenant_id, local_day) DO NOTHING
                     RETURNING tenant_id",
                    &[&CHARGE_AT.to_string()],
                )
                .await
                .map_err(err)?;
            charged = rows.iter().map(|r| r.get(0)).collect();
            charged.sort();
        }
        Policy::Planner => {
            let rows = db
                .query(
                    "SELECT p.tenant_id, t.zone, p.next_due::text FROM tenant_plans p
                     JOIN tenants t ON t.id = p.tenant_id
                     WHERE p.next_due <= $1::text::timestamptz ORDER BY p.tenant_id",
                    &[&now.to_string()],
                )
                .await
                .map_err(err)?;
            for r in rows {
                let (id, zone, due_at): (String, String, String) = (r.get(0), r.get(1), r.get(2));
                let tz = TimeZone::get(&zone).map_err(err)?;
                let due_at: Timestamp = due_at
                    .replace(' ', "T")
                    .parse()
                    .map_err(|e| format!("next_due `{due_at}`: {e}"))?;
                let day = due_at.to_zoned(tz.clone()).date();
                if charge_once(db, &id, now, day).await? {
                    charged.push(id.clone());
                }
                let next = due(
                    now.to_zoned(tz.clone()).date().tomorrow().map_err(err)?,
                    &tz,
                )?;
                db.execute(
                    "UPDATE tenant_plans SET next_due = $2::text::timestamptz WHERE tenant_id = $1",
                    &[&id, &next.to_string()],
                )
                .await
                .map_err(err)?;
            }
        }
        Policy::LocalCatchUp
        | Policy::ServerDayReport
        | Policy::NineWindow
        | Policy::FixedOffset
        | Policy::NoGuard => {
            for (id, zone, signup_offset) in tenants(db).await? {
                let tz = if app.policy == Policy::FixedOffset {
                    TimeZone::fixed(Offset::from_seconds(signup_offset).map_err(err)?)
                } else {
                    TimeZone::get(&zone).map_err(|e| format!("tenant {id}: {e}"))?
                };
                let day = now.to_zoned(tz.clone()).date();
                let due_at = due(day, &tz)?;
                let late = now.duration_since(due_at);
                let in_slot = |len: SignedDuration| late >= SignedDuration::ZERO && late < len;
                let fire = match app.policy {
                    Policy::NineWindow => in_slot(SignedDuration::from_hours(1)),
                    Policy::NoGuard => in_slot(SignedDuration::from_mins(30)),
                    _ => now >= due_at,
                };
                if !fire {
                    continue;
                }
                let did = if app.policy == Policy::NoGuard {
                    db.execute(
                        "INSERT INTO charges_log (tenant_id, charged_at) VALUES ($1, $2::text::timestamptz)",
                        &[&id, &now.to_string()],
                    )
                    .await
                    .map_err(err)?;
                    true
                } else {
                    charge_once(db, &id, now, day).await?
                };
                if did {
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
    let db = &app.db;
    let count = match app.policy {
        Policy::ServerTime => {
            db.query_one(
                "SELECT count(*) FROM charges_naive WHERE tenant_id = $1
                 AND charged_at >= $2::text::timestamp
                 AND charged_at < $2::text::timestamp + interval '1 day'",
                &[&tenant, &date.to_string()],
            )
            .await
        }
        Policy::ServerDayReport => {
            // The database session's calendar day, not the tenant's.
            db.query_one(
                "SELECT count(*) FROM charges WHERE tenant_id = $1 AND charged_at::date = $2::text::date",
                &[&tenant, &date.to_string()],
            )
            .await
        }
        _ => {
            let zone = match db
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
                return kit::internal_error(format!("tenant {tenant}: bad zone `{zone}`"));
            };
            let table = if app.policy == Policy::NoGuard {
                "charges_log"
            } else {
                "charges"
            };
            db.query_one(
                &format!(
                    "SELECT count(*) FROM {table} WHERE tenant_id = $1
                     AND charged_at >= $2::text::timestamptz AND charged_at < $3::text::timestamptz"
                ),
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
