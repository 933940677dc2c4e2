//! The build log: every line of output of every build (debootstrap, apt, docker), each line
//! prefixed with the image it belongs to, since builds run at once; steps are also reported
//! through `tracing` (info), the rest at trace level.

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// An open build log, writing for one image.
#[derive(Clone)]
pub(crate) struct BuildLog {
    file: Arc<Mutex<std::fs::File>>,
    image: String,
}

impl BuildLog {
    /// Opens `log` for appending, for lines about `image`.
    pub(crate) fn open(log: &Path, image: &str) -> Result<BuildLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| Error::io(format!("open the build log {}", log.display()), e))?;
        Ok(BuildLog {
            file: Arc::new(Mutex::new(file)),
            image: image.to_string(),
        })
    }

    fn write(&self, line: &str) {
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{line}");
        }
    }

    /// The line that starts an image's build: `=== <image>: <how>`.
    pub(crate) fn header(&self, how: &str) {
        self.write(&format!("=== {}: {how}", self.image));
    }

    /// A line of a build's output.
    pub(crate) fn line(&self, line: &str) {
        self.write(&format!("[{}] {line}", self.image));
        tracing::trace!(image = %self.image, "{line}");
    }

    /// A line naming a step (also reported at info level).
    pub(crate) fn step(&self, line: &str) {
        self.write(&format!("[{}] {line}", self.image));
        tracing::info!(image = %self.image, "{line}");
    }
}
