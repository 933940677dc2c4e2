//! [`ClientError`]: how a client call that did not succeed ended — certainly without effect, or
//! with an unknown outcome. [`Run::call`](crate::Run::call) records the first as `fail` and the
//! second as `info`.

/// Why a client call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The call certainly had no effect (refused before it was applied).
    #[error("failed: {0}")]
    Failed(String),
    /// The outcome is unknown (timeout, connection lost mid-call): it may have happened.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

#[cfg(feature = "reqwest")]
impl From<reqwest::Error> for ClientError {
    /// A request that never reached the server failed; any other transport error leaves the
    /// outcome unknown (the server may have applied it before the answer was lost).
    fn from(e: reqwest::Error) -> Self {
        if e.is_connect() || e.is_builder() {
            ClientError::Failed(e.to_string())
        } else {
            ClientError::Unknown(e.to_string())
        }
    }
}
