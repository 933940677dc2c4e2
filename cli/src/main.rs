//! The `shakedown` command: every bundled suite against its reference systems, the images they
//! need, cleanup, the fault proxy — and, inside containers, the reference services themselves
//! (`shakedown reference NAME …`).
#![forbid(unsafe_code)]
#![deny(missing_debug_implementations)]

mod app;
mod commands;
mod jobs;
mod progress;
mod render;
mod run;
mod summary;

fn main() -> std::process::ExitCode {
    app::main()
}
