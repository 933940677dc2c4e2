//! What the command shows while it works: one spinner line per step with its elapsed time and
//! its current sub-step (an image build's `Step 3/9`, a suite's phase), fed by the library's
//! `tracing` events; and the `tracing` subscriber itself (`RUST_LOG`, default `warn`), whose
//! lines never tear the spinners.
//!
//! When stderr is not a terminal (CI, tests) there are no spinners: each step and sub-step is
//! one plain line instead.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The command's progress display, shared by the command and the tracing layer.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    multi: MultiProgress,
    current: Arc<Mutex<Option<ProgressBar>>>,
}

/// One step in progress; [`Step::done`] replaces its spinner with a line.
#[derive(Debug)]
pub(crate) struct Step {
    progress: Progress,
    bar: ProgressBar,
    started: Instant,
}

impl Progress {
    /// A display on stderr (hidden when stderr is not a terminal).
    pub(crate) fn new() -> Self {
        Progress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            current: Arc::new(Mutex::new(None)),
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
        *self.current.lock().expect("progress lock") = Some(bar.clone());
        Step {
            progress: self.clone(),
            bar,
            started: Instant::now(),
        }
    }

    /// Shows a sub-step of the current step (its spinner's message, or a plain line).
    fn sub_step(&self, message: &str) {
        if self.plain() {
            self.err_line(&format!("  {message}"));
        } else if let Some(bar) = self.current.lock().expect("progress lock").as_ref() {
            bar.set_message(message.to_string());
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
    /// Ends the step: its spinner gives way to `line` (with the elapsed time appended).
    pub(crate) fn done(self, line: &str) -> Duration {
        let elapsed = self.started.elapsed();
        self.bar.finish_and_clear();
        *self.progress.current.lock().expect("progress lock") = None;
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
        let elapsed = self.started.elapsed();
        self.bar.finish_and_clear();
        *self.progress.current.lock().expect("progress lock") = None;
        elapsed
    }
}

/// Turns the library's info events into sub-steps of the current step.
struct StepLayer(Progress);

impl<S: Subscriber> Layer<S> for StepLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        if !message.0.is_empty() {
            self.0.sub_step(&message.0);
        }
    }
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
