//! Images built from the project's own recipes, never pulled.
//!
//! Each [`ImageRecipe`] is a Dockerfile plus the files it copies, embedded in the binary. An
//! image is tagged with, and carries the label [`RECIPE_LABEL`] holding, the hash of its recipe; [`ensure`] checks every
//! image a run needs before any container starts (a missing image must never turn into a pull),
//! and builds what is missing or stale under a file lock, so parallel test processes build once;
//! only those are built (a recipe's change changes its hash, so its tag, and nothing else), all
//! at once.
//!
//! The Dockerfiles build `FROM` the build argument `BASE`, a Debian release each recipe names
//! ([`ImageRecipe::debian`]: `bookworm`, `trixie`). The base of release `R` is, in order: the
//! image named by `SHAKEDOWN_BASE_IMAGE_R` (upper case; for bookworm also `SHAKEDOWN_BASE_IMAGE`);
//! `debian:R-slim` if present locally or if it can be pulled; otherwise
//! `shakedown/debian-base:R-<hash>`, bootstrapped (mmdebstrap, else debootstrap) from the Debian
//! mirror the machine's apt uses (`harness/images/bootstrap-base.sh`, embedded here too) and tagged by
//! the hash of that script and the release (see `base.rs`), so it is made once per script.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};
use testcontainers::bollard::Docker;

use crate::error::{Error, Result};

mod base;
mod build_container;
mod build_log;
mod dockerfile;
mod one_container;

use build_log::BuildLog;

pub use base::{
    base_variables, bootstrap_base, bootstrap_hash, official_base, BASE_LABEL, OFFICIAL_BASE,
};

/// Label holding the hash of the recipe an image was built from.
pub const RECIPE_LABEL: &str = "dev.shakedown.recipe";
/// A Dockerfile and the files it `COPY`s, identified by `repository:tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRecipe {
    /// A short role name (`postgres`, `runtime`).
    pub role: &'static str,
    /// Image repository, e.g. `shakedown/postgres`.
    pub repository: &'static str,
    /// Image tag, e.g. `15`.
    pub tag: &'static str,
    /// The Debian release the recipe builds on (`bookworm`, `trixie`): which base [`ensure`]
    /// passes as `BASE`. The Dockerfile's default (`ARG BASE=debian:<release>-slim`) names the
    /// same release; [`ImageRecipe::check`] says so if not.
    pub debian: &'static str,
    /// The Dockerfile's text.
    pub dockerfile: &'static str,
    /// Other files of the build context: `(file name, contents)`.
    pub files: &'static [(&'static str, &'static str)],
    /// Build arguments besides `BASE` (`--build-arg NAME=value`), e.g. `("PG_MAJOR", "15")`:
    /// one Dockerfile, several images. A recipe with build arguments may build on another
    /// release than its Dockerfile's default `BASE`; both are in its hash.
    pub build_args: &'static [(&'static str, &'static str)],
}

/// The runtime role: a Debian 13 (trixie, glibc 2.41) userland with libfaketime and CA
/// certificates, for services under test (their binaries are copied in at start, so they must
/// not need a newer glibc: see [`crate::binary`]) and for the fault proxy.
pub const RUNTIME: ImageRecipe = ImageRecipe {
    role: "runtime",
    repository: "shakedown/runtime",
    tag: "trixie",
    debian: "trixie",
    dockerfile: include_str!("../images/runtime/Dockerfile"),
    files: &[],
    build_args: &[],
};

