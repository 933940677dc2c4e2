//! One proxied connection: client socket, upstream socket, and a toxic chain per direction,
//! all driven by a single task.
//!
//! ```text
//!            upstream chain:  client ─read─▶ [t1 ▶ t2 ▶ …] ─write─▶ server
//!          downstream chain:  client ◀─write─ [… ◀ t2 ◀ t1] ◀─read─ server
//! ```
//!
//! * **Chains follow the proxy live** (`chain.rs`): on a signal from the proxy the task
//!   brings both chains in line with the proxy's toxic lists, never losing or reordering a
//!   byte a removed toxic held. The API never waits for a connection.
//! * **Fast path.** While no toxic is active in a direction and the traffic is bulk (the last
//!   read brought at least 16 KiB), bytes move with `splice(2)` through a pipe without
//!   entering user space; small request/response traffic is cheaper through a user-space
//!   buffer. The pipe is always emptied to the destination before anything read later is
//!   written, so switching between the paths, or adding a toxic, keeps byte order.
//! * **Half-close is preserved.** A FIN from one side becomes `shutdown(SHUT_WR)` towards the
//!   other side once everything before it is written; the other direction keeps flowing.
//!   (Toxiproxy closes the whole connection instead.) The task ends when both directions have
//!   ended, a toxic closes or resets the connection, an I/O error occurs (both sockets are then
//!   reset), or the proxy is disabled or deleted (both sockets closed).
//! * **HTTP toxics** (`toxics/http/`) run in one layer per connection, made when the first
//!   one reaches it: while it exists, what each side reads goes through it (`Flow::tap`)
//!   before entering a chain, and the fast path is off. Without HTTP toxics nothing changes.

use std::borrow::Cow;
use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::chain::{Chain, ChainEntry, Chains, Outbox};
use crate::rng::{connection_rng, http_rng, ToxicRng};
use crate::signal::{ConnSignal, CLOSED};
use crate::spec::Direction;
use crate::splice::Pipe;
use crate::toxics::http::{Emitted, HttpLayer};
use crate::toxics::{CloseKind, Item};

/// Most bytes a direction holds (in toxics and the write queue) before it stops reading.
/// Large enough for a 100 ms latency toxic at a few hundred MB/s.
const MAX_BUFFERED: usize = 32 << 20;
/// Most bytes a direction without an active toxic queues for a slow destination before it
/// stops reading (backpressure to the source, as a plain relay would give).
const MAX_BUFFERED_PLAIN: usize = 1 << 20;
/// Read size on the copying path.
const READ_CHUNK: usize = 256 << 10;
/// A splice that moves less than this switches back to copying (small messages).
const SMALL_READ: usize = 16 << 10;
/// Most bytes moved per readiness event before giving the other direction a turn.
const MAX_PER_EVENT: usize = 512 << 10;

/// Byte and request counters of a proxy, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Bytes read, per direction (0 = upstream, 1 = downstream).
    pub received: [AtomicU64; 2],
    /// Bytes written, per direction.
    pub sent: [AtomicU64; 2],
    /// HTTP requests seen while the proxy had at least one HTTP toxic.
    pub http_requests: AtomicU64,
    /// Requests each HTTP toxic acted on, by toxic name and action.
    pub http_actions: std::sync::Mutex<std::collections::BTreeMap<(String, &'static str), u64>>,
}

impl Counters {
    /// Counts one request an HTTP toxic acted on (`answered`, `delayed` or `dropped`).
    pub(crate) fn http_action(&self, toxic: &str, action: &'static str) {
        let mut map = self.http_actions.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((toxic.to_string(), action)).or_default() += 1;
    }
}

/// What a connection task needs from its proxy.
#[derive(Debug, Clone)]
pub(crate) struct ConnContext {
    pub chains: watch::Receiver<Arc<Chains>>,
    /// The accept loop's token: cancelled when the proxy stops.
    pub cancel: CancellationToken,
    /// Chain changes and close requests while the connection runs.
    pub signal: Arc<ConnSignal>,
    pub seed: u64,
    pub index: u64,
    pub counters: Arc<Counters>,
    /// Use the `splice(2)` fast path when no toxic is active.
    pub zero_copy: bool,
}

/// One direction of a connection.
#[derive(Debug)]
struct Flow {
    direction: Direction,
    chain: Chain,
    out: Outbox,
    src_eof: bool,
    dst_shut: bool,
    pipe: Option<Pipe>,
    splice_ok: bool,
    /// The last read filled its buffer: traffic is bulk, so splicing pays off. Small
    /// request/response traffic is cheaper through a user-space buffer.
    bulk: bool,
    buf: BytesMut,
    counters: Arc<Counters>,
    /// The connection has an HTTP layer: what is read goes to `tap` for it.
    http: bool,
    tap: Vec<Item>,
}

