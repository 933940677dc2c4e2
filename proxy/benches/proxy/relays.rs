//! The baseline relays the proxy is measured against, each as simple as it can be:
//!
//! * [`plain_relay`]: `tokio::io::copy_bidirectional_with_sizes` with 256 KiB buffers (what a
//!   team would write first);
//! * [`splice_relay`]: per direction, `splice(2)` socket → pipe, then the whole pipe → socket,
//!   so the pipe is always empty when it is filled (no full/empty ambiguity to get wrong).

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream};

/// Buffer size of the plain relay, and pipe size asked for by the splice relay.
pub const RELAY_BUF: usize = 256 << 10;

/// Which baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relay {
    /// [`plain_relay`].
    Plain,
    /// [`splice_relay`].
    Splice,
}

/// Starts `relay` on an ephemeral 127.0.0.1 port forwarding to `upstream`; returns its address.
pub async fn start(relay: Relay, upstream: SocketAddr) -> io::Result<SocketAddr> {
    match relay {
        Relay::Plain => plain_relay(upstream).await,
        Relay::Splice => splice_relay(upstream).await,
    }
}

/// Accepts on an ephemeral port and runs `serve(client, server)` for every connection. The
/// upstream is dialled in the accept loop, so the upstream sees the connections in the order
/// they came (iperf3 tells its streams apart by that order).
async fn relay_with<F, Fut>(upstream: SocketAddr, serve: F) -> io::Result<SocketAddr>
where
    F: Fn(TcpStream, TcpStream) -> Fut + Send + Copy + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            tokio::spawn(serve(client, server));
        }
    });
    Ok(addr)
}

/// The plain copy relay.
pub async fn plain_relay(upstream: SocketAddr) -> io::Result<SocketAddr> {
    relay_with(upstream, |mut client, mut server| async move {
        let _ = tokio::io::copy_bidirectional_with_sizes(
            &mut client,
            &mut server,
            RELAY_BUF,
            RELAY_BUF,
        )
        .await;
    })
    .await
}

/// The plain splice relay.
pub async fn splice_relay(upstream: SocketAddr) -> io::Result<SocketAddr> {
    relay_with(upstream, |client, server| async move {
        let _ = tokio::join!(
            splice_one_way(&client, &server),
            splice_one_way(&server, &client)
        );
    })
    .await
}

/// Moves `src` to `dst` until EOF (then shuts `dst`'s write side) or an error.
async fn splice_one_way(src: &TcpStream, dst: &TcpStream) -> io::Result<()> {
    let (read, write): (OwnedFd, OwnedFd) =
        nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
    let _ = fcntl(&write, FcntlArg::F_SETPIPE_SZ(RELAY_BUF as i32));
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
    loop {
        src.readable().await?;
        let filled = src.try_io(Interest::READABLE, || {
            splice(src, None, &write, None, RELAY_BUF, flags).map_err(io::Error::from)
        });
        let mut in_pipe = match filled {
            Ok(0) => {
                let _ = socket2::SockRef::from(dst).shutdown(std::net::Shutdown::Write);
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        while in_pipe > 0 {
            dst.writable().await?;
            match dst.try_io(Interest::WRITABLE, || {
                splice(&read, None, dst, None, in_pipe, flags).map_err(io::Error::from)
            }) {
                Ok(n) => in_pipe -= n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
}
