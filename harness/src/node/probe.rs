//! Readiness: a node's [`Probe`]s, polled by [`Node::wait_ready`] at start and after every
//! restart.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Node, Stream};
use crate::error::Result;

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
    /// Polls the node's probes until all pass, or fails after its startup timeout, or as soon as
    /// its process has exited. The error carries the last lines of its log and its exit code.
    pub async fn wait_ready(&self) -> Result<()> {
        match self.poll_ready(Instant::now()).await {
            Ok(()) => Ok(()),
            Err((waited, detail)) => Err(self.not_ready(waited, detail, self.present_hint()).await),
        }
    }

    /// [`Node::wait_ready`] without the error's context: how long was waited, and why it ended.
    pub(super) async fn poll_ready(&self, started: Instant) -> Result<(), (Duration, String)> {
        let mut delay = Duration::from_millis(20);
        loop {
            let failed = self.failed_probe().await;
            let Some(detail) = failed else {
                return Ok(());
            };
            if self.exited_with().await.is_some() {
                return Err((
                    started.elapsed(),
                    format!("{detail}; its process has exited"),
                ));
            }
            if started.elapsed() >= self.timeout {
                return Err((started.elapsed(), detail));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(250));
        }
    }

    /// Follows the node's log until each of `lines` has appeared (a line containing it), within
    /// the startup timeout counted from `started`; ends early when the log ends (the process
    /// exited).
    pub(super) async fn wait_for_lines(
        &self,
        lines: &[(Stream, String)],
        started: Instant,
    ) -> Result<(), (Duration, String)> {
        use tokio::io::AsyncBufReadExt;
        for (stream, wanted) in lines {
            let name = match stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            };
            let mut reader = self.log_stream(*stream, true).lines();
            loop {
                let remaining = self.timeout.saturating_sub(started.elapsed());
                match tokio::time::timeout(remaining, reader.next_line()).await {
                    Err(_) => {
                        return Err((
                            started.elapsed(),
                            format!("no line containing `{wanted}` on its {name}"),
                        ))
                    }
                    Ok(Ok(Some(line))) if line.contains(wanted.as_str()) => break,
                    Ok(Ok(Some(_))) => {}
                    Ok(Ok(None)) | Ok(Err(_)) => {
                        return Err((
                            started.elapsed(),
                            format!("its {name} ended before a line containing `{wanted}`"),
                        ))
                    }
                }
            }
        }
        Ok(())
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
