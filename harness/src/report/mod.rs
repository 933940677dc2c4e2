//! Reports: the deterministic summary of a suite run that insta snapshots ([`Report`]), and the
//! artifacts a run writes and re-renders from its JSON ([`write_run`], [`read_run`],
//! [`render`]): the history as JSON (also in Elle's shape), HTML pages, JUnit XML.

mod artifacts;
pub mod elle;
mod html;
pub mod junit;
mod run_doc;
mod summary;
pub mod words;

pub use artifacts::{read_run, render, write_run, Outcome, RunArtifacts};
pub use run_doc::{ClassPhrase, Example, JsonCall, JsonOp, RunDoc};
pub use summary::{Report, ReportedFault, WorkloadSummary};
