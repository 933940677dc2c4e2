//! The `clock` reference service: a process that answers with its own wall-clock time, to see
//! what a real Rust service inside a node reads from `SystemTime::now()`.
//!
//! Runs as `shakedown reference clock [--listen ADDR]`; `GET /now` answers the Unix time in
//! nanoseconds as text, `GET /zone` the zone the process runs in (from `TZ`).

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::Router;

/// The service's declaration (for `shakedown reference clock`).
pub const SERVICE: crate::ReferenceService = crate::ReferenceService {
    name: "clock",
    serve: |args| Box::pin(serve(args)),
};

/// Serves until the process is stopped.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let mut listen: SocketAddr = ([0, 0, 0, 0], 8080).into();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let value = match a.strip_prefix("--listen=") {
            Some(v) => v.to_string(),
            None if a == "--listen" => it.next().ok_or("--listen needs an address")?,
            None => return Err(format!("unknown argument `{a}` (expected --listen ADDR)")),
        };
        listen = value
            .parse()
            .map_err(|e| format!("bad --listen `{value}`: {e}"))?;
    }
    let router = Router::new()
        .route("/now", get(|| async { now_nanos().to_string() }))
        .route(
            "/zone",
            get(|| async {
                jiff::tz::TimeZone::system()
                    .iana_name()
                    .unwrap_or("")
                    .to_string()
            }),
        );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("bind {listen}: {e}"))?;
    println!("clock service {} {listen}", crate::reference::READY_LINE);
    axum::serve(listener, router)
        .await
        .map_err(|e| e.to_string())
}

/// Nanoseconds since the Unix epoch on this process's wall clock (negative before 1970).
pub fn now_nanos() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}
