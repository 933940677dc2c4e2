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

/// Where the API takes the skew between its clock and the issuer's from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SkewSource {
    /// No correction: times are judged on the API's own clock.
    None,
    /// Measured against the issuer's `/time` on every call (`hardened`).
    PerCall,
    /// Measured once, at start, and kept.
    AtStart,
}

#[derive(Debug, Parser)]
#[command(name = "shakedown reference token-api")]
struct ApiArgs {
    #[arg(long, value_enum)]
    variant: Mode,
    /// HMAC secret shared with the issuer.
    #[arg(long)]
    secret: String,
    /// The issuer's base URL (where its clock is read, and tokens introspected).
    #[arg(long)]
    issuer: String,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    // The validation, as teams configure it: the variant's preset unless given.
    /// Leeway on `exp`, `nbf` and `iat`, in seconds.
    #[arg(long)]
    leeway_s: Option<u64>,
    /// Where the skew correction comes from.
    #[arg(long, value_enum)]
    skew_source: Option<SkewSource>,
    /// Refuse every token while the measured skew is above this many seconds.
    #[arg(long)]
    max_skew_s: Option<u64>,
    /// Do not check `nbf` (jsonwebtoken's default).
    #[arg(long)]
    no_nbf: bool,
    /// Do not check `iat` (jsonwebtoken's default).
    #[arg(long)]
    no_iat: bool,
    /// Do not check `exp`.
    #[arg(long)]
    no_exp: bool,
    /// Ask the issuer whether the token is valid (RFC 7662 introspection) instead of checking it.
    #[arg(long)]
    introspect: bool,
}

/// How the API validates, after the variant's preset and the flags.
#[derive(Debug, Clone, Copy)]
struct Validation {
    leeway: Duration,
    skew: SkewSource,
    max_skew: Option<Duration>,
    nbf: bool,
    iat: bool,
    exp: bool,
    introspect: bool,
}

impl Validation {
    fn of(a: &ApiArgs) -> Self {
        let preset = match a.variant {
            Mode::Naive => Validation {
                leeway: Duration::ZERO,
                skew: SkewSource::None,
                max_skew: None,
                nbf: true,
                iat: true,
                exp: true,
                introspect: false,
            },
            Mode::Hardened => Validation {
                leeway: HARDENED_LEEWAY,
                skew: SkewSource::PerCall,
                max_skew: Some(MAX_TOLERATED_SKEW),
                nbf: true,
                iat: true,
                exp: true,
                introspect: false,
            },
        };
        Validation {
            leeway: a.leeway_s.map_or(preset.leeway, Duration::from_secs),
            skew: a.skew_source.unwrap_or(preset.skew),
            max_skew: a.max_skew_s.map(Duration::from_secs).or(preset.max_skew),
            nbf: preset.nbf && !a.no_nbf,
            iat: preset.iat && !a.no_iat,
            exp: preset.exp && !a.no_exp,
            introspect: a.introspect,
        }
    }
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
        .route("/introspect", post(introspection(&args.secret)))
        .with_state(issuer);
    kit::serve_http("token issuer", args.variant, args.listen, router).await
}

#[derive(Deserialize)]
struct IntrospectRequest {
    token: String,
}

/// The issuer's introspection endpoint: it judges a token on its own clock (2 s leeway), so
/// skew between it and the API cannot matter.
fn introspection(
    secret: &str,
) -> impl Fn(Json<IntrospectRequest>) -> std::future::Ready<Response> + Clone + Send + 'static {
    let v = Arc::new(TokenValidator::new(secret.as_bytes(), SystemClock).leeway(HARDENED_LEEWAY));
    move |Json(req): Json<IntrospectRequest>| {
        std::future::ready(match v.validate(&req.token) {
            Ok(c) => Json(serde_json::json!({ "active": true, "sub": c.sub })).into_response(),
            Err(e) => (StatusCode::UNAUTHORIZED, e.to_string()).into_response(),
        })
    }
}

struct Api {
    validation: Validation,
    secret: Vec<u8>,
    issuer: String,
    http: reqwest::Client,
    /// `at-start`: the skew measured when the API started.
    start_skew: ClockOffset,
}

/// Serves the API until the process is stopped.
pub async fn serve_api(args: Vec<String>) -> Result<(), String> {
    let args: ApiArgs = kit::parse_args("token-api", args)?;
    let mut api = Api {
        validation: Validation::of(&args),
        secret: args.secret.clone().into_bytes(),
        issuer: args.issuer.trim_end_matches('/').to_string(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?,
        start_skew: ClockOffset::ZERO,
    };
    if api.validation.skew == SkewSource::AtStart {
        api.start_skew = measure_skew(&api).await?;
    }
    let api = Arc::new(api);
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
    let cfg = api.validation;
    if cfg.introspect {
        return introspect(&api, token).await;
    }
    let skew = match cfg.skew {
        SkewSource::None => None,
        SkewSource::AtStart => Some(api.start_skew),
        SkewSource::PerCall => match measure_skew(&api).await {
            Ok(s) => Some(s),
            Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
        },
    };
    let report: Vec<(&str, String)> = skew
        .map(|s| ("x-clock-skew-ms", s.as_millis().to_string()))
        .into_iter()
        .collect();
    let skew = skew.unwrap_or(ClockOffset::ZERO);
    if skew.magnitude() > REPORTED_SKEW {
        eprintln!("warning: clock skew against the issuer is {skew}");
    }
    if let Some(max) = cfg.max_skew.filter(|m| skew.magnitude() > *m) {
        let msg = format!(
            "clock skew {skew} against the issuer exceeds {}s: refusing tokens until clocks agree",
            max.as_secs()
        );
        return (StatusCode::UNAUTHORIZED, with_headers(report), msg).into_response();
    }
    let v = TokenValidator::new(&api.secret, SystemClock)
        .leeway(cfg.leeway)
        .skew(skew)
        .check_not_before(cfg.nbf)
        .reject_future_iat(cfg.iat)
        .check_expiry(cfg.exp);
    match v.validate(token) {
        Ok(c) => (
            with_headers(report),
            Json(serde_json::json!({ "sub": c.sub })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::UNAUTHORIZED,
            with_headers(report),
            e.to_string(),
        )
            .into_response(),
    }
}

fn with_headers(h: Vec<(&str, String)>) -> axum::http::HeaderMap {
    let mut map = axum::http::HeaderMap::new();
    for (k, v) in h {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(&v),
        ) {
            map.insert(k, v);
        }
    }
    map
}

/// Asks the issuer whether `token` is valid, on the issuer's own clock.
async fn introspect(api: &Api, token: &str) -> Response {
    let resp = api
        .http
        .post(format!("{}/introspect", api.issuer))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await;
    match resp {
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("introspection: {e}"),
        )
            .into_response(),
        Ok(r) if r.status().is_success() => {
            Json(serde_json::json!({ "active": true })).into_response()
        }
        Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => {
            let why = r.text().await.unwrap_or_default();
            (StatusCode::UNAUTHORIZED, why).into_response()
        }
        Ok(r) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("introspection: HTTP {}", r.status()),
        )
            .into_response(),
    }
}
