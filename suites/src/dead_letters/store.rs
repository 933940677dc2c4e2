//! The consumer's PostgreSQL: one connection, reopened after it broke (with a short connect
//! timeout, so a database that is cut off fails fast), the payment stored in one transaction
//! (with the inbox row, when idempotent), and each failure told apart: poison or transient.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use super::{Payment, Processed};

/// The consumer's tables; put them in the database's template. `customers` holds who may pay,
/// `payments` what was processed (one row per processing: duplicates show), `inbox` the message
/// ids an idempotent consumer has processed.
pub const SCHEMA: &str = "
CREATE TABLE customers (id text PRIMARY KEY);
CREATE TABLE payments (
    id bigserial PRIMARY KEY,
    message_id text NOT NULL,
    customer text NOT NULL REFERENCES customers (id),
    amount_cents bigint NOT NULL
);
CREATE TABLE inbox (message_id text PRIMARY KEY);";

/// Why storing a payment failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It can never succeed as it is (an unknown customer): retrying is pointless.
    Poison(String),
    /// It may succeed later (the database unreachable, a connection lost).
    Transient(String),
}

/// One PostgreSQL connection, reopened on demand.
#[derive(Debug)]
pub(crate) struct Store {
    url: String,
    client: Mutex<Option<Client>>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

impl Store {
    pub(crate) fn new(url: impl Into<String>) -> Self {
        Store {
            url: url.into(),
            client: Mutex::new(None),
        }
    }

    async fn connect(&self) -> Result<Client, String> {
        let connecting = tokio_postgres::connect(&self.url, NoTls);
        let (client, conn) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| format!("connect: no answer within {CONNECT_TIMEOUT:?}"))?
            .map_err(|e| format!("connect: {e}"))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("database connection lost: {e}");
            }
        });
        Ok(client)
    }

    /// Stores `payment` under `message_id`. Idempotent: a message id already in the inbox is
    /// skipped (`Ok(false)`). With `create_customer` (the fix), an unknown customer is created
    /// first.
    pub(crate) async fn store(
        &self,
        message_id: &str,
        payment: &Payment,
        idempotent: bool,
        create_customer: bool,
    ) -> Result<bool, Failure> {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = Some(self.connect().await.map_err(Failure::Transient)?);
        }
        let client = slot.as_mut().expect("just connected");
        let result = Self::transaction(client, message_id, payment, idempotent, create_customer)
            .await
            .map_err(|e| match e.code() {
                Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => {
                    Failure::Poison(format!("unknown customer `{}`", payment.customer))
                }
                _ => Failure::Transient(e.to_string()),
            });
        if matches!(result, Err(Failure::Transient(_))) {
            *slot = None;
        }
        result
    }

    async fn transaction(
        client: &mut Client,
        message_id: &str,
        payment: &Payment,
        idempotent: bool,
        create_customer: bool,
    ) -> Result<bool, tokio_postgres::Error> {
        let tx = client.transaction().await?;
        if create_customer {
            tx.execute(
                "INSERT INTO customers (id) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&payment.customer],
            )
            .await?;
        }
        if idempotent {
            let fresh = tx
                .execute(
                    "INSERT INTO inbox (message_id) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[&message_id],
                )
                .await?;
            if fresh == 0 {
                tx.commit().await?;
                return Ok(false);
            }
        }
        tx.execute(
            "INSERT INTO payments (message_id, customer, amount_cents) VALUES ($1, $2, $3)",
            &[&message_id, &payment.customer, &payment.amount_cents],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every message id processed, with how many times.
    pub(crate) async fn processed(&self) -> Result<Vec<Processed>, String> {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = Some(self.connect().await?);
        }
        let client = slot.as_ref().expect("just connected");
        let rows = client
            .query(
                "SELECT message_id, count(*) FROM payments GROUP BY message_id ORDER BY message_id",
                &[],
            )
            .await;
        match rows {
            Ok(rows) => Ok(rows
                .iter()
                .map(|r| Processed {
                    message_id: r.get(0),
                    times: r.get::<_, i64>(1) as u64,
                })
                .collect()),
            Err(e) => {
                *slot = None;
                Err(e.to_string())
            }
        }
    }
}