/// Outcome of an I/O step.
type Step = Result<(), CloseKind>;

impl Flow {
    fn new(direction: Direction, ctx: &ConnContext) -> Flow {
        Flow {
            direction,
            chain: Chain::new(connection_rng(ctx.seed, ctx.index, direction)),
            out: Outbox::default(),
            src_eof: false,
            dst_shut: false,
            pipe: None,
            splice_ok: cfg!(target_os = "linux") && ctx.zero_copy,
            bulk: false,
            buf: BytesMut::new(),
            counters: ctx.counters.clone(),
            http: false,
            tap: Vec::new(),
        }
    }

    fn slot(&self) -> usize {
        match self.direction {
            Direction::Upstream => 0,
            Direction::Downstream => 1,
        }
    }

    fn bypass(&self) -> bool {
        self.chain.bypass()
    }

    fn pipe_len(&self) -> usize {
        self.pipe.as_ref().map_or(0, |p| p.len)
    }

    fn buffered(&self) -> usize {
        self.out.bytes + self.chain.held_bytes()
    }

    /// Splice the next read? Only for bulk traffic with no active toxic and nothing queued
    /// (queued bytes must be written before anything read after them).
    fn fast(&self) -> bool {
        self.bulk
            && self.splice_ok
            && !self.http
            && self.bypass()
            && self.out.is_empty()
            && !self.out.eof
    }

    fn wants_read(&self) -> bool {
        if self.src_eof || self.dst_shut {
            return false;
        }
        if self.fast() {
            // Keep reading while the pipe drains: reads and writes overlap.
            self.pipe.as_ref().is_none_or(Pipe::has_room)
        } else {
            let cap = if self.bypass() {
                MAX_BUFFERED_PLAIN
            } else {
                MAX_BUFFERED
            };
            self.pipe_len() == 0 && self.buffered() < cap
        }
    }

    fn wants_write(&self) -> bool {
        !self.dst_shut && (self.pipe_len() > 0 || !self.out.is_empty() || self.out.eof)
    }

    fn has_pending_output(&self) -> bool {
        self.pipe_len() > 0 || !self.out.is_empty()
    }

    /// Ended cleanly: source at EOF and destination shut.
    fn finished(&self) -> bool {
        self.src_eof && self.dst_shut
    }

    /// Pushes what the source produced into the chain (or the tap, for the HTTP layer).
    fn push(&mut self, item: Item) {
        if self.http {
            self.tap.push(item);
            return;
        }
        let now = self.chain.clock();
        self.chain.push(item, now, &mut self.out);
    }

    /// Moves everything due through the chain. Returns a close request from a toxic.
    fn pump(&mut self, now: Instant) -> Option<CloseKind> {
        self.chain.pump(now, &mut self.out)
    }

    /// Follows the proxy's toxic list. Returns a close request from a toxic.
    fn apply(&mut self, entries: &[ChainEntry], now: Instant) -> Option<CloseKind> {
        self.chain.apply(entries, now, &mut self.out)
    }

