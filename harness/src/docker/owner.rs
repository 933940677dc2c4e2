//! Who owns a labelled resource, and whether the sweep may remove it.
//!
//! A resource carries the owner token of the process that made it ([`OWNER_LABEL`],
//! `<pid>:<start time>`), the identity of that process's host ([`HOST_LABEL`], see [`host_id`]) and
//! its creation time ([`CREATED_LABEL`], Unix seconds). Whether the owner is still running can only
//! be known on its own host (through `/proc`), so [`sweep_verdict`] removes:
//!
//! - a resource of **this host** whose owner process is gone;
//! - a resource of **another host** (another CI job's container, a macOS host, a resource labelled
//!   before hosts were recorded) only once it is older than the time-to-live
//!   (`SHAKEDOWN_SWEEP_TTL`, default [`DEFAULT_SWEEP_TTL`]), like testcontainers' Ryuk would.
//!
//! Resources kept for inspection ([`KEPT_LABEL`], see [`crate::topology::KeepPolicy`]) are left to
//! `shakedown clean`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Label carrying `<pid>:<start time>` of the process that owns the resource.
pub const OWNER_LABEL: &str = "dev.shakedown.owner";
/// Label carrying the identity of the owner's host ([`host_id`]).
pub const HOST_LABEL: &str = "dev.shakedown.host";
/// Label carrying the resource's creation time, in Unix seconds.
pub const CREATED_LABEL: &str = "dev.shakedown.created";
/// Label present (value `on-failure` or `always`) on resources whose run asked to keep them for
/// inspection; the automatic sweep leaves them, `shakedown clean` removes them.
pub const KEPT_LABEL: &str = "dev.shakedown.keep";
/// How old another host's resource must be before the sweep removes it (`SHAKEDOWN_SWEEP_TTL`
/// overrides it).
pub const DEFAULT_SWEEP_TTL: Duration = Duration::from_secs(2 * 60 * 60);

/// `<pid>:<start time in clock ticks since boot>` of this process.
pub fn owner_token() -> String {
    let pid = std::process::id();
    format!("{pid}:{}", process_start_time(pid).unwrap_or(0))
}

/// The owner token another running process puts on what it creates (`None` if it is not running).
pub fn owner_token_of(pid: u32) -> Option<String> {
    Some(format!("{pid}:{}", process_start_time(pid)?))
}

fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (comm) may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    // `rest` starts at field 3; start time is field 22.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process named by an owner token is still running on this host.
pub fn owner_alive(token: &str) -> bool {
    let Some((pid, start)) = token.split_once(':') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    process_start_time(pid) == Some(start)
}

/// This host's identity, as put in [`HOST_LABEL`]: `SHAKEDOWN_HOST_ID` if set; else, where
/// `/proc` tells, the kernel's boot id and the inode of this process's PID namespace (two CI jobs
/// in containers of one engine differ in the latter, two machines in the former); else the host
/// name.
pub fn host_id() -> String {
    if let Ok(id) = std::env::var("SHAKEDOWN_HOST_ID") {
        if !id.trim().is_empty() {
            return id.trim().to_string();
        }
    }
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok();
    let pidns = std::fs::read_link("/proc/self/ns/pid").ok();
    if let (Some(boot), Some(ns)) = (boot, pidns) {
        // `pid:[4026531836]` → `4026531836`.
        let ns = ns.to_string_lossy();
        let inode = ns.trim_start_matches("pid:[").trim_end_matches(']');
        return format!("{}-{inode}", boot.trim());
    }
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    format!("host-{}", name.trim())
}

/// The time-to-live of another host's resources: `SHAKEDOWN_SWEEP_TTL` (seconds, or with a unit:
/// `90s`, `30m`, `2h`), else [`DEFAULT_SWEEP_TTL`]. A malformed value is an error that says what
/// to write.
pub fn sweep_ttl() -> crate::Result<Duration> {
    match std::env::var("SHAKEDOWN_SWEEP_TTL") {
        Ok(v) => parse_ttl(&v).ok_or_else(|| crate::Error::InvalidInput {
            what: "SHAKEDOWN_SWEEP_TTL",
            detail: format!(
                "`{v}` is not a duration; write seconds (`7200`) or `90s`, `30m`, `2h`"
            ),
        }),
        Err(_) => Ok(DEFAULT_SWEEP_TTL),
    }
}

