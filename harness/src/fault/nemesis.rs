//! The [`Nemesis`] trait: a fault that injects itself, heals itself and describes itself.

use std::future::Future;
use std::pin::Pin;

use super::Fault;

/// Why a nemesis could not inject, step or heal.
pub type NemesisError = Box<dyn std::error::Error + Send + Sync>;

/// What a nemesis action returns.
pub type NemesisFuture<'a, T = ()> =
    Pin<Box<dyn Future<Output = Result<T, NemesisError>> + Send + 'a>>;

/// A fault as an action (Jepsen's nemesis). [`Run::inject`](crate::Run::inject) calls
/// [`inject`](Nemesis::inject), records it in the timeline and returns a
/// [`FaultGuard`](super::FaultGuard) whose `heal()` calls [`heal`](Nemesis::heal) and records
/// that too, so the timeline holds exactly what was done, when.
///
/// Implement it for a fault of your own component with a [`Fault::Component`] description:
///
/// ```
/// use shakedown::fault::{Fault, Nemesis, NemesisFuture};
///
/// /// Holds a lock on a table of ours (sketch: the real one would run SQL).
/// struct LockHeld { table: String }
///
/// impl Nemesis for LockHeld {
///     fn describe(&self) -> Fault {
///         Fault::component(self.table.clone(), "lock_held").param("mode", "access exclusive")
///     }
///     fn inject(&self) -> NemesisFuture<'_> {
///         Box::pin(async { Ok(()) })
///     }
///     fn heal(&self) -> NemesisFuture<'_> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub trait Nemesis: Send + Sync {
    /// What it does, as data (for the timeline and the report).
    fn describe(&self) -> Fault;

    /// Breaks the thing.
    fn inject(&self) -> NemesisFuture<'_>;

    /// Mends it (for a one-shot fault such as a restart: wait until the thing is back, or nothing).
    fn heal(&self) -> NemesisFuture<'_>;

    /// For a fault that acts in steps (a clock walking through simulated time): takes the next
    /// step and says what it did, or `None` when there are no more. The default has no steps.
    fn step(&self) -> NemesisFuture<'_, Option<Fault>> {
        Box::pin(async { Ok(None) })
    }
}
