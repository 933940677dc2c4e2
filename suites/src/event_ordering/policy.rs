//! How the reference consumer applies an event: the policies it can run with, and the tables
//! they keep in PostgreSQL ([`SCHEMA`]).

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::{Client, GenericClient};

use super::OrderEvent;
use crate::reference::Mode;

/// The consumer's tables: the orders' state and version, the applied-events journal, the ids
/// of events seen (for idempotence), parked events, and the event store (for `event-store`).
pub const SCHEMA: &str = "
CREATE TABLE orders (order_id text PRIMARY KEY, status text, version int NOT NULL DEFAULT 0);
CREATE TABLE applied (seq bigserial PRIMARY KEY, order_id text NOT NULL, event_id text NOT NULL,
                      version int NOT NULL, kind text NOT NULL, replica text NOT NULL);
CREATE TABLE seen (event_id text PRIMARY KEY);
CREATE TABLE parked (id bigserial PRIMARY KEY, order_id text NOT NULL, event_id text NOT NULL,
                     version int NOT NULL, kind text NOT NULL);
CREATE TABLE events (event_id text PRIMARY KEY, order_id text NOT NULL, version int NOT NULL,
                     kind text NOT NULL);
";

/// How the consumer applies an event (`--policy`; each variant has its own by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ApplyPolicy {
    /// `naive`: each event applied as it arrives (its kind becomes the order's status).
    AsArrives,
    /// `hardened`: in one transaction, idempotent by event id; the last applied version per
    /// order in PostgreSQL; an early event parked until the gap fills (then applied with what
    /// it unblocks); a stale one ignored. Acked after commit.
    Versioned,
    /// Test-only bug: the version check without parking (an early event is dropped).
    NoParking,
    /// Test-only bug: parking without dedupe (an event parked twice is applied twice).
    ParkingWithoutDedupe,
    /// Test-only bug: the version check and parking in each replica's memory, not in the
    /// database (replicas competing for one queue each see part of an order's events).
    ReplicaMemory,
    /// Correct, differently: every event stored once in an event store (by id), and the
    /// order's state projected from it in version order as far as versions are contiguous.
    EventStore,
}

impl ApplyPolicy {
    /// The variant's own policy.
    pub fn of(mode: Mode) -> Self {
        match mode {
            Mode::Naive => ApplyPolicy::AsArrives,
            Mode::Hardened => ApplyPolicy::Versioned,
        }
    }

    /// Its name on the command line.
    pub fn as_arg(self) -> &'static str {
        match self {
            ApplyPolicy::AsArrives => "as-arrives",
            ApplyPolicy::Versioned => "versioned",
            ApplyPolicy::NoParking => "no-parking",
            ApplyPolicy::ParkingWithoutDedupe => "parking-without-dedupe",
            ApplyPolicy::ReplicaMemory => "replica-memory",
            ApplyPolicy::EventStore => "event-store",
        }
    }
}

/// What one replica keeps in memory (only [`ApplyPolicy::ReplicaMemory`] uses it).
#[derive(Debug, Default)]
pub struct Memory {
    last: HashMap<String, i32>,
    parked: HashMap<String, BTreeMap<i32, OrderEvent>>,
}

type Sql = tokio_postgres::Error;

/// Applies `event` under `policy` as replica `replica`; once it returns, the consumer acks.
pub async fn apply(
    policy: ApplyPolicy,
    db: &mut Client,
    memory: &mut Memory,
    replica: &str,
    event: &OrderEvent,
) -> Result<(), Sql> {
    match policy {
        ApplyPolicy::AsArrives => {
            db.execute(
                "INSERT INTO orders (order_id, status, version) VALUES ($1, $2, $3)
                 ON CONFLICT (order_id) DO UPDATE SET status = $2, version = $3",
                &[&event.order_id, &event.kind.as_str(), &event.version],
            )
            .await?;
            journal(&*db, replica, event).await
        }
        ApplyPolicy::ReplicaMemory => in_memory(db, memory, replica, event).await,
        ApplyPolicy::EventStore => event_store(db, replica, event).await,
        ApplyPolicy::Versioned | ApplyPolicy::NoParking | ApplyPolicy::ParkingWithoutDedupe => {
            let tx = db.transaction().await?;
            let dedupe = policy != ApplyPolicy::ParkingWithoutDedupe;
            if dedupe && !first_sighting(&tx, event).await? {
                return tx.commit().await; // a duplicate: already applied or parked
            }
            let current = lock_order(&tx, &event.order_id).await?;
            if event.version == current + 1 {
                change_state(&tx, replica, event).await?;
                drain_parked(&tx, replica, &event.order_id, event.version).await?;
            } else if event.version > current + 1 && policy != ApplyPolicy::NoParking {
                tx.execute(
                    "INSERT INTO parked (order_id, event_id, version, kind) VALUES ($1, $2, $3, $4)",
                    &[&event.order_id, &event.event_id, &event.version, &event.kind.as_str()],
                )
                .await?;
            } // else stale (or, without parking, early): ignored
            tx.commit().await
        }
    }
}

/// Records the event id; false if it was seen before.
async fn first_sighting(db: &impl GenericClient, event: &OrderEvent) -> Result<bool, Sql> {
    let n = db
        .execute(
            "INSERT INTO seen (event_id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&event.event_id],
        )
        .await?;
    Ok(n == 1)
}

