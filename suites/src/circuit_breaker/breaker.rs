//! [`Breaker`]: a circuit breaker's state machine, configured by a [`BreakerPolicy`], on times
//! given by the caller (so it is tested without a clock).
//!
//! Closed, it records each call's outcome in a count-based sliding window and opens when, with at
//! least `minimum_calls` recorded, the share of failures reaches `failure_rate` (resilience4j's
//! model). Open, it rejects every call until `open_wait` has passed, then half-opens: it lets
//! `probes` calls through; one failure opens it again, all of them succeeding closes it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What a breaker counts as a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Connection refused or reset before the request was sent.
    pub connection_errors: bool,
    /// The call's timeout fired.
    pub timeouts: bool,
    /// HTTP 5xx answers.
    pub server_errors: bool,
    /// Answers slower than [`BreakerPolicy::slow_call`].
    pub slow_calls: bool,
}

impl Counts {
    /// Every kind of failure.
    pub const ALL: Counts = Counts {
        connection_errors: true,
        timeouts: true,
        server_errors: true,
        slow_calls: true,
    };
}

/// How one call to the dependency ended, as the breaker classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEnd {
    /// A 2xx answer, after `took`.
    Success {
        /// How long it took.
        took: Duration,
    },
    /// Connection refused or reset before anything was sent.
    ConnectionError,
    /// The call's timeout fired.
    Timeout,
    /// An HTTP 5xx answer.
    ServerError,
    /// Anything else that went wrong (a 4xx, an unreadable answer): not the dependency's health.
    Other,
}

/// A breaker's configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerPolicy {
    /// What counts as a failure.
    pub counts: Counts,
    /// Size of the sliding window, in calls.
    pub window: usize,
    /// Calls recorded before the failure rate is judged at all.
    pub minimum_calls: usize,
    /// Share of failures in the window that opens the breaker (`0.0..=1.0`).
    pub failure_rate: f64,
    /// A call slower than this is a slow call.
    pub slow_call: Duration,
    /// Timeout of one call to the dependency (`None`: the call waits as long as it takes).
    pub timeout: Option<Duration>,
    /// How long it stays open before half-opening (`None`: it never half-opens).
    pub open_wait: Option<Duration>,
    /// Calls let through while half-open (`None`: every call).
    pub probes: Option<usize>,
    /// Answer with a fallback (the order accepted, payment pending) when the call fails or is
    /// rejected; without it the user is told the order failed.
    pub fallback: bool,
}

impl BreakerPolicy {
    /// The breaker most teams ship by mistake: counts only connection errors, over a window
    /// (1000 calls, 1000 minimum) that real traffic never fills, and calls without a timeout.
    pub fn naive() -> Self {
        BreakerPolicy {
            counts: Counts {
                connection_errors: true,
                timeouts: false,
                server_errors: false,
                slow_calls: false,
            },
            window: 1000,
            minimum_calls: 1000,
            failure_rate: 0.5,
            slow_call: Duration::from_secs(60),
            timeout: None,
            open_wait: Some(Duration::from_secs(60)),
            probes: Some(10),
            fallback: false,
        }
    }

    /// resilience4j's model with values sized for the traffic: timeouts, 5xx, slow calls and
    /// connection errors counted over the last 10 calls (at least 5), open at 50 %, a 250 ms
    /// timeout, half-open after 1 s with 3 probes, a fallback answer while open.
    pub fn hardened() -> Self {
        BreakerPolicy {
            counts: Counts::ALL,
            window: 10,
            minimum_calls: 5,
            failure_rate: 0.5,
            slow_call: Duration::from_millis(200),
            timeout: Some(Duration::from_millis(250)),
            open_wait: Some(Duration::from_secs(1)),
            probes: Some(3),
            fallback: true,
        }
    }

    /// Whether `end` is a failure under this policy.
    pub fn is_failure(&self, end: CallEnd) -> bool {
        let c = self.counts;
        match end {
            CallEnd::Success { took } => c.slow_calls && took >= self.slow_call,
            CallEnd::ConnectionError => c.connection_errors,
            CallEnd::Timeout => c.timeouts,
            CallEnd::ServerError => c.server_errors,
            CallEnd::Other => false,
        }
    }
}

/// The breaker's state, as its caller reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through; outcomes are recorded.
    Closed,
    /// Calls are rejected.
    Open,
    /// A few probe calls go through.
    HalfOpen,
}

#[derive(Debug, Clone)]
enum State {
    Closed { window: VecDeque<bool> },
    Open { since: Instant },
    HalfOpen { started: usize, succeeded: usize },
}

/// Leave to call the dependency, from [`Breaker::acquire`]; hand it back to
/// [`Breaker::record`] with the call's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    generation: u64,
}

/// A circuit breaker (see the module doc).
///
/// ```
/// use std::time::{Duration, Instant};
/// use shakedown_suites::circuit_breaker::{Breaker, BreakerPolicy, BreakerState, CallEnd};
/// let mut b = Breaker::new(BreakerPolicy::hardened());
/// let t = Instant::now();
/// for _ in 0..5 {
///     let permit = b.acquire(t).expect("closed");
///     b.record(permit, CallEnd::Timeout, t);
/// }
/// assert_eq!(b.state(), BreakerState::Open);
/// assert!(b.acquire(t).is_none(), "open: fails fast");
/// assert!(b.acquire(t + Duration::from_secs(1)).is_some(), "half-open: a probe");
/// ```
#[derive(Debug, Clone)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: State,
    /// Bumped on every transition: outcomes of calls let through before it are not recorded.
    generation: u64,
}

