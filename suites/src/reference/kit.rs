//! What reference services use inside their containers.

use std::net::SocketAddr;

/// The line a reference service prints once it accepts connections; the launcher waits for it.
pub const READY_LINE: &str = "listening on";

/// Which behaviour a reference service has: the article's bug, or its fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mode {
    /// The bug, as a competent team plausibly ships it.
    Naive,
    /// The fix, done well.
    Hardened,
}

impl Mode {
    /// The mode for a reference run in `variant`; a team's own system (`Custom`) has none: such
    /// runs go through the suite's `run_against`.
    pub fn of(
        suite: &'static str,
        variant: shakedown::Variant,
    ) -> Result<Mode, shakedown::SuiteError> {
        match variant {
            shakedown::Variant::Naive => Ok(Mode::Naive),
            shakedown::Variant::Hardened => Ok(Mode::Hardened),
            shakedown::Variant::Custom => Err(shakedown::SuiteError::new(
                suite,
                "pick a variant",
                format!(
                    "the reference runs naive or hardened; for your own system call {suite}::run_against"
                ),
            )),
        }
    }

    /// `naive` or `hardened`, as the services' `--variant` flag spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Naive => "naive",
            Mode::Hardened => "hardened",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Binds `addr`, prints [`READY_LINE`], and serves `router` until it fails.
pub async fn serve_http(
    what: &str,
    mode: Mode,
    addr: SocketAddr,
    router: axum::Router,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("bind {addr}: {e}"))?;
    println!("{what} ({mode}) {READY_LINE} {addr}");
    axum::serve(listener, router)
        .await
        .map_err(|e| e.to_string())
}

/// Connects to PostgreSQL, retrying for up to 30 s while the server comes up; the connection's
/// driver runs as a task and reports a lost connection on stderr.
pub async fn connect_pg(url: &str) -> Result<tokio_postgres::Client, String> {
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
pub fn internal_error(e: impl std::fmt::Display) -> axum::response::Response {
    use axum::response::IntoResponse;
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

/// Parses a service's arguments with clap (`name` is the program name in its messages).
pub fn parse_args<A: clap::Parser>(name: &str, args: Vec<String>) -> Result<A, String> {
    A::try_parse_from(std::iter::once(name.to_string()).chain(args)).map_err(|e| e.to_string())
}
