//! In-process clocks: the [`Clock`] trait and its system, manual and skewed implementations, so a
//! team can unit-test its own time logic without containers.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::ClockOffset;

/// A source of wall-clock time. Pass one to the code under test instead of calling
/// `SystemTime::now()` directly.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use shakedown::clock::{Clock, ClockOffset, ManualClock, SkewedClock};
///
/// let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let clock = ManualClock::new(start);
/// let ahead = SkewedClock::new(clock.clone(), ClockOffset::ahead(Duration::from_secs(90)));
/// clock.advance(Duration::from_secs(10));
/// assert_eq!(ahead.now(), start + Duration::from_secs(100));
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// The real wall clock (`SystemTime::now()`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until told to move. Clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: SystemTime) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SystemTime> {
        self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the time (it may go backwards, like a real clock being stepped).
    pub fn set(&self, to: SystemTime) {
        *self.lock() = to;
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    /// Moves the time by a signed offset (backwards for a negative one).
    pub fn shift(&self, by: ClockOffset) {
        let mut now = self.lock();
        *now = by.apply(*now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.lock()
    }
}

/// Another clock, shifted by a fixed offset: a node whose clock is ahead or behind.
#[derive(Debug, Clone)]
pub struct SkewedClock<C> {
    base: C,
    offset: ClockOffset,
}

impl<C: Clock> SkewedClock<C> {
    /// `base` shifted by `offset`.
    pub fn new(base: C, offset: ClockOffset) -> Self {
        SkewedClock { base, offset }
    }

    /// The offset.
    pub fn offset(&self) -> ClockOffset {
        self.offset
    }
}

impl<C: Clock> Clock for SkewedClock<C> {
    fn now(&self) -> SystemTime {
        self.offset.apply(self.base.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let c = ManualClock::new(t(100));
        let other = c.clone();
        assert_eq!(c.now(), t(100));
        c.advance(Duration::from_secs(5));
        assert_eq!(other.now(), t(105));
        other.set(t(50));
        assert_eq!(c.now(), t(50));
        c.shift(ClockOffset::behind(Duration::from_secs(20)));
        assert_eq!(c.now(), t(30));
    }

    #[test]
    fn skewed_clock_follows_its_base_at_a_fixed_offset() {
        let base = ManualClock::new(t(1000));
        let behind = SkewedClock::new(base.clone(), ClockOffset::behind(Duration::from_secs(600)));
        let ahead = SkewedClock::new(&base, ClockOffset::ahead(Duration::from_millis(1500)));
        assert_eq!(behind.now(), t(400));
        assert_eq!(ahead.now(), t(1001) + Duration::from_millis(500));
        base.advance(Duration::from_secs(1));
        assert_eq!(behind.now(), t(401));
        assert_eq!(behind.offset().as_millis(), -600_000);
    }

    #[test]
    fn system_clock_is_close_to_now() {
        let a = SystemTime::now();
        let b = SystemClock.now();
        assert!(b >= a);
        let shared: Arc<dyn Clock> = Arc::new(SystemClock);
        assert!(shared.now() >= b);
    }
}
