//! [`FaultProxy`]: run the proxy inside a test process.
//!
//! [`FaultProxy::start`] serves the Toxiproxy HTTP API on an ephemeral 127.0.0.1 port (so
//! existing Toxiproxy clients can drive it too) and hands out [`Link`]s, one per proxied
//! upstream (`link.rs`). Toxics are built with [`Toxic`](crate::Toxic) and attached with
//! [`Link::add`], which returns a [`ToxicGuard`](crate::ToxicGuard): dropping the guard removes
//! the toxic, [`ToxicGuard::forget`](crate::ToxicGuard::forget) keeps it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::collection::{Collection, NewProxy, ProxyInfo};
use crate::error::ProxyError;
use crate::link::Link;

/// A running fault proxy: the Toxiproxy API plus the proxies it manages.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
/// use shakedown_proxy::FaultProxy;
/// let proxy = FaultProxy::start().await?;
/// assert!(proxy.api_addr().ip().is_loopback());
/// proxy.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FaultProxy {
    api_addr: SocketAddr,
    collection: Arc<Collection>,
    cancel: CancellationToken,
    server: Option<JoinHandle<()>>,
}

/// Options for [`FaultProxy`]: API host and port, and the seed.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
/// use shakedown_proxy::FaultProxy;
/// let proxy = FaultProxy::builder().port(0).seed(42).start().await?;
/// assert_ne!(proxy.api_addr().port(), 0);
/// proxy.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FaultProxyBuilder {
    host: IpAddr,
    port: u16,
    seed: Option<u64>,
    zero_copy: bool,
}

impl Default for FaultProxyBuilder {
    fn default() -> Self {
        FaultProxyBuilder {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            seed: None,
            zero_copy: true,
        }
    }
}

impl FaultProxyBuilder {
    /// API host (default 127.0.0.1).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }
    /// API port (default 0: ephemeral).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    /// Seed for every proxy's randomness (jitter, toxicity rolls, slicing, corrupt). Each
    /// proxy's seed is derived from this and its name; the API reports it as `"seed"`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Like [`FaultProxyBuilder::seed`], leaving it random when `None`.
    pub fn maybe_seed(mut self, seed: Option<u64>) -> Self {
        self.seed = seed;
        self
    }
    /// Whether directions without an active toxic move bytes with `splice(2)` (default: yes,
    /// on Linux). Off, they are copied through a user-space buffer like any toxic path.
    pub fn zero_copy(mut self, enabled: bool) -> Self {
        self.zero_copy = enabled;
        self
    }
    /// Binds the API and starts serving. Must be called inside a Tokio runtime.
    pub async fn start(self) -> Result<FaultProxy, ProxyError> {
        let addr = SocketAddr::new(self.host, self.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ProxyError::ApiBind { addr, source })?;
        let api_addr = listener
            .local_addr()
            .map_err(|source| ProxyError::ApiBind { addr, source })?;
        let collection = Arc::new(Collection::new(
            tokio::runtime::Handle::current(),
            self.seed,
            self.zero_copy,
        ));
        let cancel = CancellationToken::new();
        let router = api::router(collection.clone());
        let stop = cancel.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Ok(FaultProxy {
            api_addr,
            collection,
            cancel,
            server: Some(server),
        })
    }
}

impl FaultProxy {
    /// Starts a proxy with the API on an ephemeral 127.0.0.1 port and a random seed.
    pub async fn start() -> Result<FaultProxy, ProxyError> {
        FaultProxyBuilder::default().start().await
    }

    /// Options: host, port, seed.
    pub fn builder() -> FaultProxyBuilder {
        FaultProxyBuilder::default()
    }

