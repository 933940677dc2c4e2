//! The toxics: one file per type, all behind the [`ToxicPipe`] trait. (The public builder a
//! user attaches is [`crate::Toxic`]; it only describes a toxic, this trait runs one.)
//!
//! # The pipe contract
//!
//! A toxic is a small state machine sitting in one direction of one connection. The
//! connection (`connection.rs`) owns a chain of them per direction,
//! `reader → t1 → t2 → … → writer`, and drives it from the connection's single task:
//!
//! * [`ToxicPipe::push`] hands the toxic the next chunk of bytes, in stream order, at
//!   `cx.now` (the moment it reached this toxic). [`ToxicPipe::push_eof`] says the source has
//!   ended; nothing is pushed after it. A toxic must accept every push (the link bounds how
//!   much it reads).
//! * [`ToxicPipe::next`] asks for the next thing to hand on: [`Next::Emit`] (a chunk or the EOF,
//!   passed to the next toxic or written out at once), [`Next::Wait`] (nothing before that
//!   instant; the link sleeps and asks again), [`Next::Idle`] (nothing until more is pushed),
//!   or [`Next::Close`] (close the whole connection now, with a FIN or an RST).
//!   Emitted items must keep stream order; a toxic may drop, cut, split or alter bytes
//!   only where that is its meaning.
//! * [`ToxicPipe::drain`] is called when the toxic is removed (or stops being active after an
//!   update). It returns everything it still holds, in order; the link passes it on at once,
//!   so no byte is lost or reordered. A pending delay is abandoned.
//! * Optional abilities are default methods: [`ToxicPipe::activate`] (the toxic became active on a
//!   link: timers start here), [`ToxicPipe::update`] (new attributes, state kept: limit_data's
//!   counter survives), [`ToxicPipe::close_on_removal`] (timeout: dropped bytes mean the stream can
//!   no longer be trusted, so removing it closes the connection).
//!
//! The HTTP toxics (`http_status`, `http_delay`, `http_drop_response`) are not pipes: they
//! need both directions of a connection, so the connection runs them in one HTTP layer
//! (`http/`), at the socket edges, outside the chains. See `http/mod.rs`.
//!
//! Toxics never block and never sleep: time is passed in, which keeps them unit-testable
//! without sockets or clocks, and means adding, updating or removing one never waits for I/O.
//!
//! # Toxicity
//!
//! The link rolls each toxic's toxicity once per connection direction when the toxic is
//! attached (at connect, or when added to a live connection) and again when it is updated. A
//! toxic that loses the roll is bypassed: its chunks go straight to the next toxic. Rolls use
//! the connection's seeded RNG.

use std::fmt;
use std::time::Instant;

use bytes::Bytes;

use super::rng::ToxicRng;
use super::spec::ToxicSpec;

mod bandwidth;
mod corrupt;
pub(crate) mod http;
mod latency;
mod limit_data;
mod noop;
mod reset_peer;
mod slicer;
mod slow_close;
mod timeout;

/// An item flowing through a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// Bytes, in stream order.
    Data(Bytes),
    /// The source ended (TCP FIN received); the destination's write side is shut after it.
    Eof,
}

/// How the link closes a connection when a toxic asks it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseKind {
    /// Close both sockets normally (FIN).
    Fin,
    /// Reset both sockets (`SO_LINGER` 0, so the peers read `ECONNRESET`).
    Reset,
}

/// What a toxic wants to do next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Hand this item on now.
    Emit(Item),
    /// Nothing before this instant.
    Wait(Instant),
    /// Nothing until more is pushed.
    Idle,
    /// Close the connection.
    Close(CloseKind),
}

/// What a toxic gets with every call.
#[derive(Debug)]
pub(crate) struct Cx<'a> {
    /// The current time.
    pub now: Instant,
    /// The connection direction's seeded RNG.
    pub rng: &'a mut ToxicRng,
}

