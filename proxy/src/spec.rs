//! Typed toxic configuration: the values every other module works with.
//!
//! Nothing here knows about Toxiproxy's wire format (milliseconds, `"stream": "upstream"`,
//! integer attribute maps); [`crate::api`] converts at the edge.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ProxyError;

/// Which bytes of a connection a toxic sees.
///
/// ```
/// use shakedown_proxy::Direction;
/// assert_eq!(Direction::Upstream.as_str(), "upstream");
/// assert_eq!("DOWNSTREAM".parse::<Direction>().unwrap(), Direction::Downstream);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Client → upstream server bytes (requests).
    Upstream,
    /// Upstream server → client bytes (replies). Toxiproxy's default.
    Downstream,
}

impl Direction {
    /// The Toxiproxy spelling of this direction.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upstream => "upstream",
            Direction::Downstream => "downstream",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Direction {
    type Err = ProxyError;

    /// Parses case-insensitively, as Toxiproxy does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("upstream") {
            Ok(Direction::Upstream)
        } else if s.eq_ignore_ascii_case("downstream") {
            Ok(Direction::Downstream)
        } else {
            Err(ProxyError::InvalidStream {
                given: s.to_string(),
            })
        }
    }
}

/// Probability that a toxic is active on a given connection, limited to `0.0..=1.0`.
///
/// ```
/// use shakedown_proxy::Toxicity;
/// assert_eq!(Toxicity::new(0.5).unwrap().get(), 0.5);
/// assert!(Toxicity::new(1.5).is_err());
/// assert_eq!(Toxicity::default(), Toxicity::ALWAYS);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Toxicity(f64);

impl Toxicity {
    /// The toxic applies to every connection (Toxiproxy's default).
    pub const ALWAYS: Toxicity = Toxicity(1.0);
    /// The toxic applies to no connection.
    pub const NEVER: Toxicity = Toxicity(0.0);

    /// A toxicity; errors unless `value` is a number in `0.0..=1.0`.
    pub fn new(value: f64) -> Result<Self, ProxyError> {
        if (0.0..=1.0).contains(&value) {
            Ok(Toxicity(value))
        } else {
            Err(ProxyError::InvalidToxicity { given: value })
        }
    }

    /// The probability as a float.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for Toxicity {
    fn default() -> Self {
        Toxicity::ALWAYS
    }
}

impl TryFrom<f64> for Toxicity {
    type Error = ProxyError;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Toxicity::new(value)
    }
}

impl From<Toxicity> for f64 {
    fn from(t: Toxicity) -> f64 {
        t.0
    }
}

/// Which HTTP/1.1 requests an HTTP toxic acts on: both conditions must hold; an empty string
/// matches anything.
///
/// ```
/// use shakedown_proxy::HttpMatch;
/// let m = HttpMatch { method: "POST".into(), path_prefix: "/charge".into() };
/// assert!(m.matches("POST", "/charges/7"));
/// assert!(!m.matches("GET", "/charges/7"));
/// assert!(HttpMatch::default().matches("DELETE", "/"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpMatch {
    /// The request method, compared exactly (`GET`, `POST`); empty: any method.
    pub method: String,
    /// A prefix of the request target (`/payments`); empty: any target.
    pub path_prefix: String,
}

impl HttpMatch {
    /// Whether a request with this method and target is matched.
    pub fn matches(&self, method: &str, target: &str) -> bool {
        (self.method.is_empty() || self.method == method) && target.starts_with(&self.path_prefix)
    }

    fn validate(&self) -> Result<(), ProxyError> {
        if !self.method.bytes().all(is_token_byte) {
            return Err(ProxyError::InvalidAttribute {
                attribute: "method".into(),
                detail: format!(
                    "{:?} is not an HTTP method (use letters such as GET or POST, or empty for any)",
                    self.method
                ),
            });
        }
        if self
            .path_prefix
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(ProxyError::InvalidAttribute {
                attribute: "path_prefix".into(),
                detail: format!(
                    "{:?} contains whitespace or control characters (use a request path such as /payments)",
                    self.path_prefix
                ),
            });
        }
        Ok(())
    }
}

