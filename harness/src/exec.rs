//! Running a command inside a container through the engine's exec API, and [`ExecOutput`], what
//! it printed and how it exited.

use std::time::Duration;

use futures::StreamExt;
use testcontainers::bollard::container::LogOutput;
use testcontainers::bollard::exec::{StartExecOptions, StartExecResults};
use testcontainers::bollard::models::ExecConfig;
use testcontainers::bollard::Docker;

use crate::error::{Error, Result};

/// What a command run inside a node printed, and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code (-1 when the engine did not report one).
    pub code: i64,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// Runs `cmd` in container `id` (named `name` in errors), as `user` or the image's user.
pub(crate) async fn exec_in(
    docker: &Docker,
    id: &str,
    name: &str,
    user: Option<&str>,
    cmd: Vec<String>,
) -> Result<ExecOutput> {
    let err = |source| Error::docker("exec in", name.to_string(), source);
    let created = docker
        .create_exec(
            id,
            ExecConfig {
                cmd: Some(cmd),
                user: user.map(str::to_string),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(err)?;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let started = start_attached(docker, &created.id).await.map_err(err)?;
    if let StartExecResults::Attached { mut output, .. } = started {
        while let Some(chunk) = output.next().await {
            match chunk.map_err(err)? {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    stdout.extend_from_slice(&message)
                }
                LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
                LogOutput::StdIn { .. } => {}
            }
        }
    }
    // The exit code can trail the end of the output streams by a moment.
    let mut code = None;
    for _ in 0..100 {
        let inspect = docker.inspect_exec(&created.id).await.map_err(err)?;
        code = inspect.exit_code;
        if inspect.running != Some(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(ExecOutput {
        code: code.unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// Starts a created exec attached, without a TTY: its output stream, and its input when it was
/// created with `attach_stdin`.
pub(crate) async fn start_attached(
    docker: &Docker,
    exec_id: &str,
) -> std::result::Result<StartExecResults, testcontainers::bollard::errors::Error> {
    docker
        .start_exec(
            exec_id,
            Some(StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: None,
            }),
        )
        .await
}
