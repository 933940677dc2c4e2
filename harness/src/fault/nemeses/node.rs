//! A node's process and network: kill, pause, restart, partition.

use crate::fault::{Fault, Nemesis, NemesisFuture};
use crate::node::Node;

macro_rules! node_nemesis {
    ($(#[$doc:meta])* $name:ident, $variant:ident, |$n:ident| $inject:expr, |$h:ident| $heal:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a> {
            node: &'a Node,
        }

        impl<'a> $name<'a> {
            /// The nemesis for `node`.
            pub fn new(node: &'a Node) -> Self {
                $name { node }
            }
        }

        impl Nemesis for $name<'_> {
            fn describe(&self) -> Fault {
                Fault::$variant {
                    target: self.node.name().to_string(),
                }
            }

            fn inject(&self) -> NemesisFuture<'_> {
                let $n = self.node;
                Box::pin(async move { Ok($inject.await?) })
            }

            fn heal(&self) -> NemesisFuture<'_> {
                let $h = self.node;
                Box::pin(async move { Ok($heal.await?) })
            }
        }
    };
}

node_nemesis!(
    /// Kills the node's main process (SIGKILL); heals by starting the container again and
    /// waiting until it is ready.
    ///
    /// ```no_run
    /// # async fn demo(run: &shakedown::Run<&'static str, ()>, node: &shakedown::Node) -> Result<(), shakedown::SuiteError> {
    /// use shakedown::fault::nemeses::KillProcess;
    /// let killed = run.inject(KillProcess::new(node)).await?;
    /// // … the workload runs against the survivors …
    /// killed.heal().await?;
    /// # Ok(()) }
    /// ```
    KillProcess,
    ProcessKill,
    |n| n.kill(),
    |n| n.start_again()
);

node_nemesis!(
    /// Freezes every process of the node (`docker pause`); heals by thawing them.
    PauseProcess,
    ProcessPause,
    |n| n.pause(),
    |n| n.unpause()
);

node_nemesis!(
    /// Restarts the node and waits until it is ready again: a single event, so healing only
    /// marks the end of the window.
    RestartProcess,
    ProcessRestart,
    |n| n.restart(),
    |_n| std::future::ready(crate::Result::<()>::Ok(()))
);

node_nemesis!(
    /// Cuts the node off the run's network; heals by reconnecting it under the same name.
    PartitionNode,
    Partition,
    |n| n.disconnect(),
    |n| n.reconnect()
);
