//! The reference consumer of order events: one replica of it, run inside a runtime container as
//! `shakedown reference order-consumer --variant naive|hardened --amqp URL --queue NAME --db URL
//! --replica NAME [--policy P] [--prefetch N]`. Several replicas compete for one queue (each takes
//! up to `prefetch` unacknowledged deliveries), share one database, and apply each delivery
//! under the [`ApplyPolicy`] before acknowledging it (after the commit).
//!
//! - `GET /observed` → the [`Observation`](super::Observation): the applied-events journal,
//!   parked events and every order's status, from the database (any replica answers for all).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties};
use tokio_postgres::Client;

use super::policy::{self, ApplyPolicy, Memory};
use super::OrderEvent;
use crate::reference::kit::{self, Mode};

#[derive(Debug, Parser)]
#[command(name = "shakedown reference order-consumer")]
struct Args {
    #[arg(long, value_enum)]
    variant: Mode,
    /// Overrides the variant's apply policy.
    #[arg(long, value_enum)]
    policy: Option<ApplyPolicy>,
    /// The broker's AMQP URL.
    #[arg(long)]
    amqp: String,
    /// The queue to consume.
    #[arg(long)]
    queue: String,
    /// Connection string of the consumer's database.
    #[arg(long)]
    db: String,
    /// This replica's name (in the journal, and as its consumer tag).
    #[arg(long)]
    replica: String,
    /// Unacknowledged deliveries this replica may hold.
    #[arg(long, default_value_t = 10)]
    prefetch: u16,
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
}

/// Parses the arguments, starts consuming, and serves until the process is stopped or the
/// broker connection is lost.
pub async fn serve(args: Vec<String>) -> Result<(), String> {
    let args: Args = kit::parse_args("order-consumer", args)?;
    let policy = args.policy.unwrap_or(ApplyPolicy::of(args.variant));
    let db = kit::connect_pg(&args.db).await?;
    let view = Arc::new(kit::connect_pg(&args.db).await?);
    let consumer = start_consuming(&args).await?;
    let replica = args.replica.clone();
    let consuming = tokio::spawn(consume(consumer, db, policy, replica));
    let router = Router::new()
        .route("/observed", get(observed))
        .route("/health", get(|| async { "ok" }))
        .with_state(view);
    let serving = kit::serve_http("order consumer", args.variant, args.listen, router);
    tokio::select! {
        served = serving => served,
        consumed = consuming => match consumed {
            Ok(r) => r,
            Err(e) => Err(format!("the consumer task failed: {e}")),
        },
    }
}

/// Connects (retrying for 30 s while the broker comes up) and subscribes with `prefetch`.
async fn start_consuming(args: &Args) -> Result<(Connection, lapin::Consumer), String> {
    let started = std::time::Instant::now();
    let conn = loop {
        match Connection::connect(&args.amqp, ConnectionProperties::default()).await {
            Ok(c) => break c,
            Err(e) if started.elapsed() > Duration::from_secs(30) => {
                return Err(format!("connect to {}: {e}", args.amqp))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let ch = conn
        .create_channel()
        .await
        .map_err(|e| format!("open a channel: {e}"))?;
    ch.basic_qos(args.prefetch, BasicQosOptions::default())
        .await
        .map_err(|e| format!("set the prefetch: {e}"))?;
    let consumer = ch
        .basic_consume(
            ShortString::from(args.queue.as_str()),
            ShortString::from(args.replica.as_str()),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("consume `{}`: {e}", args.queue))?;
    Ok((conn, consumer))
}

async fn consume(
    (conn, mut consumer): (Connection, lapin::Consumer),
    mut db: Client,
    policy: ApplyPolicy,
    replica: String,
) -> Result<(), String> {
    let mut memory = Memory::default();
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery.map_err(|e| format!("the broker connection failed: {e}"))?;
        let event: OrderEvent = match serde_json::from_slice(&delivery.data) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("dropping an undecodable message: {e}");
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
                continue;
            }
        };
        match policy::apply(policy, &mut db, &mut memory, &replica, &event).await {
            Ok(()) => delivery
                .acker
                .ack(BasicAckOptions::default())
                .await
                .map_err(|e| format!("ack: {e}"))
                .map(|_| ())?,
            Err(e) => {
                eprintln!("applying {} failed, requeued: {e}", event.event_id);
                let requeue = BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                };
                let _ = delivery.acker.nack(requeue).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(conn);
    Err("the broker cancelled the subscription".into())
}

async fn observed(State(db): State<Arc<Client>>) -> Response {
    match policy::observe(&db).await {
        Ok(o) => Json(o).into_response(),
        Err(e) => kit::internal_error(e),
    }
}
