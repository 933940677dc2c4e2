//! [`Link`]: one proxied upstream as the Rust API sees it, and [`ToxicGuard`], a toxic attached
//! to it that is removed when the guard is dropped.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use crate::collection::{Collection, ProxyInfo, ProxyPatch};
use crate::error::ProxyError;
use crate::spec::{Direction, ToxicConfig, ToxicSpec, Toxicity};
use crate::toxic::Toxic;

/// One proxied upstream: a listen address that clients connect to, and its toxics.
///
/// Dropping a `Link` leaves the proxy running; it lives until
/// [`FaultProxy::shutdown`](crate::FaultProxy::shutdown) or an API `DELETE`.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
/// use std::time::Duration;
/// use shakedown_proxy::{FaultProxy, Toxic};
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
    pub(crate) fn from_info(
        collection: &Arc<Collection>,
        info: &ProxyInfo,
    ) -> Result<Link, ProxyError> {
        let listen_addr = crate::collection::resolve(&info.listen)?;
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
            link: self.name.clone(),
            config,
            armed: true,
        })
    }

    /// Changes a toxic's toxicity and attributes (its type and stream stay); connections keep
    /// their state (e.g. limit_data's counter).
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
    /// use std::time::Duration;
    /// use shakedown_proxy::{FaultProxy, Toxic, ToxicSpec};
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
    /// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
    /// use shakedown_proxy::{FaultProxy, Toxic};
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
    /// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
    /// let proxy = shakedown_proxy::FaultProxy::start().await?;
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
    /// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
    /// use shakedown_proxy::{FaultProxy, Toxic};
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
    /// let proxy = shakedown_proxy::FaultProxy::start().await?;
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
/// It also describes the toxic as it was attached ([`ToxicGuard::link`], [`ToxicGuard::name`],
/// [`ToxicGuard::direction`], [`ToxicGuard::toxicity`], [`ToxicGuard::spec`], or all of them as
/// [`ToxicGuard::config`]), e.g. for a fault timeline. A later [`Link::update`] does not change
/// this description; [`Link::toxics`] shows the current one.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
/// use std::time::Duration;
/// use shakedown_proxy::{Direction, FaultProxy, Toxic, ToxicSpec, Toxicity};
/// let proxy = FaultProxy::start().await?;
/// let link = proxy.link("db", "127.0.0.1:9").await?;
/// let guard = link.add(Toxic::latency(Duration::from_millis(5)).upstream()).await?;
/// assert_eq!((guard.link(), guard.name()), ("db", "latency_upstream"));
/// assert_eq!(guard.direction(), Direction::Upstream);
/// assert_eq!(guard.toxicity(), Toxicity::ALWAYS);
/// assert_eq!(guard.spec(), &ToxicSpec::Latency { latency: Duration::from_millis(5), jitter: Duration::ZERO });
/// assert_eq!(&link.toxics()?[0], guard.config());
/// let name = guard.forget();
/// assert_eq!(link.toxics()?.len(), 1);
/// link.remove(&name).await?;
/// # proxy.shutdown().await; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard removes the toxic at once; bind it (`let _toxic = ...`) or call .forget()"]
pub struct ToxicGuard {
    collection: Weak<Collection>,
    link: String,
    config: ToxicConfig,
    armed: bool,
}

impl ToxicGuard {
    /// The name of the link (proxy) the toxic is attached to.
    pub fn link(&self) -> &str {
        &self.link
    }

    /// The toxic's name, unique on its link.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The direction (Toxiproxy's `stream`) it applies to.
    pub fn direction(&self) -> Direction {
        self.config.stream
    }

    /// The probability that it is active on a connection.
    pub fn toxicity(&self) -> Toxicity {
        self.config.toxicity
    }

    /// What it does, typed (serialises with a `type` tag).
    pub fn spec(&self) -> &ToxicSpec {
        &self.config.spec
    }

    /// Name, direction, toxicity and spec together, as the proxy stored them on attach.
    pub fn config(&self) -> &ToxicConfig {
        &self.config
    }

    /// Keeps the toxic attached after the guard is gone; returns its name.
    pub fn forget(mut self) -> String {
        self.armed = false;
        std::mem::take(&mut self.config.name)
    }

    /// Removes the toxic now, reporting errors (drop ignores them).
    pub fn remove(mut self) -> Result<(), ProxyError> {
        self.armed = false;
        let collection = self.collection.upgrade().ok_or(ProxyError::ShutDown)?;
        collection.remove_toxic(&self.link, &self.config.name)
    }
}

impl Drop for ToxicGuard {
    fn drop(&mut self) {
        if self.armed {
            if let Some(c) = self.collection.upgrade() {
                // Already removed (by name, /reset or the API) is fine.
                let _ = c.remove_toxic(&self.link, &self.config.name);
            }
        }
    }
}
