//! [`HttpLayer`]: a connection's HTTP toxics, fed the client's bytes (requests) and the
//! server's bytes (responses), deciding per request, writing synthesized responses in order.
//!
//! Every request gets a slot, in order; a response (or a synthesized answer) fills the front
//! slot. So on a keep-alive connection with pipelined requests, an answer waits behind the
//! responses of the requests before it, and a delayed response holds back the ones after it.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;

use super::framing::{Body, Framer, Piece, RequestHead, ResponseHead, Unframed};
use crate::chain::ChainEntry;
use crate::connection::Counters;
use crate::rng::ToxicRng;
use crate::spec::{HttpMatch, ToxicSpec, Toxicity};
use crate::toxics::Item;

/// What one call produced: items for the server (upstream chain), for the client (downstream
/// chain), and whether to close the connection once the client's EOF is written.
#[derive(Debug, Default)]
pub(crate) struct Emitted {
    pub to_server: Vec<Item>,
    pub to_client: Vec<Item>,
    pub close: bool,
}

#[derive(Debug)]
struct Rule {
    id: u64,
    name: String,
    toxicity: Toxicity,
    spec: ToxicSpec,
}

impl Rule {
    fn matcher(&self) -> &HttpMatch {
        match &self.spec {
            ToxicSpec::HttpStatus { matcher, .. }
            | ToxicSpec::HttpDelay { matcher, .. }
            | ToxicSpec::HttpDropResponse { matcher } => matcher,
            // `apply` keeps only HTTP toxics.
            _ => {
                const {
                    &HttpMatch {
                        method: String::new(),
                        path_prefix: String::new(),
                    }
                }
            }
        }
    }
}

/// What happens to the response of one request.
#[derive(Debug)]
enum Reply {
    /// The server's response is passed on.
    Forward,
    /// The server's response is dropped and the client connection closed.
    Drop { toxic: u64, name: String },
    /// The request was not forwarded; this goes to the client instead.
    Answer { bytes: Bytes, close: bool },
}

#[derive(Debug)]
struct Slot {
    method: String,
    /// Delays by toxic id (removing the toxic abandons its delay).
    delays: Vec<(u64, Duration)>,
    reply: Reply,
}

/// A client-bound item, released at `start` + the delays still attached.
#[derive(Debug)]
struct Pending {
    item: Item,
    release: Option<(Instant, Vec<(u64, Duration)>)>,
}

