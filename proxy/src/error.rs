//! The proxy's one error type.
//!
//! `Display` is written for people: it names the subject and says how to fix it. The HTTP API
//! needs Toxiproxy's exact strings instead; [`ProxyError::api_message`] and
//! [`ProxyError::status`] give those.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can go wrong in the fault proxy.
///
/// ```
/// use shakedown_proxy::ProxyError;
/// let err = ProxyError::ProxyNotFound { name: "payments".into() };
/// assert_eq!(err.status(), 404);
/// assert_eq!(err.api_message(), "proxy not found");
/// assert!(err.to_string().contains("payments"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A request body was not valid JSON or had a wrong type.
    #[error("bad request body: {detail} (send a JSON object as described in the Toxiproxy API)")]
    BadRequestBody {
        /// What the decoder complained about.
        detail: String,
    },
    /// A required field was missing or empty.
    #[error("missing required field `{field}`{} (set it to a non-empty string)", at.map(|i| format!(" in proxy #{i} of the list")).unwrap_or_default())]
    MissingField {
        /// The field name.
        field: &'static str,
        /// 1-based index in a `/populate` list.
        at: Option<usize>,
    },
    /// No proxy with that name.
    #[error("proxy `{name}` not found (list proxies with GET /proxies, or create it first)")]
    ProxyNotFound {
        /// The name asked for.
        name: String,
    },
    /// A proxy with that name already exists.
    #[error("proxy `{name}` already exists (pick another name, or delete it first)")]
    ProxyExists {
        /// The name asked for.
        name: String,
    },
    /// `stream` was neither `upstream` nor `downstream`.
    #[error("stream `{given}` is invalid (expected `upstream` or `downstream`)")]
    InvalidStream {
        /// What was given.
        given: String,
    },
    /// Unknown toxic type.
    #[error("toxic type `{given}` unknown (expected one of: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, noop, corrupt, http_status, http_delay, http_drop_response)")]
    InvalidToxicType {
        /// What was given.
        given: String,
    },
    /// A toxic with that name already exists on the proxy (in either stream).
    #[error("toxic `{name}` already exists on this proxy (names are unique across both streams; pick another or remove it first)")]
    ToxicExists {
        /// The name asked for.
        name: String,
    },
    /// No toxic with that name on the proxy.
    #[error(
        "toxic `{name}` not found on proxy `{proxy}` (list them with GET /proxies/{proxy}/toxics)"
    )]
    ToxicNotFound {
        /// The proxy.
        proxy: String,
        /// The toxic asked for.
        name: String,
    },
    /// Toxicity outside `0.0..=1.0`.
    #[error("toxicity {given} is out of range (use a number from 0.0 to 1.0)")]
    InvalidToxicity {
        /// What was given.
        given: f64,
    },
    /// A toxic attribute had a wrong type or value.
    #[error("attribute `{attribute}` is invalid: {detail}")]
    InvalidAttribute {
        /// The attribute name.
        attribute: String,
        /// What is wrong and what is allowed.
        detail: String,
    },
    /// A proxy's listen address could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (pick a free port, or use port 0 for an ephemeral one)"
    )]
    Bind {
        /// The address as given.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
    /// An address did not resolve.
    #[error("cannot resolve address `{addr}`: {detail} (use host:port, e.g. 127.0.0.1:5432)")]
    Resolve {
        /// The address as given.
        addr: String,
        /// What went wrong.
        detail: String,
    },
    /// The HTTP API itself could not be bound.
    #[error("cannot start the proxy API on {addr}: {source} (choose another port with --port, or stop the process using it)")]
    ApiBind {
        /// The API address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The API host/port did not form an address.
    #[error(
        "invalid API address `{given}`: {detail} (use an IP address for --host, e.g. 127.0.0.1)"
    )]
    ApiAddress {
        /// What was given.
        given: String,
        /// What went wrong.
        detail: String,
    },
    /// A `--config` file could not be read or loaded.
    #[error("config file {}: {detail} (it must be a JSON array of proxies, as for POST /populate)", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The proxy server has been shut down.
    #[error("the fault proxy has been shut down (start a new one with FaultProxy::start)")]
    ShutDown,
    /// Any other I/O failure (serving the API, waiting for signals).
    #[error("proxy I/O failed while {context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

