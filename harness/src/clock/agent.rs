//! The clock writer: one long-lived shell per fake-clocked node that rewrites its timestamp file on
//! request, so moving a clock costs a line over an open exec stream instead of a new `docker exec`
//! (create, start, inspect: three engine calls and a process spawned by the runtime, ~50–220 ms on
//! a loaded 2-core machine; a clock walk of a hundred steps on two nodes spent most of its time
//! there).
//!
//! The shell reads one libfaketime spec per line on its stdin, writes it to the file atomically
//! (a temporary file, then a rename) and answers `ok` on its stdout. It is started on the first
//! write and ends with its stream (the node dropped, or the container restarted). A writer that
//! fails or does not answer is dropped, the write falls back to a plain exec, and the next write
//! starts a new one.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use testcontainers::bollard::container::LogOutput;
use testcontainers::bollard::errors::Error as BollardError;
use testcontainers::bollard::exec::StartExecResults;
use testcontainers::bollard::models::ExecConfig;
use testcontainers::bollard::Docker;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::node::TIMESTAMP_FILE;

/// How long a write may wait for the shell's answer before the writer counts as broken.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, BollardError>> + Send>>;

/// An open clock writer in one container.
pub(crate) struct ClockWriter {
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    pending: Vec<u8>,
}

impl std::fmt::Debug for ClockWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockWriter")
    }
}

impl ClockWriter {
    /// Starts the shell in container `id`, as root (the file is root's).
    pub(crate) async fn start(docker: &Docker, id: &str) -> Result<Self, String> {
        let script = format!(
            "umask 022; f={TIMESTAMP_FILE}; \
             while IFS= read -r spec; do \
               if printf '%s\\n' \"$spec\" > \"$f.tmp\" && mv -f \"$f.tmp\" \"$f\"; \
               then echo ok; else echo failed; fi; \
             done"
        );
        let created = docker
            .create_exec(
                id,
                ExecConfig {
                    cmd: Some(vec!["sh".into(), "-c".into(), script]),
                    user: Some("root".into()),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        let started = crate::exec::start_attached(docker, &created.id)
            .await
            .map_err(|e| e.to_string())?;
        match started {
            StartExecResults::Attached { output, input } => Ok(ClockWriter {
                input,
                output,
                pending: Vec::new(),
            }),
            StartExecResults::Detached => Err("the engine detached the clock writer".into()),
        }
    }

    /// Writes `spec` (one line) to the node's timestamp file and waits for the shell's answer.
    pub(crate) async fn write(&mut self, spec: &str) -> Result<(), String> {
        if spec.contains('\n') {
            return Err(format!("a clock spec is one line: {spec:?}"));
        }
        let line = format!("{spec}\n");
        self.input
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("send to the clock writer: {e}"))?;
        self.input
            .flush()
            .await
            .map_err(|e| format!("send to the clock writer: {e}"))?;
        let mut stderr = Vec::new();
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let answer: Vec<u8> = self.pending.drain(..=end).collect();
                return match answer.trim_ascii() {
                    b"ok" => Ok(()),
                    other => Err(format!(
                        "the clock writer answered `{}` ({})",
                        String::from_utf8_lossy(other),
                        String::from_utf8_lossy(&stderr).trim()
                    )),
                };
            }
            match tokio::time::timeout(ANSWER_WITHIN, self.output.next()).await {
                Err(_) => return Err(format!("no answer within {ANSWER_WITHIN:?}")),
                Ok(None) => return Err("the clock writer has ended".into()),
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message }))) => {
                    self.pending.extend_from_slice(&message)
                }
                Ok(Some(Ok(LogOutput::StdErr { message }))) => stderr.extend_from_slice(&message),
                Ok(Some(Ok(LogOutput::StdIn { .. }))) => {}
            }
        }
    }
}

/// A node's clock writer, started on first use and replaced when it breaks.
#[derive(Debug, Default)]
pub(crate) struct WriterSlot(tokio::sync::Mutex<Option<ClockWriter>>);

impl WriterSlot {
    /// Writes `spec` through the node's writer (starting it if needed); `Err` when the writer
    /// could not be started or broke, which is then dropped: the caller falls back to an exec.
    pub(crate) async fn write(&self, docker: &Docker, id: &str, spec: &str) -> Result<(), String> {
        let mut slot = self.0.lock().await;
        if slot.is_none() {
            *slot = Some(ClockWriter::start(docker, id).await?);
        }
        let writer = slot.as_mut().expect("just set");
        let written = writer.write(spec).await;
        if written.is_err() {
            *slot = None;
        }
        written
    }
}
