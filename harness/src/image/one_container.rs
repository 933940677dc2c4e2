//! Builds a recipe in one container, with one commit: each `RUN` is an exec in a container of the
//! base, each `COPY` an upload into it, and the image's whole configuration (`ENV`, `USER`, `CMD`,
//! `EXPOSE`, `STOPSIGNAL`, the labels, ...) goes with the single commit at the end.
//!
//! The classic builder (`docker build` without BuildKit, which is all some engines have) makes
//! a container and a commit for every instruction, metadata included; on a storage driver without
//! native diffs (fuse-overlayfs, vfs) each costs seconds, whatever it changes. Built this way, an
//! image is one layer on its base, with the same files and configuration a `docker build` of the
//! recipe gives. What [`dockerfile::parse`] does not know is built by `docker build` instead.
//!
//! The build container's name and removal are in `build_container.rs`.

use std::collections::HashMap;
use std::path::Path;

use futures::StreamExt;
use testcontainers::bollard::container::LogOutput;
use testcontainers::bollard::exec::StartExecResults;
use testcontainers::bollard::models::{ContainerConfig, ContainerCreateBody, ExecConfig};
use testcontainers::bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use testcontainers::bollard::Docker;

use super::build_container::{container_name, Container};
use super::dockerfile::{expand, Instruction};
use super::{BuildLog, ImageRecipe};
use crate::error::{Error, Result};

/// The image's configuration as the instructions so far leave it, and the build arguments.
#[derive(Debug, Default)]
struct State {
    env: Vec<(String, String)>,
    args: Vec<(String, String)>,
    user: String,
    /// `WORKDIR`, unset (the root) unless the base or an instruction sets it.
    workdir: Option<String>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    exposed: Vec<String>,
    stop_signal: Option<String>,
    labels: HashMap<String, String>,
}

impl State {
    /// What `$NAME` means now: an `ENV` wins over an `ARG` of the same name.
    fn var(&self, name: &str) -> Option<String> {
        let find = |list: &[(String, String)]| {
            list.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        find(&self.env).or_else(|| find(&self.args))
    }

    fn expand(&self, text: &str) -> String {
        expand(text, &|n| self.var(n))
    }

    /// Sets a variable where it already is in the list (as Docker does), else at the end.
    fn set_env(&mut self, key: String, value: String) {
        match self.env.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.env.push((key, value)),
        }
    }

    /// The directory `RUN` starts in.
    fn cwd(&self) -> String {
        self.workdir.clone().unwrap_or_else(|| "/".into())
    }