impl ImageRecipe {
    /// Checks that the Dockerfile builds `FROM ${BASE}` with the default
    /// `ARG BASE=debian:<release>-slim` of the recipe's [`debian`](ImageRecipe::debian) release
    /// (the hash covers the Dockerfile, so it covers the release too), and that it declares each
    /// of the recipe's [`build_args`](ImageRecipe::build_args). A recipe with build arguments
    /// needs only some `ARG BASE=debian:…` default: it may build the Dockerfile on another
    /// release (its hash covers the release then).
    pub fn check(&self) -> std::result::Result<(), String> {
        for (name, _) in self.build_args {
            let declared = self.dockerfile.lines().any(|l| {
                let l = l.trim();
                l == format!("ARG {name}") || l.starts_with(&format!("ARG {name}="))
            });
            if !declared || *name == "BASE" {
                return Err(format!(
                    "recipe {}: build argument `{name}` is not an `ARG` of the Dockerfile (or is BASE, which the release sets)",
                    self.role
                ));
            }
        }
        let default = format!("ARG BASE={}", official_base(self.debian));
        let any_default = |l: &str| l.trim().starts_with("ARG BASE=debian:");
        let has_default = if self.build_args.is_empty() {
            self.dockerfile.lines().any(|l| l.trim() == default)
        } else {
            self.dockerfile.lines().any(any_default)
        };
        if !has_default {
            return Err(format!(
                "recipe {}: the Dockerfile has no `{default}` line, but the recipe builds on {}",
                self.role, self.debian
            ));
        }
        if !self.dockerfile.lines().any(|l| l.trim() == "FROM ${BASE}") {
            return Err(format!(
                "recipe {}: the Dockerfile does not build `FROM ${{BASE}}`",
                self.role
            ));
        }
        Ok(())
    }

    /// `repository:tag-<recipe hash>`: the image built from exactly this recipe. Tags are
    /// immutable, so checkouts with different recipes (branches, work trees, versions) never
    /// rebuild over each other.
    pub fn reference(&self) -> String {
        format!(
            "{}:{}-{}",
            self.repository,
            self.tag,
            &self.recipe_hash()[..12]
        )
    }

    /// Hex SHA-256 over the Dockerfile and every context file (name and contents).
    pub fn recipe_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"Dockerfile\0");
        h.update(self.dockerfile.as_bytes());
        for (name, body) in self.files {
            h.update(b"\0");
            h.update(name.as_bytes());
            h.update(b"\0");
            h.update(body.as_bytes());
        }
        // Only recipes with build arguments hash them (and the release, which their Dockerfile's
        // default need not name): the others keep the hashes they always had.
        if !self.build_args.is_empty() {
            h.update(b"\0release\0");
            h.update(self.debian.as_bytes());
            for (name, value) in self.build_args {
                h.update(b"\0arg\0");
                h.update(name.as_bytes());
                h.update(b"=");
                h.update(value.as_bytes());
            }
        }
        hex::encode(&h.finalize()[..16])
    }
}

/// Whether an image is there and built from the current recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageState {
    /// Present, built from this recipe.
    Current,
    /// Present, but built from another recipe (or by hand).
    Stale,
    /// Not present.
    Missing,
}

impl std::fmt::Display for ImageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImageState::Current => "current",
            ImageState::Stale => "stale (built from an older recipe)",
            ImageState::Missing => "missing",
        })
    }
}

/// The state of one recipe's image.
pub async fn status(docker: &Docker, recipe: &ImageRecipe) -> Result<ImageState> {
    match docker.inspect_image(&recipe.reference()).await {
        Ok(img) => {
            let label = img
                .config
                .and_then(|c| c.labels)
                .and_then(|l| l.get(RECIPE_LABEL).cloned());
            Ok(if label.as_deref() == Some(recipe.recipe_hash().as_str()) {
                ImageState::Current
            } else {
                ImageState::Stale
            })
        }
        Err(e) if crate::docker::is_not_found(&e) => Ok(ImageState::Missing),
        Err(source) => Err(Error::docker("inspect image", recipe.reference(), source)),
    }
}

