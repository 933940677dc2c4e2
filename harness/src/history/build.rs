//! Builders for hand-written histories, for checker tests (jepsen's `invoke-op`, `ok-op` …).
//!
//! Each entry is stamped one millisecond after the one before, so durations are defined; the
//! `*_at` forms take an explicit time for checkers that judge times.

use std::time::Duration;

use super::{History, OpKind};

fn next<F: Clone + PartialEq + std::fmt::Debug, V>(h: &History<F, V>) -> Duration {
    h.ops()
        .last()
        .map_or(Duration::ZERO, |o| o.time + Duration::from_millis(1))
}

/// Appends an invocation.
pub fn invoke<F: Clone + PartialEq + std::fmt::Debug, V>(
    h: &mut History<F, V>,
    process: u64,
    f: F,
    value: V,
) {
    let t = next(h);
    invoke_at(h, t, process, f, value)
}

/// Appends an invocation at `time` since the run started.
pub fn invoke_at<F: Clone + PartialEq + std::fmt::Debug, V>(
    h: &mut History<F, V>,
    time: Duration,
    process: u64,
    f: F,
    value: V,
) {
    h.invoke(process, time, f, value)
        .expect("valid hand-written history");
}

/// Appends a completion of kind `kind` at `time`.
pub fn complete_at<F: Clone + PartialEq + std::fmt::Debug, V>(
    h: &mut History<F, V>,
    time: Duration,
    process: u64,
    kind: OpKind,
    value: V,
) {
    let error = match kind {
        OpKind::Fail => Some("failed".to_string()),
        OpKind::Info => Some("timeout".to_string()),
        _ => None,
    };
    h.complete(process, time, kind, value, None, error)
        .expect("valid hand-written history");
}

/// Appends an `ok` completion.
pub fn ok<F: Clone + PartialEq + std::fmt::Debug, V>(
    h: &mut History<F, V>,
    process: u64,
    value: V,
) {
    let t = next(h);
    complete_at(h, t, process, OpKind::Ok, value)
}

/// Appends a `fail` completion.
pub fn fail<F: Clone + PartialEq + std::fmt::Debug, V>(
    h: &mut History<F, V>,
    process: u64,
    value: V,
) {
    let t = next(h);
    complete_at(h, t, process, OpKind::Fail, value)
}

/// Appends an `info` (unknown outcome) completion.
pub fn info<F: Clone + PartialEq + std::fmt::Debug, V>(
    h: &mut History<F, V>,
    process: u64,
    value: V,
) {
    let t = next(h);
    complete_at(h, t, process, OpKind::Info, value)
}