    /// Where the Toxiproxy API listens.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The API's base URL, e.g. `http://127.0.0.1:34567`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// Creates proxy `name` listening on an ephemeral 127.0.0.1 port and forwarding to
    /// `upstream` (`host:port`, dialled for each client connection).
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let upstream = server.local_addr()?;
    /// tokio::spawn(async move {
    ///     let (mut s, _) = server.accept().await.unwrap();
    ///     s.write_all(b"hello").await.unwrap();
    /// });
    /// let proxy = shakedown_proxy::FaultProxy::start().await?;
    /// let link = proxy.link("greeter", upstream).await?;
    /// let mut client = tokio::net::TcpStream::connect(link.listen_addr()).await?;
    /// let mut buf = [0; 5];
    /// client.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"hello");
    /// proxy.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn link(&self, name: &str, upstream: impl fmt::Display) -> Result<Link, ProxyError> {
        let info = self.collection.create(NewProxy {
            name: name.to_string(),
            listen: "127.0.0.1:0".into(),
            upstream: upstream.to_string(),
            enabled: true,
            seed: None,
        })?;
        Link::from_info(&self.collection, &info)
    }

    /// A handle on an existing proxy (created through the API or [`FaultProxy::link`]).
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
    /// let proxy = shakedown_proxy::FaultProxy::start().await?;
    /// let created = proxy.link("cache", "127.0.0.1:9").await?;
    /// let found = proxy.find_link("cache")?;
    /// assert_eq!(found.listen_addr(), created.listen_addr());
    /// assert!(proxy.find_link("nope").is_err());
    /// # proxy.shutdown().await; Ok(()) }
    /// ```
    pub fn find_link(&self, name: &str) -> Result<Link, ProxyError> {
        let info = self.collection.get(name)?;
        Link::from_info(&self.collection, &info)
    }

    /// Every proxy, as the API lists them.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
    /// let proxy = shakedown_proxy::FaultProxy::start().await?;
    /// proxy.link("a", "127.0.0.1:9").await?;
    /// assert_eq!(proxy.proxies().len(), 1);
    /// # proxy.shutdown().await; Ok(()) }
    /// ```
    pub fn proxies(&self) -> Vec<ProxyInfo> {
        self.collection.list()
    }

    /// Toxiproxy's `/reset`: removes every toxic and enables every proxy.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
    /// use shakedown_proxy::{FaultProxy, Toxic};
    /// let proxy = FaultProxy::start().await?;
    /// let link = proxy.link("a", "127.0.0.1:9").await?;
    /// link.add(Toxic::noop()).await?.forget();
    /// link.disable().await?;
    /// proxy.reset().await?;
    /// assert!(link.info()?.enabled && link.toxics()?.is_empty());
    /// # proxy.shutdown().await; Ok(()) }
    /// ```
    pub async fn reset(&self) -> Result<(), ProxyError> {
        self.collection.reset()
    }

    /// Loads proxies from a Toxiproxy populate list (`[{"name":…,"listen":…,"upstream":…}]`).
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
    /// let proxy = shakedown_proxy::FaultProxy::start().await?;
    /// let made = proxy
    ///     .populate_json(br#"[{"name":"db","listen":"127.0.0.1:0","upstream":"127.0.0.1:5432"}]"#)
    ///     .await?;
    /// assert_eq!(made[0].name, "db");
    /// assert!(proxy.populate_json(b"{}").await.is_err());
    /// # proxy.shutdown().await; Ok(()) }
    /// ```
    pub async fn populate_json(&self, json: &[u8]) -> Result<Vec<ProxyInfo>, ProxyError> {
        let list = api::parse_populate(json)?;
        match self.collection.populate(list) {
            (done, None) => Ok(done),
            (_, Some(err)) => Err(err),
        }
    }

    /// Stops the API and every proxy, closing all connections.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
    /// let proxy = shakedown_proxy::FaultProxy::start().await?;
    /// let api = proxy.api_addr();
    /// proxy.shutdown().await;
    /// assert!(tokio::net::TcpStream::connect(api).await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(server) = self.server.take() {
            // Idle keep-alive API connections could hold a graceful shutdown; cap the wait.
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    fn stop(&self) {
        self.cancel.cancel();
        self.collection.shutdown();
    }
}

impl Drop for FaultProxy {
    /// Fallback for a proxy that was not shut down: stops listening and closes connections.
    fn drop(&mut self) {
        self.stop();
    }
}
