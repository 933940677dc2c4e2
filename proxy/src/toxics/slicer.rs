//! `slicer`: splits each chunk into pieces of about `average_size` ± `size_variation` bytes
//! and sends them `delay` apart (Toxiproxy's unit for this delay is microseconds).
//!
//! A chunk is halved repeatedly, the cut moved by a seeded draw in `[-size_variation,
//! +size_variation]`, until every piece is at most `average_size + size_variation` long.
//!
//! **`average_size: 0` (decided):** slicing is off and chunks pass whole (Toxiproxy would
//! recurse on 1-byte pieces until its stack overflows). Only `delay` still applies between them.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;

use super::{Cx, Item, Next, Queue, ToxicPipe};
use crate::spec::ToxicSpec;

/// Chops chunks into pieces.
#[derive(Debug)]
pub(crate) struct Slicer {
    average: u64,
    variation: u64,
    delay: Duration,
    queue: Queue,
    next_due: Option<Instant>,
}

impl Slicer {
    pub(crate) fn new(average: u64, variation: u64, delay: Duration) -> Self {
        Slicer {
            average,
            variation,
            delay,
            queue: Queue::default(),
            next_due: None,
        }
    }

    /// Piece lengths for a chunk of `len` bytes, in order.
    pub(crate) fn piece_lengths(&self, len: usize, cx: &mut Cx<'_>) -> Vec<usize> {
        if self.average == 0 || len == 0 {
            return vec![len];
        }
        let max_piece =
            usize::try_from(self.average.saturating_add(self.variation)).unwrap_or(usize::MAX);
        let var = i64::try_from(self.variation).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        // Depth-first on an explicit stack, right half pushed first so pieces come out in order.
        let mut stack = vec![len];
        while let Some(n) = stack.pop() {
            if n <= max_piece || n < 2 {
                out.push(n);
                continue;
            }
            let mut mid = (n / 2) as i64;
            // A variation larger than half the piece cannot move the cut further anyway.
            let var = var.min(mid);
            if var > 0 {
                mid += cx.rng.random_range(-var..=var);
            }
            let mid = mid.clamp(1, n as i64 - 1) as usize;
            stack.push(n - mid);
            stack.push(mid);
        }
        out
    }
}

impl ToxicPipe for Slicer {
    fn push(&mut self, mut data: Bytes, cx: &mut Cx<'_>) {
        for n in self.piece_lengths(data.len(), cx) {
            self.queue.push(cx.now, Item::Data(data.split_to(n)));
        }
    }
    fn push_eof(&mut self, cx: &mut Cx<'_>) {
        self.queue.push(cx.now, Item::Eof);
    }
    fn next(&mut self, cx: &mut Cx<'_>) -> Next {
        if self.queue.is_empty() {
            return Next::Idle;
        }
        if let Some(due) = self.next_due {
            if due > cx.now {
                return Next::Wait(due);
            }
        }
        match self.queue.pop() {
            Some((_, item)) => {
                if !self.delay.is_zero() {
                    self.next_due = Some(cx.now + self.delay);
                }
                Next::Emit(item)
            }
            None => Next::Idle,
        }
    }
    fn held_bytes(&self) -> usize {
        self.queue.bytes()
    }
    fn drain(&mut self) -> Vec<Item> {
        self.next_due = None;
        self.queue.drain()
    }
    fn update(&mut self, spec: &ToxicSpec) -> bool {
        match spec {
            ToxicSpec::Slicer {
                average_size,
                size_variation,
                delay,
            } => {
                self.average = *average_size;
                self.variation = *size_variation;
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

    fn slicer(avg: u64, var: u64, delay_us: u64) -> Harness {
        Harness::new(&ToxicSpec::Slicer {
            average_size: avg,
            size_variation: var,
            delay: Duration::from_micros(delay_us),
        })
    }

    #[test]
    fn average_one_without_variation_gives_one_byte_pieces() {
        let mut h = slicer(1, 0, 0);
        let data: Vec<u8> = (0..24).collect();
        h.push(&data);
        let (items, _) = h.take();
        assert_eq!(items.len(), 24);
        assert_eq!(bytes_of(&items), data);
    }

    #[test]
    fn big_chunk_gives_toxiproxys_piece_count_and_intact_bytes() {
        let mut h = slicer(1024, 512, 0);
        let data: Vec<u8> = (0..480_000u32).map(|i| (i % 251) as u8).collect();
        h.push(&data);
        let (items, _) = h.take();
        assert!((240..=720).contains(&items.len()), "{} pieces", items.len());
        assert_eq!(bytes_of(&items), data);
    }

    #[test]
    fn pieces_are_spaced_by_delay() {
        let mut h = slicer(2, 0, 1000);
        let start = h.now;
        h.push(b"abcdefgh");
        let (items, _) = h.run();
        assert_eq!(items.len(), 4);
        assert_eq!(bytes_of(&items), b"abcdefgh");
        assert_eq!(h.now - start, Duration::from_millis(3));
    }

    #[test]
    fn huge_variation_does_not_overflow() {
        let mut h = slicer(1, u64::MAX, 0);
        let data = pattern_bytes(1000);
        h.push(&data);
        let (items, _) = h.take();
        assert_eq!(bytes_of(&items), data);
    }

    fn pattern_bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 256) as u8).collect()
    }

    #[test]
    fn average_zero_passes_chunks_whole() {
        let mut h = slicer(0, 0, 0);
        h.push(b"whole chunk");
        let (items, _) = h.take();
        assert_eq!(items.len(), 1);
    }
}
