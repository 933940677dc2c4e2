//! A node's wall clock (libfaketime; the node must have been started with a fake clock): a fixed
//! offset, a jump, a walk through simulated time, a drift. Every one heals by putting the node's
//! clock back on the real time.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::ClockOffset;
use crate::fault::{Fault, Nemesis, NemesisFuture};
use crate::node::Node;

fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Puts the node's clock `offset` away from the real time.
///
/// ```no_run
/// # async fn demo(run: &shakedown::Run<&'static str, ()>, issuer: &shakedown::Node) -> Result<(), shakedown::SuiteError> {
/// use std::time::Duration;
/// use shakedown::fault::nemeses::OffsetClock;
/// use shakedown::ClockOffset;
/// let skew = run.inject(OffsetClock::new(issuer, ClockOffset::ahead(Duration::from_secs(300)))).await?;
/// skew.heal().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock<'a> {
    node: &'a Node,
    offset: ClockOffset,
}

impl<'a> OffsetClock<'a> {
    /// The nemesis for `node`.
    pub fn new(node: &'a Node, offset: ClockOffset) -> Self {
        OffsetClock { node, offset }
    }
}

impl Nemesis for OffsetClock<'_> {
    fn describe(&self) -> Fault {
        Fault::ClockOffset {
            target: self.node.name().to_string(),
            offset: self.offset,
        }
    }
    fn inject(&self) -> NemesisFuture<'_> {
        Box::pin(async { Ok(self.node.clock().set_offset(self.offset).await?) })
    }
    fn heal(&self) -> NemesisFuture<'_> {
        Box::pin(async { Ok(self.node.clock().reset().await?) })
    }
}

/// Steps the node's clock by `by` from wherever it is (a jump while the run goes on).
#[derive(Debug, Clone, Copy)]
pub struct JumpClock<'a> {
    node: &'a Node,
    by: ClockOffset,
}

impl<'a> JumpClock<'a> {
    /// The nemesis for `node`.
    pub fn new(node: &'a Node, by: ClockOffset) -> Self {
        JumpClock { node, by }
    }
}

impl Nemesis for JumpClock<'_> {
    fn describe(&self) -> Fault {
        Fault::ClockJump {
            target: self.node.name().to_string(),
            by: self.by,
        }
    }
    fn inject(&self) -> NemesisFuture<'_> {
        Box::pin(async { Ok(self.node.clock().jump_by(self.by).await?) })
    }
    fn heal(&self) -> NemesisFuture<'_> {
        Box::pin(async { Ok(self.node.clock().reset().await?) })
    }
}

/// Walks the node's clock through simulated time: injecting sets it to `from`, each
/// [`step`](crate::fault::FaultGuard::step) moves it `step` further (a day passes in seconds),
/// until `until` (exclusive). Every step is in the timeline as a [`Fault::ClockSet`].
///
/// ```no_run
/// # async fn demo(run: &shakedown::Run<&'static str, ()>, node: &shakedown::Node) -> Result<(), shakedown::SuiteError> {
/// use std::time::{Duration, SystemTime};
/// use shakedown::fault::nemeses::WalkClock;
/// let from = SystemTime::UNIX_EPOCH + Duration::from_secs(1_772_841_600); // 2026-03-07T00:00Z
/// let walk = WalkClock::new(node, from, from + Duration::from_secs(86_400), Duration::from_secs(1800))
///     .map_err(|e| run.error("plan the walk", e))?;
/// let mut walking = run.inject(walk).await?;
/// while walking.step().await? {
///     // … one scheduler pass per simulated half hour …
/// }
/// walking.heal().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WalkClock<'a> {
    node: &'a Node,
    from: SystemTime,
    until: SystemTime,
    step: Duration,
    /// The instant the clock shows now (after the last step).
    at: Mutex<SystemTime>,
}

impl<'a> WalkClock<'a> {
    /// A walk of `node`'s clock from `from` to `until` (exclusive) in steps of `step`; errors
    /// unless `step` is positive and `from` is before `until`.
    pub fn new(
        node: &'a Node,
        from: SystemTime,
        until: SystemTime,
        step: Duration,
    ) -> crate::Result<Self> {
        if step.is_zero() || from >= until {
            return Err(crate::Error::InvalidInput {
                what: "clock walk",
                detail: format!(
                    "needs a positive step and a start before its end (step {step:?}, from {} ms to {} ms since the epoch)",
                    unix_ms(from),
                    unix_ms(until)
                ),
            });
        }
        Ok(WalkClock {
            node,
            from,
            until,
            step,
            at: Mutex::new(from),
        })
    }

    /// The instants the walk shows, in order (the first is set on injection).
    pub fn instants(&self) -> Vec<SystemTime> {
        let mut out = Vec::new();
        let mut t = self.from;
        while t < self.until {
            out.push(t);
            t += self.step;
        }
        out
    }
}

impl Nemesis for WalkClock<'_> {
    fn describe(&self) -> Fault {
        Fault::ClockWalk {
            target: self.node.name().to_string(),
            from_unix_ms: unix_ms(self.from),
            until_unix_ms: unix_ms(self.until),
            step: self.step,
        }
    }
    fn inject(&self) -> NemesisFuture<'_> {
        Box::pin(async {
            *self.at.lock().unwrap_or_else(|p| p.into_inner()) = self.from;
            Ok(self.node.clock().jump_to(self.from).await?)
        })
    }
    fn step(&self) -> NemesisFuture<'_, Option<Fault>> {
        Box::pin(async {
            let next = *self.at.lock().unwrap_or_else(|p| p.into_inner()) + self.step;
            if next >= self.until {
                return Ok(None);
            }
            self.node.clock().jump_to(next).await?;
            *self.at.lock().unwrap_or_else(|p| p.into_inner()) = next;
            Ok(Some(Fault::ClockSet {
                target: self.node.name().to_string(),
                to_unix_ms: unix_ms(next),
            }))
        })
    }
    fn heal(&self) -> NemesisFuture<'_> {
        Box::pin(async { Ok(self.node.clock().reset().await?) })
    }
}

/// Makes the node's clock run fast or slow by `rate_ppm` parts per million (+1000 gains a
/// millisecond a second).
#[derive(Debug, Clone, Copy)]
pub struct DriftClock<'a> {
    node: &'a Node,
    rate_ppm: i64,
}

impl<'a> DriftClock<'a> {
    /// The nemesis for `node`.
    pub fn new(node: &'a Node, rate_ppm: i64) -> Self {
        DriftClock { node, rate_ppm }
    }
}

impl Nemesis for DriftClock<'_> {
    fn describe(&self) -> Fault {
        Fault::ClockDrift {
            target: self.node.name().to_string(),
            rate_ppm: self.rate_ppm,
        }
    }
    fn inject(&self) -> NemesisFuture<'_> {
        let rate = 1.0 + self.rate_ppm as f64 / 1e6;
        Box::pin(async move { Ok(self.node.clock().drift(rate).await?) })
    }
    fn heal(&self) -> NemesisFuture<'_> {
        Box::pin(async { Ok(self.node.clock().reset().await?) })
    }
}
