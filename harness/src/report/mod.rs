//! Reports: the deterministic summary of a suite run that insta snapshots, and the artifacts a
//! run writes (history JSON, an HTML page, JUnit XML).

mod artifacts;
mod summary;

pub use artifacts::{write_run, RunArtifacts};
pub use summary::{Report, ReportedFault, WorkloadSummary};
