//! `reset_peer`: the first chunk (or EOF) to arrive is discarded, and `timeout` later both
//! sockets are reset (TCP RST via `SO_LINGER` 0), so the peers read `ECONNRESET`.
//!
//! **Existing connections and toxicity 0 (decided):** `SO_LINGER` 0 is set only at the moment
//! the toxic fires, on the sockets of that connection. So the RST also happens on connections
//! that existed before the toxic was added (Toxiproxy sends a FIN there), and a toxic that lost
//! its toxicity roll (always, at `toxicity: 0`) never turns a normal close into an RST
//! (Toxiproxy issue #603).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{CloseKind, Cx, Item, Next, ToxicPipe};
use crate::spec::ToxicSpec;

/// Resets the connection after the first chunk.
#[derive(Debug)]
pub(crate) struct ResetPeer {
    timeout: Duration,
    fires_at: Option<Instant>,
}

impl ResetPeer {
    pub(crate) fn new(timeout: Duration) -> Self {
        ResetPeer {
            timeout,
            fires_at: None,
        }
    }
    fn arm(&mut self, now: Instant) {
        if self.fires_at.is_none() {
            self.fires_at = Some(now + self.timeout);
        }
    }
}

impl ToxicPipe for ResetPeer {
    fn push(&mut self, _data: Bytes, cx: &mut Cx<'_>) {
        self.arm(cx.now);
    }
    fn push_eof(&mut self, cx: &mut Cx<'_>) {
        self.arm(cx.now);
    }
    fn next(&mut self, cx: &mut Cx<'_>) -> Next {
        match self.fires_at {
            Some(t) if t <= cx.now => Next::Close(CloseKind::Reset),
            Some(t) => Next::Wait(t),
            None => Next::Idle,
        }
    }
    fn held_bytes(&self) -> usize {
        0
    }
    fn drain(&mut self) -> Vec<Item> {
        Vec::new()
    }
    fn update(&mut self, spec: &ToxicSpec) -> bool {
        match spec {
            ToxicSpec::ResetPeer { timeout } => {
                self.timeout = *timeout;
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
    fn resets_timeout_after_first_chunk() {
        let mut h = Harness::new(&ToxicSpec::ResetPeer {
            timeout: Duration::from_millis(50),
        });
        assert_eq!(h.next(), Next::Idle);
        h.advance(Duration::from_millis(10));
        let first = h.now;
        h.push(b"dropped");
        let (items, end) = h.run();
        assert!(items.is_empty());
        assert_eq!(end, Next::Close(CloseKind::Reset));
        assert_eq!(h.now, first + Duration::from_millis(50));
    }
}
