//! The index page: every suite and variant of the run, its outcome in a word and a sentence.

use maud::html;

use super::layout::page;
use crate::report::words::human;
use crate::report::RunArtifacts;

/// The index of `runs`.
pub(crate) fn index_page(runs: &[RunArtifacts]) -> String {
    let unexpected = runs.iter().filter(|r| !r.as_expected()).count();
    let body = html! {
        h1 { "shakedown report" }
        @if unexpected == 0 {
            div.verdict.expected { span.word { "all as expected" } (runs.len()) " runs: every naive variant caught, every hardened variant handled." }
        } @else {
            div.verdict.unexpected { span.word { (unexpected) " of " (runs.len()) } "runs did not end as expected." }
        }
        table.runs {
            tr { th { "suite" } th { "variant" } th { "outcome" } th { "what happened" } th { "time" } }
            @for run in runs {
                @let outcome = run.outcome();
                tr {
                    td { a href={ (run.suite) "/" (run.variant) "/index.html" } { (run.suite) } }
                    td { (run.variant) }
                    td { span class={ "tag " (if outcome.is_expected() { "expected" } else { "unexpected" }) } { (outcome) } }
                    td {
                        @match (&run.report, &run.error) {
                            (_, Some(e)) => { "could not finish: " (e) }
                            (Some(_), None) => { (run.findings().unwrap_or_default()) }
                            (None, None) => { "no report" }
                        }
                    }
                    td { (run.duration.map(human).unwrap_or_default()) }
                }
            }
        }
        p.muted { "Each run's files are in " code { "<suite>/<variant>/" } ": report.json, history.json (every operation and fault event), elle.json (Elle's shape), outcome.json." }
    };
    page("shakedown report", body)
}
