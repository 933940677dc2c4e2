//! The Rust API: run the proxy inside a test process.
//!
//! [`FaultProxy::start`] serves the Toxiproxy HTTP API on an ephemeral 127.0.0.1 port (so
//! existing Toxiproxy clients can drive it too) and hands out [`Link`]s, one per proxied
//! upstream. Toxics are built with [`Toxic`] and attached with [`Link::add`], which returns a
//! [`ToxicGuard`]: dropping the guard removes the toxic, [`ToxicGuard::forget`] keeps it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::api;
use super::collection::{Collection, NewProxy, ProxyInfo, ProxyPatch};
use super::error::ProxyError;
use super::spec::ToxicConfig;
use super::toxic::Toxic;

/// A running fault proxy: the Toxiproxy API plus the proxies it manages.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
/// use shakedown::proxy::FaultProxy;
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
/// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
/// use shakedown::proxy::FaultProxy;
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
    /// let proxy = shakedown::proxy::FaultProxy::start().await?;
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
    /// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
    /// let proxy = shakedown::proxy::FaultProxy::start().await?;
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
    /// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
    /// let proxy = shakedown::proxy::FaultProxy::start().await?;
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
    /// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
    /// use shakedown::proxy::{FaultProxy, Toxic};
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
    /// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
    /// let proxy = shakedown::proxy::FaultProxy::start().await?;
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
    /// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
    /// let proxy = shakedown::proxy::FaultProxy::start().await?;
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

/// One proxied upstream: a listen address that clients connect to, and its toxics.
///
/// Dropping a `Link` leaves the proxy running; it lives until [`FaultProxy::shutdown`]
/// or an API `DELETE`.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
/// use std::time::Duration;
/// use shakedown::proxy::{FaultProxy, Toxic};
/// let proxy = FaultProxy::start().await?;
/// let link = proxy.link("payments", "127.0.0.1:9").await?;
/// let guard = link.add(Toxic::latency(Duration::from_millis(300)).jitter(Duration::from_millis(20)).upstream()).await?;
/// assert_eq!(guard.name(), "latency_upstream");
/// assert_eq!(link.toxics()?.len(), 1);
/// drop(guard); // removes the toxic
/// assert!(link.toxics()?.is_empty());
/// proxy.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Link {
    name: String,
    listen_addr: SocketAddr,
    collection: Weak<Collection>,
}

impl Link {
    fn from_info(collection: &Arc<Collection>, info: &ProxyInfo) -> Result<Link, ProxyError> {
        let listen_addr = super::collection::resolve(&info.listen)?;
        Ok(Link {
            name: info.name.clone(),
            listen_addr,
            collection: Arc::downgrade(collection),
        })
    }

    fn collection(&self) -> Result<Arc<Collection>, ProxyError> {
        self.collection.upgrade().ok_or(ProxyError::ShutDown)
    }

    /// The proxy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where clients connect (the proxy's listen address). Stays the same across
    /// [`Link::disable`] / [`Link::enable`].
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// The proxy as the API reports it.
    pub fn info(&self) -> Result<ProxyInfo, ProxyError> {
        self.collection()?.get(&self.name)
    }

    /// Its toxics, upstream first, each stream in order.
    pub fn toxics(&self) -> Result<Vec<ToxicConfig>, ProxyError> {
        self.collection()?.toxics(&self.name)
    }

    /// Attaches a toxic, also to connections already open. Returns a guard that removes it
    /// when dropped; call [`ToxicGuard::forget`] to keep it.
    pub async fn add(&self, toxic: Toxic) -> Result<ToxicGuard, ProxyError> {
        let collection = self.collection()?;
        let config = collection.add_toxic(&self.name, toxic.into_config())?;
        Ok(ToxicGuard {
            collection: self.collection.clone(),
            proxy: self.name.clone(),
            name: config.name,
            armed: true,
        })
    }

    /// Changes a toxic's toxicity and attributes (its type and stream stay); connections keep
    /// their state (e.g. limit_data's counter).
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
    /// use std::time::Duration;
    /// use shakedown::proxy::{FaultProxy, Toxic, ToxicSpec};
    /// let proxy = FaultProxy::start().await?;
    /// let link = proxy.link("a", "127.0.0.1:9").await?;
    /// let _lag = link.add(Toxic::latency(Duration::from_millis(10))).await?;
    /// let updated = link.update("latency_downstream", Toxic::latency(Duration::from_millis(50))).await?;
    /// assert_eq!(updated.spec, ToxicSpec::Latency { latency: Duration::from_millis(50), jitter: Duration::ZERO });
    /// # proxy.shutdown().await; Ok(()) }
    /// ```
    pub async fn update(&self, name: &str, toxic: Toxic) -> Result<ToxicConfig, ProxyError> {
        let config = toxic.into_config();
        self.collection()?
            .update_toxic(&self.name, name, move |_| Ok(config))
    }

