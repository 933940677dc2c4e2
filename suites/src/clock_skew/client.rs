use std::future::Future;
use std::time::Duration;

use serde::Deserialize;
use shakedown::ClockOffset;

pub use crate::ClientError;

/// What the API answered to a call carrying a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// Whether the token was accepted (2xx) or refused (401/403).
    pub accepted: bool,
    /// The refusal's reason, as the API gave it.
    pub reason: Option<String>,
    /// The skew (issuer's clock minus the API's) the API reported, if it reports one.
    pub skew_reported: Option<ClockOffset>,
}

/// The system under test, as the suite needs it: an issuer of tokens and an API that checks them.
pub trait TokenSystem: Send + Sync {
    /// Asks the issuer for a token for `subject` living `ttl` (it may shorten it).
    fn issue(
        &self,
        subject: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<String, ClientError>> + Send;
    /// Calls the API with `token`.
    fn call(&self, token: &str) -> impl Future<Output = Result<CallOutcome, ClientError>> + Send;
}

/// A client of the reference issuer (`POST /token`) and API (`GET /resource`).
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::clock_skew::ClientError> {
/// use std::time::Duration;
/// use shakedown_suites::clock_skew::{HttpTokens, TokenSystem};
///
/// let system = HttpTokens::new("http://127.0.0.1:8081", "http://127.0.0.1:8082")?;
/// let token = system.issue("ada", Duration::from_secs(60)).await?;
/// let outcome = system.call(&token).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpTokens {
    http: reqwest::Client,
    issuer: String,
    api: String,
}

impl HttpTokens {
    /// A client of the issuer at `issuer` and the API at `api` (`http://host:port`), with a 10 s
    /// timeout per request.
    pub fn new(issuer: impl Into<String>, api: impl Into<String>) -> Result<Self, ClientError> {
        Ok(HttpTokens {
            http: crate::http::client(Duration::from_secs(10), false)?,
            issuer: issuer.into().trim_end_matches('/').to_string(),
            api: api.into().trim_end_matches('/').to_string(),
        })
    }
}

#[derive(Deserialize)]
struct Issued {
    token: String,
}

impl TokenSystem for HttpTokens {
    async fn issue(&self, subject: &str, ttl: Duration) -> Result<String, ClientError> {
        let resp = self
            .http
            .post(format!("{}/token", self.issuer))
            .json(&serde_json::json!({ "sub": subject, "ttl_s": ttl.as_secs() }))
            .send()
            .await
            .map_err(ClientError::from)?;
        if !resp.status().is_success() {
            return Err(ClientError::Failed(format!(
                "issuer: HTTP {}",
                resp.status()
            )));
        }
        let issued: Issued = resp
            .json()
            .await
            .map_err(|e| ClientError::Failed(format!("issuer: bad body: {e}")))?;
        Ok(issued.token)
    }

    async fn call(&self, token: &str) -> Result<CallOutcome, ClientError> {
        let resp = self
            .http
            .get(format!("{}/resource", self.api))
            .bearer_auth(token)
            .send()
            .await
            .map_err(ClientError::from)?;
        let skew_reported = resp
            .headers()
            .get("x-clock-skew-ms")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .map(ClockOffset::from_millis);
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        match status.as_u16() {
            200..=299 => Ok(CallOutcome {
                accepted: true,
                reason: None,
                skew_reported,
            }),
            401 | 403 => Ok(CallOutcome {
                accepted: false,
                reason: Some(body.trim().to_string()),
                skew_reported,
            }),
            s => Err(ClientError::Unknown(format!(
                "api: HTTP {s}: {}",
                body.trim()
            ))),
        }
    }
}
