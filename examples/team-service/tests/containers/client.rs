//! The team's HTTP client of its service, and the adapter that lets the replica-lag suite drive
//! it: the suite's `Profile` is the team's user, `save` is `PUT /users/{id}`, `load` is
//! `GET /users/{id}`.

use std::time::Duration;

use serde_json::json;
use shakedown::ClientError;
use shakedown_suites::replica_lag::{Profile, ProfileService, ProfileSession};

/// The service at `base`; each session has its own cookie jar, like a browser.
#[derive(Debug, Clone)]
pub struct Users {
    base: String,
}

impl Users {
    /// A client of the service at `base` (`http://host:port`).
    pub fn new(base: impl Into<String>) -> Users {
        Users { base: base.into() }
    }
}

/// One user's browser.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    base: String,
}

impl ProfileService for Users {
    type Session = Browser;

    async fn session(&self) -> Result<Browser, ClientError> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Failed(e.to_string()))?;
        Ok(Browser {
            http,
            base: self.base.clone(),
        })
    }
}

impl ProfileSession for Browser {
    async fn save(&mut self, p: &Profile) -> Result<(), ClientError> {
        let resp = self
            .http
            .put(format!("{}/users/{}", self.base, p.id))
            .json(&json!({"name": p.name, "email": p.email, "bio": p.bio, "version": p.version}))
            .send()
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            s if s.is_client_error() => Err(ClientError::Failed(format!("HTTP {s}"))),
            // A 503 after the deadline: the write may have committed.
            s => Err(ClientError::Unknown(format!("HTTP {s}"))),
        }
    }

    async fn load(&mut self, id: &str) -> Result<(Option<Profile>, Option<String>), ClientError> {
        let resp = self
            .http
            .get(format!("{}/users/{id}", self.base))
            .send()
            .await?;
        let served_by = resp
            .headers()
            .get("x-served-by")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match resp.status() {
            reqwest::StatusCode::NOT_FOUND => Ok((None, served_by)),
            s if s.is_success() => {
                let u: serde_json::Value = resp.json().await?;
                let text = |k: &str| u[k].as_str().unwrap_or_default().to_string();
                let profile = Profile {
                    id: text("id"),
                    name: text("name"),
                    email: text("email"),
                    bio: text("bio"),
                    version: u["version"].as_u64().unwrap_or_default(),
                };
                Ok((Some(profile), served_by))
            }
            s => Err(ClientError::Failed(format!("HTTP {s}"))),
        }
    }
}