/// Removes shakedown-built images (those with [`RECIPE_LABEL`]) whose tags are not in `keep`, and
/// untagged ones;
/// images still used by a container are left alone. Returns how many were removed.
pub async fn remove_other_builds(docker: &Docker, keep: &[String]) -> Result<usize> {
    use std::collections::HashMap;
    use testcontainers::bollard::query_parameters::{
        ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
    };

    let filters: HashMap<&str, Vec<String>> =
        HashMap::from([("label", vec![RECIPE_LABEL.to_string()])]);
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(|source| Error::docker("list images labelled", RECIPE_LABEL, source))?;
    let mut removed = 0;
    for img in images {
        // Untagged leftovers of a rebuild (`--force`) go too.
        let untagged = img.repo_tags.iter().all(|t| t == "<none>:<none>");
        if untagged {
            let opts = RemoveImageOptionsBuilder::new().force(false).build();
            if docker.remove_image(&img.id, Some(opts), None).await.is_ok() {
                removed += 1;
            }
            continue;
        }
        for tag in img.repo_tags.iter().filter(|t| !keep.contains(t)) {
            let opts = RemoveImageOptionsBuilder::new().force(false).build();
            if docker.remove_image(tag, Some(opts), None).await.is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// What [`ensure`] may do about an image that is missing or stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildPolicy {
    /// Build it (the default; `SHAKEDOWN_IMAGES=check` turns it into [`BuildPolicy::Never`]).
    IfNeeded,
    /// Fail with the command that builds it.
    Never,
    /// Rebuild every image even if current.
    Always,
}

impl BuildPolicy {
    /// [`BuildPolicy::Never`] when `SHAKEDOWN_IMAGES=check`, else [`BuildPolicy::IfNeeded`].
    pub fn from_env() -> Self {
        match std::env::var("SHAKEDOWN_IMAGES").as_deref() {
            Ok("check") => BuildPolicy::Never,
            _ => BuildPolicy::IfNeeded,
        }
    }
}

/// Makes sure every recipe's image exists and is current, building what is not (per `policy`).
///
/// Call this before starting any container: a missing image then never reaches testcontainers,
/// which would try to pull it. Each build step is reported through `tracing` (info); the whole
/// build output goes to [`default_build_log`] (see [`ensure_logged`]).
pub async fn ensure(recipes: &[ImageRecipe], policy: BuildPolicy) -> Result<()> {
    ensure_logged(recipes, policy, &default_build_log()).await
}

/// Where [`ensure`] writes the build output: `shakedown-image-builds.log` in the temp folder.
pub fn default_build_log() -> PathBuf {
    std::env::temp_dir().join("shakedown-image-builds.log")
}

/// [`ensure`], writing every line of build output (debootstrap, apt, docker) to `log`, which is
/// created afresh when something needs building; a failed build's error names it.
pub async fn ensure_logged(recipes: &[ImageRecipe], policy: BuildPolicy, log: &Path) -> Result<()> {
    let docker = crate::docker::client().await?;
    let mut todo = Vec::new();
    for r in recipes {
        let state = status(&docker, r).await?;
        if policy == BuildPolicy::Always || state != ImageState::Current {
            if policy == BuildPolicy::Never {
                return Err(Error::ImageMissing {
                    image: r.reference(),
                    state: state.to_string(),
                });
            }
            todo.push(*r);
        }
    }
    if todo.is_empty() {
        return Ok(());
    }
    // One builder at a time across processes; whoever waited re-checks before building.
    let _lock = lock_builds().await?;
    let stale = build_container::remove_leftovers(&docker).await?;
    if stale > 0 {
        tracing::info!("removed {stale} build container(s) left by a killed build");
    }
    if let Some(parent) = log.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("create {}", parent.display()), e))?;
    }
    std::fs::write(log, b"").map_err(|e| Error::io(format!("create {}", log.display()), e))?;
    // Whoever waited for the lock re-checks: another process may have built them meanwhile.
    let mut build_now = Vec::new();
    for r in todo {
        if policy != BuildPolicy::Always && status(&docker, &r).await? == ImageState::Current {
            continue;
        }
        r.check().map_err(|detail| Error::ImageBuild {
            image: r.reference(),
            detail,
            log: log.display().to_string(),
        })?;
        build_now.push(r);
    }
    let mut releases: Vec<&str> = build_now.iter().map(|r| r.debian).collect();
    releases.sort_unstable();
    releases.dedup();
    // Every release at once, and on each base every image at once: builds spend most of their
    // time on the mirror, on dpkg and on the storage driver, not on one core.
    let per_release = releases.iter().map(|&debian| {
        let docker = &docker;
        let build_now = &build_now;
        async move {
            let base = base::resolve(docker, debian, log).await?;
            let builds = build_now
                .iter()
                .filter(|r| r.debian == debian)
                .map(|r| build(r, &base, log));
            first_error(futures::future::join_all(builds).await)
        }
    });
    first_error(futures::future::join_all(per_release).await)
}

