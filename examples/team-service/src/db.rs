//! One database the service talks to: a connection opened on first use and again after it
//! broke, and a deadline on every call.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

/// A PostgreSQL server (the primary or a replica) with a deadline on every call.
#[derive(Debug)]
pub struct Db {
    name: &'static str,
    url: String,
    deadline: Duration,
    client: Mutex<Option<Arc<Client>>>,
}

/// A call that did not get an answer: answered as 503, saying which database and why.
#[derive(Debug)]
pub struct Unavailable(String);

impl IntoResponse for Unavailable {
    fn into_response(self) -> Response {
        (StatusCode::SERVICE_UNAVAILABLE, self.0).into_response()
    }
}

impl Db {
    /// The database `name` (`primary`, `replica`) at `url`; calls wait at most `deadline`.
    pub fn new(name: &'static str, url: String, deadline: Duration) -> Db {
        Db {
            name,
            url,
            deadline,
            client: Mutex::new(None),
        }
    }

    /// Its name, as the `x-served-by` header says it.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs `call` on a connection, connecting first if need be, within the deadline.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, Unavailable>
    where
        F: FnOnce(Arc<Client>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let work = async {
            let client = self.client().await?;
            call(client)
                .await
                .map_err(|e| Unavailable(format!("{}: {e}", self.name)))
        };
        match tokio::time::timeout(self.deadline, work).await {
            Ok(r) => r,
            Err(_) => Err(Unavailable(format!(
                "{}: no answer within {:?}",
                self.name, self.deadline
            ))),
        }
    }

    async fn client(&self) -> Result<Arc<Client>, Unavailable> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let (client, conn) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .map_err(|e| Unavailable(format!("{}: cannot connect: {e}", self.name)))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }
}
