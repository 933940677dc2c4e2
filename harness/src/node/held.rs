//! [`Held`]: a node's testcontainers container, left in place when its run is kept for
//! inspection (testcontainers would remove it on drop).

use std::ops::Deref;

use testcontainers::{ContainerAsync, GenericImage};

use crate::topology::Keeper;

/// The container of one node. Dereferences to testcontainers' handle; on drop, removes the
/// container unless the run's [`KeepPolicy`](crate::topology::KeepPolicy) keeps it now.
pub(crate) struct Held {
    container: Option<ContainerAsync<GenericImage>>,
    keeper: Keeper,
}

impl Held {
    pub(crate) fn new(container: ContainerAsync<GenericImage>, keeper: Keeper) -> Self {
        Held {
            container: Some(container),
            keeper,
        }
    }

    /// The handle itself, for calls that consume it (`rm`); removal is then the caller's.
    pub(crate) fn into_inner(mut self) -> ContainerAsync<GenericImage> {
        self.container
            .take()
            .expect("a held container is present until dropped")
    }
}

impl Deref for Held {
    type Target = ContainerAsync<GenericImage>;

    fn deref(&self) -> &Self::Target {
        self.container
            .as_ref()
            .expect("a held container is present until dropped")
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("container", &self.container.as_ref().map(|c| c.id()))
            .field("keep", &self.keeper.policy())
            .finish()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(container) = self.container.take() {
            if self.keeper.keeps_now() {
                // Its drop would remove the container: skip it. What leaks is the handle's memory
                // and a client reference, once per kept container.
                std::mem::forget(container);
            }
        }
    }
}
