//! The reference token issuer and API, in two variants. Each runs in its own runtime container:
//! `shakedown reference token-issuer --variant V --secret S` and
//! `shakedown reference token-api --variant V --secret S --issuer URL`.
//!
//! - issuer: `POST /token {"sub", "ttl_s"}` → `{"token"}` (HS256, `iat`/`nbf`/`exp` from its own
//!   clock); `GET /time` → its clock in Unix nanoseconds. `hardened` caps lifetimes at 5 min.
//! - API: `GET /resource` with `Authorization: Bearer …` → 200, or 401 with the reason.
//!   `naive` judges `exp`/`nbf`/`iat` on its own clock with zero leeway. `hardened` first
//!   measures the issuer's clock against its own (`GET /time`, midpoint of the round trip),
//!   returns the skew in `x-clock-skew-ms` (and logs it when over 1 s), refuses every token while
//!   the skew exceeds 15 min, and otherwise judges times on the issuer's clock with a 2 s leeway.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde::Deserialize;
use shakedown::clock::{ClockOffset, SystemClock};
use shakedown_fixtures::token::{TokenIssuer, TokenValidator};

use crate::reference::kit::{self, Mode};

/// Leeway of the hardened API.
pub const HARDENED_LEEWAY: Duration = Duration::from_secs(2);
/// Longest lifetime the hardened issuer grants.
pub const HARDENED_MAX_TTL: Duration = Duration::from_secs(300);
/// Largest skew the hardened API works with.
pub const MAX_TOLERATED_SKEW: Duration = Duration::from_secs(15 * 60);
/// Skew above which the hardened API logs a warning.
pub const REPORTED_SKEW: Duration = Duration::from_secs(1);

#[derive(Debug, Parser)]
#[command(name = "shakedown reference token-issuer")]
struct IssuerArgs {
    #[arg(long, value_enum)]
    variant: Mode,
    /// HMAC secret shared with the API.
    #[arg(long)]
    secret: String,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
}

#[derive(Debug, Parser)]
#[command(name = "shakedown reference token-api")]
struct ApiArgs {
    #[arg(long, value_enum)]
    variant: Mode,
    /// HMAC secret shared with the issuer.
    #[arg(long)]
    secret: String,
    /// The issuer's base URL (hardened: where its clock is read).
    #[arg(long)]
    issuer: String,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
}

#[derive(Deserialize)]
struct TokenRequest {
    sub: String,
    ttl_s: u64,
}

/// Serves the issuer until the process is stopped.
pub async fn serve_issuer(args: Vec<String>) -> Result<(), String> {
    let args: IssuerArgs = kit::parse_args("token-issuer", args)?;
    let mut issuer = TokenIssuer::new(args.secret.as_bytes(), SystemClock);
    if args.variant == Mode::Hardened {
        issuer = issuer.max_ttl(HARDENED_MAX_TTL);
    }
    let issuer = Arc::new(issuer);
    let router = Router::new()
        .route(
            "/token",
            post(
                |State(issuer): State<Arc<TokenIssuer<SystemClock>>>,
                 Json(req): Json<TokenRequest>| async move {
                    match issuer.issue(&req.sub, Duration::from_secs(req.ttl_s)) {
                        Ok(token) => Json(serde_json::json!({ "token": token })).into_response(),
                        Err(e) => {
                            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
                        }
                    }
                },
            ),
        )
        .route(
            "/time",
            get(|| async { crate::clock_probe::now_nanos().to_string() }),
        )
        .with_state(issuer);
    kit::serve_http("token issuer", args.variant, args.listen, router).await
}

struct Api {
    mode: Mode,
    secret: Vec<u8>,
    issuer: String,
    http: reqwest::Client,
}

/// Serves the API until the process is stopped.
pub async fn serve_api(args: Vec<String>) -> Result<(), String> {
    let args: ApiArgs = kit::parse_args("token-api", args)?;
    let api = Arc::new(Api {
        mode: args.variant,
        secret: args.secret.into_bytes(),
        issuer: args.issuer.trim_end_matches('/').to_string(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?,
    });
    let router = Router::new()
        .route("/resource", get(resource))
        .with_state(api);
    kit::serve_http("token api", args.variant, args.listen, router).await
}

fn nanos_to_time(n: i128) -> SystemTime {
    ClockOffset::from_nanos(n).apply(SystemTime::UNIX_EPOCH)
}

/// The issuer's clock minus ours, from the midpoint of one round trip to its `/time`.
async fn measure_skew(api: &Api) -> Result<ClockOffset, String> {
    let before = SystemTime::now();
    let text = api
        .http
        .get(format!("{}/time", api.issuer))
        .send()
        .await
        .map_err(|e| format!("read the issuer's clock: {e}"))?
        .text()
        .await
        .map_err(|e| format!("read the issuer's clock: {e}"))?;
    let after = SystemTime::now();
    let theirs: i128 = text
        .trim()
        .parse()
        .map_err(|e| format!("issuer's clock `{}`: {e}", text.trim()))?;
    let rtt = after.duration_since(before).unwrap_or_default();
    let mid = before + rtt / 2;
    Ok(ClockOffset::between(mid, nanos_to_time(theirs)))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

async fn resource(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return (StatusCode::UNAUTHORIZED, "missing bearer token").into_response();
    };
    match api.mode {
        Mode::Naive => {
            let v = TokenValidator::new(&api.secret, SystemClock);
            match v.validate(token) {
                Ok(c) => Json(serde_json::json!({ "sub": c.sub })).into_response(),
                Err(e) => (StatusCode::UNAUTHORIZED, e.to_string()).into_response(),
            }
        }
        Mode::Hardened => {
            let skew = match measure_skew(&api).await {
                Ok(s) => s,
                Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
            };
            let report = [("x-clock-skew-ms", skew.as_millis().to_string())];
            if skew.magnitude() > REPORTED_SKEW {
                eprintln!("warning: clock skew against the issuer is {skew}");
            }
            if skew.magnitude() > MAX_TOLERATED_SKEW {
                let msg = format!(
                    "clock skew {skew} against the issuer exceeds {}s: refusing tokens until clocks agree",
                    MAX_TOLERATED_SKEW.as_secs()
                );
                return (StatusCode::UNAUTHORIZED, report, msg).into_response();
            }
            let v = TokenValidator::new(&api.secret, SystemClock)
                .leeway(HARDENED_LEEWAY)
                .skew(skew);
            match v.validate(token) {
                Ok(c) => (report, Json(serde_json::json!({ "sub": c.sub }))).into_response(),
                Err(e) => (StatusCode::UNAUTHORIZED, report, e.to_string()).into_response(),
            }
        }
    }
}
