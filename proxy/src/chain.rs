//! One direction's toxic chain: the stages a connection pushes its bytes through, kept in line
//! with the proxy's published list, and the [`Outbox`] at its end that the writer empties.
//!
//! * **Chains follow the proxy live.** The proxy publishes its toxic lists through a `watch`
//!   channel; the connection diffs them by toxic id ([`Chain::apply`]): a new toxic is
//!   appended, an updated one keeps its state, a removed one hands everything it held to the
//!   next toxic (or the outbox) so nothing is lost or reordered. The API never waits for a
//!   connection.
//! * **Toxicity** is rolled per stage on attach and on update (see `toxics/mod.rs`); a stage
//!   that lost the roll is bypassed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use rand::Rng;

use crate::rng::ToxicRng;
use crate::spec::ToxicConfig;
use crate::toxics::{self, CloseKind, Cx, Item, Next, ToxicPipe};

/// One toxic as published by the proxy: `id` is new for every add, `version` changes on update.
#[derive(Debug, Clone)]
pub(crate) struct ChainEntry {
    pub id: u64,
    pub version: u64,
    pub config: ToxicConfig,
}

/// Both chains of a proxy, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chains {
    pub upstream: Vec<ChainEntry>,
    pub downstream: Vec<ChainEntry>,
}

/// What has left the chain and waits to be written to the destination, in order.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub chunks: VecDeque<Bytes>,
    /// Bytes in `chunks`.
    pub bytes: usize,
    /// Shut the destination's write side once everything before it is written.
    pub eof: bool,
}