impl Pending {
    fn due(&self) -> Option<Instant> {
        self.release
            .as_ref()
            .map(|(start, d)| *start + d.iter().map(|(_, l)| *l).sum::<Duration>())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Framing both directions; the toxics act.
    Framing,
    /// The traffic could not be framed (or switched protocols): passed on unchanged.
    Passthrough,
    /// The client connection was closed by a toxic: everything else is discarded.
    Closed,
}

/// The HTTP toxics of one connection. See the module docs.
#[derive(Debug)]
pub(crate) struct HttpLayer {
    rules: Vec<Rule>,
    rng: ToxicRng,
    counters: Arc<Counters>,
    requests: Framer<RequestHead>,
    responses: Framer<ResponseHead>,
    /// The body now streaming from the client is forwarded (`false`: it was answered).
    forwarding: bool,
    /// The response now streaming is interim (1xx): its end does not fill the slot.
    interim: bool,
    slots: VecDeque<Slot>,
    pending: VecDeque<Pending>,
    pending_bytes: usize,
    mode: Mode,
}

impl HttpLayer {
    pub(crate) fn new(rng: ToxicRng, counters: Arc<Counters>) -> HttpLayer {
        HttpLayer {
            rules: Vec::new(),
            rng,
            counters,
            requests: Framer::default(),
            responses: Framer::default(),
            forwarding: true,
            interim: false,
            slots: VecDeque::new(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            mode: Mode::Framing,
        }
    }

    /// The random stream back, for a later layer on the same connection.
    pub(crate) fn into_rng(self) -> ToxicRng {
        self.rng
    }

    /// Takes the proxy's HTTP toxics (in order). A removed `http_delay` releases what it
    /// holds; a removed `http_drop_response` lets the responses it would drop through.
    pub(crate) fn apply(&mut self, entries: &[ChainEntry], now: Instant, out: &mut Emitted) {
        self.rules = entries
            .iter()
            .filter(|e| e.config.spec.is_http())
            .map(|e| Rule {
                id: e.id,
                name: e.config.name.clone(),
                toxicity: e.config.toxicity,
                spec: e.config.spec.clone(),
            })
            .collect();
        let ids: HashSet<u64> = self.rules.iter().map(|r| r.id).collect();
        for slot in &mut self.slots {
            slot.delays.retain(|(id, _)| ids.contains(id));
            if matches!(slot.reply, Reply::Drop { toxic, .. } if !ids.contains(&toxic)) {
                slot.reply = Reply::Forward;
            }
        }
        for p in &mut self.pending {
            if let Some((_, delays)) = &mut p.release {
                delays.retain(|(id, _)| ids.contains(id));
            }
        }
        self.flush(now, out);
    }

    /// Client bytes (or its EOF).
    pub(crate) fn on_request(&mut self, item: Item, now: Instant, out: &mut Emitted) {
        match (self.mode, item) {
            (Mode::Closed, _) => {}
            (Mode::Passthrough, item) => out.to_server.push(item),
            (Mode::Framing, Item::Eof) => {
                let held = self.requests.take_held();
                push_data(&mut out.to_server, held);
                out.to_server.push(Item::Eof);
            }
            (Mode::Framing, Item::Data(mut input)) => {
                while self.mode == Mode::Framing {
                    match self.requests.next(&mut input) {
                        Ok(None) => break,
                        Ok(Some(Piece::Head(bytes, head))) => {
                            self.requests.start_body(head.body.clone());
                            self.on_request_head(bytes, head, out);
                        }
                        Ok(Some(Piece::Body(b))) => {
                            if self.forwarding {
                                out.to_server.push(Item::Data(b));
                            }
                        }
                        Ok(Some(Piece::End)) => self.forwarding = true,
                        Err(Unframed(b)) => {
                            push_data(&mut out.to_server, b);
                            self.give_up(out);
                        }
                    }
                }
                if self.mode == Mode::Passthrough {
                    push_data(&mut out.to_server, input);
                }
            }
        }
        self.flush(now, out);
    }

    fn on_request_head(&mut self, bytes: Bytes, head: RequestHead, out: &mut Emitted) {
        if !self.rules.is_empty() {
            self.counters
                .http_requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let mut delays = Vec::new();
        let mut reply = Reply::Forward;
        for rule in &self.rules {
            if !rule.matcher().matches(&head.method, &head.target) {
                continue;
            }
            let t = rule.toxicity.get();
            if !(t >= 1.0 || self.rng.random::<f64>() < t) {
                continue;
            }
            match &rule.spec {
                ToxicSpec::HttpDelay { latency, .. } => {
                    delays.push((rule.id, *latency));
                    self.counters.http_action(&rule.name, "delayed");
                }
                ToxicSpec::HttpStatus { status, body, .. } => {
                    // A client waiting for `100 Continue` may or may not send the body now:
                    // the connection cannot stay in step, so it closes after the answer.
                    let close = head.close || head.expects_continue;
                    reply = Reply::Answer {
                        bytes: answer(*status, body, head.method == "HEAD", close),
                        close,
                    };
                    self.counters.http_action(&rule.name, "answered");
                    break;
                }
                ToxicSpec::HttpDropResponse { .. } => {
                    reply = Reply::Drop {
                        toxic: rule.id,
                        name: rule.name.clone(),
                    };
                    break;
                }
                _ => {}
            }
        }
        let answered = matches!(reply, Reply::Answer { .. });
        self.forwarding = !answered;
        if !answered {
            out.to_server.push(Item::Data(bytes));
        }
        self.slots.push_back(Slot {
            method: head.method,
            delays,
            reply,
        });
        if head.switches && !answered {
            // After CONNECT or an Upgrade the bytes may stop being HTTP.
            self.give_up(out);
        }
    }

    /// Server bytes (or its EOF).
    pub(crate) fn on_response(&mut self, item: Item, now: Instant, out: &mut Emitted) {
        match (self.mode, item) {
            (Mode::Closed, _) => {}
            (Mode::Passthrough, item) => self.queue(item, None),
            (Mode::Framing, Item::Eof) => {
                if self.responses.until_close() && !self.interim {
                    self.slots.pop_front();
                }
                let held = self.responses.take_held();
                if !held.is_empty() {
                    self.queue(Item::Data(held), None);
                }
                self.queue(Item::Eof, None);
                // Nothing more comes from the server: owed answers can no longer be ordered.
                self.slots.clear();
                self.mode = Mode::Passthrough;
            }
            (Mode::Framing, Item::Data(mut input)) => {
                while self.mode == Mode::Framing {
                    self.flush_answers(now, out);
                    if self.mode != Mode::Framing {
                        break;
                    }
                    match self.responses.next(&mut input) {
                        Ok(None) => break,
                        Ok(Some(Piece::Head(bytes, head))) => {
                            self.on_response_head(bytes, head, now, out);
                        }
                        Ok(Some(Piece::Body(b))) => self.queue(Item::Data(b), None),
                        Ok(Some(Piece::End)) => {
                            if !std::mem::take(&mut self.interim) {
                                self.slots.pop_front();
                            }
                        }
                        Err(Unframed(b)) => {
                            self.queue(Item::Data(b), None);
                            self.give_up(out);
                        }
                    }
                }
                if self.mode == Mode::Passthrough && !input.is_empty() {
                    self.queue(Item::Data(input), None);
                }
            }
        }
        self.flush(now, out);
    }

    fn on_response_head(
        &mut self,
        bytes: Bytes,
        head: ResponseHead,
        now: Instant,
        out: &mut Emitted,
    ) {
        // A response with no slot came for a request sent before the layer existed.
        let (method, delays, drop) = match self.slots.front() {
            Some(slot) => (
                slot.method.as_str(),
                slot.delays.clone(),
                match &slot.reply {
                    Reply::Drop { name, .. } => Some(name.clone()),
                    _ => None,
                },
            ),
            None => ("", Vec::new(), None),
        };
        let body = head.body(method);
        self.interim = head.interim();
        if let (Some(name), false) = (drop, self.interim) {
            // The request reached the server; its reply is lost and the client cut off.
            self.counters.http_action(&name, "dropped");
            self.close_client(out);
            return;
        }
        let release = (!delays.is_empty() && !self.interim).then_some((now, delays));
        self.queue(Item::Data(bytes), release);
        if head.status == 101 || body == Body::Tunnel {
            self.give_up(out);
        } else {
            self.responses.start_body(body);
        }
    }

    /// Answers at the front of the slots go out (behind what is pending).
    fn flush_answers(&mut self, now: Instant, out: &mut Emitted) {
        while self.mode == Mode::Framing {
            let Some(Slot {
                reply: Reply::Answer { .. },
                ..
            }) = self.slots.front()
            else {
                break;
            };
            let Some(Slot {
                delays,
                reply: Reply::Answer { bytes, close },
                ..
            }) = self.slots.pop_front()
            else {
                break;
            };
            let release = (!delays.is_empty()).then_some((now, delays));
            self.queue(Item::Data(bytes), release);
            if close {
                self.close_client(out);
            }
        }
    }

    /// Everything due goes to the client.
    fn flush(&mut self, now: Instant, out: &mut Emitted) {
        self.flush_answers(now, out);
        while let Some(front) = self.pending.front() {
            if front.due().is_some_and(|t| t > now) {
                break;
            }
            if let Some(p) = self.pending.pop_front() {
                self.pending_bytes -= item_len(&p.item);
                out.to_client.push(p.item);
            }
        }
    }

    /// Releases what is due (the connection calls it when [`HttpLayer::deadline`] passes).
    pub(crate) fn pump(&mut self, now: Instant, out: &mut Emitted) {
        self.flush(now, out);
    }

    /// When the next held item is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.pending.front().and_then(Pending::due)
    }

    /// Client-bound bytes held (delayed responses and what queues behind them).
    pub(crate) fn held_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// No HTTP toxic left and nothing in flight at a message boundary: the connection may
    /// drop the layer and go back to its plain path. A layer that stopped framing stays.
    pub(crate) fn retired(&self) -> bool {
        self.mode == Mode::Framing
            && self.rules.is_empty()
            && self.slots.is_empty()
            && self.pending.is_empty()
            && self.requests.at_boundary()
            && self.responses.at_boundary()
    }

    fn queue(&mut self, item: Item, release: Option<(Instant, Vec<(u64, Duration)>)>) {
        self.pending_bytes += item_len(&item);
        self.pending.push_back(Pending { item, release });
    }

    /// Stops framing: held bytes go on unchanged (pending delays abandoned). If an answer is
    /// still owed behind unanswered requests it can no longer be placed: the client connection
    /// is closed instead.
    fn give_up(&mut self, out: &mut Emitted) {
        for p in &mut self.pending {
            p.release = None;
        }
        push_data(&mut out.to_server, self.requests.take_held());
        let held = self.responses.take_held();
        if !held.is_empty() {
            self.queue(Item::Data(held), None);
        }
        if self
            .slots
            .iter()
            .any(|s| matches!(s.reply, Reply::Answer { .. }))
        {
            self.close_client(out);
        } else {
            self.slots.clear();
            self.mode = Mode::Passthrough;
        }
    }

    /// After what is pending, the client gets an EOF and the connection closes; nothing else
    /// is passed on either way.
    fn close_client(&mut self, out: &mut Emitted) {
        self.queue(Item::Eof, None);
        self.slots.clear();
        self.mode = Mode::Closed;
        out.close = true;
    }
}

fn push_data(to: &mut Vec<Item>, b: Bytes) {
    if !b.is_empty() {
        to.push(Item::Data(b));
    }
}

fn item_len(item: &Item) -> usize {
    match item {
        Item::Data(b) => b.len(),
        Item::Eof => 0,
    }
}

/// The synthesized response: status line, `content-length`, `content-type` when there is a
/// body, `connection: close` when the connection closes after it; no body for `HEAD`.
pub(crate) fn answer(status: u16, body: &str, head_request: bool, close: bool) -> Bytes {
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut text = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        text.push_str("content-type: text/plain; charset=utf-8\r\n");
    }
    if close {
        text.push_str("connection: close\r\n");
    }
    text.push_str("\r\n");
    if !head_request {
        text.push_str(body);
    }
    Bytes::from(text)
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
