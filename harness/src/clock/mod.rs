//! Clocks: per-node wall clocks through libfaketime ([`NodeClock`], from [`Node::clock`](crate::Node::clock)),
//! in-process clocks for unit tests ([`Clock`], [`ManualClock`], [`SkewedClock`]), and time-zone
//! names ([`validate_zone`]).

mod agent;
mod local;
mod node;
mod offset;
mod zone;

pub use local::{Clock, ManualClock, SkewedClock, SystemClock};
pub(crate) use node::{prepare, verify, ClockState};
pub use node::{
    FakeClock, NodeClock, Preload, DEBIAN_LIBFAKETIME, DRIFT_STEP, PRELOAD_VAR, TIMESTAMP_FILE,
};
pub use offset::{drifted, ClockOffset};
pub use zone::validate_zone;
