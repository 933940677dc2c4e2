//! [`FaultGuard`]: an injected fault, healed by `heal()` (or, as a fallback, on drop).

use super::{Fault, FaultAction, Nemesis, TimelineRecorder};
use crate::suite::SuiteError;

/// An injected fault. [`heal`](FaultGuard::heal) mends it and records the heal in the run's
/// timeline; dropping it unhealed heals it as a best effort (on a multi-threaded runtime; the
/// heal's error is then only logged), and [`forget`](FaultGuard::forget) leaves it in force.
#[must_use = "dropping the guard heals the fault at once; keep it while the fault should last"]
pub struct FaultGuard<'a> {
    nemesis: Box<dyn Nemesis + 'a>,
    fault: Fault,
    id: u64,
    timeline: TimelineRecorder,
    suite: &'static str,
    done: bool,
}

impl std::fmt::Debug for FaultGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultGuard")
            .field("fault", &self.fault)
            .field("id", &self.id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'a> FaultGuard<'a> {
    pub(crate) async fn inject(
        nemesis: Box<dyn Nemesis + 'a>,
        timeline: TimelineRecorder,
        suite: &'static str,
    ) -> Result<FaultGuard<'a>, SuiteError> {
        let fault = nemesis.describe();
        nemesis
            .inject()
            .await
            .map_err(|e| SuiteError::new(suite, format!("inject {}", describe(&fault)), e))?;
        let id = timeline.allocate();
        timeline.record(id, FaultAction::Inject, fault.clone());
        Ok(FaultGuard {
            nemesis,
            fault,
            id,
            timeline,
            suite,
            done: false,
        })
    }

    /// The fault, as injected.
    pub fn fault(&self) -> &Fault {
        &self.fault
    }

    /// Takes the nemesis's next step (see [`Nemesis::step`]) and records it; `false` when there
    /// are no more steps.
    pub async fn step(&mut self) -> Result<bool, SuiteError> {
        match self.nemesis.step().await {
            Ok(Some(step)) => {
                self.timeline.record(self.id, FaultAction::Step, step);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(SuiteError::new(
                self.suite,
                format!("step {}", describe(&self.fault)),
                e,
            )),
        }
    }

    /// Heals the fault and records the heal.
    pub async fn heal(mut self) -> Result<(), SuiteError> {
        self.done = true;
        self.nemesis.heal().await.map_err(|e| {
            SuiteError::new(self.suite, format!("heal {}", describe(&self.fault)), e)
        })?;
        self.timeline
            .record(self.id, FaultAction::Heal, self.fault.clone());
        Ok(())
    }

    /// Leaves the fault in force: no heal, now or on drop; the timeline shows it standing.
    pub fn forget(mut self) {
        self.done = true;
    }
}

impl Drop for FaultGuard<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let what = describe(&self.fault);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("{what} was not healed: its guard was dropped outside a runtime");
            return;
        };
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            tracing::warn!(
                "{what} was not healed: call heal() (a dropped guard can only heal on a multi-threaded runtime)"
            );
            return;
        }
        let healed = tokio::task::block_in_place(|| handle.block_on(self.nemesis.heal()));
        match healed {
            Ok(()) => self
                .timeline
                .record(self.id, FaultAction::Heal, self.fault.clone()),
            Err(e) => tracing::warn!("{what} could not be healed on drop: {e}"),
        }
    }
}

/// `replica_apply_delay on pg-replica-0`.
pub(crate) fn describe(fault: &Fault) -> String {
    format!("{} on {}", fault.kind(), fault.target())
}