/// One toxic in one direction of one connection. See the module docs for the contract.
pub(crate) trait ToxicPipe: Send + fmt::Debug {
    /// Accept the next chunk.
    fn push(&mut self, data: Bytes, cx: &mut Cx<'_>);
    /// The source has ended.
    fn push_eof(&mut self, cx: &mut Cx<'_>);
    /// The next item to hand on, or when to ask again.
    fn next(&mut self, cx: &mut Cx<'_>) -> Next;
    /// Everything still held, in order (removal or deactivation).
    fn drain(&mut self) -> Vec<Item>;
    /// Bytes currently held (the link stops reading while a direction holds too much).
    fn held_bytes(&self) -> usize;

    /// The toxic became active on a link (attach or update that won the roll).
    fn activate(&mut self, _cx: &mut Cx<'_>) {}
    /// Take new attributes of the same type, keeping state. Returns `false` if the spec has a
    /// different type (the link then replaces the toxic).
    fn update(&mut self, spec: &ToxicSpec) -> bool;
    /// Whether removing this toxic while active must close the connection.
    fn close_on_removal(&self) -> bool {
        false
    }
}

/// Builds the toxic for a spec. A `match` over the closed [`ToxicSpec`], not a registry.
pub(crate) fn build(spec: &ToxicSpec) -> Box<dyn ToxicPipe> {
    match spec {
        ToxicSpec::Latency { latency, jitter } => {
            Box::new(latency::Latency::new(*latency, *jitter))
        }
        ToxicSpec::Bandwidth { rate_kb_per_s } => {
            Box::new(bandwidth::Bandwidth::new(*rate_kb_per_s))
        }
        ToxicSpec::SlowClose { delay } => Box::new(slow_close::SlowClose::new(*delay)),
        ToxicSpec::Timeout { timeout } => Box::new(timeout::Timeout::new(*timeout)),
        ToxicSpec::ResetPeer { timeout } => Box::new(reset_peer::ResetPeer::new(*timeout)),
        ToxicSpec::Slicer {
            average_size,
            size_variation,
            delay,
        } => Box::new(slicer::Slicer::new(*average_size, *size_variation, *delay)),
        ToxicSpec::LimitData { bytes } => Box::new(limit_data::LimitData::new(*bytes)),
        ToxicSpec::Noop => Box::new(noop::Noop::default()),
        ToxicSpec::Corrupt { probability } => Box::new(corrupt::Corrupt::new(probability.get())),
        // Never reached: the connection hands HTTP toxics to its HTTP layer
        // (`toxics/http/`), not to a chain. A no-op keeps a chain's bytes intact regardless.
        ToxicSpec::HttpStatus { .. }
        | ToxicSpec::HttpDelay { .. }
        | ToxicSpec::HttpDropResponse { .. } => Box::new(noop::Noop::default()),
    }
}

/// A FIFO of items, the building block most toxics hold.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    items: std::collections::VecDeque<(Instant, Item)>,
    bytes: usize,
}

fn item_len(item: &Item) -> usize {
    match item {
        Item::Data(b) => b.len(),
        Item::Eof => 0,
    }
}

impl Queue {
    pub(crate) fn push(&mut self, at: Instant, item: Item) {
        self.bytes += item_len(&item);
        self.items.push_back((at, item));
    }
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
    pub(crate) fn front(&self) -> Option<&(Instant, Item)> {
        self.items.front()
    }
    pub(crate) fn pop(&mut self) -> Option<(Instant, Item)> {
        let popped = self.items.pop_front();
        if let Some((_, item)) = &popped {
            self.bytes -= item_len(item);
        }
        popped
    }
    pub(crate) fn push_front(&mut self, at: Instant, item: Item) {
        self.bytes += item_len(&item);
        self.items.push_front((at, item));
    }
    pub(crate) fn drain(&mut self) -> Vec<Item> {
        self.bytes = 0;
        self.items.drain(..).map(|(_, i)| i).collect()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Drive a toxic by hand with a fake clock.
    use super::*;
    use crate::rng::connection_rng;
    use crate::spec::Direction;
    use std::time::Duration;

    /// A toxic, a fake clock and a seeded RNG.
    pub(crate) struct Harness {
        pub toxic: Box<dyn ToxicPipe>,
        pub now: Instant,
        pub rng: ToxicRng,
    }

    impl Harness {
        pub(crate) fn new(spec: &ToxicSpec) -> Self {
            let mut h = Harness {
                toxic: build(spec),
                now: Instant::now(),
                rng: connection_rng(1, 0, Direction::Downstream),
            };
            let mut cx = Cx {
                now: h.now,
                rng: &mut h.rng,
            };
            h.toxic.activate(&mut cx);
            h
        }
        pub(crate) fn push(&mut self, data: &[u8]) {
            let mut cx = Cx {
                now: self.now,
                rng: &mut self.rng,
            };
            self.toxic.push(Bytes::copy_from_slice(data), &mut cx);
        }
        pub(crate) fn eof(&mut self) {
            let mut cx = Cx {
                now: self.now,
                rng: &mut self.rng,
            };
            self.toxic.push_eof(&mut cx);
        }
        pub(crate) fn next(&mut self) -> Next {
            let mut cx = Cx {
                now: self.now,
                rng: &mut self.rng,
            };
            self.toxic.next(&mut cx)
        }
        pub(crate) fn advance(&mut self, d: Duration) {
            self.now += d;
        }
        /// Everything emitted now, until the toxic waits, idles or closes (returned last).
        pub(crate) fn take(&mut self) -> (Vec<Item>, Next) {
            let mut out = Vec::new();
            loop {
                match self.next() {
                    Next::Emit(item) => out.push(item),
                    other => return (out, other),
                }
            }
        }
        /// Runs the clock forward until the toxic idles or closes; returns all items and the end.
        pub(crate) fn run(&mut self) -> (Vec<Item>, Next) {
            let mut all = Vec::new();
            loop {
                let (items, next) = self.take();
                all.extend(items);
                match next {
                    Next::Wait(t) => self.now = t.max(self.now),
                    other => return (all, other),
                }
            }
        }
    }

    pub(crate) fn bytes_of(items: &[Item]) -> Vec<u8> {
        items
            .iter()
            .flat_map(|i| match i {
                Item::Data(b) => b.to_vec(),
                Item::Eof => Vec::new(),
            })
            .collect()
    }
}