fn parse_ttl(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// Now, in Unix seconds (the value [`CREATED_LABEL`] holds).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The ownership labels of one resource, as read back from the engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ownership<'a> {
    /// [`OWNER_LABEL`].
    pub owner: Option<&'a str>,
    /// [`HOST_LABEL`].
    pub host: Option<&'a str>,
    /// [`CREATED_LABEL`], or the engine's own creation time when the label is missing.
    pub created: Option<u64>,
    /// Whether [`KEPT_LABEL`] is set.
    pub kept: bool,
}

impl<'a> Ownership<'a> {
    /// Reads the labels; `engine_created` (Unix seconds) stands in for a missing [`CREATED_LABEL`].
    pub fn from_labels(
        labels: Option<&'a std::collections::HashMap<String, String>>,
        engine_created: Option<u64>,
    ) -> Self {
        let get = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
        Ownership {
            owner: get(OWNER_LABEL),
            host: get(HOST_LABEL),
            created: get(CREATED_LABEL)
                .and_then(|c| c.parse().ok())
                .or(engine_created),
            kept: get(KEPT_LABEL).is_some(),
        }
    }
}

/// What a sweep of leftovers knows about where and when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepContext {
    /// This host's identity ([`host_id`]).
    pub host: String,
    /// How old another host's resource must be to be removed.
    pub ttl: Duration,
    /// Now, in Unix seconds.
    pub now: u64,
    /// Whether resources kept for inspection go too (`shakedown clean`), judged like the others.
    pub include_kept: bool,
}

impl SweepContext {
    /// This host, now, with the time-to-live from the environment ([`sweep_ttl`]).
    pub fn current(include_kept: bool) -> crate::Result<Self> {
        Ok(SweepContext {
            host: host_id(),
            ttl: sweep_ttl()?,
            now: unix_now(),
            include_kept,
        })
    }
}

/// Why a sweep removes or leaves a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepVerdict {
    /// Its owner runs on this host and has exited (or it names no owner).
    RemoveOrphan,
    /// It belongs to another host and is older than the time-to-live.
    RemoveExpired,
    /// Its owner runs on this host and is still running.
    LeaveAlive,
    /// It belongs to another host and is younger than the time-to-live (or its age is unknown).
    LeaveForeign,
    /// It was kept for inspection and this sweep leaves kept resources.
    LeaveKept,
}

impl SweepVerdict {
    /// Whether the resource goes.
    pub fn removes(self) -> bool {
        matches!(
            self,
            SweepVerdict::RemoveOrphan | SweepVerdict::RemoveExpired
        )
    }
}

