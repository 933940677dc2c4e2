use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use shakedown::checker::{CheckResult, Checker};
use shakedown::fault::Timeline;
use shakedown::history::{History, OpKind};
use shakedown_fixtures::tenants::Tenant;

/// An operation on the billing system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingOp {
    /// One scheduler pass at a simulated instant.
    Tick,
    /// One tenant's daily report.
    Report,
}

/// What an operation was about, and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BillingValue {
    /// A pass at `at_unix_s` (the scheduler's clock), and the tenants it charged.
    Tick {
        /// The simulated instant, Unix seconds.
        at_unix_s: i64,
        /// Tenants charged in this pass.
        charged: Vec<String>,
    },
    /// A report for `tenant`'s local `day`.
    Report {
        /// The tenant.
        tenant: String,
        /// Its local day, `YYYY-MM-DD`.
        day: String,
        /// Charges the report counted (`None` until it answered).
        count: Option<u64>,
    },
}

/// When billing is due: 09:00 on each of the tenant's local days. The suite's contract; the
/// reference scheduler implements it.
pub const CHARGE_AT: jiff::civil::Time = jiff::civil::Time::constant(9, 0, 0, 0);

/// A stretch of simulated time the scheduler's clock walked through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First instant (tenants observed in it sign up here).
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
}

impl Window {
    /// Whether `t` is inside.
    pub fn contains(&self, t: Timestamp) -> bool {
        t >= self.start && t < self.end
    }
}

/// A tenant, watched over one window: it signed up at the window's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The tenant.
    pub tenant: Tenant,
    /// When it was watched.
    pub window: Window,
}

/// The instant of 09:00 on `day` in `tz` (a 09:00 that does not exist is taken after the gap).
pub fn due(day: Date, tz: &TimeZone) -> Option<Timestamp> {
    day.to_datetime(CHARGE_AT)
        .to_zoned(tz.clone())
        .ok()
        .map(|z| z.timestamp())
}

/// The local days of `tz` that a scheduler watched over `window` had to charge: their 09:00
/// falls inside the window, after its start (when the tenant signed up), and a pass (of
/// `passes`) came at or after it, still inside.
pub fn judged_days(tz: &TimeZone, window: &Window, passes: &[Timestamp]) -> Vec<Date> {
    let first = window.start.to_zoned(tz.clone()).date();
    let last = window.end.to_zoned(tz.clone()).date();
    let mut out = Vec::new();
    let mut d = first.yesterday().unwrap_or(first);
    while d <= last {
        if let Some(t) = due(d, tz) {
            let reached = passes.iter().any(|p| *p >= t && window.contains(*p));
            if t > window.start && window.contains(t) && reached {
                out.push(d);
            }
        }
        d = match d.tomorrow() {
            Ok(n) => n,
            Err(_) => break,
        };
    }
    out
}

fn day_length_is_24h(day: Date, tz: &TimeZone) -> bool {
    let start = day.to_zoned(tz.clone()).map(|z| z.timestamp());
    let end = day
        .checked_add(1.day())
        .and_then(|d| d.to_zoned(tz.clone()))
        .map(|z| z.timestamp());
    match (start, end) {
        (Ok(s), Ok(e)) => e.duration_since(s) == SignedDuration::from_hours(24),
        _ => true,
    }
}

/// Judges a billing history against each tenant's zone, over the window it was watched in:
///
/// - `charge_at_wrong_local_time`: a charge before 09:00 of its local day, or later than the
///   first pass at or after that 09:00 (plus `slack`): passes come at irregular times, so a
///   charge at the first chance after 09:00 — even an hour late — is on time;
/// - `charge_missed`: a judged local day with no charge;
/// - `charge_doubled`: charges beyond the first on one local day;
/// - `report_rows_in_wrong_day`: rows a daily report counted that did not happen on that local
///   day, plus rows it left out.
///
/// A tenant's charges outside its window are not judged.
///
/// ```
/// use std::time::Duration;
/// use shakedown::checker::Checker;
/// use shakedown::fault::Timeline;
/// use shakedown::history::{build::*, History};
/// use shakedown_fixtures::tenants::Tenant;
/// use shakedown_suites::timezone::{BillingOp, BillingValue, Observed, TimezoneChecker, Window};
///
/// let tenant = Tenant { id: "t0".into(), name: "Acme".into(), zone: "Asia/Tokyo".into() };
/// let start: jiff::Timestamp = "2026-03-07T00:00:00Z".parse().unwrap();
/// let window = Window { start, end: "2026-03-07T01:00:00Z".parse().unwrap() };
/// let mut h = History::new();
/// let tick = BillingValue::Tick { at_unix_s: start.as_second(), charged: vec![] };
/// invoke(&mut h, 0, BillingOp::Tick, tick.clone());
/// ok(&mut h, 0, BillingValue::Tick { at_unix_s: start.as_second(), charged: vec!["t0".into()] });
/// let r = TimezoneChecker::new(vec![Observed { tenant, window }]).check(&h, &Timeline::default());
/// assert_eq!(r.anomaly("charge_at_wrong_local_time"), Some(0)); // 09:00 in Tokyo
/// assert_eq!(r.anomaly("charge_missed"), Some(0));
/// ```
#[derive(Debug, Clone)]
pub struct TimezoneChecker {
    observed: Vec<Observed>,
    slack: Duration,
}

