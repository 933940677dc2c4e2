//! [`Suite`]: one failure mode, declared once — what the command lists, which images it needs,
//! which reference services its containers run, and how to run it against the reference.

use std::future::Future;
use std::pin::Pin;

use shakedown::image::ImageRecipe;
use shakedown::{RunOptions, RunRecord, SuiteError};

use crate::reference::Launcher;

/// A future serving a reference service until it fails.
pub type ServeFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A future running a suite against its reference system.
pub type ReferenceRun = Pin<Box<dyn Future<Output = Result<RunRecord, SuiteError>> + Send>>;

/// A reference service, run inside a container as `shakedown reference <name> ARGS…`.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceService {
    /// Its name on the command line.
    pub name: &'static str,
    /// Parses its arguments and serves until it fails.
    pub serve: fn(Vec<String>) -> ServeFuture,
}

/// A failure-mode suite, declared once in its module (`pub const SUITE: Suite`) and listed once
/// in [`crate::SUITES`].
#[derive(Debug, Clone, Copy)]
pub struct Suite {
    /// Short name (`replica_lag`), used on the command line.
    pub name: &'static str,
    /// One line on what it shows.
    pub about: &'static str,
    /// The images its reference system needs.
    pub images: &'static [ImageRecipe],
    /// The reference services its containers run.
    pub services: &'static [ReferenceService],
    /// Runs the suite against its reference system in `options.variant` (naive or hardened),
    /// with its default workload.
    pub run_reference: fn(RunOptions, Launcher) -> ReferenceRun,
}

impl Suite {
    /// Runs the suite against its reference system.
    pub fn run(&self, options: RunOptions, launcher: Launcher) -> ReferenceRun {
        (self.run_reference)(options, launcher)
    }
}

/// The suite called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Suite> {
    crate::SUITES.iter().copied().find(|s| s.name == name)
}

/// The reference service called `name`, in whichever suite declares it.
pub fn reference_service(name: &str) -> Option<&'static ReferenceService> {
    crate::SUITES
        .iter()
        .flat_map(|s| s.services.iter())
        .chain(crate::PROBES)
        .find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn suite_and_service_names_are_unique() {
        let mut suites: Vec<&str> = crate::SUITES.iter().map(|s| s.name).collect();
        let n = suites.len();
        suites.sort();
        suites.dedup();
        assert_eq!(suites.len(), n, "two suites share a name");
        let mut services: Vec<&str> = crate::SUITES
            .iter()
            .flat_map(|s| s.services.iter())
            .chain(crate::PROBES)
            .map(|r| r.name)
            .collect();
        let n = services.len();
        services.sort();
        services.dedup();
        assert_eq!(services.len(), n, "two reference services share a name");
        assert!(super::find("replica_lag").is_some());
        assert!(super::reference_service("profiles").is_some());
        assert!(super::find("nope").is_none());
    }
}
