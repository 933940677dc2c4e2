//! Wake-ups from a proxy to its connection tasks: "toxics changed" and "close".
//!
//! Each connection polls one [`ConnSignal`] (atomic flags plus an `AtomicWaker`) in its event
//! loop. Polling it costs a few atomic operations and no lock, which matters because it is
//! polled on every socket event; the proxy side takes a lock only when it notifies.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;

/// The proxy's toxic chains changed; read the latest from the watch channel.
pub(crate) const CHANGED: u8 = 1;
/// The proxy was disabled, deleted or shut down; close the connection.
pub(crate) const CLOSED: u8 = 2;

/// One connection's signal.
#[derive(Debug, Default)]
pub(crate) struct ConnSignal {
    flags: AtomicU8,
    waker: AtomicWaker,
}

impl ConnSignal {
    fn notify(&self, bits: u8) {
        self.flags.fetch_or(bits, Ordering::AcqRel);
        self.waker.wake();
    }

    /// Takes the pending bits, or registers the task to be woken when some arrive.
    ///
    /// The waker is registered on every poll that finds no bits. Registering only when none
    /// was stored is not enough: a notification whose bits the task took while it ran for
    /// another reason may deliver its wake-up later, consuming a waker registered after
    /// that, and the next notification then wakes nobody (a close or a toxic change missed
    /// by an idle connection). Registering again costs a compare-and-swap; the waker is only
    /// cloned when it changed.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<u8> {
        let bits = self.flags.swap(0, Ordering::AcqRel);
        if bits != 0 {
            return Poll::Ready(bits);
        }
        self.waker.register(cx.waker());
        match self.flags.swap(0, Ordering::AcqRel) {
            0 => Poll::Pending,
            bits => Poll::Ready(bits),
        }
    }
}

/// The signals of one proxy's live connections.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    list: Mutex<Vec<Weak<ConnSignal>>>,
}

impl Signals {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Weak<ConnSignal>>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A signal for a new connection.
    pub(crate) fn register(&self) -> Arc<ConnSignal> {
        let signal = Arc::new(ConnSignal::default());
        let mut list = self.lock();
        // Forget finished connections now and then (amortised O(1)).
        if list.len() >= 64 && list.len().is_power_of_two() {
            list.retain(|w| w.strong_count() > 0);
        }
        list.push(Arc::downgrade(&signal));
        signal
    }

    /// Sets `bits` on every live connection and wakes it.
    pub(crate) fn notify_all(&self, bits: u8) {
        let mut list = self.lock();
        list.retain(|w| match w.upgrade() {
            Some(signal) => {
                signal.notify(bits);
                true
            }
            None => false,
        });
        if bits & CLOSED != 0 {
            list.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Waker;

    #[test]
    fn notify_sets_bits_once_and_skips_dropped_connections() {
        let signals = Signals::default();
        let a = signals.register();
        let b = signals.register();
        drop(b);
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(a.poll_take(&mut cx), Poll::Pending);
        signals.notify_all(CHANGED);
        signals.notify_all(CLOSED);
        assert_eq!(a.poll_take(&mut cx), Poll::Ready(CHANGED | CLOSED));
        assert_eq!(a.poll_take(&mut cx), Poll::Pending);
        assert!(signals.lock().is_empty());
    }

    /// Counts its wake-ups.
    struct CountingWaker(AtomicUsize);

    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_late_wake_up_never_costs_the_next_notification() {
        let signals = Signals::default();
        let a = signals.register();
        let count = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(a.poll_take(&mut cx), Poll::Pending);
        // One notification in two halves, the task running in between: its bits land, the
        // task (woken by a socket) takes them and waits again, then its wake-up lands.
        a.flags.fetch_or(CHANGED, Ordering::AcqRel);
        assert_eq!(a.poll_take(&mut cx), Poll::Ready(CHANGED));
        assert_eq!(a.poll_take(&mut cx), Poll::Pending);
        a.waker.wake();
        assert_eq!(a.poll_take(&mut cx), Poll::Pending);
        let before = count.0.load(Ordering::SeqCst);
        signals.notify_all(CLOSED);
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            before + 1,
            "the close woke nobody"
        );
        assert_eq!(a.poll_take(&mut cx), Poll::Ready(CLOSED));
    }
}
