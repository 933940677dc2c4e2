//! The page of one suite and variant: what went wrong in one screen (the verdict in a sentence,
//! the anomalies with the operations that show them, the faults in words), then the timeline,
//! latency and throughput, and the counts.

use std::collections::{BTreeMap, HashMap};

use maud::{html, Markup};

use super::latency::{latency, throughput};
use super::layout::{legend, page};
use super::timeline::timeline;
use crate::report::words::{human, seconds, window_phrase, words};
use crate::report::{Example, JsonCall, Report, RunArtifacts, RunDoc};

/// Examples shown per anomaly class (the timeline marks every one the JSON keeps).
const SHOWN: usize = 3;

/// The page of `run`, drawn from its history document when it has one.
pub(crate) fn run_page(run: &RunArtifacts, doc: Option<&RunDoc>) -> String {
    let title = format!("shakedown · {} · {}", run.suite, run.variant);
    let body = html! {
        p { a href="../../index.html" { "← all runs" } }
        h1 { (run.suite) " — " (run.variant) }
        (verdict(run))
        @if let Some(doc) = doc {
            h2 { "Faults" }
            @let windows = doc.timeline.windows();
            @if windows.is_empty() {
                p.muted { "No fault was injected." }
            } @else {
                ol.faults {
                    @for w in &windows { li { (window_phrase(w)) } }
                }
            }
        }
        @if let (Some(report), Some(doc)) = (&run.report, doc) {
            (anomalies(report, doc))
        }
        @if let Some(doc) = doc {
            h2 { "Timeline" }
            p.muted { "One lane per client process; each bar runs from an operation's invocation to its completion. Hover a bar to see the operation." }
            (legend())
            (timeline(doc))
            h2 { "Latency over time" }
            (latency(doc))
            @let (chart, slot) = throughput(doc);
            h2 { "Throughput (completions per " (human(slot)) ")" }
            (chart)
        } @else if run.history.is_some() {
            p.muted { "The history of this run could not be read." }
        }
        @if let Some(report) = &run.report {
            (counts(report))
        }
        h2 { "Files" }
        p {
            @for (file, what) in [("report.json", "the deterministic report"), ("history.json", "every operation and fault event"), ("elle.json", "the history in Elle's shape")] {
                a href=(file) { code { (file) } } " (" (what) ") "
            }
        }
    };
    page(&title, body)
}

fn verdict(run: &RunArtifacts) -> Markup {
    let outcome = run.outcome();
    let class = if outcome.is_expected() {
        "expected"
    } else {
        "unexpected"
    };
    html! {
        div class={ "verdict " (class) } {
            span.word { (outcome) }
            @match (&run.report, &run.error) {
                (_, Some(error)) => { "The run could not finish: " (error) }
                (Some(_), None) => { (run.findings().unwrap_or_default()) }
                (None, None) => { "The run wrote no report." }
            }
            p.muted {
                @if let Some(report) = &run.report {
                    "Verdict " strong { (report.verdict) } ", "
                }
                "expected " (run.expected.map_or("nothing in particular", |v| v.as_str()))
                @if let Some(report) = &run.report { "; seed " (report.seed) }
                @if let Some(d) = run.duration { "; took " (human(d)) }
                "."
            }
        }
    }
}

fn anomalies(report: &Report, doc: &RunDoc) -> Markup {
    let found = report.anomalies_found();
    let mut by_class: BTreeMap<&str, Vec<&Example>> = BTreeMap::new();
    for e in &doc.examples {
        by_class.entry(e.class.as_str()).or_default().push(e);
    }
    let calls = doc.calls();
    let mut call_of: HashMap<u64, &JsonCall<'_>> = HashMap::new();
    for c in &calls {
        call_of.insert(c.invoke.index, c);
        if let Some(done) = c.completion {
            call_of.insert(done.index, c);
        }
    }
    html! {
        @if !found.is_empty() {
            h2 { "Anomalies and the operations that show them" }
            @for (class, n) in &found {
                h3 { (words(class)) ": " (n) }
                @match by_class.get(class.as_str()) {
                    Some(examples) => {
                        p.muted { "The first " (examples.len().min(SHOWN)) " of " (n) ", each as the calls the checker judged, in order:" }
                        table.examples {
                            @for (i, e) in examples.iter().take(SHOWN).enumerate() {
                                tr.anomalous {
                                    td { (i + 1) }
                                    @for cell in example_calls(e, &call_of) { (cell) }
                                }
                            }
                        }
                    }
                    None => p.muted { "This checker keeps no example operations." },
                }
            }
        }
    }
}

