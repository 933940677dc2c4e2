use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use crate::replica_lag::Profile;
pub use crate::ClientError;

/// The service under test, as the suite needs it: it opens user sessions.
pub trait ProfilePages: Send + Sync {
    /// One user's session (cookies, tokens, sticky routing …).
    type Session: PageSession;
    /// Opens a new session.
    fn session(&self) -> impl Future<Output = Result<Self::Session, ClientError>> + Send;
}

/// What one user does: save a profile, reload it, and now and then come back on a new
/// connection (a new tab, a restarted app) while staying the same user.
pub trait PageSession: Send {
    /// Saves (creates or replaces) a profile.
    fn save(&mut self, profile: &Profile) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// Loads a profile; `None` if not found. Returns also which node served it, if known.
    fn load(
        &mut self,
        id: &str,
    ) -> impl Future<Output = Result<(Option<Profile>, Option<String>), ClientError>> + Send;
    /// Drops the session's connections and opens new ones, keeping whatever identifies the user
    /// (cookies, tokens).
    fn reconnect(&mut self) -> impl Future<Output = Result<(), ClientError>> + Send;
}

/// A client of the reference profile pages service (`PUT` / `GET /profiles/{id}`, the same API
/// as [`replica_lag`](crate::replica_lag)'s); each session keeps its cookies in a jar of its own,
/// across reconnections.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown_suites::ClientError> {
/// use shakedown_suites::inconsistent_reads::{HttpPages, PageSession, ProfilePages};
/// let api = HttpPages::new("http://127.0.0.1:8080");
/// let mut user = api.session().await?;
/// let (profile, served_by) = user.load("u1").await?;
/// user.reconnect().await?; // a new connection, the same cookies
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpPages {
    base: String,
    timeout: Duration,
}

impl HttpPages {
    /// A client of the service at `base` (`http://host:port`).
    pub fn new(base: impl Into<String>) -> Self {
        HttpPages {
            base: base.into().trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// One session of [`HttpPages`].
#[derive(Debug)]
pub struct HttpPageSession {
    jar: Arc<reqwest::cookie::Jar>,
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

impl ProfilePages for HttpPages {
    type Session = HttpPageSession;

    async fn session(&self) -> Result<HttpPageSession, ClientError> {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        Ok(HttpPageSession {
            http: crate::http::client_with_jar(self.timeout, jar.clone())?,
            jar,
            base: self.base.clone(),
            timeout: self.timeout,
        })
    }
}

impl PageSession for HttpPageSession {
    async fn save(&mut self, profile: &Profile) -> Result<(), ClientError> {
        crate::replica_lag::client::put_profile(&self.http, &self.base, profile).await
    }

    async fn load(&mut self, id: &str) -> Result<(Option<Profile>, Option<String>), ClientError> {
        crate::replica_lag::client::get_profile(&self.http, &self.base, id).await
    }

    async fn reconnect(&mut self) -> Result<(), ClientError> {
        self.http = crate::http::client_with_jar(self.timeout, self.jar.clone())?;
        Ok(())
    }
}
