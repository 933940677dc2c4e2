//! A [`Node`]: one container of a [`Topology`](crate::Topology), and the faults that act on a
//! whole node.
//!
//! | file | what it holds |
//! | --- | --- |
//! | `spec.rs` | [`NodeSpec`], what to start, and [`Stream`] |
//! | `handle.rs` | [`Node`]: start and removal, addresses, exec, logs |
//! | `held.rs` | the node's container, left in place when its run is kept for inspection |
//! | `probe.rs` | [`Probe`] and [`Node::wait_ready`]; `failure.rs` what a failed start reports |
//! | `faults.rs` | kill, signal, pause, restart, disconnect and their undoing |

mod failure;
mod faults;
mod handle;
mod held;
mod probe;
mod spec;

pub use crate::exec::ExecOutput;
pub use handle::Node;
pub use probe::Probe;
pub(crate) use spec::FileSource;
pub use spec::{NodeSpec, Stream};