/// The sweep's decision for one resource: pure, so every case is a unit test. `alive` says
/// whether an owner token of this host names a running process ([`owner_alive`]).
pub fn sweep_verdict(
    res: &Ownership<'_>,
    ctx: &SweepContext,
    alive: impl Fn(&str) -> bool,
) -> SweepVerdict {
    if res.kept && !ctx.include_kept {
        return SweepVerdict::LeaveKept;
    }
    if res.host == Some(ctx.host.as_str()) {
        return match res.owner {
            Some(token) if alive(token) => SweepVerdict::LeaveAlive,
            _ => SweepVerdict::RemoveOrphan,
        };
    }
    match res.created {
        Some(created) if ctx.now.saturating_sub(created) >= ctx.ttl.as_secs() => {
            SweepVerdict::RemoveExpired
        }
        _ => SweepVerdict::LeaveForeign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> SweepContext {
        SweepContext {
            host: "A".into(),
            ttl: Duration::from_secs(7200),
            now: 100_000,
            include_kept: false,
        }
    }

    fn res<'a>(host: Option<&'a str>, owner: &'a str, created: u64) -> Ownership<'a> {
        Ownership {
            owner: Some(owner),
            host,
            created: Some(created),
            kept: false,
        }
    }

    /// "live" is the only running owner in these cases.
    fn alive(token: &str) -> bool {
        token == "live"
    }

    #[test]
    fn this_hosts_resources_go_when_their_owner_has_exited_whatever_their_age() {
        let c = ctx();
        assert_eq!(
            sweep_verdict(&res(Some("A"), "dead", 99_990), &c, alive),
            SweepVerdict::RemoveOrphan
        );
        assert_eq!(
            sweep_verdict(&res(Some("A"), "live", 1), &c, alive),
            SweepVerdict::LeaveAlive
        );
        let no_owner = Ownership {
            owner: None,
            ..res(Some("A"), "", 99_990)
        };
        assert_eq!(
            sweep_verdict(&no_owner, &c, alive),
            SweepVerdict::RemoveOrphan
        );
    }

    #[test]
    fn another_hosts_resources_go_only_after_the_ttl_even_if_their_pid_looks_dead_here() {
        let c = ctx();
        // Two hours old to the second: expired.
        assert_eq!(
            sweep_verdict(&res(Some("B"), "dead", 100_000 - 7200), &c, alive),
            SweepVerdict::RemoveExpired
        );
        assert_eq!(
            sweep_verdict(&res(Some("B"), "dead", 100_000 - 7199), &c, alive),
            SweepVerdict::LeaveForeign
        );
        // Resources labelled before hosts were recorded count as another host's.
        assert_eq!(
            sweep_verdict(&res(None, "dead", 99_000), &c, alive),
            SweepVerdict::LeaveForeign
        );
        let ageless = Ownership {
            created: None,
            ..res(Some("B"), "dead", 0)
        };
        assert_eq!(
            sweep_verdict(&ageless, &c, alive),
            SweepVerdict::LeaveForeign
        );
        // The other host's process table is not consulted.
        let never_called = |_: &str| -> bool { panic!("liveness of a foreign owner asked") };
        assert_eq!(
            sweep_verdict(&res(Some("B"), "live", 1), &c, never_called),
            SweepVerdict::RemoveExpired
        );
    }

    #[test]
    fn kept_resources_are_left_to_clean() {
        let kept = Ownership {
            kept: true,
            ..res(Some("A"), "dead", 1)
        };
        assert_eq!(sweep_verdict(&kept, &ctx(), alive), SweepVerdict::LeaveKept);
        let clean = SweepContext {
            include_kept: true,
            ..ctx()
        };
        assert_eq!(
            sweep_verdict(&kept, &clean, alive),
            SweepVerdict::RemoveOrphan
        );
    }

    #[test]
    fn labels_are_read_with_the_engines_creation_time_as_fallback() {
        let labels = std::collections::HashMap::from([
            (OWNER_LABEL.to_string(), "1:2".to_string()),
            (HOST_LABEL.to_string(), "A".to_string()),
        ]);
        let o = Ownership::from_labels(Some(&labels), Some(42));
        assert_eq!(
            (o.owner, o.host, o.created, o.kept),
            (Some("1:2"), Some("A"), Some(42), false)
        );
        let mut labels = labels;
        labels.insert(CREATED_LABEL.into(), "7".into());
        labels.insert(KEPT_LABEL.into(), "always".into());
        let o = Ownership::from_labels(Some(&labels), Some(42));
        assert_eq!((o.created, o.kept), (Some(7), true));
        assert_eq!(Ownership::from_labels(None, None), Ownership::default());
    }

    #[test]
    fn ttl_accepts_seconds_and_units_and_refuses_the_rest() {
        assert_eq!(parse_ttl("7200"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_ttl("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_ttl("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_ttl(" 2h "), Some(Duration::from_secs(7200)));
        for bad in ["", "2 h", "2d", "h", "-5", "1.5h"] {
            assert_eq!(parse_ttl(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn own_process_is_alive_and_a_made_up_one_is_not() {
        assert!(owner_alive(&owner_token()));
        assert!(!owner_alive("4194304:1"));
        assert!(!owner_alive(&format!("{}:1", std::process::id())));
        assert!(!owner_alive("garbage"));
    }

    #[test]
    fn the_host_id_is_stable_and_not_empty() {
        let id = host_id();
        assert_eq!(id, host_id());
        assert!(id.len() > 5, "{id}");
    }
}
