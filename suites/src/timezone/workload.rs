use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::try_join_all;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use shakedown::checker::AvailabilityChecker;
use shakedown::fault::nemeses::WalkClock;
use shakedown::history::Done;
use shakedown::{Fault, Node, Run, RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::tenants::{fake_tenants, Tenant, TENANT_ZONES};

use super::checker::{due, judged_days};
use super::{BillingOp, BillingSystem, BillingValue, Observed, TimezoneChecker, Window};

pub(super) const SUITE: &str = "timezone";

/// The tables the reference service uses; put them in the database's template.
pub const SCHEMA: &str = "
CREATE TABLE tenants (
    id text PRIMARY KEY,
    name text NOT NULL,
    zone text NOT NULL,
    signup_offset_s integer
);
-- naive: a timestamp without zone, filled by the database's now() in the database's zone
CREATE TABLE charges_naive (
    id bigserial PRIMARY KEY,
    tenant_id text NOT NULL,
    charged_at timestamp NOT NULL DEFAULT now()
);
-- hardened: the instant (UTC inside) and the tenant's local day, once per day
CREATE TABLE charges (
    id bigserial PRIMARY KEY,
    tenant_id text NOT NULL,
    charged_at timestamptz NOT NULL,
    local_day date NOT NULL,
    UNIQUE (tenant_id, local_day)
);
-- the other policies the tests exercise: a log without a once-per-day key, and planned charges
CREATE TABLE charges_log (
    id bigserial PRIMARY KEY,
    tenant_id text NOT NULL,
    charged_at timestamptz NOT NULL
);
CREATE TABLE tenant_plans (tenant_id text PRIMARY KEY, next_due timestamptz NOT NULL);";

/// When the scheduler's passes come: at irregular steps, with one pass retried within the same
/// minute and one an hour late (placed where they matter: at some tenant's 09:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passes {
    /// Shortest step between passes.
    pub min_step: Duration,
    /// Longest (regular) step between passes.
    pub max_step: Duration,
    /// How soon a retried pass follows the one it retries (a double charge shows here).
    pub retry_after: Duration,
}

impl Default for Passes {
    fn default() -> Self {
        Passes {
            min_step: Duration::from_secs(20 * 60),
            max_step: Duration::from_secs(45 * 60),
            retry_after: Duration::from_secs(20),
        }
    }
}

/// How the suite runs. Each option names the failure it exercises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seed (drives the fake tenants and the pass times), variant label, call timeout.
    pub run: RunOptions,
    /// Tenants signing up in each window (zones dealt from [`TENANT_ZONES`]: with and without
    /// DST in both hemispheres, with fractional offsets).
    pub tenants: usize,
    /// The stretches of simulated time walked, each around a DST change: the US's, the EU's, and
    /// the end of DST in Australia and New Zealand. Each window's tenants sign up at its start.
    pub windows: Vec<Window>,
    /// When the passes come.
    pub passes: Passes,
    /// The scheduler container's `TZ` (reference run).
    pub server_zone: String,
    /// The database's `timezone` (reference run).
    pub db_zone: String,
}

impl Default for Options {
    fn default() -> Self {
        let ts = |s: &str| s.parse::<Timestamp>().expect("a valid constant instant");
        let w = |a: &str, b: &str| Window {
            start: ts(a),
            end: ts(b),
        };
        Options {
            run: RunOptions::default(),
            tenants: TENANT_ZONES.len(),
            // Each starts off the quarter hour, so no tenant signs up at its very 09:00.
            windows: vec![
                // The US springs forward on 2026-03-08 (02:00 local).
                w("2026-03-08T00:07:00Z", "2026-03-08T18:00:00Z"),
                // The EU on 2026-03-29 (01:00 UTC).
                w("2026-03-29T00:07:00Z", "2026-03-29T18:00:00Z"),
                // Australia and New Zealand fall back on 2026-04-05 (03:00 local).
                w("2026-04-04T12:07:00Z", "2026-04-05T06:00:00Z"),
            ],
            passes: Passes::default(),
            server_zone: "Asia/Tokyo".into(),
            db_zone: "America/New_York".into(),
        }
    }
}