impl TimezoneChecker {
    /// A checker for these tenants, each over its window; a charge may come up to 5 minutes after
    /// the first pass at or after 09:00 (a retried pass).
    pub fn new(observed: Vec<Observed>) -> Self {
        TimezoneChecker {
            observed,
            slack: Duration::from_secs(300),
        }
    }
}

impl Checker<BillingOp, BillingValue> for TimezoneChecker {
    fn name(&self) -> &str {
        "charges_by_tenant_local_day"
    }

    fn check(&self, history: &History<BillingOp, BillingValue>, _: &Timeline) -> CheckResult {
        let watched: BTreeMap<&str, (TimeZone, Window)> = self
            .observed
            .iter()
            .filter_map(|o| {
                TimeZone::get(&o.tenant.zone)
                    .ok()
                    .map(|tz| (o.tenant.id.as_str(), (tz, o.window)))
            })
            .collect();
        let slack = SignedDuration::try_from(self.slack).unwrap_or(SignedDuration::ZERO);
        let (mut wrong_time, mut missed, mut doubled, mut wrong_rows) = (0u64, 0u64, 0u64, 0u64);
        let (mut charges, mut failed, mut reports) = (0u64, 0u64, 0u64);
        let mut per_day: BTreeMap<(String, Date), u64> = BTreeMap::new();
        let mut report_ops = Vec::new();
        let mut passes = Vec::new();
        let mut charged_at = Vec::new();
        for (inv, done) in history.pairs() {
            let Some(done) = done.filter(|d| d.kind == OpKind::Ok) else {
                failed += 1;
                continue;
            };
            match (&inv.value, &done.value) {
                (_, BillingValue::Tick { at_unix_s, charged }) => {
                    let Ok(at) = Timestamp::from_second(*at_unix_s) else {
                        continue;
                    };
                    passes.push(at);
                    charged_at.extend(charged.iter().map(|id| (id.clone(), at, done.index)));
                }
                (
                    _,
                    BillingValue::Report {
                        tenant,
                        day,
                        count: Some(n),
                    },
                ) => report_ops.push((tenant.clone(), day.clone(), *n)),
                _ => failed += 1,
            }
        }
        passes.sort();
        let mut passes_of: BTreeMap<(String, Date), Vec<u64>> = BTreeMap::new();
        let mut late = Vec::new();
        for (id, at, pass) in charged_at {
            let Some((tz, window)) = watched.get(id.as_str()) else {
                continue;
            };
            if !window.contains(at) {
                continue;
            }
            charges += 1;
            let day = at.to_zoned(tz.clone()).date();
            let on_time = due(day, tz).is_some_and(|d| {
                let first = passes.iter().find(|p| **p >= d);
                at >= d && first.is_some_and(|f| at <= *f + slack)
            });
            if !on_time {
                wrong_time += 1;
                late.push(pass);
            }
            passes_of.entry((id.clone(), day)).or_default().push(pass);
            *per_day.entry((id, day)).or_default() += 1;
        }
        let mut dst_days = BTreeSet::new();
        let mut judged = 0u64;
        for (id, (tz, window)) in &watched {
            for day in judged_days(tz, window, &passes) {
                judged += 1;
                if !day_length_is_24h(day, tz) {
                    dst_days.insert((id.to_string(), day));
                }
                if per_day.get(&(id.to_string(), day)).copied().unwrap_or(0) == 0 {
                    missed += 1;
                }
            }
        }
        doubled += per_day.values().map(|n| n.saturating_sub(1)).sum::<u64>();
        for (tenant, day, n) in report_ops {
            reports += 1;
            let truth = day
                .parse::<Date>()
                .ok()
                .and_then(|d| per_day.get(&(tenant.clone(), d)).copied())
                .unwrap_or(0);
            wrong_rows += n.abs_diff(truth);
        }
        let mut result = CheckResult::builder(self.name())
            .anomaly("charge_at_wrong_local_time", wrong_time)
            .anomaly("charge_missed", missed)
            .anomaly("charge_doubled", doubled)
            .anomaly("report_rows_in_wrong_day", wrong_rows)
            .counted("charges_seen", charges)
            .counted("tenant_days_judged", judged)
            .counted("dst_change_days_judged", dst_days.len() as u64)
            .counted("reports_checked", reports)
            .counted("passes", passes.len() as u64)
            .counted("calls_failed", failed)
            .phrase(
                "charge_at_wrong_local_time",
                Some("charges_seen"),
                "charges came at the wrong local time for the tenant",
            )
            .phrase(
                "charge_missed",
                Some("tenant_days_judged"),
                "tenant-days had no charge at all",
            )
            .phrase(
                "charge_doubled",
                None,
                "extra charges on a local day already charged",
            )
            .phrase(
                "report_rows_in_wrong_day",
                None,
                "report rows counted in the wrong local day",
            );
        for pass in late {
            result = result.example("charge_at_wrong_local_time", &[pass]);
        }
        for ops in passes_of.values().filter(|p| p.len() > 1) {
            result = result.example("charge_doubled", ops);
        }
        result.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shakedown::checker::Validity;
    use shakedown::history::build::*;

    fn watch(id: &str, zone: &str) -> Observed {
        Observed {
            tenant: Tenant {
                id: id.into(),
                name: id.into(),
                zone: zone.into(),
            },
            window: window(),
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn window() -> Window {
        // Across the US spring-forward of 2026-03-08.
        Window {
            start: ts("2026-03-07T00:00:00Z"),
            end: ts("2026-03-10T00:00:00Z"),
        }
    }

    fn tick(h: &mut History<BillingOp, BillingValue>, at: &str, charged: &[&str]) {
        let at_unix_s = ts(at).as_second();
        invoke(
            h,
            0,
            BillingOp::Tick,
            BillingValue::Tick {
                at_unix_s,
                charged: vec![],
            },
        );
        ok(
            h,
            0,
            BillingValue::Tick {
                at_unix_s,
                charged: charged.iter().map(|s| s.to_string()).collect(),
            },
        );
    }

    fn report(h: &mut History<BillingOp, BillingValue>, tenant: &str, day: &str, n: u64) {
        let v = |count| BillingValue::Report {
            tenant: tenant.into(),
            day: day.into(),
            count,
        };
        invoke(h, 0, BillingOp::Report, v(None));
        ok(h, 0, v(Some(n)));
    }

    #[test]
    fn judged_days_follow_the_tenant_zone_dst_and_the_passes() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let passes = [ts("2026-03-09T20:00:00Z")];
        let days = judged_days(&ny, &window(), &passes);
        // 09:00 EST on the 7th is 14:00Z; on the 9th, 09:00 EDT is 13:00Z.
        assert_eq!(days.len(), 3);
        assert_eq!(due(days[2], &ny), Some(ts("2026-03-09T13:00:00Z")));
        assert!(!day_length_is_24h(jiff::civil::date(2026, 3, 8), &ny));
        // No pass after the 9th's 09:00: only the days before it are judged.
        let early = [ts("2026-03-09T12:00:00Z")];
        assert_eq!(judged_days(&ny, &window(), &early).len(), 2);
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        // 09:00 JST on the 7th is the walk's first instant, when the tenant signs up: not judged.
        assert_eq!(
            judged_days(&tokyo, &window(), &passes)[0],
            jiff::civil::date(2026, 3, 8)
        );
    }

    #[test]
    fn dst_aware_charges_at_the_first_chance_and_reports_are_valid() {
        let mut h = History::new();
        tick(&mut h, "2026-03-07T14:00:00Z", &["ny"]);
        tick(&mut h, "2026-03-08T12:50:00Z", &[]); // 08:50 EDT
        tick(&mut h, "2026-03-08T14:05:00Z", &["ny"]); // an hour late, the first chance
        tick(&mut h, "2026-03-08T14:05:20Z", &[]); // retried: nothing twice
        tick(&mut h, "2026-03-09T13:10:00Z", &["ny"]);
        report(&mut h, "ny", "2026-03-08", 1);
        let r = TimezoneChecker::new(vec![watch("ny", "America/New_York")])
            .check(&h, &Timeline::default());
        assert_eq!(r.validity, Validity::Valid, "{r:?}");
        assert_eq!(r.counted["dst_change_days_judged"], 1);
        assert_eq!(r.counted["passes"], 5);
    }

    #[test]
    fn server_time_charges_are_wrong_missed_doubled_and_misreported() {
        let mut h = History::new();
        tick(&mut h, "2026-03-07T14:00:00Z", &["ny"]);
        tick(&mut h, "2026-03-08T13:00:00Z", &[]); // 09:00 EDT: due, not charged
        tick(&mut h, "2026-03-08T14:00:00Z", &["ny"]); // 10:00 EDT: later than the first chance
        tick(&mut h, "2026-03-08T14:30:00Z", &["ny"]); // again the same day
        tick(&mut h, "2026-03-09T20:00:00Z", &[]); // nothing on the 9th
        tick(&mut h, "2026-03-11T14:00:00Z", &["ny"]); // outside the window: not judged
        report(&mut h, "ny", "2026-03-08", 1); // left one out
        report(&mut h, "ny", "2026-03-09", 1); // counted one that is not there
        let r = TimezoneChecker::new(vec![watch("ny", "America/New_York")])
            .check(&h, &Timeline::default());
        assert_eq!(r.anomaly("charge_at_wrong_local_time"), Some(2));
        assert_eq!(r.anomaly("charge_doubled"), Some(1));
        assert_eq!(r.anomaly("charge_missed"), Some(1));
        assert_eq!(r.anomaly("report_rows_in_wrong_day"), Some(2));
        assert_eq!(r.counted["charges_seen"], 3);
        // The passes that charged late, and the two that charged the same day.
        assert_eq!(r.examples["charge_at_wrong_local_time"].len(), 2);
        assert_eq!(r.examples["charge_doubled"].len(), 1);
        assert_eq!(r.examples["charge_doubled"][0].len(), 2);
    }
}
