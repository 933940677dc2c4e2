//! What the SVG charts share: the time scale and the shaded fault intervals.

use std::time::Duration;

use maud::{html, Markup};

use crate::report::words::{fault_phrase, seconds};
use crate::report::RunDoc;

/// Chart width in pixels, and the left gutter for labels.
pub(super) const WIDTH: f64 = 1100.0;
pub(super) const GUTTER: f64 = 90.0;

/// Maps times since the run started to x positions.
#[derive(Debug, Clone, Copy)]
pub(super) struct TimeScale {
    end: f64,
}

impl TimeScale {
    /// A scale from 0 to the end of the run (at least a millisecond).
    pub(super) fn of(doc: &RunDoc) -> Self {
        TimeScale {
            end: doc.end().as_secs_f64().max(0.001),
        }
    }

    /// The x position of `t`.
    pub(super) fn x(&self, t: Duration) -> f64 {
        GUTTER + (t.as_secs_f64() / self.end).min(1.0) * (WIDTH - GUTTER - 10.0)
    }

    /// The run's length in seconds.
    pub(super) fn end_secs(&self) -> f64 {
        self.end
    }

    /// About eight round tick positions, in seconds.
    pub(super) fn ticks(&self) -> Vec<f64> {
        let raw = self.end / 8.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * mag);
        (0..)
            .map(|i| i as f64 * step)
            .take_while(|t| *t <= self.end + 1e-9)
            .collect()
    }
}

/// Shaded rectangles, one per fault window, from `top` to `bottom`, each with its phrase as a
/// tooltip, and its label on top when `labels`.
pub(super) fn fault_bands(
    doc: &RunDoc,
    scale: TimeScale,
    top: f64,
    bottom: f64,
    labels: bool,
) -> Markup {
    let end = doc.end();
    html! {
        @for (i, w) in doc.timeline.windows().iter().enumerate() {
            @let x0 = scale.x(w.start);
            @let x1 = scale.x(w.end.unwrap_or(end)).max(x0 + 2.0);
            rect.fault x=(fmt(x0)) y=(fmt(top)) width=(fmt(x1 - x0)) height=(fmt(bottom - top))
                data-fault=(w.id) {
                title { (fault_phrase(w.fault)) " · " (seconds(w.start)) " – "
                    (w.end.map(seconds).unwrap_or_else(|| "end".into())) }
            }
            @if labels {
                text.fault-label x=(fmt(x0 + 3.0)) y=(fmt(top - 4.0 - 12.0 * (i % 2) as f64)) {
                    (fault_phrase(w.fault))
                }
            }
        }
    }
}

/// The time axis along `y`, with tick labels in seconds.
pub(super) fn time_axis(scale: TimeScale, y: f64) -> Markup {
    html! {
        line.axis x1=(fmt(GUTTER)) x2=(fmt(WIDTH - 10.0)) y1=(fmt(y)) y2=(fmt(y)) {}
        @for t in scale.ticks() {
            @let x = scale.x(Duration::from_secs_f64(t));
            line.axis x1=(fmt(x)) x2=(fmt(x)) y1=(fmt(y)) y2=(fmt(y + 4.0)) {}
            text x=(fmt(x)) y=(fmt(y + 15.0)) text-anchor="middle" { (tick(t)) " s" }
        }
    }
}

fn tick(t: f64) -> String {
    let s = format!("{t:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A coordinate with one decimal (keeps the SVG small and stable).
pub(super) fn fmt(v: f64) -> String {
    format!("{v:.1}")
}
