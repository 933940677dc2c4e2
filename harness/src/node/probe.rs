//! Readiness: a node's [`Probe`]s, polled by [`Node::wait_ready`] at start and after every
//! restart.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::Node;
use crate::error::{Error, Result};

/// How the harness decides that a node is ready, at start and after every restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A command run inside the node must exit 0 (e.g. `pg_isready`).
    Exec(Vec<String>),
    /// A TCP connection from the test process to the node's published port must be accepted and
    /// stay open (through Docker's port proxy, which closes at once when nothing listens inside).
    Tcp(u16),
}

impl Node {
    /// Polls the node's probes until all pass, or fails after its startup timeout.
    pub async fn wait_ready(&self) -> Result<()> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(20);
        loop {
            let failed = self.failed_probe().await;
            let Some(detail) = failed else {
                return Ok(());
            };
            if started.elapsed() >= self.timeout {
                return Err(Error::NotReady {
                    node: self.name.clone(),
                    container: self.container_name.clone(),
                    timeout: self.timeout,
                    detail,
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(250));
        }
    }

    async fn failed_probe(&self) -> Option<String> {
        for probe in &self.probes {
            match probe {
                Probe::Exec(cmd) => match self.exec(cmd.clone()).await {
                    Ok(out) if out.code == 0 => {}
                    Ok(out) => {
                        return Some(format!(
                            "`{}` exited {}: {}",
                            cmd.join(" "),
                            out.code,
                            out.stderr.trim()
                        ))
                    }
                    Err(e) => return Some(e.to_string()),
                },
                Probe::Tcp(port) => {
                    let addr = match self.host_addr(*port).await {
                        Ok(a) => a,
                        Err(e) => return Some(e.to_string()),
                    };
                    if let Err(e) = tcp_answers(addr).await {
                        return Some(format!("TCP port {port} (published at {addr}): {e}"));
                    }
                }
            }
        }
        None
    }
}

/// Whether something in the container accepts on a published port. Docker's userland proxy
/// accepts on the host side whether or not the container listens, and closes the connection at
/// once when it does not: so a connection that is not closed within a short wait counts as ready
/// (client-speaks-first servers wait silently; server-speaks-first ones send a greeting).
async fn tcp_answers(addr: SocketAddr) -> std::result::Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(150), stream.read(&mut buf)).await {
        Err(_) | Ok(Ok(1..)) => Ok(()),
        Ok(Ok(0)) => Err("connection closed at once (nothing listens in the container yet)".into()),
        Ok(Err(e)) => Err(e.to_string()),
    }
}
