//! A run's outputs on disk: per suite and variant `report.json`, `history.json`, `elle.json`,
//! `outcome.json` and `index.html`; at the top `index.html` and `junit.xml`. Everything the pages
//! and the JUnit file say is read from the JSON files, so [`read_run`] + [`render`] re-render a
//! run's output folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::checker::Validity;
use crate::error::{Error, Result};
use crate::report::{elle, html, junit, Report, RunDoc};

/// One suite run's outputs, as the command writes them.
#[derive(Debug, Clone)]
pub struct RunArtifacts {
    /// The suite's name.
    pub suite: String,
    /// `naive`, `hardened` or `custom`.
    pub variant: String,
    /// The report, if the run got that far.
    pub report: Option<Report>,
    /// The full history, as JSON ([`SuiteRun::to_json`](crate::SuiteRun::to_json)).
    pub history: Option<serde_json::Value>,
    /// The verdict this variant should get (naive: invalid, hardened: valid).
    pub expected: Option<Validity>,
    /// Why the run could not finish.
    pub error: Option<String>,
    /// How long the run took (start of the suite to its verdict or error).
    pub duration: Option<Duration>,
}

/// How a run ended, in the words the command and the pages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A naive variant's bug was found (expected).
    Caught,
    /// A naive variant's bug was not found.
    NotCaught,
    /// A hardened variant showed no anomaly (expected).
    Handled,
    /// A hardened variant showed an anomaly, or could not be judged.
    NotHandled,
    /// A team's own system: this verdict (nothing expected).
    Verdict(Validity),
    /// The run could not finish.
    Error,
}

