//! [`KeepPolicy`]: whether a run's containers stay after it, for inspection (`SHAKEDOWN_KEEP`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::docker::RUN_LABEL;
use crate::error::{Error, Result};

/// Whether a run's containers and network stay after it ends: `SHAKEDOWN_KEEP`.
///
/// Kept resources carry the label `dev.shakedown.keep`, so the automatic sweep of leftovers never
/// removes them; `shakedown clean` does (once their process has exited). A run killed outright
/// (`SIGKILL`) with `on-failure` counts as failed: its containers stay until `shakedown clean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeepPolicy {
    /// Remove everything when the run ends (the default; `SHAKEDOWN_KEEP=never`).
    #[default]
    Never,
    /// Keep the containers of a failed test: one that panics while the topology goes away, or
    /// whose node did not start, or that called [`Topology::mark_failed`](crate::Topology::mark_failed)
    /// (`SHAKEDOWN_KEEP=on-failure`).
    OnFailure,
    /// Keep every run's containers (`SHAKEDOWN_KEEP=always`, or testcontainers'
    /// `TESTCONTAINERS_COMMAND=keep`).
    Always,
}

impl KeepPolicy {
    /// `SHAKEDOWN_KEEP` (`never`, `on-failure`, `always`); unset, `TESTCONTAINERS_COMMAND=keep`
    /// means `always`, anything else `never`. A value outside those is an error naming them.
    pub fn from_env() -> Result<Self> {
        Self::parse(
            std::env::var("SHAKEDOWN_KEEP").ok().as_deref(),
            std::env::var("TESTCONTAINERS_COMMAND").ok().as_deref(),
        )
    }

    fn parse(keep: Option<&str>, testcontainers: Option<&str>) -> Result<Self> {
        match keep.map(str::trim) {
            Some("never") => Ok(KeepPolicy::Never),
            Some("on-failure") => Ok(KeepPolicy::OnFailure),
            Some("always") => Ok(KeepPolicy::Always),
            Some("") | None => Ok(match testcontainers.map(str::trim) {
                Some("keep") => KeepPolicy::Always,
                _ => KeepPolicy::Never,
            }),
            Some(other) => Err(Error::InvalidInput {
                what: "SHAKEDOWN_KEEP",
                detail: format!(
                    "`{other}` is not a keep policy (expected one of: never, on-failure, always)"
                ),
            }),
        }
    }

    /// The value of the `dev.shakedown.keep` label, `None` for [`KeepPolicy::Never`].
    pub(crate) fn label(self) -> Option<&'static str> {
        match self {
            KeepPolicy::Never => None,
            KeepPolicy::OnFailure => Some("on-failure"),
            KeepPolicy::Always => Some("always"),
        }
    }
}

/// A run's policy and whether it has failed, shared by its topology and its nodes (whose
/// containers testcontainers would otherwise remove on drop).
#[derive(Debug, Clone)]
pub(crate) struct Keeper {
    policy: KeepPolicy,
    failed: Arc<AtomicBool>,
}

impl Keeper {
    pub(crate) fn new(policy: KeepPolicy) -> Self {
        Keeper {
            policy,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    pub(crate) fn policy(&self) -> KeepPolicy {
        self.policy
    }

    pub(crate) fn mark_failed(&self) {
        self.failed.store(true, Ordering::SeqCst);
    }

    /// Whether what is going away now stays: always, or on failure once the run has failed or
    /// while this thread unwinds from a panic.
    pub(crate) fn keeps_now(&self) -> bool {
        match self.policy {
            KeepPolicy::Never => false,
            KeepPolicy::Always => true,
            KeepPolicy::OnFailure => self.failed.load(Ordering::SeqCst) || std::thread::panicking(),
        }
    }
}

/// What is printed when a run is kept: how to look at it and how to remove it.
pub(crate) fn kept_notice(run_id: &str, policy: KeepPolicy) -> String {
    let why = match policy {
        KeepPolicy::Always => "SHAKEDOWN_KEEP=always",
        _ => "the test failed and SHAKEDOWN_KEEP=on-failure",
    };
    format!(
        "shakedown: kept the containers and network of run {run_id} for inspection ({why}).\n\
         \x20 list them:   docker ps -a --filter label={RUN_LABEL}={run_id}\n\
         \x20 read a log:  docker logs sd-{run_id}-<node>\n\
         \x20 step inside: docker exec -it sd-{run_id}-<node> sh\n\
         \x20 remove them: shakedown clean (every kept run whose process has exited)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_comes_from_shakedown_keep_then_testcontainers_command() {
        let p = KeepPolicy::parse;
        assert_eq!(p(None, None).unwrap(), KeepPolicy::Never);
        assert_eq!(p(Some("on-failure"), None).unwrap(), KeepPolicy::OnFailure);
        assert_eq!(p(Some("always"), None).unwrap(), KeepPolicy::Always);
        assert_eq!(p(None, Some("keep")).unwrap(), KeepPolicy::Always);
        assert_eq!(p(None, Some("remove")).unwrap(), KeepPolicy::Never);
        assert_eq!(p(Some("never"), Some("keep")).unwrap(), KeepPolicy::Never);
        let e = p(Some("yes"), None).unwrap_err().to_string();
        assert!(
            e.contains("`yes`") && e.contains("never, on-failure, always"),
            "{e}"
        );
    }

    #[test]
    fn on_failure_keeps_only_after_a_failure() {
        let k = Keeper::new(KeepPolicy::OnFailure);
        assert!(!k.keeps_now());
        k.clone().mark_failed();
        assert!(k.keeps_now(), "the mark is shared by clones");
        assert!(Keeper::new(KeepPolicy::Always).keeps_now());
        let never = Keeper::new(KeepPolicy::Never);
        never.mark_failed();
        assert!(!never.keeps_now());
    }

    #[test]
    fn on_failure_keeps_while_a_panic_unwinds() {
        struct Probe(Keeper, Arc<AtomicBool>);
        impl Drop for Probe {
            fn drop(&mut self) {
                self.1.store(self.0.keeps_now(), Ordering::SeqCst);
            }
        }
        let seen = Arc::new(AtomicBool::new(false));
        let probe = Probe(Keeper::new(KeepPolicy::OnFailure), seen.clone());
        let _ = std::thread::spawn(move || {
            let _probe = probe;
            panic!("deliberate");
        })
        .join();
        assert!(seen.load(Ordering::SeqCst));
    }

    #[test]
    fn the_notice_says_how_to_inspect_and_remove() {
        let n = kept_notice("0123456789ab", KeepPolicy::OnFailure);
        assert!(
            n.contains("docker ps -a --filter label=dev.shakedown.run=0123456789ab"),
            "{n}"
        );
        assert!(n.contains("docker logs sd-0123456789ab-"), "{n}");
        assert!(n.contains("shakedown clean"), "{n}");
    }
}
