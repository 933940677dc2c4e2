//! A proxy's accept loop: one task per listening proxy, one task per accepted connection.
//!
//! * **Dials outside the accept loop.** Unlike Toxiproxy, the upstream is dialled in the
//!   connection's own task, so a slow upstream never delays accepting other clients. As in
//!   Toxiproxy, a failed dial just closes the client socket: the client sees a successful
//!   connect followed by EOF (an upstream that is down).
//! * **Dials in accept order.** The upstream must see the connections in the order the proxy
//!   accepted them: servers such as iperf3's tell a client's connections apart by that order
//!   (first data connection: the one it receives on, second: the one it sends on). Tasks do
//!   not run in spawn order (a multi-thread runtime runs the task spawned last first, or on
//!   another worker), so without care two clients accepted together were now and then dialled
//!   the other way round, and an `iperf3 --bidir` run then stalled for good (issue 8). So each
//!   connection dials only once the dial of the connection accepted just before it has
//!   finished ([`DialTurn`]); a dial that hangs holds the next one back for at most
//!   [`DIAL_ORDER_WAIT`], so a dead upstream cannot make later clients wait longer and longer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::chain::Chains;
use crate::connection::{self, ConnContext, Counters};
use crate::signal::Signals;

/// How long dialling the upstream may take before the client is closed.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a connection waits for the previous connection's dial before it dials anyway:
/// TCP's initial retransmission timeout (RFC 6298), so only a dial whose first SYN went
/// unanswered is overtaken. A connection's dial starts at most about this long after its
/// accept, however many dials before it hang.
const DIAL_ORDER_WAIT: Duration = Duration::from_secs(1);

/// A connection's place in the proxy's dial order: wait for the previous dial, then dial,
/// then drop this to let the next connection dial.
#[derive(Debug)]
struct DialTurn {
    /// Resolves (with an error: the sender is dropped, never used) when the previous
    /// connection's dial has finished, failed or been abandoned.
    previous: Option<oneshot::Receiver<()>>,
    /// Dropped when this connection's dial has finished.
    _done: oneshot::Sender<()>,
}

impl DialTurn {
    /// The next turn after `last` (the receiver of the previous turn, if any); returns it and
    /// the receiver for the turn after it.
    fn after(last: Option<oneshot::Receiver<()>>) -> (DialTurn, oneshot::Receiver<()>) {
        let (done, next) = oneshot::channel();
        let turn = DialTurn {
            previous: last,
            _done: done,
        };
        (turn, next)
    }

    /// Waits until the previous connection's dial has finished, at most [`DIAL_ORDER_WAIT`].
    async fn wait(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = tokio::time::timeout(DIAL_ORDER_WAIT, previous).await;
        }
    }
}

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
        let mut last_dial: Option<oneshot::Receiver<()>> = None;
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
            let (turn, next) = DialTurn::after(last_dial.take());
            last_dial = Some(next);
            tokio::spawn(connect_and_run(client, upstream.clone(), ctx, turn));
        }
    }
}

async fn connect_and_run(
    client: TcpStream,
    upstream: Arc<str>,
    ctx: ConnContext,
    mut turn: DialTurn,
) {
    let dial = async {
        turn.wait().await;
        tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&*upstream)).await
    };
    let server = tokio::select! {
        _ = ctx.cancel.cancelled() => return,
        dialled = dial => match dialled {
            Ok(Ok(server)) => server,
            _ => return,
        },
    };
    // The upstream has this connection in its accept queue: the next one may dial.
    drop(turn);
    connection::run(client, server, ctx).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_dial_waits_for_the_previous_dial_and_no_longer() {
        let (first, next) = DialTurn::after(None);
        let (mut second, _) = DialTurn::after(Some(next));
        let waiting = tokio::spawn(async move {
            second.wait().await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        let first_done = Instant::now();
        drop(first);
        // Paused clock: the second dial starts at the very instant the first one finished.
        assert_eq!(waiting.await.unwrap(), first_done);
    }

    #[tokio::test(start_paused = true)]
    async fn hung_dials_hold_each_later_dial_back_for_the_order_wait_at_most() {
        let (_hung, next) = DialTurn::after(None);
        let (second, next) = DialTurn::after(Some(next));
        let (third, _) = DialTurn::after(Some(next));
        let start = Instant::now();
        let started = [second, third].map(|mut turn| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                turn.wait().await;
                let _ = tx.send(Instant::now());
                // This dial hangs too, keeping its turn.
                std::future::pending::<()>().await;
                drop(turn);
            });
            rx
        });
        // Paused clock: each later dial starts exactly `DIAL_ORDER_WAIT` after it was
        // accepted, not one wait per hung dial before it.
        for rx in started {
            assert_eq!(rx.await.unwrap() - start, DIAL_ORDER_WAIT);
        }
    }
}