impl Outbox {
    fn push(&mut self, item: Item) {
        match item {
            Item::Data(b) => {
                if !b.is_empty() {
                    self.bytes += b.len();
                    self.chunks.push_back(b);
                }
            }
            Item::Eof => self.eof = true,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

/// Pushes one item into a toxic.
fn feed(toxic: &mut dyn ToxicPipe, item: Item, cx: &mut Cx<'_>) {
    match item {
        Item::Data(b) => toxic.push(b, cx),
        Item::Eof => toxic.push_eof(cx),
    }
}

#[derive(Debug)]
struct Stage {
    id: u64,
    version: u64,
    active: bool,
    toxic: Box<dyn ToxicPipe>,
}

/// The toxics of one direction of one connection, in order.
#[derive(Debug)]
pub(crate) struct Chain {
    stages: Vec<Stage>,
    rng: ToxicRng,
    /// The earliest instant a stage waits for (set by [`Chain::pump`]).
    pub deadline: Option<Instant>,
    /// When the chain was made (a placeholder time where no toxic needs the clock).
    epoch: Instant,
}

impl Chain {
    pub(crate) fn new(rng: ToxicRng) -> Chain {
        Chain {
            stages: Vec::new(),
            rng,
            deadline: None,
            epoch: Instant::now(),
        }
    }

    /// No toxic attached at all (active or not).
    pub(crate) fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// No active toxic: bytes go straight to the outbox.
    pub(crate) fn bypass(&self) -> bool {
        self.stages.iter().all(|s| !s.active)
    }

    /// Bytes the toxics hold.
    pub(crate) fn held_bytes(&self) -> usize {
        self.stages.iter().map(|s| s.toxic.held_bytes()).sum()
    }

    /// The time, read only when a toxic will look at it (no clock read on the plain path).
    pub(crate) fn clock(&self) -> Instant {
        if self.stages.is_empty() {
            // Unused: no stage receives it. Any value would do; reuse a cheap one.
            self.epoch
        } else {
            Instant::now()
        }
    }

    /// Pushes what the source produced into the chain.
    pub(crate) fn push(&mut self, item: Item, now: Instant, out: &mut Outbox) {
        self.deliver(0, item, now, out);
    }

    /// Hands `item` to the first active stage at or after `from`, or to the outbox.
    fn deliver(&mut self, from: usize, item: Item, now: Instant, out: &mut Outbox) {
        let Chain { stages, rng, .. } = self;
        for stage in stages.iter_mut().skip(from) {
            if stage.active {
                feed(stage.toxic.as_mut(), item, &mut Cx { now, rng });
                return;
            }
        }
        out.push(item);
    }

    /// Moves everything due through the chain and sets [`Chain::deadline`]. Returns a close
    /// request from a toxic.
    pub(crate) fn pump(&mut self, now: Instant, out: &mut Outbox) -> Option<CloseKind> {
        self.deadline = None;
        for i in 0..self.stages.len() {
            if !self.stages[i].active {
                continue;
            }
            loop {
                let next = {
                    let mut cx = Cx {
                        now,
                        rng: &mut self.rng,
                    };
                    self.stages[i].toxic.next(&mut cx)
                };
                match next {
                    Next::Emit(item) => self.deliver(i + 1, item, now, out),
                    Next::Wait(t) => {
                        self.deadline = Some(self.deadline.map_or(t, |d| d.min(t)));
                        break;
                    }
                    Next::Idle => break,
                    Next::Close(kind) => return Some(kind),
                }
            }
        }
        None
    }

    fn roll(&mut self, config: &ToxicConfig) -> bool {
        let t = config.toxicity.get();
        t >= 1.0 || self.rng.random::<f64>() < t
    }

    /// Brings the chain in line with the proxy's list. Returns a close request (a removed
    /// active timeout toxic).
    pub(crate) fn apply(
        &mut self,
        entries: &[ChainEntry],
        now: Instant,
        out: &mut Outbox,
    ) -> Option<CloseKind> {
        let wanted: HashMap<u64, &ChainEntry> = entries.iter().map(|e| (e.id, e)).collect();
        let old = std::mem::take(&mut self.stages);
        let mut kept: Vec<Stage> = Vec::with_capacity(entries.len());
        // Items drained from removed or deactivated stages, oldest first, waiting for the next
        // active stage. Later stages hold older bytes, so their drains go in front.
        let mut carry: VecDeque<Item> = VecDeque::new();
        let mut close = None;
        for mut stage in old {
            match wanted.get(&stage.id) {
                None => {
                    if stage.active {
                        let items = stage.toxic.drain();
                        for item in items.into_iter().rev() {
                            carry.push_front(item);
                        }
                        if stage.toxic.close_on_removal() {
                            close = Some(CloseKind::Fin);
                        }
                    }
                }
                Some(entry) => {
                    if entry.version != stage.version {
                        stage.version = entry.version;
                        if !stage.toxic.update(&entry.config.spec) {
                            if stage.active {
                                for item in stage.toxic.drain().into_iter().rev() {
                                    carry.push_front(item);
                                }
                            }
                            stage.toxic = toxics::build(&entry.config.spec);
                            stage.active = false;
                        }
                        let was_active = stage.active;
                        stage.active = self.roll(&entry.config);
                        if was_active && !stage.active {
                            for item in stage.toxic.drain().into_iter().rev() {
                                carry.push_front(item);
                            }
                        } else if stage.active {
                            let mut cx = Cx {
                                now,
                                rng: &mut self.rng,
                            };
                            stage.toxic.activate(&mut cx);
                        }
                    }
                    if stage.active {
                        let mut cx = Cx {
                            now,
                            rng: &mut self.rng,
                        };
                        for item in carry.drain(..) {
                            feed(stage.toxic.as_mut(), item, &mut cx);
                        }
                    }
                    kept.push(stage);
                }
            }
        }
        let known: HashSet<u64> = kept.iter().map(|s| s.id).collect();
        for entry in entries.iter().filter(|e| !known.contains(&e.id)) {
            let mut toxic = toxics::build(&entry.config.spec);
            let active = self.roll(&entry.config);
            if active {
                let mut cx = Cx {
                    now,
                    rng: &mut self.rng,
                };
                toxic.activate(&mut cx);
                for item in carry.drain(..) {
                    feed(toxic.as_mut(), item, &mut cx);
                }
            }
            kept.push(Stage {
                id: entry.id,
                version: entry.version,
                active,
                toxic,
            });
        }
        self.stages = kept;
        let n = self.stages.len();
        for item in carry {
            self.deliver(n, item, now, out);
        }
        close
    }
}