/// The order's row (created at version 0 if new), locked until commit; its version.
async fn lock_order(db: &impl GenericClient, order_id: &str) -> Result<i32, Sql> {
    db.execute(
        "INSERT INTO orders (order_id, status, version) VALUES ($1, NULL, 0) ON CONFLICT DO NOTHING",
        &[&order_id],
    )
    .await?;
    let row = db
        .query_one(
            "SELECT version FROM orders WHERE order_id = $1 FOR UPDATE",
            &[&order_id],
        )
        .await?;
    Ok(row.get(0))
}

async fn journal(db: &impl GenericClient, replica: &str, event: &OrderEvent) -> Result<(), Sql> {
    db.execute(
        "INSERT INTO applied (order_id, event_id, version, kind, replica) VALUES ($1, $2, $3, $4, $5)",
        &[&event.order_id, &event.event_id, &event.version, &event.kind.as_str(), &replica],
    )
    .await?;
    Ok(())
}

/// The order takes the event's status and version, and the journal records it.
async fn change_state(
    db: &impl GenericClient,
    replica: &str,
    event: &OrderEvent,
) -> Result<(), Sql> {
    db.execute(
        "UPDATE orders SET status = $2, version = $3 WHERE order_id = $1",
        &[&event.order_id, &event.kind.as_str(), &event.version],
    )
    .await?;
    journal(db, replica, event).await
}

/// Applies the parked events the order can now take, version after version.
async fn drain_parked(
    db: &impl GenericClient,
    replica: &str,
    order_id: &str,
    mut version: i32,
) -> Result<(), Sql> {
    loop {
        let rows = db
            .query(
                "DELETE FROM parked WHERE order_id = $1 AND version = $2
                 RETURNING event_id, kind, version",
                &[&order_id, &(version + 1)],
            )
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        for row in &rows {
            let event = stored_event(order_id, row)?;
            change_state(db, replica, &event).await?;
        }
        version += 1;
    }
}

fn stored_event(order_id: &str, row: &tokio_postgres::Row) -> Result<OrderEvent, Sql> {
    let kind: String = row.get(1);
    Ok(OrderEvent {
        order_id: order_id.to_string(),
        event_id: row.get(0),
        version: row.get(2),
        // Only kinds this code wrote are stored.
        kind: super::EventKind::parse(&kind).unwrap_or(super::EventKind::Created),
        customer: String::new(),
    })
}

async fn in_memory(
    db: &mut Client,
    memory: &mut Memory,
    replica: &str,
    event: &OrderEvent,
) -> Result<(), Sql> {
    let last = memory.last.get(&event.order_id).copied().unwrap_or(0);
    if event.version <= last {
        return Ok(());
    }
    if event.version > last + 1 {
        memory
            .parked
            .entry(event.order_id.clone())
            .or_default()
            .insert(event.version, event.clone());
        return Ok(());
    }
    let mut next = Some(event.clone());
    while let Some(e) = next {
        let tx = db.transaction().await?;
        lock_order(&tx, &e.order_id).await?;
        change_state(&tx, replica, &e).await?;
        tx.commit().await?;
        memory.last.insert(e.order_id.clone(), e.version);
        next = memory
            .parked
            .get_mut(&e.order_id)
            .and_then(|p| p.remove(&(e.version + 1)));
    }
    Ok(())
}

async fn event_store(db: &mut Client, replica: &str, event: &OrderEvent) -> Result<(), Sql> {
    let tx = db.transaction().await?;
    tx.execute(
        "INSERT INTO events (event_id, order_id, version, kind) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        &[
            &event.event_id,
            &event.order_id,
            &event.version,
            &event.kind.as_str(),
        ],
    )
    .await?;
    let mut projected = lock_order(&tx, &event.order_id).await?;
    // Project the stored events in version order, as far as they are contiguous.
    let rows = tx
        .query(
            "SELECT event_id, kind, version FROM events WHERE order_id = $1 AND version > $2
             ORDER BY version",
            &[&event.order_id, &projected],
        )
        .await?;
    for row in &rows {
        let e = stored_event(&event.order_id, row)?;
        if e.version != projected + 1 {
            break;
        }
        change_state(&tx, replica, &e).await?;
        projected = e.version;
    }
    tx.commit().await
}

/// Reads what the consumer did: the journal, what waits (parked, or stored beyond the
/// projection), every order's status.
pub async fn observe(db: &Client) -> Result<super::Observation, Sql> {
    let applied = db
        .query(
            "SELECT order_id, event_id, version, kind FROM applied ORDER BY seq",
            &[],
        )
        .await?
        .iter()
        .filter_map(|r| {
            Some(super::Applied {
                order_id: r.get(0),
                event_id: r.get(1),
                version: r.get(2),
                kind: super::EventKind::parse(r.get(3))?,
            })
        })
        .collect();
    let parked = db
        .query(
            "SELECT event_id FROM parked
             UNION SELECT e.event_id FROM events e JOIN orders o USING (order_id)
                   WHERE e.version > o.version
             ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let orders = db
        .query("SELECT order_id, status FROM orders ORDER BY order_id", &[])
        .await?
        .iter()
        .map(|r| super::OrderState {
            order_id: r.get(0),
            status: r
                .get::<_, Option<&str>>(1)
                .and_then(super::EventKind::parse),
        })
        .collect();
    Ok(super::Observation {
        applied,
        parked,
        orders,
    })
}