/// An example's calls (an invocation and its completion are one call), one cell each.
fn example_calls(e: &Example, call_of: &HashMap<u64, &JsonCall<'_>>) -> Vec<Markup> {
    let mut seen: Vec<u64> = Vec::new();
    let mut cells = Vec::new();
    for index in &e.ops {
        match call_of.get(index) {
            Some(call) if !seen.contains(&call.invoke.index) => {
                seen.push(call.invoke.index);
                cells.push(call_cell(call));
            }
            Some(_) => {}
            None => cells.push(html! { td { "#" (index) " is not in the history" } }),
        }
    }
    cells
}

/// One call: what it asked, what came back, where and when.
fn call_cell(call: &JsonCall<'_>) -> Markup {
    let inv = call.invoke;
    html! {
        td {
            strong { (inv.f_name()) } " by process " (inv.process) " → "
            @match call.completion {
                Some(done) => {
                    strong { (done.kind) }
                    br;
                    span.mono { (done.value_text()) }
                    br;
                    span.muted {
                        @if let Some(node) = &done.node { "on " (node) " · " }
                        @if let Some(error) = &done.error { (error) " · " }
                        (seconds(inv.time)) " – " (seconds(done.time))
                        " · #" (inv.index) "/#" (done.index)
                    }
                }
                None => { strong { "never completed" } br; span.mono { (inv.value_text()) } }
            }
        }
    }
}

fn counts(report: &Report) -> Markup {
    html! {
        h2 { "Workload" }
        p { (report.workload.sessions) " client sessions." }
        table {
            tr { th { "operation" } th { "ok" } th { "fail" } th { "unknown" } }
            @for (f, kinds) in &report.workload.ops {
                tr {
                    td { (f) }
                    @for k in [crate::history::OpKind::Ok, crate::history::OpKind::Fail, crate::history::OpKind::Info] {
                        td { (kinds.get(&k).copied().unwrap_or(0)) }
                    }
                }
            }
        }
        h2 { "Checks" }
        table {
            tr { th { "checker" } th { "verdict" } th { "anomalies" } th { "counted" } th { "notes" } }
            @for c in &report.checks {
                tr {
                    td { (c.checker) }
                    td { (c.validity) }
                    td { @for (k, n) in &c.anomalies { (words(k)) ": " (n.floor()) br; } }
                    td { @for (k, n) in &c.counted { (words(k)) ": " (n) br; } }
                    td { @for note in &c.notes { (note) br; } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::CheckResult;
    use crate::report::WorkloadSummary;
    use crate::Variant;

    #[test]
    fn values_errors_and_names_from_the_history_are_escaped() {
        let doc: RunDoc = serde_json::from_value(serde_json::json!({
            "ops": [
                {"index": 0, "time_ns": 0, "process": 0, "kind": "invoke", "f": "write", "value": "</td><script>alert(1)</script>"},
                {"index": 1, "time_ns": 5, "process": 0, "kind": "fail", "f": "write", "value": null, "node": "<b>n</b>", "error": "a & b"}
            ],
            "timeline": [],
            "examples": [{"checker": "c", "class": "lost", "ops": [0, 1]}]
        }))
        .unwrap();
        let check = CheckResult::builder("c").anomaly("lost", 1).build();
        let run = RunArtifacts {
            suite: "s<x>".into(),
            variant: "naive".into(),
            report: Some(Report::new(
                "s",
                Variant::Naive,
                1,
                vec![],
                WorkloadSummary::default(),
                vec![check],
            )),
            history: Some(serde_json::to_value(&doc).unwrap()),
            expected: Variant::Naive.expected(),
            error: None,
            duration: None,
        };
        let page = run_page(&run, Some(&doc));
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<b>n</b>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(page.contains("on &lt;b&gt;n&lt;/b&gt;"), "{page}");
        assert!(page.contains("a &amp; b"), "{page}");
        assert!(page.contains("s&lt;x&gt; — naive"), "{page}");
        // The example's two entries are one call, shown once, outlined in the timeline.
        assert_eq!(page.matches("by process 0").count(), 1, "{page}");
        assert!(page.contains("op op-fail anomalous-op"), "{page}");
    }
}
