//! The `team-service` binary: reads its configuration from the environment (see the crate doc)
//! and serves.

use std::time::Duration;

use team_service::{router, App, Db};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("team-service: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let primary = var("DATABASE_URL").ok_or("DATABASE_URL is not set")?;
    let deadline = match var("DB_DEADLINE_MS") {
        Some(ms) => Duration::from_millis(
            ms.parse()
                .map_err(|e| format!("DB_DEADLINE_MS=`{ms}`: {e}"))?,
        ),
        None => Duration::from_millis(500),
    };
    let listen = var("LISTEN").unwrap_or_else(|| "0.0.0.0:8080".into());
    let app = App {
        primary: Db::new("primary", primary, deadline),
        replica: var("REPLICA_URL").map(|url| Db::new("replica", url, deadline)),
        read_your_writes: var("READ_YOUR_WRITES").is_some_and(|v| v == "1"),
    };
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!("team-service listening on {listen}");
    axum::serve(listener, router(app))
        .await
        .map_err(|e| e.to_string())
}
