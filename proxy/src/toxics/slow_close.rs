//! `slow_close`: data passes; the EOF (close) is held for `delay` after it arrives.

use std::time::Duration;

use bytes::Bytes;

use super::{Cx, Item, Next, Queue, ToxicPipe};
use crate::spec::ToxicSpec;

/// Delays the EOF.
#[derive(Debug)]
pub(crate) struct SlowClose {
    delay: Duration,
    queue: Queue,
}

impl SlowClose {
    pub(crate) fn new(delay: Duration) -> Self {
        SlowClose {
            delay,
            queue: Queue::default(),
        }
    }
}

impl ToxicPipe for SlowClose {
    fn push(&mut self, data: Bytes, cx: &mut Cx<'_>) {
        self.queue.push(cx.now, Item::Data(data));
    }
    fn push_eof(&mut self, cx: &mut Cx<'_>) {
        self.queue.push(cx.now + self.delay, Item::Eof);
    }
    fn next(&mut self, cx: &mut Cx<'_>) -> Next {
        match self.queue.front() {
            None => Next::Idle,
            Some((due, Item::Eof)) if *due > cx.now => Next::Wait(*due),
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
        self.queue.drain()
    }
    fn update(&mut self, spec: &ToxicSpec) -> bool {
        match spec {
            ToxicSpec::SlowClose { delay } => {
                self.delay = *delay;
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
    fn data_passes_at_once_and_eof_waits() {
        let mut h = Harness::new(&ToxicSpec::SlowClose {
            delay: Duration::from_millis(200),
        });
        let start = h.now;
        h.push(b"hi");
        h.eof();
        let (items, next) = h.take();
        assert_eq!(bytes_of(&items), b"hi");
        assert_eq!(next, Next::Wait(start + Duration::from_millis(200)));
        let (items, _) = h.run();
        assert_eq!(items, vec![Item::Eof]);
    }
}
