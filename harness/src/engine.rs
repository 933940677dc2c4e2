//! Where the Docker engine is, seen from the test process: the host that published ports are
//! dialled on, and the address the engine binds them to. Every node (and so every fixture)
//! takes both from here, through its [`Topology`](crate::Topology).
//!
//! | the engine | dialled on | bound to (default) |
//! | --- | --- | --- |
//! | local socket (`DOCKER_HOST` unset or `unix://…`) | `127.0.0.1` | `127.0.0.1` |
//! | `DOCKER_HOST=tcp://127.0.0.1:P` (a forwarded socket) | `127.0.0.1` | `127.0.0.1` (any loopback address: itself) |
//! | `DOCKER_HOST=tcp://H:P` (a remote machine, GitLab's `docker:dind` service) | `H` (resolved) | `0.0.0.0` |
//! | `SHAKEDOWN_ENGINE_HOST=H` (or testcontainers' `TESTCONTAINERS_HOST_OVERRIDE`) | `H` | `0.0.0.0` unless `H` is loopback |
//!
//! `SHAKEDOWN_BIND_ADDR` (an IP address) replaces the bound address. A remote engine must bind
//! its ports where the test process can reach them, so the default for one is every interface
//! of the engine's machine: anyone who can reach that machine reaches the test containers while
//! they run. Bind to one interface with `SHAKEDOWN_BIND_ADDR` where that matters.
//!
//! A local socket mounted into a CI job's container (docker-outside-of-docker) is a remote engine
//! in disguise: published ports are on the *host's* loopback, which the job cannot reach. Set
//! `SHAKEDOWN_ENGINE_HOST` to the host's address seen from the job (often the bridge gateway,
//! `172.17.0.1`); the bind address then defaults to `0.0.0.0`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::error::{Error, Result};

/// The variable naming the host published ports are dialled on (overrides `DOCKER_HOST`).
pub const ENGINE_HOST_VAR: &str = "SHAKEDOWN_ENGINE_HOST";
/// testcontainers' name for the same override; honoured when [`ENGINE_HOST_VAR`] is unset.
pub const TESTCONTAINERS_HOST_VAR: &str = "TESTCONTAINERS_HOST_OVERRIDE";
/// The variable naming the address published ports are bound to on the engine's machine.
pub const BIND_ADDR_VAR: &str = "SHAKEDOWN_BIND_ADDR";

/// The engine's addresses, as the test process uses them.
///
/// ```
/// use shakedown::engine::Engine;
/// let local = Engine::from_values(None, None, None).unwrap();
/// assert_eq!(local.host().to_string(), "127.0.0.1");
/// assert!(!local.is_remote());
/// let dind = Engine::from_values(Some("tcp://10.0.0.7:2375"), None, None).unwrap();
/// assert_eq!(dind.addr(5432).to_string(), "10.0.0.7:5432");
/// assert_eq!(dind.bind_addr().to_string(), "0.0.0.0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engine {
    host: IpAddr,
    bind: IpAddr,
}

