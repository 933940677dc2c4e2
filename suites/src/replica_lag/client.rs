use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A user profile, versioned: each save of the same id carries a higher `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The profile's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Free text.
    pub bio: String,
    /// Grows with every save of this id.
    pub version: u64,
}

pub use crate::ClientError;

/// The service under test, as the suite needs it: it opens user sessions.
pub trait ProfileService: Send + Sync {
    /// One user's session (cookies, tokens, sticky routing …).
    type Session: ProfileSession;
    /// Opens a new session.
    fn session(&self) -> impl Future<Output = Result<Self::Session, ClientError>> + Send;
}

/// What one user does: save a profile, load it back.
pub trait ProfileSession: Send {
    /// Saves (creates or replaces) a profile.
    fn save(&mut self, profile: &Profile) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// Loads a profile; `None` if not found. Returns also which node served it, if known.
    fn load(
        &mut self,
        id: &str,
    ) -> impl Future<Output = Result<(Option<Profile>, Option<String>), ClientError>> + Send;
}

/// A client of the reference profiles service's HTTP API (`PUT` / `GET /profiles/{id}`); each
/// session is an HTTP client with its own cookie jar.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::replica_lag::ClientError> {
/// use shakedown_suites::replica_lag::{HttpProfiles, ProfileService, ProfileSession};
/// let api = HttpProfiles::new("http://127.0.0.1:8080");
/// let mut user = api.session().await?;
/// let (profile, served_by) = user.load("u1").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpProfiles {
    base: String,
    timeout: Duration,
}

impl HttpProfiles {
    /// A client of the service at `base` (`http://host:port`).
    pub fn new(base: impl Into<String>) -> Self {
        HttpProfiles {
            base: base.into().trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// One session of [`HttpProfiles`].
#[derive(Debug)]
pub struct HttpSession {
    http: reqwest::Client,
    base: String,
}

impl ProfileService for HttpProfiles {
    type Session = HttpSession;

    async fn session(&self) -> Result<HttpSession, ClientError> {
        let http = crate::http::client(self.timeout, true)?;
        Ok(HttpSession {
            http,
            base: self.base.clone(),
        })
    }
}

impl ProfileSession for HttpSession {
    async fn save(&mut self, profile: &Profile) -> Result<(), ClientError> {
        let resp = self
            .http
            .put(format!("{}/profiles/{}", self.base, profile.id))
            .json(profile)
            .send()
            .await
            .map_err(ClientError::from)?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            s if s.is_client_error() => Err(ClientError::Failed(format!("HTTP {s}"))),
            s => Err(ClientError::Unknown(format!("HTTP {s}"))),
        }
    }

    async fn load(&mut self, id: &str) -> Result<(Option<Profile>, Option<String>), ClientError> {
        let resp = self
            .http
            .get(format!("{}/profiles/{id}", self.base))
            .send()
            .await
            .map_err(ClientError::from)?;
        let served_by = resp
            .headers()
            .get("x-served-by")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match resp.status() {
            reqwest::StatusCode::NOT_FOUND => Ok((None, served_by)),
            s if s.is_success() => {
                let p = resp
                    .json::<Profile>()
                    .await
                    .map_err(|e| ClientError::Failed(format!("bad profile body: {e}")))?;
                Ok((Some(p), served_by))
            }
            s => Err(ClientError::Failed(format!("HTTP {s}"))),
        }
    }
}