/// The first error of several outcomes (each run to its end, so no build is left half-way while
/// the error is reported).
fn first_error(results: Vec<Result<()>>) -> Result<()> {
    results.into_iter().collect()
}

async fn lock_builds() -> Result<std::fs::File> {
    let path = std::env::temp_dir().join("shakedown-images.lock");
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("open lock file {}", path.display()), e))?;
        if file.try_lock().is_err() {
            tracing::info!("waiting for another process to finish building images");
            file.lock()
                .map_err(|e| Error::io(format!("lock {}", path.display()), e))?;
        }
        Ok(file)
    })
    .await
    .map_err(|e| Error::io("wait for the image lock", std::io::Error::other(e)))?
}

pub(crate) async fn image_exists(docker: &Docker, reference: &str) -> Result<bool> {
    match docker.inspect_image(reference).await {
        Ok(_) => Ok(true),
        Err(e) if crate::docker::is_not_found(&e) => Ok(false),
        Err(source) => Err(Error::docker(
            "inspect image",
            reference.to_string(),
            source,
        )),
    }
}

/// `SHAKEDOWN_BUILDER=docker-build` builds every recipe with `docker build` (the classic
/// builder), as a way round the one-container build should it ever misbehave.
pub const BUILDER_VARIABLE: &str = "SHAKEDOWN_BUILDER";

pub use build_container::build_container_prefix;

/// Builds one recipe on `base`, tagged [`ImageRecipe::reference`].
///
/// Where the recipe's Dockerfile allows (only `ARG`, one `FROM`, `RUN` in shell form, `COPY` of
/// context files, `ENV`, `LABEL`, `USER`, `WORKDIR`, `EXPOSE`, `STOPSIGNAL`, `CMD`,
/// `ENTRYPOINT`), it is built in one container: each `RUN` an exec, each `COPY` an upload, the
/// whole configuration in one commit, so the image is one layer on its base. The classic builder
/// makes a container and a commit per instruction, which costs seconds each on storage drivers
/// without native diffs (fuse-overlayfs, vfs). Any other Dockerfile, or [`BUILDER_VARIABLE`], goes
/// to `docker build` (offline-safe: it never pulls a base that is present). Output is appended to
/// `log`, steps are reported through `tracing`.
pub async fn build(recipe: &ImageRecipe, base: &str, log: &Path) -> Result<()> {
    let reference = recipe.reference();
    tracing::info!(image = %reference, "building image {reference} on {base}");
    let labels = recipe_labels(recipe);
    let forced = std::env::var(BUILDER_VARIABLE).is_ok_and(|v| v == "docker-build");
    let why = match dockerfile::parse(recipe.dockerfile) {
        _ if forced => format!("{BUILDER_VARIABLE}=docker-build"),
        Ok(instructions) => {
            let docker = crate::docker::client().await?;
            match one_container::build(&docker, recipe, &instructions, base, &labels, log).await? {
                one_container::Outcome::Built => {
                    tracing::info!(image = %reference, "built {reference}");
                    return Ok(());
                }
                one_container::Outcome::LeftToDockerBuild(why) => why,
            }
        }
        Err(dockerfile::Unsupported(why)) => why,
    };
    tracing::debug!(image = %reference, "building {reference} with docker build: {why}");
    docker_build(recipe, base, &labels, log).await
}

/// The labels every built image carries: its recipe's hash, its role, and the glibc of its
/// Debian release where known.
fn recipe_labels(recipe: &ImageRecipe) -> Vec<(String, String)> {
    let mut labels = vec![
        (RECIPE_LABEL.to_string(), recipe.recipe_hash()),
        ("dev.shakedown.role".to_string(), recipe.role.to_string()),
    ];
    if let Some(v) = crate::binary::glibc_of(recipe.debian) {
        labels.push((crate::binary::GLIBC_LABEL.to_string(), v.to_string()));
    }
    labels
}