impl Engine {
    /// Reads `SHAKEDOWN_ENGINE_HOST` (or `TESTCONTAINERS_HOST_OVERRIDE`), `DOCKER_HOST` and
    /// `SHAKEDOWN_BIND_ADDR`, resolving a host name (`tcp://docker:2375`) to its address.
    pub async fn from_env() -> Result<Engine> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let host_override = var(ENGINE_HOST_VAR)
            .map(|v| (ENGINE_HOST_VAR, v))
            .or_else(|| var(TESTCONTAINERS_HOST_VAR).map(|v| (TESTCONTAINERS_HOST_VAR, v)));
        let target = dial_target(var("DOCKER_HOST").as_deref(), host_override)?;
        Engine::resolve(target, var(BIND_ADDR_VAR).as_deref()).await
    }

    async fn resolve(target: Target, bind: Option<&str>) -> Result<Engine> {
        let (var, value, name) = match target {
            Target::Ip(ip) => return Engine::with_host(ip, bind),
            Target::Name { var, value, name } => (var, value, name),
        };
        let err = |detail: String| Error::EngineAddress {
            var,
            value: value.clone(),
            detail,
        };
        let resolved = tokio::net::lookup_host((name.as_str(), 0))
            .await
            .map_err(|e| err(format!("cannot resolve host `{name}`: {e}")))?
            .map(|a| a.ip())
            .collect::<Vec<_>>();
        // Ports are published on IPv4 (`get_host_port_ipv4`): prefer an IPv4 address.
        let ip = resolved
            .iter()
            .find(|ip| ip.is_ipv4())
            .or(resolved.first())
            .copied()
            .ok_or_else(|| err(format!("host `{name}` resolves to no address")))?;
        Engine::with_host(ip, bind)
    }

    /// The engine described by these values of `DOCKER_HOST`, `SHAKEDOWN_ENGINE_HOST` and
    /// `SHAKEDOWN_BIND_ADDR`, without touching the environment; host names must be IP addresses
    /// or `localhost` here (no lookup).
    pub fn from_values(
        docker_host: Option<&str>,
        engine_host: Option<&str>,
        bind_addr: Option<&str>,
    ) -> Result<Engine> {
        let host_override = engine_host.map(|v| (ENGINE_HOST_VAR, v.to_string()));
        match dial_target(docker_host, host_override)? {
            Target::Ip(ip) => Engine::with_host(ip, bind_addr),
            Target::Name { var, value, name } => Err(Error::EngineAddress {
                var,
                value,
                detail: format!("`{name}` is a host name; use Engine::from_env to resolve it"),
            }),
        }
    }

    fn with_host(host: IpAddr, bind: Option<&str>) -> Result<Engine> {
        // Ports are published on IPv4: IPv6 loopback means IPv4's.
        let host = match host {
            IpAddr::V6(v6) if v6.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            other => other,
        };
        let bind = match bind {
            Some(b) => b
                .trim()
                .parse::<IpAddr>()
                .map_err(|e| Error::EngineAddress {
                    var: BIND_ADDR_VAR,
                    value: b.to_string(),
                    detail: format!(
                        "{e} (give an IP address: 127.0.0.1, 0.0.0.0 or one interface's)"
                    ),
                })?,
            // The same loopback address it is dialled on (127.0.0.2 is not 127.0.0.1's port).
            None if host.is_loopback() => host,
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        Ok(Engine { host, bind })
    }

    /// The address the test process dials published ports on.
    pub fn host(&self) -> IpAddr {
        self.host
    }

    /// The address published ports are bound to on the engine's machine.
    pub fn bind_addr(&self) -> IpAddr {
        self.bind
    }

    /// Whether the engine's ports are reached over the network rather than on loopback.
    pub fn is_remote(&self) -> bool {
        !self.host.is_loopback()
    }

    /// `<host>:<port>`: where the test process reaches a port published on `port`.
    pub fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.host, port)
    }
}

enum Target {
    Ip(IpAddr),
    Name {
        var: &'static str,
        value: String,
        name: String,
    },
}

/// What to dial: the override if given, else `DOCKER_HOST`'s host for a TCP engine, else loopback.
fn dial_target(
    docker_host: Option<&str>,
    host_override: Option<(&'static str, String)>,
) -> Result<Target> {
    if let Some((var, value)) = host_override {
        let name = value
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        return Ok(named(var, value, name));
    }
    let Some(value) = docker_host.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Target::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    };
    let err = |detail: String| Error::EngineAddress {
        var: "DOCKER_HOST",
        value: value.to_string(),
        detail,
    };
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(err(
            "no scheme (use unix:///var/run/docker.sock or tcp://HOST:PORT)".into(),
        ));
    };
    match scheme {
        "unix" | "npipe" => Ok(Target::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))),
        "tcp" | "http" | "https" => {
            let authority = rest.split('/').next().unwrap_or_default();
            let authority = authority.rsplit('@').next().unwrap_or_default();
            let host = if let Some(v6) = authority.strip_prefix('[') {
                v6.split(']').next().unwrap_or_default()
            } else {
                authority.split(':').next().unwrap_or_default()
            };
            if host.is_empty() {
                return Err(err("no host (use tcp://HOST:PORT)".into()));
            }
            Ok(named("DOCKER_HOST", value.to_string(), host.to_string()))
        }
        "ssh" => Err(err(
            "ssh:// engines are not supported by the Docker client shakedown uses; forward the \
             socket (`ssh -NL 2375:/var/run/docker.sock HOST`) and use tcp://127.0.0.1:2375 with \
             SHAKEDOWN_ENGINE_HOST=HOST"
                .into(),
        )),
        other => Err(err(format!(
            "unknown scheme `{other}` (expected unix, npipe, tcp, http or https)"
        ))),
    }
}

