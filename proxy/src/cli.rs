//! Feature `cli`: the fault proxy as a standalone Toxiproxy-compatible server, the
//! `shakedown-proxy` binary and the `shakedown proxy` command.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::ProxyError;
use crate::fault_proxy::FaultProxy;

/// Arguments of `shakedown-proxy` (and `shakedown proxy`), the flags of `toxiproxy-server`.
///
/// ```
/// use clap::Parser;
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     proxy: shakedown_proxy::ProxyArgs,
/// }
/// let cli = Cli::parse_from(["shakedown", "--port", "8475", "--seed", "7"]);
/// assert_eq!(cli.proxy.host, "127.0.0.1");
/// assert_eq!(cli.proxy.port, 8475);
/// assert_eq!(cli.proxy.seed, Some(7));
/// ```
#[derive(clap::Args, Debug, Clone)]
pub struct ProxyArgs {
    /// Address the Toxiproxy API listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port of the Toxiproxy API.
    #[arg(long, default_value_t = 8474)]
    pub port: u16,
    /// Toxiproxy populate file: a JSON array of {"name","listen","upstream","enabled"?}.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed for jitter, toxicity rolls, slicing and corrupt (random if absent).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Serves the API until Ctrl-C or SIGTERM, then shuts every proxy down.
///
/// ```no_run
/// # async fn f() -> Result<(), shakedown_proxy::ProxyError> {
/// use clap::Parser;
/// #[derive(Parser)]
/// struct Cli { #[command(flatten)] proxy: shakedown_proxy::ProxyArgs }
/// shakedown_proxy::run(Cli::parse().proxy).await
/// # }
/// ```
pub async fn run(args: ProxyArgs) -> Result<(), ProxyError> {
    let proxy = start(&args).await?;
    eprintln!(
        "shakedown proxy: Toxiproxy API (v{}) on {}",
        crate::api::TOXIPROXY_VERSION,
        proxy.api_url()
    );
    let outcome = wait_for_signal().await;
    proxy.shutdown().await;
    outcome
}

/// Binds the API and loads the config file.
pub(crate) async fn start(args: &ProxyArgs) -> Result<FaultProxy, ProxyError> {
    let addr = api_addr(&args.host, args.port).await?;
    let config = match &args.config {
        Some(path) => Some((
            path,
            std::fs::read(path).map_err(|e| ProxyError::Config {
                path: path.clone(),
                detail: format!("cannot read it: {e}"),
            })?,
        )),
        None => None,
    };
    let proxy = FaultProxy::builder()
        .host(addr.ip())
        .port(addr.port())
        .maybe_seed(args.seed)
        .start()
        .await?;
    if let Some((path, bytes)) = config {
        if let Err(e) = proxy.populate_json(&bytes).await {
            proxy.shutdown().await;
            let message = e.api_message();
            let detail = message
                .strip_prefix("bad request body: ")
                .unwrap_or(&message)
                .to_string();
            return Err(ProxyError::Config {
                path: path.clone(),
                detail,
            });
        }
    }
    Ok(proxy)
}

async fn api_addr(host: &str, port: u16) -> Result<SocketAddr, ProxyError> {
    let mut addrs =
        tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| ProxyError::ApiAddress {
                given: host.to_string(),
                detail: e.to_string(),
            })?;
    addrs.next().ok_or_else(|| ProxyError::ApiAddress {
        given: host.to_string(),
        detail: "no addresses found".into(),
    })
}

async fn wait_for_signal() -> Result<(), ProxyError> {
    let io = |source| ProxyError::Io {
        context: "waiting for Ctrl-C or SIGTERM",
        source,
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).map_err(io)?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(io),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(port: u16, config: Option<PathBuf>) -> ProxyArgs {
        ProxyArgs {
            host: "127.0.0.1".into(),
            port,
            config,
            seed: Some(1),
        }
    }

    #[tokio::test]
    async fn port_in_use_names_the_address_and_the_fix() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = start(&args(port, None)).await.unwrap_err().to_string();
        assert!(
            err.contains(&format!("127.0.0.1:{port}")) && err.contains("--port"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[tokio::test]
    async fn bad_config_file_is_a_clear_error() {
        let tmp = tempfile::Builder::new()
            .prefix("shakedown-proxy-cli-")
            .tempdir()
            .unwrap();
        let dir = tmp.path();
        let bad = dir.join("bad.json");
        std::fs::write(&bad, b"{\"name\": 1").unwrap();
        let err = start(&args(0, Some(bad.clone())))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.json") && err.contains("JSON array"),
            "{err}"
        );
        let missing = dir.join("missing.json");
        let err = start(&args(0, Some(missing)))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
        let good = dir.join("good.json");
        std::fs::write(
            &good,
            br#"[{"name":"a","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}]"#,
        )
        .unwrap();
        let proxy = start(&args(0, Some(good))).await.unwrap();
        assert_eq!(proxy.proxies().len(), 1);
        proxy.shutdown().await;
    }
}
