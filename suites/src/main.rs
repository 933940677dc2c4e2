//! The `shakedown` command: every bundled suite, the images they need, and the reference services
//! (which run inside containers as `shakedown reference NAME`).

fn main() -> std::process::ExitCode {
    shakedown_suites::app().main()
}