impl Breaker {
    /// A closed breaker with `policy`.
    pub fn new(policy: BreakerPolicy) -> Self {
        Breaker {
            policy,
            state: State::Closed {
                window: VecDeque::new(),
            },
            generation: 0,
        }
    }

    /// Its policy.
    pub fn policy(&self) -> &BreakerPolicy {
        &self.policy
    }

    /// Its state.
    pub fn state(&self) -> BreakerState {
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn enter(&mut self, state: State) {
        self.state = state;
        self.generation += 1;
    }

    /// Leave to call the dependency at `now`, or `None`: the breaker rejects the call.
    pub fn acquire(&mut self, now: Instant) -> Option<Permit> {
        if let State::Open { since } = self.state {
            match self.policy.open_wait {
                Some(wait) if now.saturating_duration_since(since) >= wait => {
                    self.enter(State::HalfOpen {
                        started: 0,
                        succeeded: 0,
                    })
                }
                _ => return None,
            }
        }
        if let State::HalfOpen { started, .. } = &mut self.state {
            if self.policy.probes.is_some_and(|p| *started >= p) {
                return None;
            }
            *started += 1;
        }
        Some(Permit {
            generation: self.generation,
        })
    }

    /// Records how the call let through by `permit` ended, at `now`.
    pub fn record(&mut self, permit: Permit, end: CallEnd, now: Instant) {
        if permit.generation != self.generation {
            return;
        }
        let failed = self.policy.is_failure(end);
        let policy = self.policy;
        match &mut self.state {
            State::Closed { window } => {
                window.push_back(failed);
                while window.len() > policy.window.max(1) {
                    window.pop_front();
                }
                let failures = window.iter().filter(|f| **f).count();
                if window.len() >= policy.minimum_calls
                    && failures as f64 >= policy.failure_rate * window.len() as f64
                    && failures > 0
                {
                    self.enter(State::Open { since: now });
                }
            }
            State::HalfOpen { .. } if failed => self.enter(State::Open { since: now }),
            State::HalfOpen { succeeded, .. } => {
                *succeeded += 1;
                if *succeeded >= policy.probes.unwrap_or(1) {
                    self.enter(State::Closed {
                        window: VecDeque::new(),
                    });
                }
            }
            State::Open { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn call(b: &mut Breaker, at: Instant, end: CallEnd) -> bool {
        match b.acquire(at) {
            Some(p) => {
                b.record(p, end, at);
                true
            }
            None => false,
        }
    }

    #[test]
    fn hardened_opens_on_timeouts_half_opens_and_closes_after_its_probes() {
        let t = Instant::now();
        let mut b = Breaker::new(BreakerPolicy::hardened());
        for i in 0..4 {
            assert!(call(&mut b, t + ms(i), CallEnd::Timeout));
            assert_eq!(b.state(), BreakerState::Closed, "below the minimum of 5");
        }
        assert!(call(&mut b, t + ms(5), CallEnd::ServerError));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(
            !call(&mut b, t + ms(900), CallEnd::Timeout),
            "open: rejected"
        );
        // Half-open: three probes, no more while they are out.
        let now = t + ms(1005);
        let probes: Vec<Permit> = (0..3).filter_map(|_| b.acquire(now)).collect();
        assert_eq!((probes.len(), b.state()), (3, BreakerState::HalfOpen));
        assert!(b.acquire(now).is_none());
        for p in probes {
            b.record(p, CallEnd::Success { took: ms(3) }, now);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_stale_outcomes_are_ignored() {
        let t = Instant::now();
        let mut b = Breaker::new(BreakerPolicy::hardened());
        let late = b.acquire(t).unwrap();
        for _ in 0..5 {
            call(&mut b, t, CallEnd::Success { took: ms(300) }); // slow calls
        }
        assert_eq!(b.state(), BreakerState::Open);
        b.record(late, CallEnd::Success { took: ms(1) }, t + ms(10));
        assert_eq!(
            b.state(),
            BreakerState::Open,
            "a call from before the transition"
        );
        assert!(call(&mut b, t + ms(1000), CallEnd::ConnectionError));
        assert_eq!(b.state(), BreakerState::Open, "the probe failed");
        assert!(!call(&mut b, t + ms(1500), CallEnd::Timeout));
    }

    #[test]
    fn naive_ignores_timeouts_and_5xx_and_never_fills_its_window() {
        let t = Instant::now();
        let mut b = Breaker::new(BreakerPolicy::naive());
        for i in 0..500 {
            let end = [
                CallEnd::Timeout,
                CallEnd::ServerError,
                CallEnd::ConnectionError,
            ][i % 3];
            assert!(call(&mut b, t, end));
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(!BreakerPolicy::naive().is_failure(CallEnd::Success { took: ms(5000) }));
        assert!(!BreakerPolicy::hardened().is_failure(CallEnd::Other));
    }

    #[test]
    fn without_an_open_wait_it_never_half_opens_and_unlimited_probes_let_all_through() {
        let t = Instant::now();
        let policy = BreakerPolicy {
            open_wait: None,
            ..BreakerPolicy::hardened()
        };
        let mut b = Breaker::new(policy);
        for _ in 0..5 {
            call(&mut b, t, CallEnd::Timeout);
        }
        assert!(b.acquire(t + Duration::from_secs(3600)).is_none());
        let mut b = Breaker::new(BreakerPolicy {
            probes: None,
            ..BreakerPolicy::hardened()
        });
        for _ in 0..5 {
            call(&mut b, t, CallEnd::Timeout);
        }
        let half = t + ms(1000);
        assert_eq!((0..50).filter_map(|_| b.acquire(half)).count(), 50);
    }
}
