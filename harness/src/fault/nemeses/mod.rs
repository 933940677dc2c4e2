//! Ready-made nemeses for any node: its process, its network (partition, `tc netem`), its clock; and a fault-proxy
//! link's toxics. Each heals what it broke.

mod clock;
mod netem;
mod node;
mod proxy;

pub use clock::{DriftClock, JumpClock, OffsetClock, WalkClock};
pub use netem::Netem;
pub use node::{KillProcess, PartitionNode, PauseProcess, RestartProcess};
pub use proxy::ProxyToxic;
