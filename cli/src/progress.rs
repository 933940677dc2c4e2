//! What the command shows while it works: one spinner line per step with its elapsed time and
//! its current sub-step (an image build's `Step 3/9`, a suite's phase), fed by the library's
//! `tracing` events; and the `tracing` subscriber itself (`RUST_LOG`, default `warn`), whose
//! lines never tear the spinners.
//!
//! When stderr is not a terminal (CI, tests) there are no spinners: each step and sub-step is
//! one plain line instead.
//!
//! Several steps may be in progress at once (`shakedown run --jobs N`): the work of a step runs in
//! its [`Step::span`], and an event inside that span goes to that step's spinner (off a terminal,
//! its line names the step); an event outside any step's span goes to the step started last.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The command's progress display, shared by the command and the tracing layer.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    multi: MultiProgress,
    /// The step started last, while it is in progress.
    current: Arc<Mutex<Option<u64>>>,
    /// The steps in progress, by id: their spinner and what they are.
    steps: Arc<Mutex<HashMap<u64, (ProgressBar, String)>>>,
    next_id: Arc<AtomicU64>,
}

/// One step in progress; [`Step::done`] replaces its spinner with a line.
#[derive(Debug)]
pub(crate) struct Step {
    progress: Progress,
    bar: ProgressBar,
    started: Instant,
    id: u64,
}

impl Progress {
    /// A display on stderr (hidden when stderr is not a terminal).
    pub(crate) fn new() -> Self {
        Progress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            current: Arc::new(Mutex::new(None)),
            steps: Arc::new(Mutex::new(HashMap::new())),
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    fn plain(&self) -> bool {
        self.multi.is_hidden()
    }

    /// Starts a step: a spinner with `what` and the elapsed time (a plain line off a terminal).
    pub(crate) fn step(&self, what: impl Into<String>) -> Step {
        let what = what.into();
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}")
                .expect("a valid template"),
        );
        bar.set_prefix(what.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        if self.plain() {
            self.err_line(&format!("shakedown: {what} …"));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        *self.current.lock().expect("progress lock") = Some(id);
        self.steps
            .lock()
            .expect("progress lock")
            .insert(id, (bar.clone(), what));
        Step {
            progress: self.clone(),
            bar,
            started: Instant::now(),
            id,
        }
    }

    /// Shows a sub-step of step `step` if it is in progress, else of the current step (its
    /// spinner's message, or a plain line, which names the step when it is known).
    fn sub_step(&self, step: Option<u64>, message: &str) {
        let steps = self.steps.lock().expect("progress lock");
        let known = step.and_then(|id| steps.get(&id).cloned());
        let current = *self.current.lock().expect("progress lock");
        let latest = current.and_then(|id| steps.get(&id).map(|(bar, _)| bar.clone()));
        drop(steps);
        match (known, latest) {
            (Some((_, what)), _) if self.plain() => self.err_line(&format!("  {what}: {message}")),
            (Some((bar, _)), _) => bar.set_message(message.to_string()),
            (None, _) if self.plain() => self.err_line(&format!("  {message}")),
            (None, Some(bar)) => bar.set_message(message.to_string()),
            (None, None) => {}
        }
    }

    /// Prints a line on stdout, above the spinners.
    pub(crate) fn out_line(&self, line: &str) {
        self.multi.suspend(|| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        });
    }

    /// Prints a line on stderr, above the spinners.
    pub(crate) fn err_line(&self, line: &str) {
        self.multi.suspend(|| eprintln!("{line}"));
    }

    /// Installs the tracing subscriber: `RUST_LOG` lines (default: warnings and errors) on
    /// stderr, and the library's info events of `shakedown*` targets as sub-steps.
    pub(crate) fn install_tracing(&self) {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
        let lines = tracing_subscriber::fmt::layer()
            .with_writer(SuspendWriter(self.clone()))
            .with_target(true)
            .without_time()
            .with_filter(filter);
        let steps = StepLayer(self.clone())
            .with_filter(Targets::new().with_target("shakedown", Level::INFO));
        let _ = tracing_subscriber::registry()
            .with(lines)
            .with(steps)
            .try_init();
    }
}

impl Step {
    /// The span to run this step's work in: the library's events inside it are this step's
    /// sub-steps, whichever other steps are in progress.
    pub(crate) fn span(&self) -> tracing::Span {
        tracing::info_span!(target: "shakedown::cli", "step", step = self.id)
    }

    /// Removes the spinner, and forgets the step.
    fn finish(&self) -> Duration {
        self.bar.finish_and_clear();
        let mut current = self.progress.current.lock().expect("progress lock");
        if *current == Some(self.id) {
            *current = None;
        }
        drop(current);
        self.progress
            .steps
            .lock()
            .expect("progress lock")
            .remove(&self.id);
        self.started.elapsed()
    }

    /// Ends the step: its spinner gives way to `line` (with the elapsed time appended).
    pub(crate) fn done(self, line: &str) -> Duration {
        let elapsed = self.finish();
        if !self.progress.plain() {
            self.progress.err_line(&format!(
                "{line} ({})",
                shakedown::report::words::human(elapsed)
            ));
        }
        elapsed
    }

    /// Ends the step silently (its outcome is printed otherwise).
    pub(crate) fn clear(self) -> Duration {
        self.finish()
    }
}

/// Turns the library's info events into sub-steps: of the step whose [`Step::span`] they are in,
/// else of the current step.
struct StepLayer(Progress);

/// The step a span belongs to (in the span's extensions).
struct StepOfSpan(u64);

impl<S> Layer<S> for StepLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut step = StepField(None);
        attrs.record(&mut step);
        if let (Some(step), Some(span)) = (step.0, ctx.span(id)) {
            span.extensions_mut().insert(StepOfSpan(step));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        if message.0.is_empty() {
            return;
        }
        let step = ctx.event_scope(event).and_then(|mut scope| {
            scope.find_map(|span| span.extensions().get::<StepOfSpan>().map(|s| s.0))
        });
        self.0.sub_step(step, &message.0);
    }
}

/// Reads the `step` field of a [`Step::span`].
struct StepField(Option<u64>);

impl Visit for StepField {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "step" {
            self.0 = Some(value);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
}

/// A tracing writer that prints each event above the spinners.
struct SuspendWriter(Progress);

/// One event's text, printed when dropped.
struct EventLine {
    progress: Progress,
    buf: Vec<u8>,
}

impl std::io::Write for EventLine {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        self.progress.multi.suspend(|| eprint!("{text}"));
    }
}

impl<'a> MakeWriter<'a> for SuspendWriter {
    type Writer = EventLine;

    fn make_writer(&'a self) -> EventLine {
        EventLine {
            progress: self.0.clone(),
            buf: Vec::new(),
        }
    }
}
