//! [`ClockOffset`]: how far a clock is ahead of (or behind) the real time, and how it is written
//! for libfaketime.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// A signed clock offset with nanosecond resolution: positive means ahead of the real time.
///
/// Serialises as whole milliseconds (`offset_ms` where it is a field).
///
/// ```
/// use std::time::Duration;
/// use shakedown::clock::ClockOffset;
///
/// let o = ClockOffset::behind(Duration::from_secs(90));
/// assert_eq!(o.as_millis(), -90_000);
/// assert_eq!(o.to_string(), "-90.000s");
/// assert_eq!(o.faketime_spec(), "-90.000000000");
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(from = "i64", into = "i64")]
pub struct ClockOffset {
    nanos: i128,
}

impl From<i64> for ClockOffset {
    fn from(ms: i64) -> Self {
        ClockOffset::from_millis(ms)
    }
}

impl From<ClockOffset> for i64 {
    fn from(o: ClockOffset) -> i64 {
        o.as_millis()
    }
}

impl ClockOffset {
    /// No offset: the real time.
    pub const ZERO: ClockOffset = ClockOffset { nanos: 0 };

    /// Ahead of the real time by `by`.
    pub fn ahead(by: Duration) -> Self {
        ClockOffset {
            nanos: by.as_nanos() as i128,
        }
    }

    /// Behind the real time by `by`.
    pub fn behind(by: Duration) -> Self {
        ClockOffset {
            nanos: -(by.as_nanos() as i128),
        }
    }

    /// From signed milliseconds.
    pub fn from_millis(ms: i64) -> Self {
        ClockOffset {
            nanos: ms as i128 * 1_000_000,
        }
    }

    /// From signed nanoseconds.
    pub fn from_nanos(nanos: i128) -> Self {
        ClockOffset { nanos }
    }

    /// The offset that makes a clock reading `real` show `shown` instead.
    pub fn between(real: SystemTime, shown: SystemTime) -> Self {
        match shown.duration_since(real) {
            Ok(ahead) => ClockOffset::ahead(ahead),
            Err(e) => ClockOffset::behind(e.duration()),
        }
    }

    /// Signed nanoseconds.
    pub fn as_nanos(&self) -> i128 {
        self.nanos
    }

    /// Signed milliseconds (rounded towards zero).
    pub fn as_millis(&self) -> i64 {
        (self.nanos / 1_000_000) as i64
    }

    /// Signed seconds.
    pub fn as_secs_f64(&self) -> f64 {
        self.nanos as f64 / 1e9
    }

    /// How far from zero, whichever the direction.
    pub fn magnitude(&self) -> Duration {
        let n = self.nanos.unsigned_abs();
        Duration::new((n / 1_000_000_000) as u64, (n % 1_000_000_000) as u32)
    }

    /// Whether the clock is ahead (or exact).
    pub fn is_ahead(&self) -> bool {
        self.nanos >= 0
    }

    /// `time` as a clock with this offset shows it.
    pub fn apply(&self, time: SystemTime) -> SystemTime {
        if self.is_ahead() {
            time + self.magnitude()
        } else {
            time - self.magnitude()
        }
    }

    /// The sum of two offsets.
    pub fn plus(&self, other: ClockOffset) -> ClockOffset {
        ClockOffset {
            nanos: self.nanos + other.nanos,
        }
    }

    /// The difference `self - other`.
    pub fn minus(&self, other: ClockOffset) -> ClockOffset {
        ClockOffset {
            nanos: self.nanos - other.nanos,
        }
    }

    /// The line written to libfaketime's timestamp file: a relative offset in seconds with nine
    /// decimals (`+90.000000000`, `-0.250000000`). libfaketime parses it as a fractional offset in
    /// the C locale, which the harness's images use.
    pub fn faketime_spec(&self) -> String {
        let sign = if self.is_ahead() { '+' } else { '-' };
        let m = self.magnitude();
        format!("{sign}{}.{:09}", m.as_secs(), m.subsec_nanos())
    }
}

impl fmt::Display for ClockOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.is_ahead() { '+' } else { '-' };
        let m = self.magnitude();
        write!(f, "{sign}{}.{:03}s", m.as_secs(), m.subsec_millis())
    }
}

/// The offset a drifting clock has reached `elapsed` (real time) after it started drifting at
/// `rate` from `start` (a `rate` of 1.0 is a correct clock; 1.001 gains a millisecond a second).
pub fn drifted(start: ClockOffset, rate: f64, elapsed: Duration) -> ClockOffset {
    let gained = (rate - 1.0) * elapsed.as_nanos() as f64;
    start.plus(ClockOffset::from_nanos(gained as i128))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_carry_sign_and_nanoseconds() {
        assert_eq!(
            ClockOffset::ahead(Duration::from_millis(1500)).faketime_spec(),
            "+1.500000000"
        );
        assert_eq!(
            ClockOffset::behind(Duration::from_nanos(250)).faketime_spec(),
            "-0.000000250"
        );
        assert_eq!(ClockOffset::ZERO.faketime_spec(), "+0.000000000");
        assert_eq!(
            ClockOffset::behind(Duration::from_secs(600)).to_string(),
            "-600.000s"
        );
    }

    #[test]
    fn offsets_between_times_apply_back() {
        let real = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let shown = SystemTime::UNIX_EPOCH + Duration::from_secs(400);
        let o = ClockOffset::between(real, shown);
        assert_eq!(o.as_millis(), -600_000);
        assert_eq!(o.apply(real), shown);
        assert_eq!(ClockOffset::between(shown, real).apply(shown), real);
        assert_eq!(o.plus(ClockOffset::from_millis(600_000)), ClockOffset::ZERO);
        assert_eq!(o.minus(o), ClockOffset::ZERO);
    }

    #[test]
    fn offsets_serialise_as_signed_milliseconds() {
        let o = ClockOffset::behind(Duration::from_secs(2));
        assert_eq!(serde_json::to_string(&o).unwrap(), "-2000");
        assert_eq!(serde_json::from_str::<ClockOffset>("-2000").unwrap(), o);
    }

    #[test]
    fn drift_gains_in_proportion_to_elapsed_time() {
        let start = ClockOffset::from_millis(100);
        let o = drifted(start, 1.5, Duration::from_secs(10));
        assert_eq!(o.as_millis(), 5_100);
        let slow = drifted(ClockOffset::ZERO, 0.5, Duration::from_secs(4));
        assert_eq!(slow.as_millis(), -2_000);
        assert_eq!(drifted(start, 1.0, Duration::from_secs(99)), start);
    }
}
