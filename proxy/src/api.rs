//! The Toxiproxy v2.12 HTTP API over a [`Collection`], served with axum.
//!
//! Paths, methods, status codes, JSON shapes and error strings follow
//! `shared/reference/toxiproxy-api.md`; the JSON itself lives in [`wire`]. Both POST and PATCH
//! update proxies and toxics. Errors are `{"error":"…","status":N}` plus a newline, sent as
//! `text/plain; charset=utf-8` like Go's `http.Error`. Every routed response carries
//! `X-Toxiproxy-Request-Id`; a `User-Agent` starting with `Mozilla/` gets 403. `/metrics` is
//! always served (Toxiproxy needs `-proxy-metrics`); beyond Toxiproxy's byte counters it
//! has `shakedown_http_requests_total{proxy}` (HTTP requests seen while the proxy had an HTTP
//! toxic) and `shakedown_http_toxic_requests_total{proxy,toxic,action}` (requests each HTTP
//! toxic `answered`, `delayed` or `dropped`).

mod wire;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use crate::collection::{Collection, ProxyInfo};
use crate::error::ProxyError;

/// The version `/version` reports: the Toxiproxy release whose API this implements.
///
/// ```
/// assert_eq!(shakedown_proxy::TOXIPROXY_VERSION, "2.12.0");
/// ```
pub const TOXIPROXY_VERSION: &str = "2.12.0";

/// A toxic as Toxiproxy's API spells it (`{"name", "type", "stream", "toxicity", "attributes"}`,
/// durations in milliseconds): the body of `POST /proxies/{proxy}/toxics`, for driving a proxy
/// that runs elsewhere (a container, a `toxiproxy-server`) with a typed [`ToxicConfig`].
///
/// ```
/// use std::time::Duration;
/// use shakedown_proxy::{toxic_json, Toxic};
/// let json = toxic_json(&Toxic::latency(Duration::from_millis(300)).named("slow").into_config());
/// assert_eq!(json["type"], "latency");
/// assert_eq!(json["stream"], "downstream");
/// assert_eq!(json["attributes"]["latency"], 300);
/// ```
pub fn toxic_json(config: &crate::ToxicConfig) -> serde_json::Value {
    serde_json::to_value(wire::WireToxic::from(config)).unwrap_or_default()
}

type Shared = State<Arc<Collection>>;

/// Builds the API router.
pub(crate) fn router(collection: Arc<Collection>) -> Router {
    static REQUEST_ID: AtomicU64 = AtomicU64::new(1);
    Router::new()
        .route("/proxies", get(list_proxies).post(create_proxy))
        .route("/populate", post(populate))
        .route(
            "/proxies/{proxy}",
            get(get_proxy)
                .post(update_proxy)
                .patch(update_proxy)
                .delete(delete_proxy),
        )
        .route(
            "/proxies/{proxy}/toxics",
            get(list_toxics).post(create_toxic),
        )
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(get_toxic)
                .post(update_toxic)
                .patch(update_toxic)
                .delete(delete_toxic),
        )
        .route("/reset", post(reset))
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn(|req: Request, next: Next| async move {
            let browser = req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ua| ua.starts_with("Mozilla/"));
            let mut resp = if browser {
                (StatusCode::FORBIDDEN, "User agent not allowed").into_response()
            } else {
                next.run(req).await
            };
            let id = REQUEST_ID.fetch_add(1, Ordering::Relaxed);
            if let Ok(v) = HeaderValue::from_str(&format!("{id:020x}")) {
                resp.headers_mut().insert("X-Toxiproxy-Request-Id", v);
            }
            resp
        }))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "404 page not found\n",
            )
        })
        .with_state(collection)
}

/// Parses a `/populate` body (also the `--config` file format).
pub(crate) fn parse_populate(body: &[u8]) -> Result<Vec<crate::collection::NewProxy>, ProxyError> {
    wire::array_of_objects(body)?
        .iter()
        .map(wire::new_proxy)
        .collect()
}

fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => error_response(&ProxyError::Io {
            context: "encoding a response",
            source: std::io::Error::other(e),
        }),
    }
}

fn error_body(err: &ProxyError, extra: Option<(&str, serde_json::Value)>) -> Response {
    let status = err.status();
    let mut obj = serde_json::Map::new();
    obj.insert("error".into(), err.api_message().into());
    obj.insert("status".into(), status.into());
    if let Some((k, v)) = extra {
        obj.insert(k.into(), v);
    }
    let mut body = serde_json::Value::Object(obj).to_string();
    body.push('\n');
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

fn error_response(err: &ProxyError) -> Response {
    error_body(err, None)
}

fn respond<T: Serialize>(status: StatusCode, result: Result<T, ProxyError>) -> Response {
    match result {
        Ok(v) => json_response(status, &v),
        Err(e) => error_response(&e),
    }
}

fn no_content(result: Result<(), ProxyError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error_response(&e),
    }
}

fn wire(p: &ProxyInfo) -> wire::WireProxy {
    wire::WireProxy::from(p)
}

async fn list_proxies(State(c): Shared) -> Response {
    let map: serde_json::Map<String, serde_json::Value> = c
        .list()
        .iter()
        .filter_map(|p| Some((p.name.clone(), serde_json::to_value(wire(p)).ok()?)))
        .collect();
    json_response(StatusCode::OK, &map)
}

