use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::try_join_all;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use shakedown::checker::check_safe;
use shakedown::history::Recorder;
use shakedown::{Fault, FaultAction, FaultEvent, Node, SuiteError, SuiteRun, Variant};
use shakedown_fixtures::tenants::{fake_tenants, Tenant, TENANT_ZONES};

use super::checker::judged_days;
use super::{BillingOp, BillingSystem, BillingValue, ClientError, TimezoneChecker, Window};

const SUITE: &str = "timezone";

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
    /// Drives the fake tenants.
    pub seed: u64,
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
            seed: 1,
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

type Rec = Recorder<BillingOp, BillingValue>;

fn err(step: &str, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SuiteError {
    SuiteError::new(SUITE, step, e)
}

fn system_time(t: Timestamp) -> SystemTime {
    let ns = t.as_nanosecond();
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs() as u64)
    }
}

/// Runs the timezone workload against `system`: registers seeded tenants, walks the wall clock
/// of every node in `clocks` (started with a fake clock: the scheduler, and the database if it
/// stamps rows) through `options.window`, runs one scheduler pass per step, then reads every
/// tenant's daily reports, and judges it. `zones` lists the time zones the nodes run in, for the
/// report (`(node, zone)`).
pub async fn check<S: BillingSystem>(
    system: &S,
    clocks: &[&Node],
    zones: &[(String, String)],
    options: &Options,
    variant: Variant,
) -> Result<SuiteRun, SuiteError> {
    let tenants = fake_tenants(options.seed, options.tenants);
    for t in &tenants {
        system
            .add_tenant(t)
            .await
            .map_err(|e| err(&format!("register tenant {}", t.id), e))?;
    }
    let rec = Rec::new();
    let mut faults: Vec<FaultEvent> = Vec::new();
    let mut standing = Vec::new();
    for (target, zone) in zones {
        standing.push(Fault::Timezone {
            target: target.clone(),
            zone: zone.clone(),
        });
    }
    for node in clocks {
        standing.push(Fault::ClockSet {
            target: node.name().into(),
            to_unix_ms: options.window.start.as_millisecond(),
        });
    }
    for f in &standing {
        faults.push(rec.fault_event(FaultAction::Inject, f));
    }
    for at in options.window.instants() {
        try_join_all(clocks.iter().map(|n| n.clock().jump_to(system_time(at))))
            .await
            .map_err(|e| err("move the clocks", e))?;
        let at_unix_s = at.as_second();
        let op = rec
            .invoke(
                0,
                BillingOp::Tick,
                BillingValue::Tick {
                    at_unix_s,
                    charged: vec![],
                },
            )
            .map_err(|e| err("record a pass", e))?;
        let empty = BillingValue::Tick {
            at_unix_s,
            charged: vec![],
        };
        match system.tick().await {
            Ok(mut charged) => {
                charged.sort();
                op.ok(BillingValue::Tick { at_unix_s, charged }, None)
            }
            Err(ClientError::Failed(e)) => op.fail(empty, e),
            Err(ClientError::Unknown(e)) => op.info(empty, e),
        }
        .map_err(|e| err("record a pass", e))?;
    }
    for node in clocks {
        node.clock()
            .reset()
            .await
            .map_err(|e| err("reset a clock", e))?;
    }
    for f in &standing {
        faults.push(rec.fault_event(FaultAction::Heal, f));
    }
    for t in &tenants {
        let tz = TimeZone::get(&t.zone).map_err(|e| err("load a tenant's zone", e))?;
        for day in judged_days(&tz, &options.window) {
            let value = |count| BillingValue::Report {
                tenant: t.id.clone(),
                day: day.to_string(),
                count,
            };
            let op = rec
                .invoke(1, BillingOp::Report, value(None))
                .map_err(|e| err("record a report", e))?;
            match system.report(&t.id, day).await {
                Ok(n) => op.ok(value(Some(n)), None),
                Err(ClientError::Failed(e)) => op.fail(value(None), e),
                Err(ClientError::Unknown(e)) => op.info(value(None), e),
            }
            .map_err(|e| err("record a report", e))?;
        }
    }
    let history = rec.snapshot();
    let checker = TimezoneChecker::new(tenants.clone(), options.window);
    let checks = vec![check_safe(&checker, &history)];
    SuiteRun::new(SUITE, variant, options.seed, faults, &history, 1, checks)
        .map_err(|e| err("serialise the history", e))
}

/// The tenants a run with `seed` registers.
pub fn tenants(options: &Options) -> Vec<Tenant> {
    fake_tenants(options.seed, options.tenants)
}