    /// The source is readable: read what is there (bounded) and push it into the chain.
    fn on_readable(&mut self, src: &TcpStream, dst: &TcpStream) -> Step {
        let mut moved = 0;
        while moved < MAX_PER_EVENT && self.wants_read() {
            if self.fast() {
                if self.pipe.is_none() {
                    match Pipe::new() {
                        Ok(p) => self.pipe = Some(p),
                        Err(_) => {
                            self.splice_ok = false;
                            continue;
                        }
                    }
                }
                let Some(pipe) = self.pipe.as_mut() else {
                    continue;
                };
                let was_empty = pipe.len == 0;
                match pipe.fill_from(src) {
                    Ok(0) => {
                        self.src_eof = true;
                        self.out.eof = true;
                    }
                    Ok(n) => {
                        moved += n;
                        if was_empty {
                            self.bulk = n >= SMALL_READ;
                        }
                        self.counters.received[self.slot()].fetch_add(n as u64, Ordering::Relaxed);
                        // Push straight on; what does not fit waits for writability.
                        self.write_some(dst)?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::InvalidInput => self.splice_ok = false,
                    Err(e) => return Err(io_close(&e)),
                }
            } else {
                if self.buf.capacity() - self.buf.len() < 4096 {
                    self.buf.reserve(READ_CHUNK);
                }
                match read_buf(src, &mut self.buf) {
                    Ok((0, _)) => {
                        self.src_eof = true;
                        self.push(Item::Eof);
                    }
                    Ok((n, drained)) => {
                        moved += n;
                        self.bulk = n >= SMALL_READ;
                        self.counters.received[self.slot()].fetch_add(n as u64, Ordering::Relaxed);
                        let data = self.buf.split().freeze();
                        self.push(Item::Data(data));
                        if self.bypass() {
                            self.write_some(dst)?;
                        }
                        if drained {
                            // Readiness is cleared: no read that would only say EAGAIN.
                            return Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) => return Err(io_close(&e)),
                }
            }
        }
        Ok(())
    }

    /// Writes what can be written now: the pipe first, then the queue, then the EOF.
    fn write_some(&mut self, dst: &TcpStream) -> Step {
        let slot = self.slot();
        while let Some(pipe) = self.pipe.as_mut().filter(|p| p.len > 0) {
            match pipe.drain_to(dst) {
                Ok(n) => {
                    self.counters.sent[slot].fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(io_close(&e)),
            }
        }
        while let Some(front) = self.out.chunks.front_mut() {
            match dst.try_write(front) {
                Ok(n) => {
                    self.counters.sent[slot].fetch_add(n as u64, Ordering::Relaxed);
                    self.out.bytes -= n;
                    if n == front.len() {
                        self.out.chunks.pop_front();
                    } else {
                        let _ = front.split_to(n);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(io_close(&e)),
            }
        }
        if self.out.eof && !self.dst_shut {
            self.out.eof = false;
            self.dst_shut = true;
            // The peer may already be gone; a failed shutdown changes nothing for us.
            let _ = socket2::SockRef::from(dst).shutdown(std::net::Shutdown::Write);
        }
        Ok(())
    }
}

/// Reads into `buf`'s spare capacity. Returns the count and whether the read was short: the
/// socket's receive queue was then empty, so its read readiness is cleared (as Tokio's own
/// `poll_read` does) and the caller need not read again only to get `EAGAIN`. Bytes arriving
/// after the read raise a new readiness event, which clearing never drops.
fn read_buf(src: &TcpStream, buf: &mut BytesMut) -> io::Result<(usize, bool)> {
    let asked = buf.capacity() - buf.len();
    let mut got = None;
    let result = src.try_io(tokio::io::Interest::READABLE, || {
        let n = src.try_read_buf(buf)?;
        got = Some(n);
        if n > 0 && n < asked {
            // Clears the readiness observed before this read.
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    });
    match (result, got) {
        (_, Some(n)) => Ok((n, n > 0 && n < asked)),
        (Err(e), None) => Err(e),
        (Ok(n), None) => Ok((n, false)),
    }
}

fn io_close(_err: &io::Error) -> CloseKind {
    // A broken socket on one side is passed on as a reset to the other.
    CloseKind::Reset
}

/// The downstream list without its HTTP toxics (borrowed when it has none: the usual case).
fn plain(entries: &[ChainEntry]) -> Cow<'_, [ChainEntry]> {
    if entries.iter().any(|e| e.config.spec.is_http()) {
        Cow::Owned(
            entries
                .iter()
                .filter(|e| !e.config.spec.is_http())
                .cloned()
                .collect(),
        )
    } else {
        Cow::Borrowed(entries)
    }
}

/// A connection's HTTP layer, while it has one, and the random stream it rolls with.
#[derive(Debug)]
struct Http {
    layer: Option<HttpLayer>,
    /// The stream, made with the first layer and kept between layers (a later layer
    /// continues it).
    rng: Option<ToxicRng>,
    /// A toxic closed the client connection: end once the client's EOF is written.
    close: bool,
}

impl Http {
    fn new() -> Http {
        Http {
            layer: None,
            rng: None,
            close: false,
        }
    }

    /// Follows the proxy's downstream list: makes the layer when the first HTTP toxic comes.
    fn apply(&mut self, entries: &[ChainEntry], ctx: &ConnContext, up: &mut Flow, down: &mut Flow) {
        if self.layer.is_none() && entries.iter().any(|e| e.config.spec.is_http()) {
            let rng = self
                .rng
                .take()
                .unwrap_or_else(|| http_rng(ctx.seed, ctx.index));
            self.layer = Some(HttpLayer::new(rng, ctx.counters.clone()));
            up.http = true;
            down.http = true;
        }
        if let Some(layer) = self.layer.as_mut() {
            let now = Instant::now();
            let mut out = Emitted::default();
            layer.apply(entries, now, &mut out);
            self.deliver(out, up, down, now);
        }
    }

    /// Runs what both sides read through the layer; drops the layer once it is retired.
    fn step(&mut self, up: &mut Flow, down: &mut Flow) {
        let Some(layer) = self.layer.as_mut() else {
            return;
        };
        let now = Instant::now();
        let mut out = Emitted::default();
        for item in std::mem::take(&mut up.tap) {
            layer.on_request(item, now, &mut out);
        }
        for item in std::mem::take(&mut down.tap) {
            layer.on_response(item, now, &mut out);
        }
        layer.pump(now, &mut out);
        let retired = layer.retired();
        self.deliver(out, up, down, now);
        if retired {
            self.rng = self.layer.take().map(HttpLayer::into_rng);
            up.http = false;
            down.http = false;
        }
    }

    fn deliver(&mut self, out: Emitted, up: &mut Flow, down: &mut Flow, now: Instant) {
        for item in out.to_server {
            up.chain.push(item, now, &mut up.out);
        }
        for item in out.to_client {
            down.chain.push(item, now, &mut down.out);
        }
        self.close |= out.close;
    }

    fn deadline(&self) -> Option<Instant> {
        self.layer.as_ref().and_then(HttpLayer::deadline)
    }

    fn has_room(&self) -> bool {
        self.layer
            .as_ref()
            .is_none_or(|l| l.held_bytes() < MAX_BUFFERED)
    }
}

/// Runs one proxied connection until it ends. See the module docs.
pub(crate) async fn run(client: TcpStream, server: TcpStream, mut ctx: ConnContext) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let mut up = Flow::new(Direction::Upstream, &ctx);
    let mut down = Flow::new(Direction::Downstream, &ctx);
    let now = Instant::now();
    let chains = ctx.chains.borrow_and_update().clone();
    let mut closing: Option<CloseKind> = up.apply(&chains.upstream, now);
    closing = closing.or(down.apply(&plain(&chains.downstream), now));
    let mut http = Http::new();
    http.apply(&chains.downstream, &ctx, &mut up, &mut down);
    if ctx.cancel.is_cancelled() {
        return;
    }

    let kind = loop {
        http.step(&mut up, &mut down);
        if !up.chain.is_empty() || !down.chain.is_empty() {
            let now = Instant::now();
            if let Some(k) = up.pump(now).or_else(|| down.pump(now)) {
                closing = Some(closing.map_or(k, |c| if c == CloseKind::Reset { c } else { k }));
            }
        } else {
            up.chain.deadline = None;
            down.chain.deadline = None;
        }
        match closing {
            Some(CloseKind::Reset) => break CloseKind::Reset,
            Some(CloseKind::Fin) if !up.has_pending_output() && !down.has_pending_output() => {
                break CloseKind::Fin
            }
            _ => {}
        }
        if (up.finished() && down.finished()) || (http.close && down.dst_shut) {
            break CloseKind::Fin;
        }
        let reading = closing.is_none();
        let up_r = reading && up.wants_read();
        let down_r = reading && down.wants_read() && http.has_room();
        let up_w = up.wants_write();
        let down_w = down.wants_write();
        let deadline = [up.chain.deadline, down.chain.deadline, http.deadline()]
            .into_iter()
            .flatten()
            .min();
        // Not `biased`: with a fixed order, a client that always has data ready would keep
        // the upstream branch winning and starve the other direction.
        let step: Step = tokio::select! {
            bits = poll_fn(|cx| ctx.signal.poll_take(cx)) => {
                if bits & CLOSED != 0 {
                    break CloseKind::Fin;
                }
                let chains = ctx.chains.borrow_and_update().clone();
                let now = Instant::now();
                let a = up.apply(&chains.upstream, now);
                let b = down.apply(&plain(&chains.downstream), now);
                http.apply(&chains.downstream, &ctx, &mut up, &mut down);
                if let Some(k) = a.or(b) {
                    closing = Some(closing.unwrap_or(k));
                }
                Ok(())
            }
            r = poll_fn(|cx| server.poll_write_ready(cx)), if up_w => match r {
                Ok(()) => up.write_some(&server),
                Err(_) => Err(CloseKind::Reset),
            },
            r = poll_fn(|cx| client.poll_write_ready(cx)), if down_w => match r {
                Ok(()) => down.write_some(&client),
                Err(_) => Err(CloseKind::Reset),
            },
            r = poll_fn(|cx| client.poll_read_ready(cx)), if up_r => match r {
                Ok(()) => up.on_readable(&client, &server),
                Err(_) => Err(CloseKind::Reset),
            },
            r = poll_fn(|cx| server.poll_read_ready(cx)), if down_r => match r {
                Ok(()) => down.on_readable(&server, &client),
                Err(_) => Err(CloseKind::Reset),
            },
            _ = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            }, if deadline.is_some() => Ok(()),
        };
        if let Err(kind) = step {
            break kind;
        }
    };
    if kind == CloseKind::Reset {
        let _ = client.set_zero_linger();
        let _ = server.set_zero_linger();
    }
    drop(client);
    drop(server);
}