    /// Removes a toxic by name. Its held bytes are passed on, never lost.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
    /// use shakedown::proxy::{FaultProxy, Toxic};
    /// let proxy = FaultProxy::start().await?;
    /// let link = proxy.link("a", "127.0.0.1:9").await?;
    /// let name = link.add(Toxic::noop().named("quiet")).await?.forget();
    /// link.remove(&name).await?;
    /// assert!(link.remove(&name).await.is_err());
    /// # proxy.shutdown().await; Ok(()) }
    /// ```
    pub async fn remove(&self, name: &str) -> Result<(), ProxyError> {
        self.collection()?.remove_toxic(&self.name, name)
    }

    /// Stops listening and closes every connection (Toxiproxy's "down").
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
    /// let proxy = shakedown::proxy::FaultProxy::start().await?;
    /// let link = proxy.link("a", "127.0.0.1:9").await?;
    /// link.disable().await?;
    /// assert!(tokio::net::TcpStream::connect(link.listen_addr()).await.is_err());
    /// link.enable().await?;
    /// assert!(tokio::net::TcpStream::connect(link.listen_addr()).await.is_ok());
    /// # proxy.shutdown().await; Ok(()) }
    /// ```
    pub async fn disable(&self) -> Result<(), ProxyError> {
        self.collection()?
            .update(
                &self.name,
                ProxyPatch {
                    enabled: Some(false),
                    ..ProxyPatch::default()
                },
            )
            .map(drop)
    }

    /// Listens again, on the same address.
    pub async fn enable(&self) -> Result<(), ProxyError> {
        self.collection()?
            .update(
                &self.name,
                ProxyPatch {
                    enabled: Some(true),
                    ..ProxyPatch::default()
                },
            )
            .map(drop)
    }

    /// Removes every toxic and enables the proxy.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
    /// use shakedown::proxy::{FaultProxy, Toxic};
    /// let proxy = FaultProxy::start().await?;
    /// let link = proxy.link("a", "127.0.0.1:9").await?;
    /// link.add(Toxic::limit_data(1)).await?.forget();
    /// link.reset().await?;
    /// assert!(link.toxics()?.is_empty());
    /// # proxy.shutdown().await; Ok(()) }
    /// ```
    pub async fn reset(&self) -> Result<(), ProxyError> {
        self.collection()?.clear_toxics(&self.name)?;
        self.enable().await
    }

    /// How many client connections this proxy has accepted.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let proxy = shakedown::proxy::FaultProxy::start().await?;
    /// let link = proxy.link("a", "127.0.0.1:9").await?;
    /// let _client = tokio::net::TcpStream::connect(link.listen_addr()).await?;
    /// // Accepting happens on the proxy's task; wait for it.
    /// for _ in 0..500 {
    ///     if link.accepted_connections()? == 1 { break }
    ///     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    /// }
    /// assert_eq!(link.accepted_connections()?, 1);
    /// # proxy.shutdown().await; Ok(()) }
    /// ```
    pub fn accepted_connections(&self) -> Result<u64, ProxyError> {
        self.collection()?.accepted(&self.name)
    }
}

/// Keeps a toxic attached; dropping it removes the toxic.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), shakedown::proxy::ProxyError> {
/// use shakedown::proxy::{FaultProxy, Toxic};
/// let proxy = FaultProxy::start().await?;
/// let link = proxy.link("db", "127.0.0.1:9").await?;
/// let name = link.add(Toxic::limit_data(10)).await?.forget();
/// assert_eq!(link.toxics()?.len(), 1);
/// link.remove(&name).await?;
/// # proxy.shutdown().await; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard removes the toxic at once; bind it (`let _toxic = ...`) or call .forget()"]
pub struct ToxicGuard {
    collection: Weak<Collection>,
    proxy: String,
    name: String,
    armed: bool,
}

impl ToxicGuard {
    /// The toxic's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keeps the toxic attached after the guard is gone; returns its name.
    pub fn forget(mut self) -> String {
        self.armed = false;
        std::mem::take(&mut self.name)
    }

    /// Removes the toxic now, reporting errors (drop ignores them).
    pub fn remove(mut self) -> Result<(), ProxyError> {
        self.armed = false;
        let collection = self.collection.upgrade().ok_or(ProxyError::ShutDown)?;
        collection.remove_toxic(&self.proxy, &self.name)
    }
}

impl Drop for ToxicGuard {
    fn drop(&mut self) {
        if self.armed {
            if let Some(c) = self.collection.upgrade() {
                // Already removed (by name, /reset or the API) is fine.
                let _ = c.remove_toxic(&self.proxy, &self.name);
            }
        }
    }
}
