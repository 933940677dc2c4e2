//! The reference systems' services, and where their binary is.
//!
//! Reference services are not baked into images: the `shakedown` binary itself is copied into a
//! runtime container and started as `shakedown reference <service> …`.

use std::path::PathBuf;

use shakedown::cli::ReferenceFuture;

/// Starts a bundled reference service by name (for `shakedown reference NAME ARGS…`).
pub fn serve(service: &str, args: Vec<String>) -> Option<ReferenceFuture> {
    match service {
        "profiles" => Some(Box::pin(crate::replica_lag::service::serve(args))),
        "clock" => Some(Box::pin(crate::clock_probe::serve(args))),
        "token-issuer" => Some(Box::pin(crate::clock_skew::service::serve_issuer(args))),
        "token-api" => Some(Box::pin(crate::clock_skew::service::serve_api(args))),
        "billing" => Some(Box::pin(crate::timezone::service::serve(args))),
        _ => None,
    }
}

/// The `shakedown` binary to copy into containers: `$SHAKEDOWN_BIN`, else this process if it is
/// `shakedown`, else a `shakedown` next to this executable or one directory up (where cargo puts
/// binaries next to `deps/` test executables).
pub fn shakedown_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("SHAKEDOWN_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "SHAKEDOWN_BIN names {}, which is not a file",
                p.display()
            ))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this executable: {e}"))?;
    if exe.file_name().is_some_and(|n| n == "shakedown") {
        return Ok(exe);
    }
    let mut dir = exe.parent();
    for _ in 0..2 {
        let Some(d) = dir else { break };
        let candidate = d.join("shakedown");
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(
        "cannot find the `shakedown` binary that runs the reference services: build it with \
         `cargo build -p shakedown-suites --bin shakedown`, or set SHAKEDOWN_BIN to its path"
            .into(),
    )
}

/// The reference variant's name for a suite run (`naive` or `hardened`); `Custom` is refused with
/// a pointer to the suite's `check` function, which runs against a team's own system.
pub(crate) fn variant_mode(
    suite: &'static str,
    variant: shakedown::Variant,
) -> Result<&'static str, shakedown::SuiteError> {
    match variant {
        shakedown::Variant::Naive => Ok("naive"),
        shakedown::Variant::Hardened => Ok("hardened"),
        shakedown::Variant::Custom => Err(shakedown::SuiteError::new(
            suite,
            "pick a variant",
            format!(
                "the reference runs naive or hardened; for your own system call {suite}::check"
            ),
        )),
    }
}

/// The binary a suite copies into its containers: the one it was given, else [`shakedown_binary`].
pub(crate) fn binary_for(
    suite: &'static str,
    given: &Option<PathBuf>,
) -> Result<PathBuf, shakedown::SuiteError> {
    match given {
        Some(b) => Ok(b.clone()),
        None => shakedown_binary()
            .map_err(|e| shakedown::SuiteError::new(suite, "find the reference binary", e)),
    }
}

/// Binds `addr`, prints the ready line the suites wait for, and serves `router` until it fails.
pub(crate) async fn serve_http(
    what: &str,
    mode: impl std::fmt::Debug,
    addr: std::net::SocketAddr,
    router: axum::Router,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("bind {addr}: {e}"))?;
    println!("{what} ({mode:?}) listening on {addr}");
    axum::serve(listener, router)
        .await
        .map_err(|e| e.to_string())
}

/// Connects to PostgreSQL, retrying for up to 30 s while the server comes up; the connection's
/// driver runs as a task and reports a lost connection on stderr.
pub(crate) async fn connect_pg(url: &str) -> Result<tokio_postgres::Client, String> {
    let started = std::time::Instant::now();
    loop {
        match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        eprintln!("database connection lost: {e}");
                    }
                });
                return Ok(client);
            }
            Err(e) if started.elapsed() > std::time::Duration::from_secs(30) => {
                return Err(format!("connect to {url}: {e}"))
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

/// A 500 answer carrying the error's text.
pub(crate) fn internal_error(e: impl std::fmt::Display) -> axum::response::Response {
    use axum::response::IntoResponse;
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}
