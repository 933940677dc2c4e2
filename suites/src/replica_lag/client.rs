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

impl Profile {
    /// A profile `id` at `version` with fake name, e-mail and bio drawn from `rng` (seeded: the
    /// same stream gives the same profile).
    pub fn fake(id: &str, version: u64, rng: &mut impl rand::Rng) -> Profile {
        use fake::faker::internet::en::SafeEmail;
        use fake::faker::lorem::en::Sentence;
        use fake::faker::name::en::Name;
        use fake::Fake;
        Profile {
            id: id.to_string(),
            name: Name().fake_with_rng(rng),
            email: SafeEmail().fake_with_rng(rng),
            bio: Sentence(3..8).fake_with_rng(rng),
            version,
        }
    }
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
        put_profile(&self.http, &self.base, profile).await
    }

    async fn load(&mut self, id: &str) -> Result<(Option<Profile>, Option<String>), ClientError> {
        get_profile(&self.http, &self.base, id).await
    }
}

/// `PUT {base}/profiles/{id}`: a 4xx failed, any other error is of unknown outcome.
pub(crate) async fn put_profile(
    http: &reqwest::Client,
    base: &str,
    profile: &Profile,
) -> Result<(), ClientError> {
    let resp = http
        .put(format!("{base}/profiles/{}", profile.id))
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

/// `GET {base}/profiles/{id}`: the profile (`None` on 404) and the `x-served-by` header.
pub(crate) async fn get_profile(
    http: &reqwest::Client,
    base: &str,
    id: &str,
) -> Result<(Option<Profile>, Option<String>), ClientError> {
    let resp = http
        .get(format!("{base}/profiles/{id}"))
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
