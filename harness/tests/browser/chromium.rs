//! Headless Chromium, run as a command: a page's DOM after load, and a screenshot.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser binary and a private profile folder.
pub struct Chromium {
    binary: PathBuf,
    profile: PathBuf,
}

impl Chromium {
    /// Debian's `chromium` (or `$CHROMIUM`); a clear failure if it is not installed.
    pub fn find() -> Self {
        let candidates = std::env::var_os("CHROMIUM")
            .map(PathBuf::from)
            .into_iter()
            .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from));
        let binary = candidates.into_iter().find(|p| p.is_file()).unwrap_or_else(|| {
            panic!("no chromium: install Debian's package (`apt-get install chromium`; .ci/run does) or set CHROMIUM")
        });
        let profile = std::env::temp_dir().join(format!(
            "shakedown-chromium-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        Chromium { binary, profile }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--window-size=1280,1600",
        ])
        .arg(format!("--user-data-dir={}", self.profile.display()));
        c
    }

    /// The page's DOM, serialised after load.
    pub fn dom(&self, page: &Path) -> String {
        let out = self
            .command()
            .arg("--dump-dom")
            .arg(url(page))
            .output()
            .expect("run chromium");
        assert!(
            out.status.success(),
            "chromium --dump-dom failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 DOM")
    }

    /// A screenshot of the page's first 1280×1400 pixels.
    pub fn screenshot(&self, page: &Path, name: &str) -> PathBuf {
        let shot = page.with_file_name(format!("{name}.png"));
        let out = self
            .command()
            .arg(format!("--screenshot={}", shot.display()))
            .arg(url(page))
            .output()
            .expect("run chromium");
        assert!(
            out.status.success() && shot.is_file(),
            "chromium --screenshot failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        shot
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn url(page: &Path) -> String {
    format!(
        "file://{}",
        page.canonicalize().expect("page written").display()
    )
}
