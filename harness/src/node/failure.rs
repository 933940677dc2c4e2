//! What a node that did not become ready reports: the last lines of its log, its exit code, and
//! where its container is (so the message never names a container that is already gone).

use std::time::Duration;

use futures::StreamExt;
use testcontainers::bollard::container::LogOutput;
use testcontainers::bollard::query_parameters::LogsOptionsBuilder;

use super::Node;
use crate::error::Error;

/// How many lines of a failed node's log its error carries.
pub(crate) const LOG_TAIL_LINES: usize = 20;

impl Node {
    /// The exit code of the container's process if it has stopped; `None` while it runs (or
    /// when the engine does not say).
    pub(super) async fn exited_with(&self) -> Option<i32> {
        let info = self
            .topology
            .docker()
            .inspect_container(self.id(), None)
            .await
            .ok()?;
        let state = info.state?;
        if state.running == Some(true) || state.restarting == Some(true) {
            return None;
        }
        state
            .exit_code
            .map(|c| i32::try_from(c).unwrap_or(i32::MAX))
    }

    /// The last [`LOG_TAIL_LINES`] lines of its stdout and stderr, interleaved as written.
    pub(super) async fn log_tail(&self) -> String {
        let opts = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&LOG_TAIL_LINES.to_string())
            .build();
        let mut logs = self.topology.docker().logs(self.id(), Some(opts));
        let mut text = Vec::new();
        // A stopped container's log ends by itself; a running one is read as it is now.
        while let Ok(Some(Ok(chunk))) =
            tokio::time::timeout(Duration::from_secs(5), logs.next()).await
        {
            match chunk {
                LogOutput::StdOut { message }
                | LogOutput::StdErr { message }
                | LogOutput::Console { message } => text.extend_from_slice(&message),
                LogOutput::StdIn { .. } => {}
            }
        }
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// A [`Error::NotReady`] for this node, with its log tail and exit code; `hint` says where
    /// the container is.
    pub(super) async fn not_ready(&self, waited: Duration, detail: String, hint: String) -> Error {
        Error::NotReady {
            node: self.name.clone(),
            waited,
            detail,
            exit_code: self.exited_with().await,
            log_tail: self.log_tail().await,
            hint,
        }
    }

    /// The hint of a node that stays (a restart that did not become ready).
    pub(super) fn present_hint(&self) -> String {
        format!(
            "its container `{}` is still there: `docker logs {}`",
            self.container_name, self.container_name
        )
    }

    /// The hint of a node whose start failed: kept for inspection, or removed with how to keep it.
    pub(super) fn failed_start_hint(&self) -> String {
        if self.topology.keeper().keeps_now() {
            format!(
                "its container `{name}` is kept for inspection (SHAKEDOWN_KEEP): `docker logs {name}`; \
                 `shakedown clean` removes it",
                name = self.container_name
            )
        } else {
            "its container has been removed; run with SHAKEDOWN_KEEP=on-failure to keep the \
             containers of a failed test for inspection"
                .to_string()
        }
    }
}
