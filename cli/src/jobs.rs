//! `--jobs N`: how many suite runs `shakedown run` keeps going at once, parsed with a clear error,
//! and the default chosen from the machine's cores.

use std::num::NonZeroUsize;

/// The most runs at once the command accepts: each run starts its own containers, and far more
/// than the machine can hold only makes every run slower (and timing-sensitive faults flakier).
pub(crate) const MAX_JOBS: usize = 64;

/// Parses `--jobs`: a whole number from 1 to [`MAX_JOBS`].
pub(crate) fn parse(text: &str) -> Result<NonZeroUsize, String> {
    let n: usize = text.trim().parse().map_err(|_| {
        format!("`{text}` is not a number of runs; give a whole number from 1 to {MAX_JOBS}, e.g. --jobs 2")
    })?;
    match NonZeroUsize::new(n) {
        None => Err(format!(
            "0 runs at once would run nothing; give a whole number from 1 to {MAX_JOBS} (1 runs the suites one after another)"
        )),
        Some(_) if n > MAX_JOBS => Err(format!(
            "{n} runs at once is more than the {MAX_JOBS} allowed; give a whole number from 1 to {MAX_JOBS}"
        )),
        Some(n) => Ok(n),
    }
}

/// The default: two runs per core, and at least two. The runs spend most of their time waiting
/// (on fault phases, on replication, on containers starting), not computing: on 2 cores, the 18
/// runs took 1 min 44 s four at a time, every report the same as two at a time.
pub(crate) fn default_for(cores: usize) -> NonZeroUsize {
    NonZeroUsize::new(cores.saturating_mul(2).clamp(2, MAX_JOBS)).expect("at least two")
}

/// [`default_for`] the cores this process may use.
pub(crate) fn default_jobs() -> NonZeroUsize {
    default_for(std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_a_whole_number_from_one_to_the_limit() {
        assert_eq!(parse("1").map(NonZeroUsize::get), Ok(1));
        assert_eq!(parse(" 3 ").map(NonZeroUsize::get), Ok(3));
        assert_eq!(parse("64").map(NonZeroUsize::get), Ok(64));
        let zero = parse("0").unwrap_err();
        assert!(zero.contains("would run nothing"), "{zero}");
        for garbage in ["two", "-1", "1.5", ""] {
            let e = parse(garbage).unwrap_err();
            assert!(e.contains("whole number from 1 to 64"), "{garbage}: {e}");
        }
        assert!(parse("65").unwrap_err().contains("more than the 64"));
    }

    #[test]
    fn the_default_is_two_runs_per_core_and_at_least_two() {
        assert_eq!(default_for(0).get(), 2);
        assert_eq!(default_for(1).get(), 2);
        assert_eq!(default_for(2).get(), 4);
        assert_eq!(default_for(8).get(), 16);
        assert_eq!(default_for(1000).get(), MAX_JOBS);
        assert!(default_jobs().get() >= 2);
    }
}
