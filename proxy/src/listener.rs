//! A proxy's accept loop: one task per listening proxy, one task per accepted connection.
//!
//! Unlike Toxiproxy, the upstream is dialled in the connection's own task, so a slow upstream
//! never delays accepting other clients. As in Toxiproxy, a failed dial just closes the client
//! socket: the client sees a successful connect followed by EOF (an upstream that is down).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::chain::Chains;
use crate::connection::{self, ConnContext, Counters};
use crate::signal::Signals;

/// How long dialling the upstream may take before the client is closed.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the accept loop needs.
#[derive(Debug)]
pub(crate) struct AcceptLoop {
    pub upstream: String,
    pub chains: watch::Receiver<Arc<Chains>>,
    pub cancel: CancellationToken,
    pub seed: u64,
    pub counters: Arc<Counters>,
    pub connections: Arc<AtomicU64>,
    pub signals: Arc<Signals>,
    pub zero_copy: bool,
}

impl AcceptLoop {
    /// Accepts until cancelled; the listener is closed when this returns.
    pub(crate) async fn run(self, listener: TcpListener) {
        let upstream: Arc<str> = Arc::from(self.upstream.as_str());
        loop {
            let accepted = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let client = match accepted {
                Ok((client, _)) => client,
                Err(_) => {
                    // Out of file descriptors or a transient error: back off briefly.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            };
            let index = self.connections.fetch_add(1, Ordering::Relaxed);
            let ctx = ConnContext {
                chains: self.chains.clone(),
                cancel: self.cancel.clone(),
                signal: self.signals.register(),
                seed: self.seed,
                index,
                counters: self.counters.clone(),
                zero_copy: self.zero_copy,
            };
            tokio::spawn(connect_and_run(client, upstream.clone(), ctx));
        }
    }
}

async fn connect_and_run(client: TcpStream, upstream: Arc<str>, ctx: ConnContext) {
    let dial = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&*upstream));
    let server = tokio::select! {
        _ = ctx.cancel.cancelled() => return,
        dialled = dial => match dialled {
            Ok(Ok(server)) => server,
            _ => return,
        },
    };
    connection::run(client, server, ctx).await;
}
