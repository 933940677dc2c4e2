use std::future::Future;
use std::time::Duration;

use jiff::civil::Date;
use serde::Deserialize;
use shakedown_fixtures::tenants::Tenant;

pub use crate::ClientError;

/// The billing scheduler under test, as the suite needs it.
///
/// If your scheduler runs on its own timer, implement [`BillingSystem::tick`] as "wait for the
/// next pass and return the tenants charged since the previous call".
pub trait BillingSystem: Send + Sync {
    /// Registers a tenant with its IANA zone.
    fn add_tenant(&self, tenant: &Tenant) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// Runs one scheduler pass at the scheduler's current time; returns the ids of the tenants it
    /// charged.
    fn tick(&self) -> impl Future<Output = Result<Vec<String>, ClientError>> + Send;
    /// How many charges the daily report of `tenant` for its local `day` counts.
    fn report(
        &self,
        tenant: &str,
        day: Date,
    ) -> impl Future<Output = Result<u64, ClientError>> + Send;
}

/// A client of the reference billing service's HTTP API.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::timezone::ClientError> {
/// use shakedown_suites::timezone::{BillingSystem, HttpBilling};
///
/// let billing = HttpBilling::new("http://127.0.0.1:8080")?;
/// let charged = billing.tick().await?;
/// let n = billing.report("t0", jiff::civil::date(2026, 3, 8)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpBilling {
    api: crate::http::Endpoint,
}

impl HttpBilling {
    /// A client of the service at `base` (`http://host:port`), with a 10 s timeout per request.
    pub fn new(base: impl Into<String>) -> Result<Self, ClientError> {
        Ok(HttpBilling {
            api: crate::http::Endpoint::new(base, Duration::from_secs(10))?,
        })
    }
}

async fn body<T: for<'de> Deserialize<'de>>(resp: reqwest::Response) -> Result<T, ClientError> {
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        return Err(ClientError::Failed(format!(
            "HTTP {status}: {}",
            text.trim()
        )));
    }
    resp.json()
        .await
        .map_err(|e| ClientError::Failed(format!("bad body: {e}")))
}

#[derive(Deserialize)]
struct Charged {
    charged: Vec<String>,
}

#[derive(Deserialize)]
struct Counted {
    charges: u64,
}

impl BillingSystem for HttpBilling {
    async fn add_tenant(&self, tenant: &Tenant) -> Result<(), ClientError> {
        let resp = self
            .api
            .post("/tenants")
            .json(tenant)
            .send()
            .await
            .map_err(ClientError::from)?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(ClientError::Failed(format!("HTTP {}", resp.status())))
        }
    }

    async fn tick(&self) -> Result<Vec<String>, ClientError> {
        let resp = self
            .api
            .post("/tick")
            .send()
            .await
            .map_err(ClientError::from)?;
        Ok(body::<Charged>(resp).await?.charged)
    }

    async fn report(&self, tenant: &str, day: Date) -> Result<u64, ClientError> {
        let resp = self
            .api
            .get(&format!("/reports/{tenant}/{day}"))
            .send()
            .await
            .map_err(ClientError::from)?;
        Ok(body::<Counted>(resp).await?.charges)
    }
}
