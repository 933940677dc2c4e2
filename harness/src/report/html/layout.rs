//! The page shell and its inline style sheet.

use maud::{html, Markup, PreEscaped, DOCTYPE};

const CSS: &str = r#"
:root{--ok:#2e7d32;--fail:#c62828;--info:#ef6c00;--open:#757575;--fault:rgba(255,167,38,.18);--ink:#1f2328;--muted:#57606a}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);margin:1.5em auto;max-width:78em;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
a{color:#0969da}code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.88em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.verdict{border-radius:8px;padding:.8em 1em;margin:.8em 0;border:2px solid}
.verdict.expected{background:#e8f5e9;border-color:var(--ok)}.verdict.unexpected{background:#ffebee;border-color:var(--fail)}
.verdict .word{font-weight:700;font-size:1.3em;margin-right:.5em}
.tag{display:inline-block;border-radius:4px;padding:0 .45em;font-weight:600;font-size:.9em}
.tag.expected{background:#e8f5e9;color:var(--ok)}.tag.unexpected{background:#ffebee;color:var(--fail)}
.muted{color:var(--muted)}.example{margin:.6em 0}
tr.anomalous td{background:#fff4f4}table.examples td{font-size:.92em}
.chart{display:block;width:100%;height:auto;margin:.3em 0;border:1px solid #d0d7de;border-radius:6px;background:#fff}
.chart text{font-size:11px;fill:var(--muted);font-family:system-ui,sans-serif}
.chart .lane-bg{fill:#f6f8fa}.chart .axis{stroke:#d0d7de}
.op-ok{fill:var(--ok)}.op-fail{fill:var(--fail)}.op-info{fill:var(--info)}.op-open{fill:var(--open)}
.anomalous-op{stroke:#000;stroke-width:2}
.fault{fill:var(--fault);stroke:rgba(239,108,0,.6);stroke-dasharray:3 2}
.fault-label{font-weight:600}
.legend span{margin-right:1.2em}.legend i{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:-.1em;margin-right:.3em}
"#;

/// A whole page: `title`, then `body`.
pub(super) fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

/// The colour legend of operation outcomes and fault intervals.
pub(super) fn legend() -> Markup {
    html! {
        p.legend.muted {
            span { i style="background:var(--ok)" {} "ok" }
            span { i style="background:var(--fail)" {} "fail" }
            span { i style="background:var(--info)" {} "unknown (info)" }
            span { i style="background:var(--open)" {} "never completed" }
            span { i style="background:var(--fault);border:1px dashed #ef6c00" {} "fault in force" }
            span { i style="background:#fff;border:2px solid #000" {} "shows an anomaly" }
        }
    }
}
