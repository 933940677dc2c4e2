use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{History, OpKind};
use crate::error::Result;

/// A shared, thread-safe handle for recording a history from concurrent client tasks; every
/// entry is stamped with the time since the recorder's origin (the run's start).
///
/// ```
/// use shakedown::history::{OpKind, Recorder};
///
/// let rec: Recorder<&str, i64> = Recorder::new();
/// let op = rec.invoke(1, "write", 5).unwrap();
/// op.ok(5, Some("primary".into())).unwrap();
/// let history = rec.snapshot();
/// assert_eq!(history.ops()[1].kind, OpKind::Ok);
/// assert!(history.ops()[1].time >= history.ops()[0].time);
/// ```
#[derive(Debug)]
pub struct Recorder<F, V> {
    inner: Arc<Mutex<History<F, V>>>,
    origin: Instant,
}

impl<F, V> Clone for Recorder<F, V> {
    fn clone(&self) -> Self {
        Recorder {
            inner: self.inner.clone(),
            origin: self.origin,
        }
    }
}

impl<F, V> Default for Recorder<F, V> {
    fn default() -> Self {
        Recorder::starting_at(Instant::now())
    }
}

impl<F, V> Recorder<F, V> {
    /// An empty recorder whose times count from `origin`.
    pub fn starting_at(origin: Instant) -> Self {
        Recorder {
            inner: Arc::new(Mutex::new(History::default())),
            origin,
        }
    }

    /// The instant times count from.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// Time since the origin, now.
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

impl<F: Clone + PartialEq + std::fmt::Debug, V: Clone> Recorder<F, V> {
    /// An empty recorder whose times count from now.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History<F, V>> {
        // A panic in another recording task cannot leave the history half-written: recover it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an invocation and returns the handle that records its completion.
    pub fn invoke(&self, process: u64, f: F, value: V) -> Result<Pending<F, V>> {
        let mut h = self.lock();
        // Stamped under the lock, so entries are in time order.
        h.invoke(process, self.now(), f, value)?;
        Ok(Pending {
            recorder: self.clone(),
            process,
        })
    }

    fn complete(
        &self,
        process: u64,
        kind: OpKind,
        value: V,
        node: Option<String>,
        error: Option<String>,
    ) -> Result<u64> {
        let mut h = self.lock();
        h.complete(process, self.now(), kind, value, node, error)
    }

    /// A copy of the history so far.
    pub fn snapshot(&self) -> History<F, V> {
        self.lock().clone()
    }

    /// Number of entries so far (the next logical index).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An invoked operation waiting for its completion.
#[derive(Debug)]
#[must_use = "an invoked operation must be completed with ok, fail or info"]
pub struct Pending<F, V> {
    recorder: Recorder<F, V>,
    process: u64,
}

impl<F: Clone + PartialEq + std::fmt::Debug, V: Clone> Pending<F, V> {
    /// It happened; `value` is what was read or written.
    pub fn ok(self, value: V, node: Option<String>) -> Result<u64> {
        self.recorder
            .complete(self.process, OpKind::Ok, value, node, None)
    }

    /// It certainly did not happen.
    pub fn fail(self, value: V, error: impl Into<String>) -> Result<u64> {
        self.recorder
            .complete(self.process, OpKind::Fail, value, None, Some(error.into()))
    }

    /// Its outcome is unknown.
    pub fn info(self, value: V, error: impl Into<String>) -> Result<u64> {
        self.recorder
            .complete(self.process, OpKind::Info, value, None, Some(error.into()))
    }
}
