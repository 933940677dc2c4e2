//! Faults: what was broken ([`Fault`], data), how it is broken and healed ([`Nemesis`], an
//! action), and when ([`Timeline`], filled by [`Run::inject`](crate::Run::inject) as it happens).
//!
//! Built-in nemeses are in [`nemeses`]: a node's process (kill, pause, restart), its network
//! (partition), its clock (offset, jump, walk, drift) and a fault-proxy link (a toxic). Fixtures
//! add their own (PostgreSQL's replay paused, a lock held …) by implementing [`Nemesis`] with a
//! [`Fault::Component`] description.

mod guard;
mod kinds;
pub mod nemeses;
mod nemesis;
mod timeline;

pub use guard::FaultGuard;
pub use kinds::Fault;
pub use nemesis::{Nemesis, NemesisError, NemesisFuture};
pub(crate) use timeline::TimelineRecorder;
pub use timeline::{FaultAction, FaultEvent, FaultWindow, Timeline};