    /// The environment of a `RUN`: the build arguments, overridden by `ENV`.
    fn run_env(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .args
            .iter()
            .filter(|(k, _)| !self.env.iter().any(|(e, _)| e == k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        all.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        all
    }
}

/// How long the output of a `RUN` is still read after its command has exited.
const OUTPUT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Kills every process in the build container but its PID 1 (and the shell itself).
const ORPHANS: &str = "kill -KILL -1 2>/dev/null; true";

/// What [`build`] did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The image is built and tagged.
    Built,
    /// Nothing was done: this recipe on this base is for `docker build` (the reason).
    LeftToDockerBuild(String),
}

/// Builds `recipe` from its parsed Dockerfile on `base`, tagged [`ImageRecipe::reference`] and
/// labelled with `labels`.
pub(super) async fn build(
    docker: &Docker,
    recipe: &ImageRecipe,
    instructions: &[Instruction],
    base: &str,
    labels: &[(String, String)],
    log: &Path,
) -> Result<Outcome> {
    let reference = recipe.reference();
    let mut state = from_base(docker, base).await?;
    if let Some(why) = left_to_docker_build(&state, instructions) {
        return Ok(Outcome::LeftToDockerBuild(why));
    }
    let out = BuildLog::open(log, &reference)?;
    out.header(&format!(
        "one container on {base}, {} instructions, one commit",
        instructions.len()
    ));
    let fail = |detail: String| Error::ImageBuild {
        image: reference.clone(),
        detail,
        log: log.display().to_string(),
    };
    let docker_err =
        |what: &str, e: testcontainers::bollard::errors::Error| fail(format!("{what}: {e}"));

    // Build arguments: the recipe's, over each `ARG`'s default; BASE is the base.
    let given: HashMap<&str, &str> = recipe
        .build_args
        .iter()
        .copied()
        .chain([("BASE", base)])
        .collect();

    let name = container_name(&reference);
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            ContainerCreateBody {
                image: Some(base.to_string()),
                cmd: Some(vec!["sleep".into(), "infinity".into()]),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| docker_err("create the build container", e))?;
    let container = Container::new(created.id);
    docker
        .start_container(&container.id, None)
        .await
        .map_err(|e| docker_err("start the build container", e))?;

    for (step, ins) in instructions.iter().enumerate() {
        let n = step + 1;
        match ins {
            Instruction::Arg(key, default) => {
                let value = given
                    .get(key.as_str())
                    .map(|v| v.to_string())
                    .or_else(|| default.as_deref().map(|d| state.expand(d)))
                    .unwrap_or_default();
                state.args.retain(|(k, _)| k != key);
                state.args.push((key.clone(), value));
            }
            // Build arguments before `FROM` only serve `FROM`.
            Instruction::From(_) => state.args.clear(),
            Instruction::Env(pairs) => {
                for (k, v) in pairs {
                    let v = state.expand(v);
                    state.set_env(k.clone(), v);
                }
            }
            Instruction::Label(pairs) => {
                for (k, v) in pairs {
                    let (k, v) = (state.expand(k), state.expand(v));
                    state.labels.insert(k, v);
                }
            }
            Instruction::User(u) => state.user = state.expand(u),
            Instruction::Workdir(w) => {
                let w = state.expand(w);
                let dir = if w.starts_with('/') {
                    w
                } else {
                    format!("{}/{w}", state.cwd().trim_end_matches('/'))
                };
                let mkdir = format!("mkdir -p '{}'", dir.replace('\'', r"'\''"));
                state.workdir = Some(dir);
                run(docker, &container.id, &mkdir, &state, Some("0"), &out)
                    .await
                    .map_err(|e| fail(format!("WORKDIR {}: {e}", state.cwd())))?;
            }
            Instruction::Expose(ports) => {
                for p in ports {
                    let p = state.expand(p);
                    let p = if p.contains('/') {
                        p
                    } else {
                        format!("{p}/tcp")
                    };
                    if !state.exposed.contains(&p) {
                        state.exposed.push(p);
                    }
                }
            }
            Instruction::StopSignal(s) => state.stop_signal = Some(state.expand(s)),
            Instruction::Cmd(c) => state.cmd = Some(c.clone()),
            Instruction::Entrypoint(e) => {
                state.entrypoint = Some(e.clone());
                // As in Docker: a new entrypoint drops the inherited command.
                state.cmd = None;
            }
            Instruction::Copy(sources, dst) => {
                out.step(&format!(
                    "Step {n}/{} : COPY {} {dst}",
                    instructions.len(),
                    sources.join(" ")
                ));
                let dst = state.expand(dst);
                let archive = copy_archive(recipe, sources, &dst).map_err(fail)?;
                docker
                    .upload_to_container(
                        &container.id,
                        Some(UploadToContainerOptionsBuilder::new().path("/").build()),
                        testcontainers::bollard::body_full(archive.into()),
                    )
                    .await
                    .map_err(|e| docker_err(&format!("COPY {}", sources.join(" ")), e))?;
            }
            Instruction::Run(cmd) => {
                out.step(&format!("Step {n}/{} : RUN {cmd}", instructions.len()));
                run(docker, &container.id, cmd, &state, None, &out)
                    .await
                    .map_err(|e| fail(format!("RUN {cmd}: {e}")))?;
                // A RUN's container ends with it, and so does whatever it left running (a
                // daemon a package started): here too, so nothing writes into later steps or
                // the commit. `kill -1` spares PID 1 (the container's `sleep`) and itself.
                run(docker, &container.id, ORPHANS, &state, Some("0"), &out)
                    .await
                    .map_err(|e| fail(format!("stop what RUN {cmd} left running: {e}")))?;
            }
        }
    }

    let mut labels_all = state.labels.clone();
    labels_all.extend(labels.iter().cloned());
    let (repo, tag) = super::split_reference(&reference);
    out.step(&format!("committing {reference}"));
    docker
        .commit_container(
            CommitContainerOptionsBuilder::new()
                .container(&container.id)
                .repo(&repo)
                .tag(&tag)
                .comment(&format!("shakedown recipe {} on {base}", recipe.role))
                .pause(true)
                .build(),
            ContainerConfig {
                user: Some(state.user.clone()),
                env: Some(state.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                cmd: state.cmd.clone(),
                entrypoint: state.entrypoint.clone(),
                working_dir: state.workdir.clone(),
                exposed_ports: Some(state.exposed.clone()),
                stop_signal: state.stop_signal.clone(),
                labels: Some(labels_all),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| docker_err("commit the build container", e))?;
    out.step(&format!("Successfully tagged {reference}"));
    container.remove(docker).await;
    Ok(Outcome::Built)
}

/// Why `docker build` must build this, if it must: the commit takes whatever the configuration
/// leaves unset from the build container (its `sleep` command), so the image must end with a
/// command of its own, and the base must not have an entrypoint for `sleep` to run.
fn left_to_docker_build(base: &State, instructions: &[Instruction]) -> Option<String> {
    if base.entrypoint.as_ref().is_some_and(|e| !e.is_empty()) {
        return Some("the base image has an ENTRYPOINT".into());
    }
    let mut cmd = base.cmd.clone();
    for ins in instructions {
        match ins {
            Instruction::Cmd(c) => cmd = Some(c.clone()),
            Instruction::Entrypoint(_) => cmd = None,
            _ => {}
        }
    }
    match cmd {
        Some(c) if !c.is_empty() => None,
        _ => Some("the image would have no CMD".into()),
    }
}

/// The configuration the base image gives an image built on it.
async fn from_base(docker: &Docker, base: &str) -> Result<State> {
    let img = docker
        .inspect_image(base)
        .await
        .map_err(|source| Error::docker("inspect image", base.to_string(), source))?;
    let c = img.config.unwrap_or_default();
    Ok(State {
        env: c
            .env
            .unwrap_or_default()
            .into_iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv, String::new()),
            })
            .collect(),
        args: Vec::new(),
        user: c.user.unwrap_or_default(),
        workdir: c.working_dir.filter(|w| !w.is_empty()),
        cmd: c.cmd,
        entrypoint: c.entrypoint,
        exposed: c.exposed_ports.unwrap_or_default(),
        stop_signal: c.stop_signal,
        labels: c.labels.unwrap_or_default(),
    })
}