/// Builds one recipe with the classic builder.
async fn docker_build(
    recipe: &ImageRecipe,
    base: &str,
    labels: &[(String, String)],
    log: &Path,
) -> Result<()> {
    let reference = recipe.reference();
    let dir = tempdir(recipe.role)?;
    let write = |name: &str, body: &str| {
        let path = dir.path.join(name);
        std::fs::write(&path, body).map_err(|e| Error::io(format!("write {}", path.display()), e))
    };
    write("Dockerfile", recipe.dockerfile)?;
    for (name, body) in recipe.files {
        write(name, body)?;
    }
    let mut cmd = Command::new("docker");
    cmd.env("DOCKER_BUILDKIT", "0")
        .arg("build")
        .args(["--build-arg", &format!("BASE={base}")])
        .args(
            recipe
                .build_args
                .iter()
                .flat_map(|(k, v)| ["--build-arg".to_string(), format!("{k}={v}")]),
        )
        .args(
            labels
                .iter()
                .flat_map(|(k, v)| ["--label".to_string(), format!("{k}={v}")]),
        )
        .args(["-t", &reference])
        .arg(&dir.path);
    log_output(cmd, &reference, log)
        .await
        .map_err(|detail| Error::ImageBuild {
            image: reference.clone(),
            detail,
            log: log.display().to_string(),
        })?;
    tracing::info!(image = %reference, "built {reference}");
    Ok(())
}

/// Whether a line of build output names a step worth showing (docker's `Step 3/9 : RUN …`,
/// debootstrap's `I: Retrieving …`), rather than the step's own output.
fn is_step(line: &str) -> bool {
    line.starts_with("Step ")
        || line.starts_with("Successfully")
        || line.starts_with("I: ")
        || line.contains("imported")
}

/// Runs a command, appending every line of its output to `log` and reporting its steps through
/// `tracing` (info, with the image); on failure returns the last lines of output.
pub(crate) async fn log_output(
    mut cmd: Command,
    image: &str,
    log: &Path,
) -> std::result::Result<(), String> {
    let out = BuildLog::open(log, image).map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        out.header(&format!("{cmd:?}"));
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not run {cmd:?}: {e}"))?;
        let stderr = child.stderr.take().expect("piped");
        let err_out = out.clone();
        let err_thread = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(|l| l.ok())
                .inspect(|l| err_out.line(l))
                .collect::<Vec<_>>()
        });
        let mut tail: Vec<String> = Vec::new();
        for line in BufReader::new(child.stdout.take().expect("piped"))
            .lines()
            .map_while(|l| l.ok())
        {
            if is_step(&line) {
                out.step(&line);
            } else {
                out.line(&line);
            }
            tail.push(line);
            if tail.len() > 40 {
                tail.remove(0);
            }
        }
        let errs = err_thread.join().unwrap_or_default();
        let status = child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            tail.extend(errs);
            let start = tail.len().saturating_sub(15);
            Err(format!(
                "{status}; last output:\n{}",
                tail[start..].join("\n")
            ))
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

pub(crate) async fn run_quiet(cmd: &mut Command) -> std::result::Result<(), String> {
    let mut cmd = std::mem::replace(cmd, Command::new("true"));
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A directory removed on drop.
pub(crate) struct TempDir {
    pub(crate) path: PathBuf,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub(crate) fn tempdir(tag: &str) -> Result<TempDir> {
    let path = Path::new(&std::env::temp_dir()).join(format!(
        "shakedown-{tag}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&path)
        .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
    Ok(TempDir { path })
}

/// `repository:tag` split in two (`latest` when there is no tag).
pub(crate) fn split_reference(image: &str) -> (String, String) {
    // `registry:5000/repo:tag` — the tag is after the last ':' that follows the last '/'.
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => {
            (image[..i].to_string(), image[i + 1..].to_string())
        }
        _ => (image.to_string(), "latest".to_string()),
    }
}

#[cfg(test)]
mod tests;
