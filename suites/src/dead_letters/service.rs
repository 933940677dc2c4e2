//! The reference payments consumer as a service. It runs inside a runtime container as
//! `shakedown reference dlq-consumer --variant naive|hardened --amqp URL --db URL` (the
//! database URL goes through the fault proxy), with [`Policy::naive`] or [`Policy::hardened`];
//! [`InProcess`] runs it in the test process under any [`Policy`].
//!
//! - `GET /processed` → every message id processed, with how many times ([`Processed`](super::Processed)).
//! - `GET /alerts` → the alerts firing ([`Alert`](super::Alert)).
//! - `GET /metrics` → Prometheus text: `payments_processed_total`, `payments_gave_up_total`,
//!   `payments_dead_letter_queue_depth{queue="payments.dlq"}` (with a dead-letter queue).
//! - `POST /fix` → deploys the fix: legacy bodies are read, unknown customers created.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use lapin::Connection;

use super::consumer::{connect_amqp, Consumer};
use super::{alerting, Policy};
use crate::reference::kit::{self, Mode};

#[derive(Debug, Parser)]
#[command(name = "shakedown reference dlq-consumer")]
struct Args {
    #[arg(long, value_enum)]
    variant: Mode,
    /// The broker's AMQP URL.
    #[arg(long)]
    amqp: String,
    /// Connection string of the consumer's database.
    #[arg(long)]
    db: String,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
}

/// A started consumer: its broker connection and the tasks consuming and watching.
struct Started {
    consumer: Arc<Consumer>,
    conn: Arc<Connection>,
    consuming: tokio::task::JoinHandle<String>,
    watching: Option<tokio::task::JoinHandle<String>>,
}

async fn start(policy: Policy, amqp: &str, db: &str) -> Result<Started, String> {
    policy.validate()?;
    let consumer = Arc::new(Consumer::new(policy, db));
    let conn: Arc<Connection> = Arc::new(connect_amqp(amqp).await?);
    let (ch, deliveries) = consumer.subscribe(&conn).await?;
    let consuming = tokio::spawn(consumer.clone().consume(conn.clone(), ch, deliveries));
    let watching = policy
        .dead_letter
        .then(|| tokio::spawn(alerting::watch_depth(consumer.clone(), conn.clone())));
    Ok(Started {
        consumer,
        conn,
        consuming,
        watching,
    })
}

fn router(consumer: Arc<Consumer>) -> Router {
    Router::new()
        .route("/processed", get(processed))
        .route("/alerts", get(alerts))
        .route("/metrics", get(metrics))
        .route("/fix", post(fix))
        .route("/health", get(|| async { "ok" }))
        .with_state(consumer)
}

/// Parses the arguments, starts consuming, and serves until the process is stopped or the
/// consumer fails.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("dlq-consumer", args)?;
    let policy = match args.variant {
        Mode::Naive => Policy::naive(),
        Mode::Hardened => Policy::hardened(),
    };
    let started = start(policy, &args.amqp, &args.db).await?;
    let serving = kit::serve_http(
        "payments consumer",
        args.variant,
        args.listen,
        router(started.consumer),
    );
    tokio::select! {
        served = serving => served,
        failed = started.consuming => Err(format!("consumer stopped: {}", failed.unwrap_or_else(|e| e.to_string()))),
    }
}

/// The reference consumer under `policy`, running in this process: its HTTP API on
/// `127.0.0.1:<ephemeral port>`. [`InProcess::stop`] closes its broker connection (the broker
/// then requeues what it held); dropping it only stops its tasks.
///
/// ```no_run
/// # async fn demo(amqp_url: &str, db_url: &str) -> Result<(), String> {
/// use shakedown_suites::dead_letters::{InProcess, Policy};
/// let consumer = InProcess::start(Policy { idempotent: false, ..Policy::hardened() }, amqp_url, db_url).await?;
/// println!("{}", consumer.url); // http://127.0.0.1:<port>
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct InProcess {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    conn: Arc<Connection>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl InProcess {
    /// Starts consuming (declaring the policy's queues) and serving.
    pub async fn start(policy: Policy, amqp_url: &str, db_url: &str) -> Result<Self, String> {
        let started = start(policy, amqp_url, db_url).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let app = router(started.consumer);
        let serving = tokio::spawn(async move { axum::serve(listener, app).await });
        let mut tasks = vec![serving.abort_handle(), started.consuming.abort_handle()];
        tasks.extend(started.watching.map(|w| w.abort_handle()));
        Ok(InProcess {
            url: format!("http://{addr}"),
            conn: started.conn,
            tasks,
        })
    }

    /// Stops consuming and serving, and closes the broker connection.
    pub async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        let closing = self
            .conn
            .close(200, lapin::types::ShortString::from("stopped"));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), closing).await;
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn processed(State(c): State<Arc<Consumer>>) -> Response {
    match c.store.processed().await {
        Ok(p) => Json(p).into_response(),
        Err(e) => kit::internal_error(e),
    }
}

async fn alerts(State(c): State<Arc<Consumer>>) -> Json<Vec<super::Alert>> {
    Json(alerting::firing(&c))
}

async fn metrics(State(c): State<Arc<Consumer>>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        alerting::exposition(&c),
    )
        .into_response()
}

async fn fix(State(c): State<Arc<Consumer>>) -> Json<serde_json::Value> {
    c.fixed.store(true, Ordering::Relaxed);
    Json(serde_json::json!({ "fixed": true }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shakedown_fixtures::rabbitmq::QueueKind;

    #[tokio::test]
    async fn a_policy_the_broker_would_refuse_is_refused_before_connecting() {
        let classic_with_limit = Policy {
            queue: QueueKind::Classic,
            delivery_limit: Some(3),
            ..Policy::hardened()
        };
        let err = InProcess::start(classic_with_limit, "amqp://127.0.0.1:1", "postgres://x")
            .await
            .unwrap_err();
        assert!(err.contains("quorum queues only"), "{err}");
    }
}
