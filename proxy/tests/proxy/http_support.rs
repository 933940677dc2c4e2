//! A real HTTP/1.1 server (axum) and client (hyper, one keep-alive connection per [`Conn`])
//! for the HTTP toxics' tests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// What the upstream server saw: `METHOD /path` per request, in order.
pub type Hits = Arc<Mutex<Vec<String>>>;

/// An HTTP/1.1 server: `/bytes/N` answers N pattern bytes with `Content-Length`,
/// `/chunked/N` N bytes chunked, `/echo` the request body, anything else `ok METHOD /path`.
pub async fn upstream() -> Result<(SocketAddr, Hits)> {
    let hits: Hits = Arc::default();
    let seen = hits.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let seen = seen.clone();
        async move { handle(req, seen).await }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, hits))
}

async fn handle(req: Request, seen: Hits) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    seen.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(format!("{method} {path}"));
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let size = |prefix: &str| path.strip_prefix(prefix).and_then(|n| n.parse().ok());
    if let Some(n) = size("/bytes/") {
        Response::new(Body::from(pattern(n, n as u64)))
    } else if let Some(n) = size("/chunked/") {
        let pieces: Vec<std::result::Result<Bytes, Infallible>> = pattern(n, n as u64)
            .chunks(1000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Response::new(Body::from_stream(futures::stream::iter(pieces)))
    } else if path == "/echo" {
        Response::new(Body::from(body))
    } else {
        Response::new(Body::from(format!("ok {method} {path}")))
    }
}

pub fn count(hits: &Hits, what: &str) -> usize {
    hits.lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|h| *h == what)
        .count()
}

pub type ReqBody = BoxBody<Bytes, Infallible>;

/// One keep-alive client connection.
pub struct Conn {
    sender: hyper::client::conn::http1::SendRequest<ReqBody>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn { sender })
    }

    /// Sends a request; returns status and body.
    pub async fn send(&mut self, method: &str, path: &str, body: ReqBody) -> Result<(u16, Bytes)> {
        self.sender.ready().await?;
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "upstream")
            .body(body)?;
        let resp = within(
            Duration::from_secs(10),
            "a response",
            self.sender.send_request(req),
        )
        .await??;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    pub async fn get(&mut self, path: &str) -> Result<(u16, Bytes)> {
        self.send("GET", path, empty()).await
    }
}

pub fn empty() -> ReqBody {
    Full::new(Bytes::new()).boxed()
}

pub fn full(data: Vec<u8>) -> ReqBody {
    Full::new(Bytes::from(data)).boxed()
}

/// A body sent with chunked transfer-encoding, in pieces of `piece` bytes.
pub fn chunked(data: &[u8], piece: usize) -> ReqBody {
    let frames: Vec<std::result::Result<Frame<Bytes>, Infallible>> = data
        .chunks(piece.max(1))
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    StreamBody::new(futures::stream::iter(frames)).boxed()
}