fn named(var: &'static str, value: String, name: String) -> Target {
    if name.eq_ignore_ascii_case("localhost") {
        return Target::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    match name.parse::<IpAddr>() {
        Ok(ip) => Target::Ip(ip),
        Err(_) => Target::Name { var, value, name },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(
        docker_host: Option<&str>,
        host: Option<&str>,
        bind: Option<&str>,
    ) -> (String, String) {
        let e = Engine::from_values(docker_host, host, bind).unwrap();
        (e.host().to_string(), e.bind_addr().to_string())
    }

    #[test]
    fn a_local_socket_is_dialled_and_bound_on_loopback() {
        let local = ("127.0.0.1".to_string(), "127.0.0.1".to_string());
        assert_eq!(engine(None, None, None), local);
        assert_eq!(
            engine(Some("unix:///var/run/docker.sock"), None, None),
            local
        );
        assert_eq!(engine(Some("  "), None, None), local);
        assert!(!Engine::from_values(None, None, None).unwrap().is_remote());
    }

    #[test]
    fn a_tcp_engine_is_dialled_on_its_host_and_binds_every_interface() {
        let remote = ("10.1.2.3".to_string(), "0.0.0.0".to_string());
        assert_eq!(engine(Some("tcp://10.1.2.3:2375"), None, None), remote);
        assert_eq!(engine(Some("https://10.1.2.3:2376/"), None, None), remote);
        assert_eq!(
            engine(Some("tcp://[fd00::7]:2375"), None, None),
            ("fd00::7".to_string(), "0.0.0.0".to_string())
        );
        assert!(Engine::from_values(Some("tcp://10.1.2.3:2375"), None, None)
            .unwrap()
            .is_remote());
    }

    #[test]
    fn a_tcp_engine_on_loopback_stays_on_loopback() {
        let local = ("127.0.0.1".to_string(), "127.0.0.1".to_string());
        assert_eq!(engine(Some("tcp://127.0.0.1:2375"), None, None), local);
        assert_eq!(engine(Some("tcp://localhost:2375"), None, None), local);
        assert_eq!(engine(Some("tcp://[::1]:2375"), None, None), local);
        let other = ("127.0.0.2".to_string(), "127.0.0.2".to_string());
        assert_eq!(engine(Some("tcp://127.0.0.2:2375"), None, None), other);
    }

    #[test]
    fn the_overrides_win() {
        assert_eq!(
            engine(
                Some("unix:///var/run/docker.sock"),
                Some("172.17.0.1"),
                None
            ),
            ("172.17.0.1".to_string(), "0.0.0.0".to_string())
        );
        assert_eq!(
            engine(Some("tcp://10.1.2.3:2375"), None, Some("10.1.2.3")),
            ("10.1.2.3".to_string(), "10.1.2.3".to_string())
        );
        assert_eq!(
            engine(None, Some("127.0.0.2"), Some("0.0.0.0")),
            ("127.0.0.2".to_string(), "0.0.0.0".to_string())
        );
    }

    #[test]
    fn bad_values_say_which_variable_and_what_to_write() {
        let err = |d: Option<&str>, h: Option<&str>, b: Option<&str>| {
            Engine::from_values(d, h, b).unwrap_err().to_string()
        };
        insta::assert_snapshot!(err(Some("10.1.2.3:2375"), None, None), @"DOCKER_HOST=`10.1.2.3:2375` cannot be used: no scheme (use unix:///var/run/docker.sock or tcp://HOST:PORT)");
        insta::assert_snapshot!(err(Some("ftp://x"), None, None), @"DOCKER_HOST=`ftp://x` cannot be used: unknown scheme `ftp` (expected unix, npipe, tcp, http or https)");
        insta::assert_snapshot!(err(Some("tcp://:2375"), None, None), @"DOCKER_HOST=`tcp://:2375` cannot be used: no host (use tcp://HOST:PORT)");
        insta::assert_snapshot!(err(None, None, Some("everywhere")), @"SHAKEDOWN_BIND_ADDR=`everywhere` cannot be used: invalid IP address syntax (give an IP address: 127.0.0.1, 0.0.0.0 or one interface's)");
        assert!(err(Some("ssh://me@box"), None, None).contains("ssh -NL"));
    }

    #[tokio::test]
    async fn a_host_name_that_does_not_resolve_is_a_clear_error() {
        let target = dial_target(Some("tcp://docker.invalid:2375"), None).unwrap();
        assert!(matches!(target, Target::Name { ref name, .. } if name == "docker.invalid"));
        let err = Engine::resolve(target, None).await.unwrap_err().to_string();
        assert!(
            err.starts_with("DOCKER_HOST=`tcp://docker.invalid:2375` cannot be used: cannot resolve host `docker.invalid`"),
            "{err}"
        );
        let sync = Engine::from_values(Some("tcp://docker.invalid:2375"), None, None);
        assert!(sync.unwrap_err().to_string().contains("host name"));
    }
}