/// Runs `cmd` with `/bin/sh -c` as the current user (or `user`), in the current directory, with
/// the current environment; its output goes to the build log. Fails on a non-zero exit.
async fn run(
    docker: &Docker,
    id: &str,
    cmd: &str,
    state: &State,
    user: Option<&str>,
    out: &BuildLog,
) -> std::result::Result<(), String> {
    let exec = docker
        .create_exec(
            id,
            ExecConfig {
                cmd: Some(vec!["/bin/sh".into(), "-c".into(), cmd.into()]),
                env: Some(state.run_env()),
                user: Some(user.unwrap_or(&state.user).to_string()),
                working_dir: Some(state.cwd()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut lines = Lines::default();
    if let StartExecResults::Attached { mut output, .. } =
        crate::exec::start_attached(docker, &exec.id)
            .await
            .map_err(|e| e.to_string())?
    {
        // The output ends when every process holding it has closed it: a background process
        // the command started may hold it long after the command exited. So the exec is also
        // watched, and the output given up a moment after the command's end.
        let mut watch = tokio::time::interval(std::time::Duration::from_millis(250));
        let mut ended: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                chunk = output.next() => match chunk {
                    None => break,
                    Some(chunk) => match chunk.map_err(|e| e.to_string())? {
                        LogOutput::StdOut { message }
                        | LogOutput::StdErr { message }
                        | LogOutput::Console { message } => lines.feed(&message, out),
                        LogOutput::StdIn { .. } => {}
                    },
                },
                _ = watch.tick() => match ended {
                    Some(at) if at.elapsed() >= OUTPUT_GRACE => break,
                    Some(_) => {}
                    None => {
                        let inspect = docker.inspect_exec(&exec.id).await.map_err(|e| e.to_string())?;
                        if inspect.running == Some(false) {
                            ended = Some(std::time::Instant::now());
                        }
                    }
                },
            }
        }
    }
    lines.finish(out);
    let code = loop {
        let inspect = docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| e.to_string())?;
        if inspect.running != Some(true) {
            break inspect.exit_code.unwrap_or(-1);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    if code == 0 {
        Ok(())
    } else {
        Err(format!(
            "exit code {code}; last output:\n{}",
            lines.tail.join("\n")
        ))
    }
}

/// Output split into lines for the log, keeping the last ones for an error.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    tail: Vec<String>,
}

impl Lines {
    fn feed(&mut self, bytes: &[u8], out: &BuildLog) {
        self.partial.extend_from_slice(bytes);
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            self.line(
                String::from_utf8_lossy(&line[..i]).trim_end().to_string(),
                out,
            );
        }
    }

    fn finish(&mut self, out: &BuildLog) {
        if !self.partial.is_empty() {
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            self.line(line, out);
        }
    }

    fn line(&mut self, line: String, out: &BuildLog) {
        out.line(&line);
        self.tail.push(line);
        if self.tail.len() > 15 {
            self.tail.remove(0);
        }
    }
}