type BillingRun = Run<BillingOp, BillingValue>;

fn system_time(t: Timestamp) -> SystemTime {
    let ns = t.as_nanosecond();
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs() as u64)
    }
}

fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::ZERO)
}

/// Where the suite moves clocks: every node in `clocks` (started with a fake clock: the
/// scheduler, and the database if it stamps rows) walks through the windows; `zones` lists the
/// time zones the nodes run in (`(node, zone)`), for the timeline.
#[derive(Debug, Clone, Copy)]
pub struct Clocks<'a> {
    /// The nodes whose wall clocks walk.
    pub nodes: &'a [&'a Node],
    /// The zones the nodes run in, as `(node, IANA zone)`.
    pub zones: &'a [(String, String)],
}

/// Runs the timezone workload against `system`, window by window: walks the wall clock of every
/// node in `clocks` through the window, registers the window's seeded tenants at its start
/// (inside the simulated time), runs a scheduler pass at each planned instant (irregular, one
/// retried, one late); then reads every tenant's daily reports, and judges it
/// ([`TimezoneChecker`], and [`AvailabilityChecker`]: passes and reports that failed).
///
/// ```no_run
/// # async fn demo(billing: shakedown_suites::timezone::HttpBilling, scheduler: shakedown::Node) -> Result<(), shakedown::SuiteError> {
/// use shakedown_suites::timezone::{run_against, Clocks, Options};
/// let zones = [("scheduler".to_string(), "Asia/Tokyo".to_string())];
/// let clocks = Clocks { nodes: &[&scheduler], zones: &zones };
/// let run = run_against(&billing, clocks, &Options::default()).await?;
/// assert_eq!(run.report.anomaly("charge_doubled").unwrap(), 0);
/// # Ok(()) }
/// ```
pub async fn run_against<S: BillingSystem>(
    system: &S,
    clocks: Clocks<'_>,
    options: &Options,
) -> Result<SuiteRun<BillingOp, BillingValue>, SuiteError> {
    let run = BillingRun::new(SUITE, options.run.clone());
    for (target, zone) in clocks.zones {
        run.standing(Fault::Timezone {
            target: target.clone(),
            zone: zone.clone(),
        });
    }
    let mut observed = Vec::new();
    let mut planned = Vec::new();
    for (k, window) in options.windows.iter().enumerate() {
        let tenants = tenants(options, k);
        let passes = plan_passes(
            window,
            &tenants,
            &options.passes,
            &mut run.rng(&format!("passes/{k}")),
        );
        let mut walks = Vec::new();
        for node in clocks.nodes {
            let walk = WalkClock::through(node, passes.iter().map(|t| system_time(*t)).collect())
                .map_err(|e| run.error("plan the clock walk", e))?;
            walks.push(run.inject(walk).await?);
        }
        // Tenants sign up inside the simulated time, at the window's start: a scheduler that
        // plans the first charge at signup plans it from the time it sees.
        for t in &tenants {
            system
                .add_tenant(t)
                .await
                .map_err(|e| run.error(format!("register tenant {}", t.id), e))?;
        }
        for (i, at) in passes.iter().enumerate() {
            if i > 0 {
                let stepped = try_join_all(walks.iter_mut().map(|w| w.step())).await?;
                if stepped.contains(&false) {
                    return Err(
                        run.error("walk the clocks", "a clock walk ended before its passes")
                    );
                }
            }
            let at_unix_s = at.as_second();
            let tick = BillingValue::Tick {
                at_unix_s,
                charged: vec![],
            };
            run.call(0, BillingOp::Tick, tick, async {
                let mut charged = system.tick().await?;
                charged.sort();
                Ok(Done::new(BillingValue::Tick { at_unix_s, charged }))
            })
            .await?;
        }
        for w in walks {
            w.heal().await?;
        }
        observed.extend(tenants.into_iter().map(|tenant| Observed {
            tenant,
            window: *window,
        }));
        planned.extend(passes);
    }
    for o in &observed {
        let t = &o.tenant;
        let tz = TimeZone::get(&t.zone).map_err(|e| run.error("load a tenant's zone", e))?;
        for day in judged_days(&tz, &o.window, &planned) {
            let value = |count| BillingValue::Report {
                tenant: t.id.clone(),
                day: day.to_string(),
                count,
            };
            run.call(1, BillingOp::Report, value(None), async {
                Ok(Done::new(value(Some(system.report(&t.id, day).await?))))
            })
            .await?;
        }
    }
    let checker = TimezoneChecker::new(observed);
    Ok(run.finish(&[&checker, &AvailabilityChecker::strict()]))
}

