//! Latency over time (one dot per call at its invocation, its height the call's duration) and
//! throughput per second (completions, stacked by outcome), with the fault intervals shaded.

use std::time::Duration;

use maud::{html, Markup};

use super::chart::{fault_bands, fmt, time_axis, TimeScale, GUTTER, WIDTH};
use super::timeline::describe;
use crate::history::OpKind;
use crate::report::words::seconds;
use crate::report::RunDoc;

const HEIGHT: f64 = 220.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = HEIGHT - 26.0;

/// Latency over time as an inline SVG (linear scale, in milliseconds).
pub(super) fn latency(doc: &RunDoc) -> Markup {
    let scale = TimeScale::of(doc);
    let calls = doc.calls();
    let max_ms = calls
        .iter()
        .filter_map(|c| c.duration())
        .map(|d| d.as_secs_f64() * 1000.0)
        .fold(1.0f64, f64::max);
    let y = |ms: f64| BOTTOM - (ms / max_ms) * (BOTTOM - TOP);
    html! {
        svg.chart.latency xmlns="http://www.w3.org/2000/svg" width=(fmt(WIDTH)) height=(fmt(HEIGHT))
            viewBox={ "0 0 " (fmt(WIDTH)) " " (fmt(HEIGHT)) } role="img" aria-label="latency over time" {
            (fault_bands(doc, scale, TOP, BOTTOM, false))
            @for frac in [0.0, 0.5, 1.0] {
                @let ms = max_ms * frac;
                line.axis x1=(fmt(GUTTER)) x2=(fmt(WIDTH - 10.0)) y1=(fmt(y(ms))) y2=(fmt(y(ms))) {}
                text x=(fmt(GUTTER - 6.0)) y=(fmt(y(ms) + 4.0)) text-anchor="end" { (format!("{ms:.0}")) " ms" }
            }
            @for call in &calls {
                @if let Some(d) = call.duration() {
                    @let kind = call.kind().map_or("open", |k| k.as_str());
                    circle class={ "point op-" (kind) } cx=(fmt(scale.x(call.invoke.time)))
                        cy=(fmt(y(d.as_secs_f64() * 1000.0))) r="2.5" {
                        title { (describe(call)) }
                    }
                }
            }
            (time_axis(scale, BOTTOM))
        }
    }
}

/// Completions per time slot (a round 1, 2 or 5 × 10ⁿ seconds, about forty slots over the run),
/// stacked: ok at the bottom, then fail, then unknown. Returns the chart and the slot's width.
pub(super) fn throughput(doc: &RunDoc) -> (Markup, Duration) {
    let scale = TimeScale::of(doc);
    let bin = nice(scale.end_secs() / 40.0);
    let slots = (scale.end_secs() / bin).ceil().max(1.0) as usize;
    let mut per: Vec<[u64; 3]> = vec![[0; 3]; slots];
    for op in doc.ops.iter().filter(|o| o.kind != OpKind::Invoke) {
        let s = ((op.time.as_secs_f64() / bin) as usize).min(slots - 1);
        let slot = match op.kind {
            OpKind::Ok => 0,
            OpKind::Fail => 1,
            _ => 2,
        };
        per[s][slot] += 1;
    }
    let max = per
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    // (slot, outcome, count, top, height) of each stacked bar.
    let mut bars: Vec<(usize, &str, u64, f64, f64)> = Vec::new();
    for (s, counts) in per.iter().enumerate() {
        let mut base = BOTTOM;
        for (slot, kind) in ["ok", "fail", "info"].into_iter().enumerate() {
            let n = counts[slot];
            if n > 0 {
                let h = (n as f64 / max) * (BOTTOM - TOP);
                bars.push((s, kind, n, base - h, h));
                base -= h;
            }
        }
    }
    let at = |s: f64| Duration::from_secs_f64(s * bin);
    let chart = html! {
        svg.chart.throughput xmlns="http://www.w3.org/2000/svg" width=(fmt(WIDTH)) height=(fmt(HEIGHT))
            viewBox={ "0 0 " (fmt(WIDTH)) " " (fmt(HEIGHT)) } role="img" aria-label="throughput" {
            (fault_bands(doc, scale, TOP, BOTTOM, false))
            text x=(fmt(GUTTER - 6.0)) y=(fmt(TOP + 4.0)) text-anchor="end" { (max as u64) }
            @for (s, kind, n, top, h) in &bars {
                @let x0 = scale.x(at(*s as f64));
                @let x1 = scale.x(at(*s as f64 + 1.0));
                rect class={ "bar op-" (kind) } x=(fmt(x0 + 1.0)) y=(fmt(*top))
                    width=(fmt((x1 - x0 - 2.0).max(1.0))) height=(fmt(*h)) {
                    title { (n) " " (kind) " from " (seconds(at(*s as f64))) }
                }
            }
            (time_axis(scale, BOTTOM))
        }
    };
    (chart, at(1.0))
}

/// The smallest of 1, 2, 5 × 10ⁿ seconds at least `raw` (and at least a millisecond).
fn nice(raw: f64) -> f64 {
    let raw = raw.max(0.001);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw - 1e-12)
        .unwrap_or(10.0 * mag)
}
