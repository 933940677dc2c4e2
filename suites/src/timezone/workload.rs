use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::try_join_all;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use shakedown::fault::nemeses::WalkClock;
use shakedown::history::Done;
use shakedown::{Fault, Node, Run, RunOptions, SuiteError, SuiteRun};
use shakedown_fixtures::tenants::{fake_tenants, Tenant, TENANT_ZONES};

use super::checker::judged_days;
use super::{BillingOp, BillingSystem, BillingValue, TimezoneChecker, Window};

pub(super) const SUITE: &str = "timezone";

/// The tables the reference service uses; put them in the database's template.
pub const SCHEMA: &str = "
CREATE TABLE tenants (id text PRIMARY KEY, name text NOT NULL, zone text NOT NULL);
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
);";

/// How the suite runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seed (drives the fake tenants), variant label, call timeout.
    pub run: RunOptions,
    /// How many tenants (zones are dealt from [`TENANT_ZONES`]).
    pub tenants: usize,
    /// The simulated time the clocks walk through.
    pub window: Window,
    /// The scheduler container's `TZ` (reference run).
    pub server_zone: String,
    /// The database's `timezone` (reference run).
    pub db_zone: String,
}

impl Default for Options {
    fn default() -> Self {
        let ts = |s: &str| s.parse::<Timestamp>().expect("a valid constant instant");
        Options {
            run: RunOptions::default(),
            tenants: TENANT_ZONES.len(),
            // Three days across the US spring-forward of 2026-03-08, in 30-minute steps.
            window: Window {
                start: ts("2026-03-07T00:00:00Z"),
                end: ts("2026-03-10T00:00:00Z"),
                step: Duration::from_secs(30 * 60),
            },
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

/// Where the suite moves clocks: every node in `clocks` (started with a fake clock: the
/// scheduler, and the database if it stamps rows) walks through the window; `zones` lists the
/// time zones the nodes run in (`(node, zone)`), for the timeline.
#[derive(Debug, Clone, Copy)]
pub struct Clocks<'a> {
    /// The nodes whose wall clocks walk.
    pub nodes: &'a [&'a Node],
    /// The zones the nodes run in, as `(node, IANA zone)`.
    pub zones: &'a [(String, String)],
}

/// Runs the timezone workload against `system`: registers seeded tenants, walks the wall clock
/// of every node in `clocks` through `options.window`, runs one scheduler pass per step, then
/// reads every tenant's daily reports, and judges it.
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
    let tenants = tenants(options);
    for t in &tenants {
        system
            .add_tenant(t)
            .await
            .map_err(|e| run.error(format!("register tenant {}", t.id), e))?;
    }
    for (target, zone) in clocks.zones {
        run.standing(Fault::Timezone {
            target: target.clone(),
            zone: zone.clone(),
        });
    }
    let (from, until) = (
        system_time(options.window.start),
        system_time(options.window.end),
    );
    let mut walks = Vec::new();
    for node in clocks.nodes {
        let walk = WalkClock::new(node, from, until, options.window.step)
            .map_err(|e| run.error("plan the clock walk", e))?;
        walks.push(run.inject(walk).await?);
    }
    for (i, at) in options.window.instants().into_iter().enumerate() {
        if i > 0 {
            let stepped = try_join_all(walks.iter_mut().map(|w| w.step())).await?;
            if stepped.contains(&false) {
                return Err(run.error(
                    "walk the clocks",
                    "a clock walk ended before the window did",
                ));
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
    for t in &tenants {
        let tz = TimeZone::get(&t.zone).map_err(|e| run.error("load a tenant's zone", e))?;
        for day in judged_days(&tz, &options.window) {
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
    let checker = TimezoneChecker::new(tenants, options.window);
    Ok(run.finish(&[&checker]))
}

/// The tenants a run with these options registers.
pub fn tenants(options: &Options) -> Vec<Tenant> {
    fake_tenants(options.run.seed, options.tenants)
}
