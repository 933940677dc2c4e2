//! [`Toxic`]: a toxic to attach through the Rust API, built fluently.

use std::time::Duration;

use crate::spec::{Direction, HttpMatch, ToxicConfig, ToxicSpec, Toxicity};

/// A toxic to attach, built fluently. Defaults: downstream, toxicity 1, name `<type>_<stream>`.
///
/// ```
/// use std::time::Duration;
/// use shakedown_proxy::{Direction, Toxic, Toxicity};
/// let toxic = Toxic::bandwidth(100).upstream().toxicity(Toxicity::new(0.5).unwrap()).named("slow");
/// let config = toxic.into_config();
/// assert_eq!(config.name, "slow");
/// assert_eq!(config.stream, Direction::Upstream);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Toxic {
    name: Option<String>,
    stream: Direction,
    toxicity: Toxicity,
    spec: ToxicSpec,
}

impl Toxic {
    /// Any spec.
    pub fn new(spec: ToxicSpec) -> Toxic {
        Toxic {
            name: None,
            stream: Direction::Downstream,
            toxicity: Toxicity::ALWAYS,
            spec,
        }
    }
    /// Delay every chunk by `latency` (add [`Toxic::jitter`] for variation).
    pub fn latency(latency: Duration) -> Toxic {
        Toxic::new(ToxicSpec::Latency {
            latency,
            jitter: Duration::ZERO,
        })
    }
    /// Limit throughput to `kb_per_s` kilobytes (1000 bytes) per second; 0 holds all data.
    pub fn bandwidth(kb_per_s: u64) -> Toxic {
        Toxic::new(ToxicSpec::Bandwidth {
            rate_kb_per_s: kb_per_s,
        })
    }
    /// Delay the close by `delay`.
    pub fn slow_close(delay: Duration) -> Toxic {
        Toxic::new(ToxicSpec::SlowClose { delay })
    }
    /// Drop all data and close after `timeout` (never if zero).
    pub fn timeout(timeout: Duration) -> Toxic {
        Toxic::new(ToxicSpec::Timeout { timeout })
    }
    /// Reset the connection (TCP RST) `timeout` after the first chunk.
    pub fn reset_peer(timeout: Duration) -> Toxic {
        Toxic::new(ToxicSpec::ResetPeer { timeout })
    }
    /// Split data into pieces of about `average_size` ± `size_variation` bytes, `delay` apart.
    pub fn slicer(average_size: u64, size_variation: u64, delay: Duration) -> Toxic {
        Toxic::new(ToxicSpec::Slicer {
            average_size,
            size_variation,
            delay,
        })
    }
    /// Close the connection after `bytes` bytes.
    pub fn limit_data(bytes: u64) -> Toxic {
        Toxic::new(ToxicSpec::LimitData { bytes })
    }
    /// Pass data unchanged.
    pub fn noop() -> Toxic {
        Toxic::new(ToxicSpec::Noop)
    }
    /// Flip each byte with `probability`.
    pub fn corrupt(probability: Toxicity) -> Toxic {
        Toxic::new(ToxicSpec::Corrupt { probability })
    }
    /// Answer HTTP/1.1 requests with `status` (and an empty body, see [`Toxic::body`]) without
    /// forwarding them; toxicity is rolled per request. Narrow it with [`Toxic::method`] and
    /// [`Toxic::path_prefix`]. Not in Toxiproxy (type `http_status`).
    ///
    /// ```
    /// use shakedown_proxy::{HttpMatch, Toxic, ToxicSpec};
    /// let toxic = Toxic::http_status(503).body("down").method("POST").path_prefix("/pay");
    /// assert_eq!(
    ///     toxic.spec(),
    ///     &ToxicSpec::HttpStatus {
    ///         status: 503,
    ///         body: "down".into(),
    ///         matcher: HttpMatch { method: "POST".into(), path_prefix: "/pay".into() },
    ///     }
    /// );
    /// assert_eq!(toxic.name(), "http_status_downstream");
    /// ```
    pub fn http_status(status: u16) -> Toxic {
        Toxic::new(ToxicSpec::HttpStatus {
            status,
            body: String::new(),
            matcher: HttpMatch::default(),
        })
    }
    /// Delay the response to HTTP/1.1 requests by `latency` (type `http_delay`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use shakedown_proxy::{HttpMatch, Toxic, ToxicSpec};
    /// let toxic = Toxic::http_delay(Duration::from_millis(200)).method("GET");
    /// assert_eq!(
    ///     toxic.spec(),
    ///     &ToxicSpec::HttpDelay {
    ///         latency: Duration::from_millis(200),
    ///         matcher: HttpMatch { method: "GET".into(), path_prefix: String::new() },
    ///     }
    /// );
    /// ```
    pub fn http_delay(latency: Duration) -> Toxic {
        Toxic::new(ToxicSpec::HttpDelay {
            latency,
            matcher: HttpMatch::default(),
        })
    }
    /// Forward HTTP/1.1 requests, then drop their response and close the client connection:
    /// the reply lost after the request was applied (type `http_drop_response`).
    ///
    /// ```
    /// use shakedown_proxy::{HttpMatch, Toxic, ToxicSpec};
    /// let toxic = Toxic::http_drop_response().path_prefix("/charges");
    /// assert_eq!(
    ///     toxic.spec(),
    ///     &ToxicSpec::HttpDropResponse {
    ///         matcher: HttpMatch { method: String::new(), path_prefix: "/charges".into() },
    ///     }
    /// );
    /// ```
    pub fn http_drop_response() -> Toxic {
        Toxic::new(ToxicSpec::HttpDropResponse {
            matcher: HttpMatch::default(),
        })
    }
    /// The body an `http_status` toxic answers with (ignored by other types).
    pub fn body(mut self, body: impl Into<String>) -> Toxic {
        if let ToxicSpec::HttpStatus { body: b, .. } = &mut self.spec {
            *b = body.into();
        }
        self
    }
    /// Act only on requests with this method, e.g. `POST` (HTTP toxics; ignored by others).
    pub fn method(mut self, method: impl Into<String>) -> Toxic {
        if let Some(m) = self.http_match() {
            m.method = method.into();
        }
        self
    }
    /// Act only on requests whose target starts with `prefix`, e.g. `/payments` (HTTP
    /// toxics; ignored by others).
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Toxic {
        if let Some(m) = self.http_match() {
            m.path_prefix = prefix.into();
        }
        self
    }
    fn http_match(&mut self) -> Option<&mut HttpMatch> {
        match &mut self.spec {
            ToxicSpec::HttpStatus { matcher, .. }
            | ToxicSpec::HttpDelay { matcher, .. }
            | ToxicSpec::HttpDropResponse { matcher } => Some(matcher),
            _ => None,
        }
    }
    /// Jitter for a latency toxic (ignored by other types).
    pub fn jitter(mut self, jitter: Duration) -> Toxic {
        if let ToxicSpec::Latency { jitter: j, .. } = &mut self.spec {
            *j = jitter;
        }
        self
    }
    /// Apply to client → upstream bytes.
    pub fn upstream(mut self) -> Toxic {
        self.stream = Direction::Upstream;
        self
    }
    /// Apply to upstream → client bytes (the default).
    pub fn downstream(mut self) -> Toxic {
        self.stream = Direction::Downstream;
        self
    }
    /// Probability that the toxic is active on a connection.
    pub fn toxicity(mut self, toxicity: Toxicity) -> Toxic {
        self.toxicity = toxicity;
        self
    }
    /// A name instead of `<type>_<stream>`.
    pub fn named(mut self, name: impl Into<String>) -> Toxic {
        self.name = Some(name.into());
        self
    }
    /// What it will do.
    ///
    /// ```
    /// use std::time::Duration;
    /// use shakedown_proxy::{Direction, Toxic, ToxicSpec};
    /// let toxic = Toxic::slow_close(Duration::from_secs(1)).upstream();
    /// assert_eq!(toxic.spec(), &ToxicSpec::SlowClose { delay: Duration::from_secs(1) });
    /// assert_eq!(toxic.direction(), Direction::Upstream);
    /// assert_eq!(toxic.name(), "slow_close_upstream");
    /// assert_eq!(toxic.clone().named("late").name(), "late");
    /// ```
    pub fn spec(&self) -> &ToxicSpec {
        &self.spec
    }
    /// The direction it will apply to.
    pub fn direction(&self) -> Direction {
        self.stream
    }
    /// The name it will be attached under: the one given with [`Toxic::named`], else
    /// `<type>_<stream>`.
    pub fn name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("{}_{}", self.spec.type_name(), self.stream),
        }
    }
    /// Everything the proxy will store (name, direction, toxicity, spec), without consuming
    /// the builder; [`Toxic::toxicity`] is the setter, so read the probability here.
    ///
    /// ```
    /// use shakedown_proxy::{Toxic, Toxicity};
    /// let toxic = Toxic::noop().toxicity(Toxicity::NEVER);
    /// assert_eq!(toxic.to_config().toxicity, Toxicity::NEVER);
    /// assert_eq!(toxic.to_config(), toxic.into_config());
    /// ```
    pub fn to_config(&self) -> ToxicConfig {
        ToxicConfig {
            name: self.name(),
            stream: self.stream,
            toxicity: self.toxicity,
            spec: self.spec.clone(),
        }
    }
    /// The validated form the proxy stores.
    pub fn into_config(self) -> ToxicConfig {
        let name = self.name();
        ToxicConfig {
            name,
            stream: self.stream,
            toxicity: self.toxicity,
            spec: self.spec,
        }
    }
}
