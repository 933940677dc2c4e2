//! The set of proxies a server holds, and every operation on it.
//!
//! Both the HTTP API and the embedded Rust API call these methods. They take a short lock,
//! never wait for a connection, and publish toxic changes to live connections through each
//! proxy's `watch` channel.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::chain::{ChainEntry, Chains};
use crate::connection::Counters;
use crate::error::ProxyError;
use crate::listener;
use crate::rng;
use crate::signal::{self, Signals};
use crate::spec::{Direction, ToxicConfig};

/// A proxy as the API reports it.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), shakedown_proxy::ProxyError> {
/// let proxy = shakedown_proxy::FaultProxy::start().await?;
/// let link = proxy.link("db", "127.0.0.1:9").await?;
/// let info = link.info()?;
/// assert_eq!(info.name, "db");
/// assert!(info.enabled);
/// # proxy.shutdown().await; Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyInfo {
    /// Unique name.
    pub name: String,
    /// The listen address: resolved while listening, as given otherwise.
    pub listen: String,
    /// The upstream address, as given.
    pub upstream: String,
    /// Whether it is listening.
    pub enabled: bool,
    /// The seed of its toxics' randomness.
    pub seed: u64,
    /// Its toxics: upstream ones first, then downstream, each in insertion order.
    pub toxics: Vec<ToxicConfig>,
}

/// What creating a proxy takes (the fields of Toxiproxy's `POST /proxies` body).
///
/// ```
/// let new = shakedown_proxy::NewProxy {
///     name: "db".into(),
///     listen: String::new(), // 127.0.0.1:0
///     upstream: "127.0.0.1:5432".into(),
///     enabled: true,
///     seed: Some(7),
/// };
/// assert!(new.listen.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProxy {
    /// Unique name (required).
    pub name: String,
    /// Listen address; empty means `127.0.0.1:0` (an ephemeral port).
    pub listen: String,
    /// Upstream address (required), dialled for every client connection.
    pub upstream: String,
    /// Start listening at once.
    pub enabled: bool,
    /// Seed for this proxy's randomness; derived from the server seed and name if absent.
    pub seed: Option<u64>,
}

/// A partial update of a proxy (Toxiproxy's `PATCH /proxies/{proxy}` body).
///
/// ```
/// let patch = shakedown_proxy::ProxyPatch { enabled: Some(false), ..Default::default() };
/// assert!(patch.listen.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyPatch {
    /// New listen address (restarts the proxy if it differs).
    pub listen: Option<String>,
    /// New upstream (restarts the proxy if it differs).
    pub upstream: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

#[derive(Debug)]
struct Running {
    cancel: CancellationToken,
    addr: SocketAddr,
    /// A second handle on the listening socket, so `stop` can end listening at once (the
    /// accept task closes its own handle a moment later).
    control: socket2::Socket,
}

#[derive(Debug)]
struct ProxyState {
    name: String,
    listen: String,
    upstream: String,
    seed: u64,
    chains: Chains,
    chains_tx: watch::Sender<Arc<Chains>>,
    running: Option<Running>,
    counters: Arc<Counters>,
    connections: Arc<AtomicU64>,
    signals: Arc<Signals>,
}

impl ProxyState {
    fn info(&self) -> ProxyInfo {
        ProxyInfo {
            name: self.name.clone(),
            listen: match &self.running {
                Some(r) => r.addr.to_string(),
                None => self.listen.clone(),
            },
            upstream: self.upstream.clone(),
            enabled: self.running.is_some(),
            seed: self.seed,
            toxics: self
                .chains
                .upstream
                .iter()
                .chain(&self.chains.downstream)
                .map(|e| e.config.clone())
                .collect(),
        }
    }

