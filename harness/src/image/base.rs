//! The Debian base each recipe builds `FROM`: named by a variable, the official image, or one
//! bootstrapped locally from the Debian mirror (`harness/images/bootstrap-base.sh`), tagged by the hash
//! of its own recipe (the script and the release), so a changed script bootstraps a new base and
//! an unchanged one is reused.

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};
use testcontainers::bollard::Docker;

use super::{image_exists, log_output, run_quiet, tempdir};
use crate::error::{Error, Result};

/// The official Debian base of the bookworm recipes ([`official_base`] of `bookworm`).
pub const OFFICIAL_BASE: &str = "debian:bookworm-slim";

/// Label holding the hash of the recipe a bootstrapped base was made from ([`bootstrap_hash`]).
/// Not [`RECIPE_LABEL`](super::RECIPE_LABEL): `shakedown clean --images` leaves bases alone.
pub const BASE_LABEL: &str = "dev.shakedown.base-recipe";

const BOOTSTRAP_SCRIPT: &str = include_str!("../../images/bootstrap-base.sh");

/// The official Debian image of a release: `debian:<release>-slim`.
pub fn official_base(debian: &str) -> String {
    format!("debian:{debian}-slim")
}

/// Hex SHA-256 (16 bytes) over the bootstrap script and the release: the base's own recipe.
pub fn bootstrap_hash(debian: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"bootstrap-base.sh\0");
    h.update(BOOTSTRAP_SCRIPT.as_bytes());
    h.update(b"\0");
    h.update(debian.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The base bootstrapped locally when the official image of a release cannot be had:
/// `shakedown/debian-base:<release>-<recipe hash>` ([`bootstrap_hash`]).
pub fn bootstrap_base(debian: &str) -> String {
    format!(
        "shakedown/debian-base:{debian}-{}",
        &bootstrap_hash(debian)[..12]
    )
}

/// The environment variables that may name the base of a Debian release, in order:
/// `SHAKEDOWN_BASE_IMAGE_<RELEASE>`, and for bookworm (the first release) also
/// `SHAKEDOWN_BASE_IMAGE`.
pub fn base_variables(debian: &str) -> Vec<String> {
    let mut vars = vec![format!(
        "SHAKEDOWN_BASE_IMAGE_{}",
        debian.to_ascii_uppercase()
    )];
    if debian == "bookworm" {
        vars.push("SHAKEDOWN_BASE_IMAGE".into());
    }
    vars
}

/// Picks the base image of a Debian release, pulling or bootstrapping it if need be.
pub(super) async fn resolve(docker: &Docker, debian: &str, log: &Path) -> Result<String> {
    for var in base_variables(debian) {
        let Ok(base) = std::env::var(&var) else {
            continue;
        };
        if image_exists(docker, &base).await? {
            return Ok(base);
        }
        return Err(Error::ImageBuild {
            image: base.clone(),
            detail: format!(
                "{var} names `{base}`, which is not present locally; load or build it, or unset the variable"
            ),
            log: log.display().to_string(),
        });
    }
    let official = official_base(debian);
    let bootstrap = bootstrap_base(debian);
    for candidate in [&official, &bootstrap] {
        if image_exists(docker, candidate).await? {
            return Ok(candidate.to_string());
        }
    }
    tracing::info!("base image {official} not present; trying to pull it");
    let pulled = run_quiet(Command::new("docker").args(["pull", "-q", &official])).await;
    if pulled.is_ok() && image_exists(docker, &official).await? {
        return Ok(official);
    }
    tracing::info!("cannot pull {official}; bootstrapping {bootstrap} from the Debian mirror");
    let dir = tempdir("base")?;
    let script = dir.path.join("bootstrap-base.sh");
    std::fs::write(&script, BOOTSTRAP_SCRIPT)
        .map_err(|e| Error::io(format!("write {}", script.display()), e))?;
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(&bootstrap).arg(debian).env(
        "SHAKEDOWN_BASE_LABEL",
        format!("{BASE_LABEL}={}", bootstrap_hash(debian)),
    );
    let var = &base_variables(debian)[0];
    log_output(cmd, &bootstrap, log)
        .await
        .map_err(|detail| Error::ImageBuild {
            image: bootstrap.clone(),
            detail: format!("{detail}\n(needs root and mmdebstrap or debootstrap, which it installs with apt-get; or set {var} to a Debian {debian} image you have)"),
            log: log.display().to_string(),
        })?;
    Ok(bootstrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_release_has_its_own_base_names() {
        assert_eq!(official_base("bookworm"), OFFICIAL_BASE);
        let bookworm = bootstrap_base("bookworm");
        let trixie = bootstrap_base("trixie");
        assert!(
            bookworm.starts_with("shakedown/debian-base:bookworm-"),
            "{bookworm}"
        );
        assert!(
            trixie.starts_with("shakedown/debian-base:trixie-"),
            "{trixie}"
        );
        assert_eq!(
            bookworm,
            format!(
                "shakedown/debian-base:bookworm-{}",
                &bootstrap_hash("bookworm")[..12]
            )
        );
        assert_ne!(bootstrap_hash("bookworm"), bootstrap_hash("trixie"));
        assert_eq!(bootstrap_hash("trixie"), bootstrap_hash("trixie"));
        assert_eq!(
            base_variables("bookworm"),
            ["SHAKEDOWN_BASE_IMAGE_BOOKWORM", "SHAKEDOWN_BASE_IMAGE"]
        );
        assert_eq!(base_variables("trixie"), ["SHAKEDOWN_BASE_IMAGE_TRIXIE"]);
    }
}
