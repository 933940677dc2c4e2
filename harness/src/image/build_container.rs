//! The container a one-container build (`one_container.rs`) runs in. It is named
//! `shakedown-build-<host>-<pid>-<start>-<image>` and carries no label (labels on it would pass
//! into the image through the commit). It is removed when the build ends, fails or unwinds, and
//! a killed build's container is removed by the next build on this host ([`remove_leftovers`],
//! called under the build lock).

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use testcontainers::bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use testcontainers::bollard::Docker;

use crate::docker::{host_id, owner_alive, owner_token};
use crate::error::{Error, Result};

/// The name prefix of this host's build containers (`shakedown-build-<host hash>-`): what a
/// killed image build may leave behind, removed by the next build on this host.
pub fn build_container_prefix() -> String {
    let host = hex::encode(&Sha256::digest(host_id().as_bytes())[..4]);
    format!("shakedown-build-{host}-")
}

/// `<host prefix><pid>-<start>-<image>`, the image's reference with `/` and `:` made `-`.
pub(super) fn container_name(reference: &str) -> String {
    let image: String = reference
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!(
        "{}{}-{image}",
        build_container_prefix(),
        owner_token().replace(':', "-")
    )
}

/// Removes this host's build containers whose build process is gone (a killed build). Called
/// under the build lock; returns how many it removed.
pub(super) async fn remove_leftovers(docker: &Docker) -> Result<usize> {
    let prefix = build_container_prefix();
    let filters: HashMap<&str, Vec<String>> = HashMap::from([("name", vec![prefix.clone()])]);
    let list = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|source| Error::docker("list containers named", prefix.clone(), source))?;
    let mut removed = 0;
    for c in list {
        let Some(name) = c.names.iter().flatten().find_map(|n| {
            n.trim_start_matches('/')
                .strip_prefix(&prefix)
                .map(str::to_string)
        }) else {
            continue;
        };
        // `<pid>-<start>-<image>`
        let mut parts = name.splitn(3, '-');
        let token = format!(
            "{}:{}",
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("")
        );
        if owner_alive(&token) {
            continue;
        }
        if let Some(id) = c.id {
            let opts = RemoveContainerOptionsBuilder::new()
                .force(true)
                .v(true)
                .build();
            if docker.remove_container(&id, Some(opts)).await.is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// The build container: removed by [`Container::remove`], or on drop (a failed or unwinding
/// build) from a thread of its own.
pub(super) struct Container {
    pub(super) id: String,
    removed: bool,
}

impl Container {
    pub(super) fn new(id: String) -> Container {
        Container { id, removed: false }
    }

    pub(super) async fn remove(mut self, docker: &Docker) {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        self.removed = docker.remove_container(&self.id, Some(opts)).await.is_ok();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let id = self.id.clone();
        let removal = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let docker = crate::docker::standalone_client().ok()?;
                let opts = RemoveContainerOptionsBuilder::new()
                    .force(true)
                    .v(true)
                    .build();
                docker.remove_container(&id, Some(opts)).await.ok()
            })
        });
        if !matches!(removal.join(), Ok(Some(()))) {
            tracing::warn!(
                "could not remove build container {}; the next image build removes it",
                self.id
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_containers_are_named_after_their_host_and_process() {
        let name = container_name("shakedown/postgres:17-abc");
        assert!(name.starts_with(&build_container_prefix()), "{name}");
        let rest = name.strip_prefix(&build_container_prefix()).unwrap();
        let mut parts = rest.splitn(3, '-');
        let token = format!("{}:{}", parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(token, owner_token());
        assert!(owner_alive(&token));
        assert_eq!(parts.next(), Some("shakedown-postgres-17-abc"));
    }
}