impl ProxyError {
    /// The HTTP status Toxiproxy uses for this error.
    pub fn status(&self) -> u16 {
        match self {
            ProxyError::BadRequestBody { .. }
            | ProxyError::MissingField { .. }
            | ProxyError::InvalidStream { .. }
            | ProxyError::InvalidToxicType { .. }
            | ProxyError::InvalidToxicity { .. }
            | ProxyError::InvalidAttribute { .. }
            | ProxyError::ApiAddress { .. }
            | ProxyError::Config { .. } => 400,
            ProxyError::ProxyNotFound { .. } | ProxyError::ToxicNotFound { .. } => 404,
            ProxyError::ProxyExists { .. } | ProxyError::ToxicExists { .. } => 409,
            ProxyError::Bind { .. }
            | ProxyError::Resolve { .. }
            | ProxyError::ApiBind { .. }
            | ProxyError::ShutDown
            | ProxyError::Io { .. } => 500,
        }
    }

    /// The exact error string Toxiproxy puts in `{"error": ...}`.
    pub fn api_message(&self) -> String {
        match self {
            ProxyError::BadRequestBody { detail } => format!("bad request body: {detail}"),
            ProxyError::MissingField { field, at: None } => {
                format!("missing required field: {field}")
            }
            ProxyError::MissingField { field, at: Some(i) } => {
                format!("missing required field: {field} at proxy {i}")
            }
            ProxyError::ProxyNotFound { .. } => "proxy not found".into(),
            ProxyError::ProxyExists { .. } => "proxy already exists".into(),
            ProxyError::InvalidStream { .. } => {
                "stream was invalid, can be either upstream or downstream".into()
            }
            ProxyError::InvalidToxicType { .. } => "invalid toxic type".into(),
            ProxyError::ToxicExists { .. } => "toxic already exists".into(),
            ProxyError::ToxicNotFound { .. } => "toxic not found".into(),
            ProxyError::InvalidToxicity { given } => {
                format!("bad request body: toxicity {given} is out of range 0.0..=1.0")
            }
            ProxyError::InvalidAttribute { attribute, detail } => {
                format!("bad request body: attribute {attribute}: {detail}")
            }
            ProxyError::Bind { addr, source } => {
                format!("listen tcp {addr}: bind: {}", os_text(source))
            }
            ProxyError::Resolve { addr, detail } => format!("lookup {addr}: {detail}"),
            other => other.to_string(),
        }
    }
}

/// Go-style lower-case OS error text, without Rust's "(os error N)" suffix.
pub(crate) fn os_text(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::AddrInUse => "address already in use".into(),
        io::ErrorKind::AddrNotAvailable => "cannot assign requested address".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = err.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_lowercase(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_messages_are_toxiproxys_exact_strings() {
        let cases: Vec<(ProxyError, u16, &str)> = vec![
            (
                ProxyError::MissingField {
                    field: "name",
                    at: Some(2),
                },
                400,
                "missing required field: name at proxy 2",
            ),
            (
                ProxyError::InvalidStream { given: "x".into() },
                400,
                "stream was invalid, can be either upstream or downstream",
            ),
            (
                ProxyError::ToxicExists { name: "t".into() },
                409,
                "toxic already exists",
            ),
            (
                ProxyError::Bind {
                    addr: "127.0.0.1:1".into(),
                    source: io::Error::from(io::ErrorKind::AddrInUse),
                },
                500,
                "listen tcp 127.0.0.1:1: bind: address already in use",
            ),
        ];
        for (err, status, text) in cases {
            assert_eq!(err.status(), status);
            assert_eq!(err.api_message(), text);
        }
    }

    #[test]
    fn display_messages_are_pinned() {
        let errors = [
            ProxyError::ProxyNotFound { name: "db".into() },
            ProxyError::ToxicNotFound {
                proxy: "db".into(),
                name: "lag".into(),
            },
            ProxyError::InvalidToxicity { given: 1.5 },
            ProxyError::ApiBind {
                addr: "127.0.0.1:8474".parse().unwrap(),
                source: io::Error::from(io::ErrorKind::AddrInUse),
            },
        ];
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(text.join("\n"), @r"
        proxy `db` not found (list proxies with GET /proxies, or create it first)
        toxic `lag` not found on proxy `db` (list them with GET /proxies/db/toxics)
        toxicity 1.5 is out of range (use a number from 0.0 to 1.0)
        cannot start the proxy API on 127.0.0.1:8474: address in use (choose another port with --port, or stop the process using it)
        ");
    }

    #[test]
    fn display_names_subject_and_fix() {
        let err = ProxyError::InvalidToxicType {
            given: "latancy".into(),
        };
        let text = err.to_string();
        assert!(
            text.contains("latancy") && text.contains("expected one of"),
            "{text}"
        );
    }
}