/// A `tchar` of RFC 9110 (the characters of a method name).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// What a toxic does, with typed parameters. A closed set: Toxiproxy's types plus `corrupt`
/// and the HTTP/1.1 toxics `http_status`, `http_delay` and `http_drop_response` (see
/// `toxics/http/mod.rs`), which act per request and only on the downstream stream.
///
/// ```
/// use std::time::Duration;
/// use shakedown_proxy::ToxicSpec;
/// let spec = ToxicSpec::Latency { latency: Duration::from_millis(300), jitter: Duration::ZERO };
/// assert_eq!(spec.type_name(), "latency");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToxicSpec {
    /// Delays every chunk by `latency` ± `jitter` (uniform, seeded); never reorders.
    Latency {
        /// Base delay.
        latency: Duration,
        /// Maximum deviation either way.
        jitter: Duration,
    },
    /// Limits throughput to `rate_kb_per_s` kilobytes (1000 bytes) per second. `0` passes nothing.
    Bandwidth {
        /// Kilobytes (1000 bytes) per second.
        rate_kb_per_s: u64,
    },
    /// Delays the close (EOF) by `delay`; data passes normally.
    SlowClose {
        /// How long the EOF is held.
        delay: Duration,
    },
    /// Drops all data; closes the connection `timeout` after the toxic became active (never if zero).
    Timeout {
        /// Time until the connection is closed; zero means never.
        timeout: Duration,
    },
    /// Discards the first chunk (or EOF), then resets both sockets (TCP RST) after `timeout`.
    ResetPeer {
        /// Time from the first chunk to the reset.
        timeout: Duration,
    },
    /// Splits chunks into pieces of about `average_size` ± `size_variation` bytes, `delay` apart.
    Slicer {
        /// Average piece size in bytes; `0` disables slicing.
        average_size: u64,
        /// Maximum deviation of a piece size in bytes.
        size_variation: u64,
        /// Pause between pieces (Toxiproxy: microseconds).
        delay: Duration,
    },
    /// Passes `bytes` bytes, then closes the connection.
    LimitData {
        /// Bytes allowed through before the close.
        bytes: u64,
    },
    /// Passes data unchanged.
    Noop,
    /// Flips each byte with probability `probability` (XOR with a non-zero seeded mask). Not in Toxiproxy.
    Corrupt {
        /// Per-byte probability, `0.0..=1.0`.
        probability: Toxicity,
    },
    /// Answers matching HTTP/1.1 requests with `status` and `body` without forwarding them
    /// (toxicity: per request). Not in Toxiproxy.
    HttpStatus {
        /// The status code, `200..=599`.
        status: u16,
        /// The response body (sent with `Content-Length`).
        body: String,
        /// Which requests.
        matcher: HttpMatch,
    },
    /// Delays the response to matching HTTP/1.1 requests by `latency` (head and body alike;
    /// toxicity: per request). Not in Toxiproxy.
    HttpDelay {
        /// How long the response is held.
        latency: Duration,
        /// Which requests.
        matcher: HttpMatch,
    },
    /// Forwards matching HTTP/1.1 requests, drops their response and closes the client
    /// connection: the reply lost after the request was applied (toxicity: per request).
    /// Not in Toxiproxy.
    HttpDropResponse {
        /// Which requests.
        matcher: HttpMatch,
    },
}

