//! `latency`: delays every chunk by `latency` plus a uniform draw from `[-jitter, +jitter)`.
//!
//! The delay counts from the moment the chunk reached the toxic, so chunks are pipelined and
//! throughput is not limited. A chunk is never sent before the one ahead of it (jitter never
//! reorders). Two latency toxics in a chain add up. On removal, held chunks go on at once.

use std::time::Duration;

use bytes::Bytes;
use rand::Rng;

use super::{Cx, Item, Next, Queue, ToxicPipe};
use crate::spec::ToxicSpec;

/// Holds each item until its due time.
#[derive(Debug)]
pub(crate) struct Latency {
    latency: Duration,
    jitter: Duration,
    /// Items with their due time.
    queue: Queue,
    last_due: Option<std::time::Instant>,
}

impl Latency {
    pub(crate) fn new(latency: Duration, jitter: Duration) -> Self {
        Latency {
            latency,
            jitter,
            queue: Queue::default(),
            last_due: None,
        }
    }

    fn delay(&self, cx: &mut Cx<'_>) -> Duration {
        if self.jitter.is_zero() {
            return self.latency;
        }
        let j = self.jitter.as_micros() as i64;
        let offset = cx.rng.random_range(-j..j);
        let total = self.latency.as_micros() as i64 + offset;
        Duration::from_micros(total.max(0) as u64)
    }

    fn enqueue(&mut self, item: Item, cx: &mut Cx<'_>) {
        let mut due = cx.now + self.delay(cx);
        if let Some(last) = self.last_due {
            due = due.max(last);
        }
        self.last_due = Some(due);
        self.queue.push(due, item);
    }
}

impl ToxicPipe for Latency {
    fn push(&mut self, data: Bytes, cx: &mut Cx<'_>) {
        self.enqueue(Item::Data(data), cx);
    }
    fn push_eof(&mut self, cx: &mut Cx<'_>) {
        self.enqueue(Item::Eof, cx);
    }
    fn next(&mut self, cx: &mut Cx<'_>) -> Next {
        match self.queue.front() {
            None => Next::Idle,
            Some((due, _)) if *due > cx.now => Next::Wait(*due),
            Some(_) => match self.queue.pop() {
                Some((_, item)) => Next::Emit(item),
                None => Next::Idle,
            },
        }
    }
    fn held_bytes(&self) -> usize {
        self.queue.bytes()
    }
    fn drain(&mut self) -> Vec<Item> {
        self.last_due = None;
        self.queue.drain()
    }
    fn update(&mut self, spec: &ToxicSpec) -> bool {
        match spec {
            ToxicSpec::Latency { latency, jitter } => {
                self.latency = *latency;
                self.jitter = *jitter;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use std::time::Duration;

    fn spec(ms: u64, jitter: u64) -> ToxicSpec {
        ToxicSpec::Latency {
            latency: Duration::from_millis(ms),
            jitter: Duration::from_millis(jitter),
        }
    }

    #[test]
    fn latency_holds_chunk_until_due() {
        let mut h = Harness::new(&spec(100, 0));
        let start = h.now;
        h.push(b"x");
        assert_eq!(h.next(), Next::Wait(start + Duration::from_millis(100)));
        h.advance(Duration::from_millis(100));
        assert_eq!(h.next(), Next::Emit(Item::Data(Bytes::from_static(b"x"))));
    }

    #[test]
    fn jitter_never_reorders_and_stays_in_bounds() {
        let mut h = Harness::new(&spec(50, 40));
        let start = h.now;
        for i in 0..200u8 {
            h.push(&[i]);
            h.advance(Duration::from_micros(100));
        }
        let mut order = Vec::new();
        loop {
            match h.next() {
                Next::Emit(Item::Data(b)) => {
                    // Emitted no earlier than 10 ms (50 - 40) after its push.
                    let pushed = start + Duration::from_micros(100) * u32::from(b[0]);
                    assert!(h.now >= pushed + Duration::from_millis(10));
                    order.push(b[0]);
                }
                Next::Wait(t) => h.now = t,
                _ => break,
            }
        }
        assert_eq!(order, (0..200u8).collect::<Vec<_>>());
    }

    #[test]
    fn same_seed_gives_same_jitter() {
        let delay = || {
            let mut h = Harness::new(&spec(100, 50));
            h.push(b"a");
            match h.next() {
                Next::Wait(t) => t - h.now,
                other => panic!("expected a wait, got {other:?}"),
            }
        };
        let first = delay();
        assert_eq!(first, delay());
        assert!(first >= Duration::from_millis(50) && first < Duration::from_millis(150));
    }
}