impl Outcome {
    /// `caught`, `NOT caught`, `handled`, `NOT handled`, a verdict, or `error`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Caught => "caught",
            Outcome::NotCaught => "NOT caught",
            Outcome::Handled => "handled",
            Outcome::NotHandled => "NOT handled",
            Outcome::Verdict(v) => v.as_str(),
            Outcome::Error => "error",
        }
    }

    /// Whether this is what the variant should get.
    pub fn is_expected(&self) -> bool {
        matches!(
            self,
            Outcome::Caught | Outcome::Handled | Outcome::Verdict(_)
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl RunArtifacts {
    /// Whether the run finished with the expected verdict.
    pub fn as_expected(&self) -> bool {
        self.outcome().is_expected()
    }

    /// How the run ended.
    pub fn outcome(&self) -> Outcome {
        let Some(report) = self.report.as_ref().filter(|_| self.error.is_none()) else {
            return Outcome::Error;
        };
        match self.expected {
            Some(Validity::Invalid) if report.verdict == Validity::Invalid => Outcome::Caught,
            Some(Validity::Invalid) => Outcome::NotCaught,
            Some(Validity::Valid) if report.verdict == Validity::Valid => Outcome::Handled,
            Some(_) => Outcome::NotHandled,
            None => Outcome::Verdict(report.verdict),
        }
    }

    /// What the checkers found, in one sentence, with the phrases the history document keeps
    /// ([`words::findings_phrased`](crate::report::words::findings_phrased)); `None` without a
    /// report.
    pub fn findings(&self) -> Option<String> {
        let report = self.report.as_ref()?;
        let phrases = self.doc().map(|d| d.phrases).unwrap_or_default();
        Some(crate::report::words::findings_phrased(report, &phrases))
    }

    /// The history document, if the run has one that reads back.
    pub fn doc(&self) -> Option<RunDoc> {
        self.history
            .as_ref()
            .and_then(|h| RunDoc::from_value(h).ok())
    }

    /// `<suite>/<variant>`: where the run's files are, relative to the output folder.
    pub fn folder(&self) -> PathBuf {
        Path::new(&self.suite).join(&self.variant)
    }
}

/// What `outcome.json` holds: the facts of a run that are not in its report.
#[derive(Debug, Serialize, Deserialize)]
struct OutcomeFile {
    suite: String,
    variant: String,
    #[serde(default)]
    expected: Option<Validity>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    duration_ms: Option<u64>,
}

fn mkdir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(|e| Error::io(format!("create {}", p.display()), e))
}

fn write(p: &Path, body: &[u8]) -> Result<()> {
    std::fs::write(p, body).map_err(|e| Error::io(format!("write {}", p.display()), e))
}

/// Writes every run's JSON files under `dir`, then [`render`]s the pages and the JUnit file;
/// returns the path of the index page.
pub fn write_run(dir: &Path, runs: &[RunArtifacts]) -> Result<PathBuf> {
    mkdir(dir)?;
    for run in runs {
        let sub = dir.join(run.folder());
        mkdir(&sub)?;
        if let Some(report) = &run.report {
            let body = serde_json::to_vec_pretty(report).expect("a report serialises");
            write(&sub.join("report.json"), &body)?;
        }
        if let Some(history) = &run.history {
            let body = serde_json::to_vec(history).expect("a JSON value serialises");
            write(&sub.join("history.json"), &body)?;
        }
        let outcome = OutcomeFile {
            suite: run.suite.clone(),
            variant: run.variant.clone(),
            expected: run.expected,
            error: run.error.clone(),
            duration_ms: run
                .duration
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        };
        let body = serde_json::to_vec_pretty(&outcome).expect("an outcome serialises");
        write(&sub.join("outcome.json"), &body)?;
    }
    render(dir, runs)
}

/// Writes the pages (`index.html`, one `index.html` per run), `junit.xml` and each run's
/// `elle.json` from the runs' JSON; returns the path of the index page.
pub fn render(dir: &Path, runs: &[RunArtifacts]) -> Result<PathBuf> {
    mkdir(dir)?;
    for run in runs {
        let sub = dir.join(run.folder());
        mkdir(&sub)?;
        let doc = run.doc();
        if let Some(doc) = &doc {
            let body = serde_json::to_vec(&elle::export(doc)).expect("JSON serialises");
            write(&sub.join("elle.json"), &body)?;
        }
        write(
            &sub.join("index.html"),
            html::run_page(run, doc.as_ref()).as_bytes(),
        )?;
    }
    write(&dir.join("junit.xml"), junit::junit(runs)?.as_bytes())?;
    let index = dir.join("index.html");
    write(&index, html::index_page(runs).as_bytes())?;
    Ok(index)
}

/// Reads back the runs of an output folder that [`write_run`] wrote: every
/// `<suite>/<variant>/` with an `outcome.json` or a `report.json`, sorted by suite, then naive,
/// hardened and other variants.
pub fn read_run(dir: &Path) -> Result<Vec<RunArtifacts>> {
    let bad = |path: &Path, detail: String| Error::Artifact {
        path: path.display().to_string(),
        detail,
    };
    let list = |p: &Path| -> Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| Error::io(format!("read the folder {}", p.display()), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        Ok(v)
    };
    let mut runs = Vec::new();
    for suite_dir in list(dir)? {
        for sub in list(&suite_dir)? {
            let (outcome_p, report_p, history_p) = (
                sub.join("outcome.json"),
                sub.join("report.json"),
                sub.join("history.json"),
            );
            if !outcome_p.exists() && !report_p.exists() {
                continue;
            }
            let read_json = |p: &Path| -> Result<Option<serde_json::Value>> {
                if !p.exists() {
                    return Ok(None);
                }
                let text = std::fs::read_to_string(p)
                    .map_err(|e| Error::io(format!("read {}", p.display()), e))?;
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| bad(p, format!("not valid JSON ({e})")))
            };
            let report: Option<Report> = match read_json(&report_p)? {
                Some(v) => Some(
                    serde_json::from_value(v)
                        .map_err(|e| bad(&report_p, format!("not a shakedown report ({e})")))?,
                ),
                None => None,
            };
            let history = read_json(&history_p)?;
            if let Some(h) = &history {
                RunDoc::from_value(h)
                    .map_err(|e| bad(&history_p, format!("not a shakedown history ({e})")))?;
            }
            let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
            let outcome: OutcomeFile = match read_json(&outcome_p)? {
                Some(v) => serde_json::from_value(v)
                    .map_err(|e| bad(&outcome_p, format!("not a run outcome ({e})")))?,
                None => OutcomeFile {
                    suite: name(&suite_dir).unwrap_or_default(),
                    variant: name(&sub).unwrap_or_default(),
                    expected: report.as_ref().and_then(|r| r.variant.expected()),
                    error: None,
                    duration_ms: None,
                },
            };
            runs.push(RunArtifacts {
                suite: outcome.suite,
                variant: outcome.variant,
                report,
                history,
                expected: outcome.expected,
                error: outcome.error,
                duration: outcome.duration_ms.map(Duration::from_millis),
            });
        }
    }
    // Naive before hardened before a team's own, as the command runs them.
    let rank = |v: &str| {
        ["naive", "hardened"]
            .iter()
            .position(|n| *n == v)
            .unwrap_or(2)
    };
    runs.sort_by(|a, b| (&a.suite, rank(&a.variant)).cmp(&(&b.suite, rank(&b.variant))));
    if runs.is_empty() {
        return Err(bad(
            dir,
            "no run in it (expected <suite>/<variant>/report.json files, as `shakedown run --out DIR` writes)"
                .into(),
        ));
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::CheckResult;
    use crate::report::WorkloadSummary;
    use crate::Variant;

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("shakedown-artifacts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_written_run_reads_back_and_re_renders_with_the_same_outcomes() {
        let check = CheckResult::builder("c").anomaly("lost", 0).build();
        let runs = vec![
            RunArtifacts {
                suite: "s".into(),
                variant: "hardened".into(),
                report: Some(Report::new(
                    "s",
                    Variant::Hardened,
                    4,
                    vec![],
                    WorkloadSummary::default(),
                    vec![check],
                )),
                history: Some(serde_json::json!({"ops": [], "timeline": [], "examples": []})),
                expected: Variant::Hardened.expected(),
                error: None,
                duration: Some(Duration::from_millis(1200)),
            },
            RunArtifacts {
                suite: "t".into(),
                variant: "naive".into(),
                report: None,
                history: None,
                expected: Variant::Naive.expected(),
                error: Some("docker went away".into()),
                duration: Some(Duration::from_millis(30)),
            },
        ];
        let d = dir("roundtrip");
        write_run(&d, &runs).unwrap();
        std::fs::remove_file(d.join("index.html")).unwrap();
        let back = read_run(&d).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].outcome(), Outcome::Handled);
        assert_eq!(back[0].report, runs[0].report);
        assert_eq!(back[0].duration, Some(Duration::from_millis(1200)));
        assert_eq!(back[1].outcome(), Outcome::Error);
        assert_eq!(back[1].error.as_deref(), Some("docker went away"));
        render(&d, &back).unwrap();
        assert!(d.join("index.html").is_file());
        assert!(d.join("s/hardened/index.html").is_file());
        assert!(d.join("s/hardened/elle.json").is_file());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_folder_without_runs_or_with_a_broken_history_is_a_clear_error() {
        let d = dir("empty");
        std::fs::create_dir_all(d.join("s/naive")).unwrap();
        let e = read_run(&d).unwrap_err().to_string();
        assert!(
            e.contains("no run in it") && e.contains("shakedown run"),
            "{e}"
        );
        std::fs::write(
            d.join("s/naive/outcome.json"),
            r#"{"suite":"s","variant":"naive"}"#,
        )
        .unwrap();
        std::fs::write(
            d.join("s/naive/history.json"),
            r#"{"ops": [{"index": "zero"}]}"#,
        )
        .unwrap();
        let e = read_run(&d).unwrap_err().to_string();
        assert!(
            e.contains("history.json") && e.contains("not a shakedown history"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