    fn publish(&self) {
        self.chains_tx.send_replace(Arc::new(self.chains.clone()));
        self.signals.notify_all(signal::CHANGED);
    }

    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            // Cancel first: a connection registered after the notification below sees the
            // token cancelled when it starts.
            running.cancel.cancel();
            // Stop listening now, so that an enable right after a disable can bind the same
            // port again (the old socket leaves LISTEN; with SO_REUSEADDR it no longer blocks).
            let _ = running.control.shutdown(std::net::Shutdown::Both);
            self.signals.notify_all(signal::CLOSED);
        }
    }

    fn start(&mut self, runtime: &Handle, zero_copy: bool) -> Result<(), ProxyError> {
        if self.running.is_some() {
            return Ok(());
        }
        let addr = resolve(&self.listen)?;
        let std_listener = bind_listener(addr).map_err(|source| ProxyError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let bound = std_listener
            .local_addr()
            .map_err(|source| ProxyError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        std_listener
            .set_nonblocking(true)
            .map_err(|source| ProxyError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let control = std_listener
            .try_clone()
            .map(socket2::Socket::from)
            .map_err(|source| ProxyError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let cancel = CancellationToken::new();
        let task = listener::AcceptLoop {
            upstream: self.upstream.clone(),
            chains: self.chains_tx.subscribe(),
            cancel: cancel.clone(),
            seed: self.seed,
            counters: self.counters.clone(),
            connections: self.connections.clone(),
            signals: self.signals.clone(),
            zero_copy,
        };
        let _guard = runtime.enter();
        let listener =
            tokio::net::TcpListener::from_std(std_listener).map_err(|source| ProxyError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        runtime.spawn(task.run(listener));
        // Like Toxiproxy, remember the real address so a restart binds the same port.
        self.listen = bound.to_string();
        self.running = Some(Running {
            cancel,
            addr: bound,
            control,
        });
        Ok(())
    }

    fn chain_mut(&mut self, direction: Direction) -> &mut Vec<ChainEntry> {
        match direction {
            Direction::Upstream => &mut self.chains.upstream,
            Direction::Downstream => &mut self.chains.downstream,
        }
    }

    fn find_toxic(&self, name: &str) -> Option<&ChainEntry> {
        self.chains
            .upstream
            .iter()
            .chain(&self.chains.downstream)
            .find(|e| e.config.name == name)
    }
}

/// Binds like Go's `net.Listen`: `SO_REUSEADDR` (a restart can reuse a port in TIME_WAIT,
/// while a port with a live listener still fails) and the largest backlog the kernel allows
/// (`somaxconn` caps it), so a burst of connects does not overflow into SYN cookies.
fn bind_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// Resolves `host:port` (an empty string means `127.0.0.1:0`).
pub(crate) fn resolve(addr: &str) -> Result<SocketAddr, ProxyError> {
    let addr = if addr.is_empty() { "127.0.0.1:0" } else { addr };
    let mut addrs = addr.to_socket_addrs().map_err(|e| ProxyError::Resolve {
        addr: addr.to_string(),
        detail: crate::error::os_text(&e),
    })?;
    addrs.next().ok_or_else(|| ProxyError::Resolve {
        addr: addr.to_string(),
        detail: "no addresses found".into(),
    })
}

/// Byte counters of one proxy, for `/metrics`.
#[derive(Debug, Clone)]
pub(crate) struct ProxyCounters {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub received: [u64; 2],
    pub sent: [u64; 2],
    /// HTTP requests seen while the proxy had an HTTP toxic.
    pub http_requests: u64,
    /// Requests each HTTP toxic acted on: toxic name, action, count.
    pub http_actions: Vec<(String, &'static str, u64)>,
}

/// All proxies of one server.
#[derive(Debug)]
pub(crate) struct Collection {
    proxies: Mutex<BTreeMap<String, ProxyState>>,
    runtime: Handle,
    server_seed: Option<u64>,
    zero_copy: bool,
    next_id: AtomicU64,
}

impl Collection {
    pub(crate) fn new(runtime: Handle, server_seed: Option<u64>, zero_copy: bool) -> Self {
        Collection {
            proxies: Mutex::new(BTreeMap::new()),
            runtime,
            server_seed,
            zero_copy,
            next_id: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, ProxyState>> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters more than refusing service, so a poisoned lock is simply taken over.
        self.proxies.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn list(&self) -> Vec<ProxyInfo> {
        self.lock().values().map(ProxyState::info).collect()
    }

    pub(crate) fn counters(&self) -> Vec<ProxyCounters> {
        self.lock()
            .values()
            .map(|p| ProxyCounters {
                name: p.name.clone(),
                listen: p.info().listen,
                upstream: p.upstream.clone(),
                received: [0, 1].map(|i| p.counters.received[i].load(Ordering::Relaxed)),
                sent: [0, 1].map(|i| p.counters.sent[i].load(Ordering::Relaxed)),
                http_requests: p.counters.http_requests.load(Ordering::Relaxed),
                http_actions: p
                    .counters
                    .http_actions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .map(|((name, action), n)| (name.clone(), *action, *n))
                    .collect(),
            })
            .collect()
    }

    pub(crate) fn get(&self, name: &str) -> Result<ProxyInfo, ProxyError> {
        self.lock()
            .get(name)
            .map(ProxyState::info)
            .ok_or_else(|| not_found(name))
    }

    fn new_state(&self, new: &NewProxy) -> ProxyState {
        let seed = new.seed.unwrap_or_else(|| match self.server_seed {
            Some(s) => rng::proxy_seed(s, &new.name),
            None => rng::fresh_seed(),
        });
        let chains = Chains::default();
        let (chains_tx, _) = watch::channel(Arc::new(chains.clone()));
        ProxyState {
            name: new.name.clone(),
            listen: if new.listen.is_empty() {
                "127.0.0.1:0".into()
            } else {
                new.listen.clone()
            },
            upstream: new.upstream.clone(),
            seed,
            chains,
            chains_tx,
            running: None,
            counters: Arc::new(Counters::default()),
            connections: Arc::new(AtomicU64::new(0)),
            signals: Arc::new(Signals::default()),
        }
    }

    fn check_new(new: &NewProxy, at: Option<usize>) -> Result<(), ProxyError> {
        if new.name.is_empty() {
            return Err(ProxyError::MissingField { field: "name", at });
        }
        if new.upstream.is_empty() {
            return Err(ProxyError::MissingField {
                field: "upstream",
                at,
            });
        }
        Ok(())
    }

    pub(crate) fn create(&self, new: NewProxy) -> Result<ProxyInfo, ProxyError> {
        Self::check_new(&new, None)?;
        let mut proxies = self.lock();
        if proxies.contains_key(&new.name) {
            return Err(ProxyError::ProxyExists { name: new.name });
        }
        let mut state = self.new_state(&new);
        if new.enabled {
            state.start(&self.runtime, self.zero_copy)?;
        }
        let info = state.info();
        proxies.insert(new.name, state);
        Ok(info)
    }

    /// Toxiproxy's `/populate`: returns what was created or kept, and the error that stopped it.
    pub(crate) fn populate(&self, list: Vec<NewProxy>) -> (Vec<ProxyInfo>, Option<ProxyError>) {
        for (i, new) in list.iter().enumerate() {
            if let Err(e) = Self::check_new(new, Some(i + 1)) {
                return (Vec::new(), Some(e));
            }
        }
        let mut out = Vec::new();
        let mut proxies = self.lock();
        for new in list {
            if let Some(existing) = proxies.get(&new.name) {
                let same_listen = match (resolve(&existing.listen), resolve(&new.listen)) {
                    (Ok(a), Ok(b)) => {
                        a == b || existing.running.as_ref().is_some_and(|r| r.addr == b)
                    }
                    _ => existing.listen == new.listen,
                };
                if same_listen && existing.upstream == new.upstream {
                    out.push(existing.info());
                    continue;
                }
                if let Some(mut old) = proxies.remove(&new.name) {
                    old.stop();
                }
            }
            let mut state = self.new_state(&new);
            if new.enabled {
                if let Err(e) = state.start(&self.runtime, self.zero_copy) {
                    return (out, Some(e));
                }
            }
            out.push(state.info());
            proxies.insert(new.name, state);
        }
        (out, None)
    }

    pub(crate) fn update(&self, name: &str, patch: ProxyPatch) -> Result<ProxyInfo, ProxyError> {
        let mut proxies = self.lock();
        let state = proxies.get_mut(name).ok_or_else(|| not_found(name))?;
        let mut restart = false;
        if let Some(listen) = patch.listen {
            let current = state.running.as_ref().map(|r| r.addr);
            let differs = match (current, resolve(&listen)) {
                (Some(cur), Ok(new)) => !(cur == new || (new.port() == 0 && cur.ip() == new.ip())),
                _ => listen != state.listen,
            };
            if differs {
                state.listen = listen;
                restart = true;
            }
        }
        if let Some(upstream) = patch.upstream {
            if upstream != state.upstream {
                state.upstream = upstream;
                restart = true;
            }
        }
        let want = patch.enabled.unwrap_or(state.running.is_some());
        if restart || !want {
            state.stop();
        }
        if want {
            state.start(&self.runtime, self.zero_copy)?;
        }
        Ok(state.info())
    }

    pub(crate) fn delete(&self, name: &str) -> Result<(), ProxyError> {
        let mut state = self.lock().remove(name).ok_or_else(|| not_found(name))?;
        state.stop();
        Ok(())
    }

    pub(crate) fn toxics(&self, proxy: &str) -> Result<Vec<ToxicConfig>, ProxyError> {
        Ok(self.get(proxy)?.toxics)
    }

    pub(crate) fn add_toxic(
        &self,
        proxy: &str,
        config: ToxicConfig,
    ) -> Result<ToxicConfig, ProxyError> {
        config.validate()?;
        let id = self.id();
        let mut proxies = self.lock();
        let state = proxies.get_mut(proxy).ok_or_else(|| not_found(proxy))?;
        if state.find_toxic(&config.name).is_some() {
            return Err(ProxyError::ToxicExists { name: config.name });
        }
        state.chain_mut(config.stream).push(ChainEntry {
            id,
            version: id,
            config: config.clone(),
        });
        state.publish();
        Ok(config)
    }

    pub(crate) fn get_toxic(&self, proxy: &str, name: &str) -> Result<ToxicConfig, ProxyError> {
        let proxies = self.lock();
        let state = proxies.get(proxy).ok_or_else(|| not_found(proxy))?;
        state
            .find_toxic(name)
            .map(|e| e.config.clone())
            .ok_or_else(|| toxic_not_found(proxy, name))
    }

    /// Replaces a toxic's toxicity and attributes with what `change` makes of the current ones.
    /// Its name, type and stream stay.
    pub(crate) fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        change: impl FnOnce(&ToxicConfig) -> Result<ToxicConfig, ProxyError>,
    ) -> Result<ToxicConfig, ProxyError> {
        let version = self.id();
        let mut proxies = self.lock();
        let state = proxies.get_mut(proxy).ok_or_else(|| not_found(proxy))?;
        let entry = state
            .chains
            .upstream
            .iter_mut()
            .chain(state.chains.downstream.iter_mut())
            .find(|e| e.config.name == name)
            .ok_or_else(|| toxic_not_found(proxy, name))?;
        let mut updated = change(&entry.config)?;
        updated.spec.validate()?;
        if updated.spec.type_name() != entry.config.spec.type_name() {
            return Err(ProxyError::InvalidAttribute {
                attribute: "type".into(),
                detail: format!(
                    "toxic `{name}` is a {} toxic and cannot become {}; remove it and add a new one",
                    entry.config.spec.type_name(),
                    updated.spec.type_name()
                ),
            });
        }
        updated.name = entry.config.name.clone();
        updated.stream = entry.config.stream;
        entry.config = updated.clone();
        entry.version = version;
        state.publish();
        Ok(updated)
    }

    pub(crate) fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), ProxyError> {
        let mut proxies = self.lock();
        let state = proxies.get_mut(proxy).ok_or_else(|| not_found(proxy))?;
        let before = state.chains.upstream.len() + state.chains.downstream.len();
        state.chains.upstream.retain(|e| e.config.name != name);
        state.chains.downstream.retain(|e| e.config.name != name);
        if state.chains.upstream.len() + state.chains.downstream.len() == before {
            return Err(toxic_not_found(proxy, name));
        }
        state.publish();
        Ok(())
    }

    /// Removes every toxic of one proxy.
    pub(crate) fn clear_toxics(&self, proxy: &str) -> Result<(), ProxyError> {
        let mut proxies = self.lock();
        let state = proxies.get_mut(proxy).ok_or_else(|| not_found(proxy))?;
        state.chains = Chains::default();
        state.publish();
        Ok(())
    }

    /// Toxiproxy's `/reset`: every proxy enabled, every toxic removed; proxies stay.
    pub(crate) fn reset(&self) -> Result<(), ProxyError> {
        let mut proxies = self.lock();
        for state in proxies.values_mut() {
            state.chains = Chains::default();
            state.publish();
            state.start(&self.runtime, self.zero_copy)?;
        }
        Ok(())
    }

    /// Stops every proxy and forgets them.
    pub(crate) fn shutdown(&self) {
        let mut proxies = self.lock();
        for state in proxies.values_mut() {
            state.stop();
        }
        proxies.clear();
    }

    /// How many client connections a proxy has accepted so far.
    pub(crate) fn accepted(&self, proxy: &str) -> Result<u64, ProxyError> {
        self.lock()
            .get(proxy)
            .map(|p| p.connections.load(Ordering::Relaxed))
            .ok_or_else(|| not_found(proxy))
    }
}

fn not_found(name: &str) -> ProxyError {
    ProxyError::ProxyNotFound { name: name.into() }
}

fn toxic_not_found(proxy: &str, name: &str) -> ProxyError {
    ProxyError::ToxicNotFound {
        proxy: proxy.into(),
        name: name.into(),
    }
}
