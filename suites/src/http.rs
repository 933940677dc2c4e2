//! The HTTP client every reference client builds on: built once, failing loudly.

use std::time::Duration;

use shakedown::ClientError;

/// An HTTP client with `timeout` per request (and, with `cookies`, a cookie jar of its own).
/// Building it can only fail on a broken TLS/system setup; the error says so instead of silently
/// dropping the timeout.
pub(crate) fn client(timeout: Duration, cookies: bool) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .cookie_store(cookies)
        .timeout(timeout)
        .build()
        .map_err(|e| ClientError::Failed(format!("build the HTTP client: {e}")))
}

/// An HTTP client with `timeout` per request whose cookies live in `jar`: clients built on the
/// same jar are one user's session over fresh connections.
pub(crate) fn client_with_jar(
    timeout: Duration,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .cookie_provider(jar)
        .timeout(timeout)
        .build()
        .map_err(|e| ClientError::Failed(format!("build the HTTP client: {e}")))
}

/// A service's address with the HTTP client that calls it: what every reference client holds.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    http: reqwest::Client,
    base: String,
}

impl Endpoint {
    /// The service at `base` (`http://host:port`, a trailing `/` ignored), `timeout` per request.
    pub(crate) fn new(base: impl Into<String>, timeout: Duration) -> Result<Self, ClientError> {
        Ok(Endpoint {
            http: client(timeout, false)?,
            base: base.into().trim_end_matches('/').to_string(),
        })
    }

    /// A GET of `path` (starting with `/`).
    pub(crate) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    /// A POST to `path` (starting with `/`).
    pub(crate) fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.base))
    }
}

/// The JSON body of a 2xx answer; any other status is a failure carrying the answer's text.
pub(crate) async fn json_body<T: for<'de> serde::Deserialize<'de>>(
    resp: reqwest::Response,
) -> Result<T, ClientError> {
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
