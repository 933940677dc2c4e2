//! `corrupt` (not in Toxiproxy): each byte is flipped with probability `probability`, by XOR
//! with a non-zero mask, so a chosen byte always changes. Positions and masks come from the
//! connection's seeded RNG, so a seeded run corrupts the same bytes of the same stream.
//!
//! On the wire the attribute is `probability_ppm`, parts per million (integers only, as
//! Toxiproxy clients expect).

use bytes::{Bytes, BytesMut};
use rand::Rng;

use super::{Cx, Item, Next, Queue, ToxicPipe};
use crate::spec::ToxicSpec;

/// Bit flipper.
#[derive(Debug)]
pub(crate) struct Corrupt {
    probability: f64,
    /// Bytes to skip before the next flipped byte.
    skip: Option<u64>,
    queue: Queue,
}

impl Corrupt {
    pub(crate) fn new(probability: f64) -> Self {
        Corrupt {
            probability,
            skip: None,
            queue: Queue::default(),
        }
    }

    /// Geometric gap to the next corrupted byte.
    fn draw_skip(&self, cx: &mut Cx<'_>) -> u64 {
        if self.probability >= 1.0 {
            return 0;
        }
        let u: f64 = 1.0 - cx.rng.random::<f64>(); // (0, 1]
        let gap = u.ln() / (1.0 - self.probability).ln();
        if gap.is_finite() && gap < u64::MAX as f64 {
            gap as u64
        } else {
            u64::MAX
        }
    }
}

impl ToxicPipe for Corrupt {
    fn push(&mut self, data: Bytes, cx: &mut Cx<'_>) {
        if self.probability <= 0.0 {
            self.queue.push(cx.now, Item::Data(data));
            return;
        }
        let mut owned: Option<BytesMut> = None;
        let len = data.len() as u64;
        let mut pos: u64 = 0;
        loop {
            let skip = match self.skip {
                Some(s) => s,
                None => self.draw_skip(cx),
            };
            if pos.saturating_add(skip) >= len {
                self.skip = Some(skip - (len - pos));
                break;
            }
            pos += skip;
            let buf = owned.get_or_insert_with(|| BytesMut::from(&data[..]));
            let mask: u8 = cx.rng.random_range(1..=255);
            buf[pos as usize] ^= mask;
            pos += 1;
            self.skip = None;
        }
        let out = owned.map_or(data, BytesMut::freeze);
        self.queue.push(cx.now, Item::Data(out));
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
        match spec {
            ToxicSpec::Corrupt { probability } => {
                self.probability = probability.get();
                self.skip = None;
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
    use crate::spec::Toxicity;

    fn corrupt(p: f64) -> Harness {
        Harness::new(&ToxicSpec::Corrupt {
            probability: Toxicity::new(p).unwrap(),
        })
    }

    #[test]
    fn probability_one_flips_every_byte() {
        let mut h = corrupt(1.0);
        h.push(&[0u8; 100]);
        let (items, _) = h.take();
        assert!(bytes_of(&items).iter().all(|&b| b != 0));
    }

    #[test]
    fn flip_rate_is_close_to_probability_and_reproducible() {
        let run = || {
            let mut h = corrupt(0.01);
            for _ in 0..10 {
                h.push(&[0u8; 10_000]);
            }
            bytes_of(&h.take().0)
        };
        let a = run();
        let flipped = a.iter().filter(|&&b| b != 0).count();
        assert!(
            (700..=1300).contains(&flipped),
            "{flipped} of 100000 flipped"
        );
        assert_eq!(a, run());
    }

    #[test]
    fn probability_zero_changes_nothing() {
        let mut h = corrupt(0.0);
        h.push(b"clean");
        assert_eq!(bytes_of(&h.take().0), b"clean");
    }
}
