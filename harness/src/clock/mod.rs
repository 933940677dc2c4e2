//! Clocks: per-node wall clocks through libfaketime ([`NodeClock`], from [`Node::clock`](crate::Node::clock)),
//! and in-process clocks for unit tests ([`Clock`], [`ManualClock`], [`SkewedClock`]).

mod local;
mod node;
mod offset;

pub use local::{Clock, ManualClock, SkewedClock, SystemClock};
pub(crate) use node::{check_library, ClockState};
pub use node::{
    FakeClock, NodeClock, Preload, DEBIAN_LIBFAKETIME, DRIFT_STEP, PRELOAD_VAR, TIMESTAMP_FILE,
};
pub use offset::{drifted, ClockOffset};