/// A tar of the recipe's `sources` (files of its context, no directories or patterns) placed at
/// `dst` (a directory when it ends with `/` or there are several sources), owned by root, mode
/// 0644, as `COPY` gives them.
fn copy_archive(
    recipe: &ImageRecipe,
    sources: &[String],
    dst: &str,
) -> std::result::Result<Vec<u8>, String> {
    let mut tar = tar::Builder::new(Vec::new());
    let into_dir = dst.ends_with('/') || sources.len() > 1;
    for src in sources {
        let Some((_, body)) = recipe.files.iter().find(|(name, _)| name == src) else {
            return Err(format!(
                "COPY {src}: `{src}` is not a file of the recipe's context (ImageRecipe::files)"
            ));
        };
        let path = if into_dir {
            format!("{}/{src}", dst.trim_end_matches('/'))
        } else {
            dst.to_string()
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path.trim_start_matches('/'), body.as_bytes())
            .map_err(|e| format!("COPY {src}: {e}"))?;
    }
    tar.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_sees_build_arguments_under_its_environment() {
        let state = State {
            env: vec![("PATH".into(), "/bin".into()), ("A".into(), "env".into())],
            args: vec![("A".into(), "arg".into()), ("PG_MAJOR".into(), "17".into())],
            ..Default::default()
        };
        assert_eq!(state.run_env(), ["PG_MAJOR=17", "PATH=/bin", "A=env"]);
        let mut state = state;
        state.set_env("PATH".into(), "/usr/bin".into());
        state.set_env("B".into(), "new".into());
        assert_eq!(
            state.run_env(),
            ["PG_MAJOR=17", "PATH=/usr/bin", "A=env", "B=new"]
        );
        assert_eq!(state.expand("/x/${PG_MAJOR}/$A"), "/x/17/env");
    }

    #[test]
    fn copy_places_context_files_where_copy_would() {
        let recipe = ImageRecipe {
            files: &[("a.conf", "alpha\n"), ("b", "beta")],
            ..super::super::RUNTIME
        };
        let entries = |bytes: Vec<u8>| -> Vec<(String, u32, String)> {
            let mut ar = tar::Archive::new(&bytes[..]);
            ar.entries()
                .unwrap()
                .map(|e| {
                    let mut e = e.unwrap();
                    let path = e.path().unwrap().display().to_string();
                    let mode = e.header().mode().unwrap();
                    let mut body = String::new();
                    std::io::Read::read_to_string(&mut e, &mut body).unwrap();
                    (path, mode, body)
                })
                .collect()
        };
        let one = copy_archive(&recipe, &["a.conf".into()], "/etc/x/y.conf").unwrap();
        assert_eq!(
            entries(one),
            [("etc/x/y.conf".into(), 0o644, "alpha\n".into())]
        );
        let two = copy_archive(&recipe, &["a.conf".into(), "b".into()], "/opt").unwrap();
        assert_eq!(
            entries(two),
            [
                ("opt/a.conf".into(), 0o644, "alpha\n".into()),
                ("opt/b".into(), 0o644, "beta".into())
            ]
        );
        let err = copy_archive(&recipe, &["missing".into()], "/x").unwrap_err();
        assert!(err.contains("not a file of the recipe's context"), "{err}");
    }
}
