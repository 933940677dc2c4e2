//! What every suite test shares: the reference launcher, and the two verdict assertions (the
//! public ones teams use).

use shakedown::{RunOptions, Variant};
use shakedown_suites::reference::{shakedown_binary, Launcher};

/// Launches reference services from the `shakedown` binary cargo built next to this test.
pub fn launcher() -> Launcher {
    Launcher::with_binary(shakedown_binary().expect("build shakedown-cli first"))
}

/// Run options for a reference run of `variant` with `seed`.
pub fn options(seed: u64, variant: Variant) -> RunOptions {
    RunOptions::seeded(seed).variant(variant)
}

pub use shakedown_suites::{assert_caught, assert_handled};
