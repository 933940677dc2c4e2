//! Shared helpers: echo and sink servers, an API client, byte patterns.

use std::net::SocketAddr;
use std::time::Duration;

use shakedown_proxy::FaultProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub type Result<T = ()> = anyhow::Result<T>;

/// An echo server: every connection gets back what it sends; it half-closes after the
/// client's EOF (so half-close through the proxy can be checked).
pub async fn echo_server() -> Result<SocketAddr> {
    let listener = listen_wide()?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = s.set_nodelay(true);
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    Ok(addr)
}

/// A 127.0.0.1 listener with a backlog large enough for a burst of 1,000 connects (a short
/// queue makes the kernel fall back to SYN cookies and drop handshakes under such bursts).
pub fn listen_wide() -> Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind("127.0.0.1:0".parse()?)?;
    Ok(socket.listen(4096)?)
}

/// A server that accepts connections and hands them to the test through a channel.
pub async fn manual_server() -> Result<(SocketAddr, tokio::sync::mpsc::UnboundedReceiver<TcpStream>)>
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            if tx.send(s).is_err() {
                break;
            }
        }
    });
    Ok((addr, rx))
}

/// A free 127.0.0.1 address with nothing listening on it.
pub fn dead_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// The API client.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(proxy: &FaultProxy) -> Api {
        Api {
            base: proxy.api_url(),
            http: reqwest::Client::builder()
                .user_agent("shakedown-tests")
                .build()
                .expect("client"),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, String)> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    }

    pub async fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, serde_json::Value)> {
        let (status, text) = self.call(method, path, body).await?;
        let value = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{e}: {text}"))?
        };
        Ok((status, value))
    }
}

/// Deterministic test bytes.
pub fn pattern(len: usize, salt: u64) -> Vec<u8> {
    let mut x = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Reads until EOF or error; returns bytes and the error, if any.
pub async fn read_all(s: &mut TcpStream) -> (Vec<u8>, Option<std::io::Error>) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match s.read(&mut buf).await {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Sends `data` through the proxy to the echo server and returns what came back.
pub async fn echo_through(addr: SocketAddr, data: &[u8]) -> Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    let (mut r, mut w) = s.split();
    let write = async {
        w.write_all(data).await?;
        w.shutdown().await?;
        Ok::<_, std::io::Error>(())
    };
    let read = async {
        let mut out = Vec::new();
        r.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    let (w, r) = tokio::join!(write, read);
    w?;
    Ok(r?)
}

/// Fails the test instead of hanging.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    f: impl std::future::Future<Output = T>,
) -> Result<T> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| anyhow::anyhow!("{what} did not finish within {limit:?}"))
}