/// The pass instants for `window`: irregular steps from its start, then a pass retried
/// `retry_after` after one that lands two minutes past some tenant's 09:00, and, for another
/// tenant, no pass from five minutes before its 09:00 until an hour and five minutes after.
pub fn plan_passes(
    window: &Window,
    tenants: &[Tenant],
    passes: &Passes,
    rng: &mut ChaCha8Rng,
) -> Vec<Timestamp> {
    let (lo, hi) = (
        passes.min_step.as_secs(),
        passes.max_step.as_secs().max(passes.min_step.as_secs()),
    );
    let mut out = Vec::new();
    let mut t = window.start;
    while window.contains(t) {
        out.push(t);
        let step = rng.random_range(lo..=hi).max(1);
        t = match t.checked_add(SignedDuration::from_secs(step as i64)) {
            Ok(n) => n,
            Err(_) => break,
        };
    }
    // The first 09:00 inside the window, per tenant, in a seeded order.
    let mut dues: Vec<Timestamp> = tenants
        .iter()
        .filter_map(|t| {
            let tz = TimeZone::get(&t.zone).ok()?;
            let first = window.start.to_zoned(tz.clone()).date();
            [first, first.tomorrow().ok()?]
                .into_iter()
                .filter_map(|d| due(d, &tz))
                .find(|d| *d > window.start && window.contains(*d + SignedDuration::from_mins(70)))
        })
        .collect();
    dues.shuffle(rng);
    if let [retried, late, ..] = dues[..] {
        let at = retried + SignedDuration::from_mins(2);
        out.retain(|p| p.duration_since(at).abs() >= SignedDuration::from_mins(1));
        out.push(at);
        out.push(at + signed(passes.retry_after));
        let (gap_from, gap_to) = (
            late - SignedDuration::from_mins(5),
            late + SignedDuration::from_mins(65),
        );
        out.retain(|p| {
            *p <= gap_from || *p >= gap_to || *p == at || *p == at + signed(passes.retry_after)
        });
        out.push(gap_from);
        out.push(gap_to);
    }
    out.retain(|p| window.contains(*p));
    out.sort();
    out.dedup();
    out
}

/// The tenants window `k` of a run with these options registers (ids `w<k>-t<i>`).
pub fn tenants(options: &Options, k: usize) -> Vec<Tenant> {
    fake_tenants(options.run.seed.wrapping_add(k as u64), options.tenants)
        .into_iter()
        .map(|t| Tenant {
            id: format!("w{k}-{}", t.id),
            ..t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn planned_passes_are_irregular_with_a_retry_and_an_hour_late_gap() {
        let o = Options::default();
        let w = o.windows[0];
        let tenants = tenants(&o, 0);
        let passes = plan_passes(&w, &tenants, &o.passes, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(passes[0], w.start);
        assert!(passes.windows(2).all(|p| p[0] < p[1]) && passes.iter().all(|p| w.contains(*p)));
        let gaps: Vec<i64> = passes
            .windows(2)
            .map(|p| p[1].duration_since(p[0]).as_secs())
            .collect();
        assert!(gaps.contains(&20), "a retry 20 s after a pass: {gaps:?}");
        assert!(
            gaps.iter().any(|g| *g >= 70 * 60),
            "an hour-late gap: {gaps:?}"
        );
        assert!(
            gaps.iter().collect::<std::collections::BTreeSet<_>>().len() > 5,
            "irregular"
        );
        let again = plan_passes(&w, &tenants, &o.passes, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(passes, again, "seeded");
    }
}
