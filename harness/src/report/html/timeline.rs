//! The timeline, in the style of Jepsen's `timeline.html`: one lane per process, each operation
//! a bar from invocation to completion coloured by outcome, fault intervals shaded across every
//! lane, operations that show an anomaly outlined; hovering a bar shows the operation.

use std::collections::BTreeSet;

use maud::{html, Markup};

use super::chart::{fault_bands, fmt, time_axis, TimeScale, GUTTER, WIDTH};
use crate::report::words::{human, seconds};
use crate::report::{JsonCall, RunDoc};

const LANE: f64 = 20.0;
const TOP: f64 = 34.0;

/// The timeline of a run as an inline SVG.
pub(super) fn timeline(doc: &RunDoc) -> Markup {
    let scale = TimeScale::of(doc);
    let processes = doc.processes();
    let anomalous = doc.anomalous();
    let bottom = TOP + LANE * processes.len() as f64;
    let height = bottom + 24.0;
    let calls = doc.calls();
    html! {
        svg.chart.timeline xmlns="http://www.w3.org/2000/svg" width=(fmt(WIDTH)) height=(fmt(height))
            viewBox={ "0 0 " (fmt(WIDTH)) " " (fmt(height)) } role="img"
            aria-label="timeline of operations by process, with fault intervals" {
            @for (lane, p) in processes.iter().enumerate() {
                @let y = TOP + LANE * lane as f64;
                g.lane data-process=(p) {
                    rect.lane-bg x=(fmt(GUTTER)) y=(fmt(y + 1.0)) width=(fmt(WIDTH - GUTTER - 10.0)) height=(fmt(LANE - 2.0)) {}
                    text x="4" y=(fmt(y + LANE * 0.7)) { "process " (p) }
                    @for call in calls.iter().filter(|c| c.invoke.process == *p) {
                        (bar(call, scale, y, &anomalous))
                    }
                }
            }
            (fault_bands(doc, scale, TOP - 2.0, bottom, true))
            (time_axis(scale, bottom + 2.0))
        }
    }
}

fn bar(call: &JsonCall<'_>, scale: TimeScale, y: f64, anomalous: &BTreeSet<u64>) -> Markup {
    let x0 = scale.x(call.invoke.time);
    let x1 = scale.x(call
        .completion
        .map_or(std::time::Duration::from_secs_f64(scale.end_secs()), |c| {
            c.time
        }));
    let kind = call.kind().map_or("open", |k| k.as_str());
    let marked = anomalous.contains(&call.invoke.index)
        || call
            .completion
            .is_some_and(|c| anomalous.contains(&c.index));
    let class = format!("op op-{kind}{}", if marked { " anomalous-op" } else { "" });
    html! {
        rect class=(class) x=(fmt(x0)) y=(fmt(y + 3.0)) width=(fmt((x1 - x0).max(3.0)))
            height=(fmt(LANE - 6.0)) data-index=(call.invoke.index) {
            title { (describe(call)) }
        }
    }
}

/// One call in words, for its tooltip: `#12 process 2 read {"key":"a"} → ok {"key":"a",
/// "version":1} on replica-0 · 3 ms (1.200 s – 1.203 s)`.
pub(super) fn describe(call: &JsonCall<'_>) -> String {
    let inv = call.invoke;
    let mut s = format!(
        "#{} process {} {} {}",
        inv.index,
        inv.process,
        inv.f_name(),
        inv.value_text()
    );
    match call.completion {
        Some(c) => {
            s.push_str(&format!(" → {} {}", c.kind, c.value_text()));
            if let Some(node) = &c.node {
                s.push_str(&format!(" on {node}"));
            }
            if let Some(e) = &c.error {
                s.push_str(&format!(" ({e})"));
            }
            s.push_str(&format!(
                " · {} ({} – {})",
                human(c.time.saturating_sub(inv.time)),
                seconds(inv.time),
                seconds(c.time)
            ));
        }
        None => s.push_str(&format!(" → never completed (from {})", seconds(inv.time))),
    }
    s
}
