//! A [`Node`]: one container of a [`Topology`](crate::Topology), and the faults that act on a
//! whole node.
//!
//! | file | what it holds |
//! | --- | --- |
//! | `spec.rs` | [`NodeSpec`], what to start, and [`Stream`] |
//! | `handle.rs` | [`Node`]: start and removal, addresses, exec, logs |
//! | `probe.rs` | [`Probe`] and [`Node::wait_ready`] |
//! | `faults.rs` | kill, signal, pause, restart, disconnect and their undoing |

mod faults;
mod handle;
mod probe;
mod spec;

pub use crate::exec::ExecOutput;
pub use handle::Node;
pub use probe::Probe;
pub(crate) use spec::FileSource;
pub use spec::{NodeSpec, Stream};
