//! `limit_data`: passes `bytes` bytes, cutting the chunk that crosses the limit, then closes
//! the connection. `bytes: 0` closes on the first chunk, forwarding nothing. The counter is
//! per connection direction and survives updates; a toxic removed and added again starts at 0.

use bytes::Bytes;

use super::{CloseKind, Cx, Item, Next, Queue, ToxicPipe};
use crate::spec::ToxicSpec;

/// Byte budget.
#[derive(Debug)]
pub(crate) struct LimitData {
    limit: u64,
    passed: u64,
    queue: Queue,
    closing: bool,
}

impl LimitData {
    pub(crate) fn new(limit: u64) -> Self {
        LimitData {
            limit,
            passed: 0,
            queue: Queue::default(),
            closing: false,
        }
    }
}

impl ToxicPipe for LimitData {
    fn push(&mut self, mut data: Bytes, cx: &mut Cx<'_>) {
        if self.closing {
            return;
        }
        let left = self.limit.saturating_sub(self.passed);
        if data.len() as u64 >= left {
            data.truncate(usize::try_from(left).unwrap_or(usize::MAX));
            self.closing = true;
        }
        self.passed += data.len() as u64;
        if !data.is_empty() {
            self.queue.push(cx.now, Item::Data(data));
        }
    }
    fn push_eof(&mut self, cx: &mut Cx<'_>) {
        if !self.closing {
            self.queue.push(cx.now, Item::Eof);
        }
    }
    fn next(&mut self, _cx: &mut Cx<'_>) -> Next {
        match self.queue.pop() {
            Some((_, item)) => Next::Emit(item),
            None if self.closing => Next::Close(CloseKind::Fin),
            None => Next::Idle,
        }
    }
    fn held_bytes(&self) -> usize {
        self.queue.bytes()
    }
    fn drain(&mut self) -> Vec<Item> {
        self.queue.drain()
    }
    fn update(&mut self, spec: &ToxicSpec) -> bool {
        match spec {
            ToxicSpec::LimitData { bytes } => {
                self.limit = *bytes;
                self.closing = self.passed >= self.limit && self.closing;
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

    fn limit(bytes: u64) -> Harness {
        Harness::new(&ToxicSpec::LimitData { bytes })
    }

    #[test]
    fn chunk_smaller_than_limit_passes_and_stays_open() {
        let mut h = limit(10);
        h.push(b"12345");
        let (items, end) = h.take();
        assert_eq!(bytes_of(&items), b"12345");
        assert_eq!(end, Next::Idle);
    }

    #[test]
    fn chunk_matching_limit_passes_then_closes() {
        let mut h = limit(5);
        h.push(b"12345");
        let (items, end) = h.take();
        assert_eq!(bytes_of(&items), b"12345");
        assert_eq!(end, Next::Close(CloseKind::Fin));
    }

    #[test]
    fn second_chunk_is_cut_to_fit() {
        let mut h = limit(7);
        h.push(b"12345");
        h.push(b"67890");
        let (items, end) = h.take();
        assert_eq!(bytes_of(&items), b"1234567");
        assert_eq!(end, Next::Close(CloseKind::Fin));
    }

    #[test]
    fn zero_limit_closes_on_first_chunk() {
        let mut h = limit(0);
        assert_eq!(h.next(), Next::Idle);
        h.push(b"x");
        let (items, end) = h.take();
        assert!(items.is_empty());
        assert_eq!(end, Next::Close(CloseKind::Fin));
    }

    #[test]
    fn counter_survives_update() {
        let mut h = limit(10);
        h.push(b"123456");
        let _ = h.take();
        assert!(h.toxic.update(&ToxicSpec::LimitData { bytes: 8 }));
        h.push(b"789");
        let (items, end) = h.take();
        assert_eq!(bytes_of(&items), b"78");
        assert_eq!(end, Next::Close(CloseKind::Fin));
    }
}
