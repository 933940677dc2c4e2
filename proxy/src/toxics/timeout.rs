//! `timeout`: drops every byte in its stream and closes the connection `timeout` after the
//! toxic became active on it. `timeout: 0` never closes: data just vanishes.
//!
//! **Timer under constant traffic (decided):** the timer starts when the toxic becomes active
//! on a connection (connect, add or update) and is *not* re-armed by traffic. Toxiproxy
//! re-arms it on every chunk, so it turns into an idle timeout that may never fire under load
//! (its issues #149, #410); here it always fires, like a cable pulled at that moment.
//!
//! Removing an active timeout toxic closes the connection: bytes were dropped, so the stream
//! can no longer be trusted (as in Toxiproxy). The EOF is passed on, so a client that closes
//! still closes the upstream.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{CloseKind, Cx, Item, Next, ToxicPipe};
use crate::spec::ToxicSpec;

/// Black hole with a fuse.
#[derive(Debug)]
pub(crate) struct Timeout {
    timeout: Duration,
    fires_at: Option<Instant>,
    eof: bool,
}

impl Timeout {
    pub(crate) fn new(timeout: Duration) -> Self {
        Timeout {
            timeout,
            fires_at: None,
            eof: false,
        }
    }
}

impl ToxicPipe for Timeout {
    fn push(&mut self, _data: Bytes, _cx: &mut Cx<'_>) {}
    fn push_eof(&mut self, _cx: &mut Cx<'_>) {
        self.eof = true;
    }
    fn next(&mut self, cx: &mut Cx<'_>) -> Next {
        if self.eof {
            self.eof = false;
            return Next::Emit(Item::Eof);
        }
        match self.fires_at {
            Some(t) if t <= cx.now => Next::Close(CloseKind::Fin),
            Some(t) => Next::Wait(t),
            None => Next::Idle,
        }
    }
    fn held_bytes(&self) -> usize {
        0
    }
    fn drain(&mut self) -> Vec<Item> {
        if std::mem::take(&mut self.eof) {
            vec![Item::Eof]
        } else {
            Vec::new()
        }
    }
    fn activate(&mut self, cx: &mut Cx<'_>) {
        self.fires_at = (!self.timeout.is_zero()).then(|| cx.now + self.timeout);
    }
    fn update(&mut self, spec: &ToxicSpec) -> bool {
        match spec {
            ToxicSpec::Timeout { timeout } => {
                self.timeout = *timeout;
                true
            }
            _ => false,
        }
    }
    fn close_on_removal(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use std::time::Duration;

    #[test]
    fn drops_data_and_closes_after_timeout_even_under_traffic() {
        let mut h = Harness::new(&ToxicSpec::Timeout {
            timeout: Duration::from_millis(100),
        });
        let start = h.now;
        for _ in 0..20 {
            h.push(b"traffic");
            h.advance(Duration::from_millis(4));
            assert!(matches!(h.next(), Next::Wait(_)));
        }
        let (items, end) = h.run();
        assert!(items.is_empty());
        assert_eq!(end, Next::Close(CloseKind::Fin));
        assert_eq!(h.now, start + Duration::from_millis(100));
        assert!(h.toxic.close_on_removal());
    }

    #[test]
    fn zero_timeout_never_closes() {
        let mut h = Harness::new(&ToxicSpec::Timeout {
            timeout: Duration::ZERO,
        });
        h.push(b"gone");
        assert_eq!(h.next(), Next::Idle);
    }
}
