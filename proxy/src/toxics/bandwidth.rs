//! `bandwidth`: limits throughput to `rate` KB/s (KB = 1000 bytes), per connection direction.
//!
//! Bytes leave in slices of at most 100 ms worth (`rate * 100` bytes); a slice is emitted once
//! its transmission time has elapsed, so `n` bytes take `n / (rate * 1000)` seconds.
//!
//! **`rate: 0` (decided):** no data passes; it is held until the toxic is updated or removed,
//! then forwarded (nothing is lost). This is what Toxiproxy effectively does, and people use it
//! to "cut" a connection without closing it. A negative rate is rejected by the API (400).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Cx, Item, Next, Queue, ToxicPipe};
use crate::spec::ToxicSpec;

/// Rate limiter.
#[derive(Debug)]
pub(crate) struct Bandwidth {
    rate_kb_per_s: u64,
    queue: Queue,
    /// When the slice at the head may go.
    slice_due: Option<(Instant, usize)>,
    /// When the "wire" is free again.
    free_at: Option<Instant>,
}

impl Bandwidth {
    pub(crate) fn new(rate_kb_per_s: u64) -> Self {
        Bandwidth {
            rate_kb_per_s,
            queue: Queue::default(),
            slice_due: None,
            free_at: None,
        }
    }

    fn transmit_time(&self, len: usize) -> Duration {
        // len bytes at rate*1000 bytes/s, in nanoseconds.
        let nanos = (len as u128) * 1_000_000 / u128::from(self.rate_kb_per_s);
        Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64)
    }
}

impl ToxicPipe for Bandwidth {
    fn push(&mut self, data: Bytes, cx: &mut Cx<'_>) {
        self.queue.push(cx.now, Item::Data(data));
    }
    fn push_eof(&mut self, cx: &mut Cx<'_>) {
        self.queue.push(cx.now, Item::Eof);
    }
    fn next(&mut self, cx: &mut Cx<'_>) -> Next {
        let Some((arrived, item)) = self.queue.front() else {
            return Next::Idle;
        };
        let (arrived, len) = match item {
            Item::Eof => {
                if self.free_at.is_some_and(|f| f > cx.now) {
                    return Next::Wait(self.free_at.unwrap_or(cx.now));
                }
                return match self.queue.pop() {
                    Some((_, item)) => Next::Emit(item),
                    None => Next::Idle,
                };
            }
            Item::Data(b) => (*arrived, b.len()),
        };
        if self.rate_kb_per_s == 0 {
            return Next::Idle;
        }
        let (due, slice) = match self.slice_due {
            Some(s) => s,
            None => {
                let max_slice =
                    usize::try_from(self.rate_kb_per_s.saturating_mul(100)).unwrap_or(usize::MAX);
                let slice = len.min(max_slice.max(1));
                let start = self.free_at.map_or(arrived, |f| f.max(arrived));
                let due = start + self.transmit_time(slice);
                self.slice_due = Some((due, slice));
                (due, slice)
            }
        };
        if due > cx.now {
            return Next::Wait(due);
        }
        self.slice_due = None;
        self.free_at = Some(due);
        match self.queue.pop() {
            Some((at, Item::Data(mut b))) => {
                if slice < b.len() {
                    let head = b.split_to(slice);
                    self.queue.push_front(at, Item::Data(b));
                    Next::Emit(Item::Data(head))
                } else {
                    Next::Emit(Item::Data(b))
                }
            }
            Some((_, item)) => Next::Emit(item),
            None => Next::Idle,
        }
    }
    fn held_bytes(&self) -> usize {
        self.queue.bytes()
    }
    fn drain(&mut self) -> Vec<Item> {
        self.slice_due = None;
        self.queue.drain()
    }
    fn update(&mut self, spec: &ToxicSpec) -> bool {
        match spec {
            ToxicSpec::Bandwidth { rate_kb_per_s } => {
                self.rate_kb_per_s = *rate_kb_per_s;
                self.slice_due = None;
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

    #[test]
    fn bandwidth_takes_len_over_rate() {
        let mut h = Harness::new(&ToxicSpec::Bandwidth {
            rate_kb_per_s: 1000,
        });
        let start = h.now;
        h.push(&vec![7u8; 480_000]);
        h.eof();
        let (items, end) = h.run();
        assert_eq!(end, Next::Idle);
        assert_eq!(bytes_of(&items).len(), 480_000);
        assert_eq!(h.now - start, Duration::from_millis(480));
        // 100 ms slices of 100 KB
        assert!(items.iter().all(|i| match i {
            Item::Data(b) => b.len() <= 100_000,
            Item::Eof => true,
        }));
    }

    #[test]
    fn rate_zero_holds_everything_and_drain_returns_it() {
        let mut h = Harness::new(&ToxicSpec::Bandwidth { rate_kb_per_s: 0 });
        h.push(b"held");
        assert_eq!(h.next(), Next::Idle);
        assert_eq!(bytes_of(&h.toxic.drain()), b"held");
    }
}