impl ToxicSpec {
    /// Every type name, in Toxiproxy's spelling (for error hints).
    pub const TYPE_NAMES: &'static [&'static str] = &[
        "latency",
        "bandwidth",
        "slow_close",
        "timeout",
        "reset_peer",
        "slicer",
        "limit_data",
        "noop",
        "corrupt",
        "http_status",
        "http_delay",
        "http_drop_response",
    ];

    /// Longest duration any toxic accepts (ten years); longer values are rejected so that
    /// timer arithmetic can never overflow.
    pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

    /// Checks the parameters: every duration at most [`ToxicSpec::MAX_DURATION`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use shakedown_proxy::ToxicSpec;
    /// assert!(ToxicSpec::SlowClose { delay: Duration::MAX }.validate().is_err());
    /// assert!(ToxicSpec::Noop.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), ProxyError> {
        let check = |attribute: &str, d: Duration| {
            if d > Self::MAX_DURATION {
                Err(ProxyError::InvalidAttribute {
                    attribute: attribute.to_string(),
                    detail: format!("{d:?} is longer than the maximum of ten years"),
                })
            } else {
                Ok(())
            }
        };
        match self {
            ToxicSpec::Latency { latency, jitter } => {
                check("latency", *latency)?;
                check("jitter", *jitter)
            }
            ToxicSpec::SlowClose { delay } => check("delay", *delay),
            ToxicSpec::Timeout { timeout } | ToxicSpec::ResetPeer { timeout } => {
                check("timeout", *timeout)
            }
            ToxicSpec::Slicer { delay, .. } => check("delay", *delay),
            ToxicSpec::Bandwidth { .. }
            | ToxicSpec::LimitData { .. }
            | ToxicSpec::Noop
            | ToxicSpec::Corrupt { .. } => Ok(()),
            ToxicSpec::HttpStatus {
                status, matcher, ..
            } => {
                if !(200..=599).contains(status) {
                    return Err(ProxyError::InvalidAttribute {
                        attribute: "status".into(),
                        detail: format!(
                            "{status} is not the status of a final HTTP response (use 200 to 599)"
                        ),
                    });
                }
                matcher.validate()
            }
            ToxicSpec::HttpDelay { latency, matcher } => {
                check("latency", *latency)?;
                matcher.validate()
            }
            ToxicSpec::HttpDropResponse { matcher } => matcher.validate(),
        }
    }

    /// Whether it is one of the HTTP/1.1 toxics (which act per request and only downstream).
    ///
    /// ```
    /// use shakedown_proxy::{Toxic, ToxicSpec};
    /// assert!(Toxic::http_status(503).spec().is_http());
    /// assert!(!ToxicSpec::Noop.is_http());
    /// ```
    pub fn is_http(&self) -> bool {
        matches!(
            self,
            ToxicSpec::HttpStatus { .. }
                | ToxicSpec::HttpDelay { .. }
                | ToxicSpec::HttpDropResponse { .. }
        )
    }

    /// The Toxiproxy type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicSpec::Latency { .. } => "latency",
            ToxicSpec::Bandwidth { .. } => "bandwidth",
            ToxicSpec::SlowClose { .. } => "slow_close",
            ToxicSpec::Timeout { .. } => "timeout",
            ToxicSpec::ResetPeer { .. } => "reset_peer",
            ToxicSpec::Slicer { .. } => "slicer",
            ToxicSpec::LimitData { .. } => "limit_data",
            ToxicSpec::Noop => "noop",
            ToxicSpec::Corrupt { .. } => "corrupt",
            ToxicSpec::HttpStatus { .. } => "http_status",
            ToxicSpec::HttpDelay { .. } => "http_delay",
            ToxicSpec::HttpDropResponse { .. } => "http_drop_response",
        }
    }
}

impl ToxicConfig {
    /// Checks the spec ([`ToxicSpec::validate`]) and the direction: the HTTP toxics act on
    /// responses and are only accepted downstream (upstream is rejected, with Toxiproxy's 400).
    ///
    /// ```
    /// use shakedown_proxy::Toxic;
    /// assert!(Toxic::http_status(503).into_config().validate().is_ok());
    /// assert!(Toxic::http_status(503).upstream().into_config().validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ProxyError> {
        self.spec.validate()?;
        if self.spec.is_http() && self.stream == Direction::Upstream {
            return Err(ProxyError::InvalidAttribute {
                attribute: "stream".into(),
                detail: format!(
                    "{} sees requests and responses of a connection and is added with \"stream\": \"downstream\"",
                    self.spec.type_name()
                ),
            });
        }
        Ok(())
    }
}

/// A named toxic attached to one direction of a proxy.
///
/// Build one with [`crate::Toxic`]; this is the validated form stored by the proxy.
///
/// ```
/// use shakedown_proxy::{Direction, Toxic, ToxicSpec};
/// let config = Toxic::limit_data(100).upstream().into_config();
/// assert_eq!(config.name, "limit_data_upstream");
/// assert_eq!(config.stream, Direction::Upstream);
/// assert_eq!(config.spec, ToxicSpec::LimitData { bytes: 100 });
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToxicConfig {
    /// Unique per proxy, across both directions.
    pub name: String,
    /// The direction it applies to.
    pub stream: Direction,
    /// Probability it is active on a connection.
    pub toxicity: Toxicity,
    /// What it does.
    pub spec: ToxicSpec,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_parses_case_insensitively_and_rejects_other_words() {
        assert_eq!(
            "UpStream".parse::<Direction>().unwrap(),
            Direction::Upstream
        );
        let err = "sideways".parse::<Direction>().unwrap_err();
        assert!(err.to_string().contains("sideways"), "{err}");
        assert!("".parse::<Direction>().is_err());
    }

    #[test]
    fn toxicity_rejects_out_of_range_and_nan() {
        assert!(Toxicity::new(-0.1).is_err());
        assert!(Toxicity::new(1.0001).is_err());
        assert!(Toxicity::new(f64::NAN).is_err());
        assert_eq!(Toxicity::new(0.0).unwrap(), Toxicity::NEVER);
    }

    #[test]
    fn spec_serde_uses_type_tag() {
        let spec = ToxicSpec::LimitData { bytes: 5 };
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(v["type"], "limit_data");
        let back: ToxicSpec = serde_json::from_value(v).unwrap();
        assert_eq!(back, spec);
    }
}
