//! `noop`: passes everything through unchanged. Hidden in Toxiproxy's docs but valid.

use bytes::Bytes;

use super::{Cx, Item, Next, Queue, ToxicPipe};
use crate::spec::ToxicSpec;

/// Passes items on as they come.
#[derive(Debug, Default)]
pub(crate) struct Noop {
    queue: Queue,
}

impl ToxicPipe for Noop {
    fn push(&mut self, data: Bytes, cx: &mut Cx<'_>) {
        self.queue.push(cx.now, Item::Data(data));
    }
    fn push_eof(&mut self, cx: &mut Cx<'_>) {
        self.queue.push(cx.now, Item::Eof);
    }
    fn next(&mut self, _cx: &mut Cx<'_>) -> Next {
        match self.queue.pop() {
            Some((_, item)) => Next::Emit(item),
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
        matches!(spec, ToxicSpec::Noop)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;

    #[test]
    fn noop_passes_data_and_eof_in_order() {
        let mut h = Harness::new(&ToxicSpec::Noop);
        h.push(b"ab");
        h.push(b"c");
        h.eof();
        let (items, end) = h.take();
        assert_eq!(bytes_of(&items), b"abc");
        assert_eq!(items.last(), Some(&Item::Eof));
        assert_eq!(end, Next::Idle);
    }
}