async fn create_proxy(State(c): Shared, body: Bytes) -> Response {
    let result = wire::object(&body, "toxiproxy.Proxy")
        .and_then(|o| wire::new_proxy(&o))
        .and_then(|new| c.create(new))
        .map(|p| wire(&p));
    respond(StatusCode::CREATED, result)
}

async fn populate(State(c): Shared, body: Bytes) -> Response {
    let list = match parse_populate(&body) {
        Ok(list) => list,
        Err(e) => return error_body(&e, Some(("proxies", serde_json::Value::Array(vec![])))),
    };
    let (done, err) = c.populate(list);
    let proxies: Vec<wire::WireProxy> = done.iter().map(wire).collect();
    match err {
        None => json_response(
            StatusCode::CREATED,
            &serde_json::json!({ "proxies": proxies }),
        ),
        Some(e) => {
            let v = serde_json::to_value(&proxies).unwrap_or_default();
            error_body(&e, Some(("proxies", v)))
        }
    }
}

async fn get_proxy(State(c): Shared, Path(name): Path<String>) -> Response {
    respond(StatusCode::OK, c.get(&name).map(|p| wire(&p)))
}

async fn update_proxy(State(c): Shared, Path(name): Path<String>, body: Bytes) -> Response {
    let result = c
        .get(&name)
        .and_then(|_| wire::object(&body, "toxiproxy.Proxy"))
        .and_then(|o| wire::proxy_patch(&o))
        .and_then(|patch| c.update(&name, patch))
        .map(|p| wire(&p));
    respond(StatusCode::OK, result)
}

async fn delete_proxy(State(c): Shared, Path(name): Path<String>) -> Response {
    no_content(c.delete(&name))
}

async fn list_toxics(State(c): Shared, Path(name): Path<String>) -> Response {
    let result = c
        .toxics(&name)
        .map(|ts| ts.iter().map(wire::WireToxic::from).collect::<Vec<_>>());
    respond(StatusCode::OK, result)
}

async fn create_toxic(State(c): Shared, Path(name): Path<String>, body: Bytes) -> Response {
    let result = c
        .get(&name)
        .and_then(|_| wire::new_toxic(&body))
        .and_then(|t| c.add_toxic(&name, t))
        .map(|t| wire::WireToxic::from(&t));
    respond(StatusCode::OK, result)
}

async fn get_toxic(State(c): Shared, Path((proxy, toxic)): Path<(String, String)>) -> Response {
    respond(
        StatusCode::OK,
        c.get_toxic(&proxy, &toxic)
            .map(|t| wire::WireToxic::from(&t)),
    )
}

async fn update_toxic(
    State(c): Shared,
    Path((proxy, toxic)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let result = c
        .get_toxic(&proxy, &toxic)
        .and_then(|_| wire::object(&body, "toxics.ToxicWrapper"))
        .and_then(|patch| c.update_toxic(&proxy, &toxic, |cur| wire::merge_toxic(cur, &patch)))
        .map(|t| wire::WireToxic::from(&t));
    respond(StatusCode::OK, result)
}

async fn delete_toxic(State(c): Shared, Path((proxy, toxic)): Path<(String, String)>) -> Response {
    no_content(c.remove_toxic(&proxy, &toxic))
}

async fn reset(State(c): Shared) -> Response {
    no_content(c.reset())
}

async fn version() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        Body::from(format!("{{\"version\": \"{TOXIPROXY_VERSION}\"}}\n")),
    )
        .into_response()
}

async fn metrics(State(c): Shared) -> Response {
    let mut out = String::new();
    for (metric, help, pick) in [
        (
            "toxiproxy_proxy_received_bytes_total",
            "The total bytes received by the proxy, per direction",
            0,
        ),
        (
            "toxiproxy_proxy_sent_bytes_total",
            "The total bytes sent by the proxy, per direction",
            1,
        ),
    ] {
        counter_header(&mut out, metric, help);
        for p in c.counters() {
            for (i, dir) in ["upstream", "downstream"].iter().enumerate() {
                let value = if pick == 0 { p.received[i] } else { p.sent[i] };
                let _ = writeln!(
                    out,
                    "{metric}{{direction=\"{dir}\",listener=\"{}\",proxy=\"{}\",upstream=\"{}\"}} {value}",
                    escape(&p.listen),
                    escape(&p.name),
                    escape(&p.upstream)
                );
            }
        }
    }
    let proxies = c.counters();
    let metric = "shakedown_http_requests_total";
    counter_header(
        &mut out,
        metric,
        "HTTP requests seen while the proxy had at least one HTTP toxic",
    );
    for p in &proxies {
        let _ = writeln!(
            out,
            "{metric}{{proxy=\"{}\"}} {}",
            escape(&p.name),
            p.http_requests
        );
    }
    let metric = "shakedown_http_toxic_requests_total";
    counter_header(
        &mut out,
        metric,
        "HTTP requests each HTTP toxic acted on (answered, delayed, dropped)",
    );
    for p in &proxies {
        for (toxic, action, n) in &p.http_actions {
            let _ = writeln!(
                out,
                "{metric}{{action=\"{action}\",proxy=\"{}\",toxic=\"{}\"}} {n}",
                escape(&p.name),
                escape(toxic)
            );
        }
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// A counter's `# HELP` and `# TYPE` lines.
fn counter_header(out: &mut String, metric: &str, help: &str) {
    let _ = writeln!(out, "# HELP {metric} {help}");
    let _ = writeln!(out, "# TYPE {metric} counter");
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
