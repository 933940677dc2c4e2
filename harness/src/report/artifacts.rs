use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::checker::Validity;
use crate::error::{Error, Result};
use crate::report::Report;

/// One suite run's outputs, as the command writes them.
#[derive(Debug, Clone)]
pub struct RunArtifacts {
    /// The suite's name.
    pub suite: String,
    /// `naive`, `hardened` or `custom`.
    pub variant: String,
    /// The report, if the run got that far.
    pub report: Option<Report>,
    /// The full history, as JSON.
    pub history: Option<serde_json::Value>,
    /// The verdict this variant should get (naive: invalid, hardened: valid).
    pub expected: Option<Validity>,
    /// Why the run could not finish.
    pub error: Option<String>,
}

impl RunArtifacts {
    /// Whether the run finished with the expected verdict.
    pub fn as_expected(&self) -> bool {
        match (&self.report, self.expected) {
            (Some(r), Some(want)) => r.verdict == want && self.error.is_none(),
            (Some(_), None) => self.error.is_none(),
            _ => false,
        }
    }
}

/// Writes `<dir>/<suite>/<variant>/{report,history}.json`, `<dir>/index.html` and
/// `<dir>/junit.xml`; returns the path of the HTML page.
pub fn write_run(dir: &Path, runs: &[RunArtifacts]) -> Result<PathBuf> {
    let mkdir = |p: &Path| {
        std::fs::create_dir_all(p).map_err(|e| Error::io(format!("create {}", p.display()), e))
    };
    let write = |p: &Path, body: &[u8]| {
        std::fs::write(p, body).map_err(|e| Error::io(format!("write {}", p.display()), e))
    };
    mkdir(dir)?;
    for run in runs {
        let sub = dir.join(&run.suite).join(&run.variant);
        mkdir(&sub)?;
        if let Some(report) = &run.report {
            write(
                &sub.join("report.json"),
                &serde_json::to_vec_pretty(report).expect("report serialises"),
            )?;
        }
        if let Some(history) = &run.history {
            write(
                &sub.join("history.json"),
                &serde_json::to_vec(history).expect("history serialises"),
            )?;
        }
    }
    write(&dir.join("junit.xml"), junit(runs).as_bytes())?;
    let html = dir.join("index.html");
    write(&html, page(runs).as_bytes())?;
    Ok(html)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn verdict(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

fn junit(runs: &[RunArtifacts]) -> String {
    let failures = runs.iter().filter(|r| !r.as_expected()).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"shakedown\" tests=\"{}\" failures=\"{failures}\">",
        runs.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"shakedown\" tests=\"{}\" failures=\"{failures}\">",
        runs.len()
    );
    for r in runs {
        let _ = write!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\"",
            esc(&r.suite),
            esc(&r.variant)
        );
        if r.as_expected() {
            x.push_str("/>\n");
        } else {
            let why = match (&r.error, &r.report, r.expected) {
                (Some(e), _, _) => e.clone(),
                (None, Some(rep), Some(want)) => format!(
                    "verdict {} but expected {}",
                    verdict(rep.verdict),
                    verdict(want)
                ),
                _ => "no report".into(),
            };
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{}\"/>\n    </testcase>",
                esc(&why)
            );
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

fn page(runs: &[RunArtifacts]) -> String {
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>shakedown report</title><style>\
         body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
         .ok{background:#e6f4ea}.bad{background:#fce8e6}code{font-size:90%}</style></head><body>\
         <h1>shakedown report</h1>\n<table><tr><th>suite</th><th>variant</th><th>verdict</th><th>expected</th>\
         <th>anomalies</th><th>faults (history positions)</th><th>operations</th></tr>\n",
    );
    for r in runs {
        let class = if r.as_expected() { "ok" } else { "bad" };
        let _ = write!(
            h,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td>",
            esc(&r.suite),
            esc(&r.variant)
        );
        match &r.report {
            Some(rep) => {
                let anomalies: Vec<String> = rep
                    .checks
                    .iter()
                    .flat_map(|c| {
                        c.anomalies
                            .iter()
                            .map(|(k, v)| format!("{k}: {}", v.floor()))
                    })
                    .collect();
                let faults: Vec<String> = rep
                    .faults
                    .iter()
                    .map(|f| {
                        let until = f
                            .healed_at_op
                            .map_or("the end".to_string(), |h| format!("op {h}"));
                        esc(&format!(
                            "{} on {}: op {} to {until}",
                            f.fault.kind(),
                            f.fault.target(),
                            f.injected_at_op
                        ))
                    })
                    .collect();
                let ops: Vec<String> = rep
                    .workload
                    .ops
                    .iter()
                    .map(|(f, kinds)| {
                        format!(
                            "{f}: {}",
                            kinds
                                .iter()
                                .map(|(k, n)| format!("{k:?} {n}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                    .collect();
                let _ = write!(
                    h,
                    "<td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>",
                    verdict(rep.verdict),
                    r.expected.map(verdict).unwrap_or("-"),
                    anomalies.join("<br>"),
                    faults.join("<br>"),
                    ops.join("<br>")
                );
            }
            None => {
                let _ = write!(
                    h,
                    "<td colspan=\"5\">error: {}</td>",
                    esc(r.error.as_deref().unwrap_or("no report"))
                );
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table><p>Each run's full history is in <code>&lt;suite&gt;/&lt;variant&gt;/history.json</code>.</p></body></html>\n");
    h
}
