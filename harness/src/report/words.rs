//! Runs in words: the verdict as a sentence, a fault as a phrase, a time as seconds. What the
//! pages and the command print, instead of Rust's Debug forms.

use std::time::Duration;

use crate::fault::{Fault, FaultWindow};
use crate::report::{ClassPhrase, Report};

/// A snake-case name as words (`stale_read_after_own_write` → `stale read after own write`).
pub fn words(name: &str) -> String {
    name.replace('_', " ")
}

/// A fault as a phrase: `replica apply delay on pg-replica-0 (delay_ms 3000)`.
pub fn fault_phrase(fault: &Fault) -> String {
    let mut params: Vec<String> = Vec::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(fault) {
        for (k, v) in map {
            match k.as_str() {
                "kind" | "target" | "link" | "component_kind" => {}
                "params" => {
                    if let serde_json::Value::Object(p) = v {
                        params.extend(p.iter().map(|(k, v)| format!("{k} {}", plain(v))));
                    }
                }
                _ => params.push(format!("{k} {}", plain(&v))),
            }
        }
    }
    let head = format!("{} on {}", words(fault.kind()), fault.target());
    if params.is_empty() {
        head
    } else {
        format!("{head} ({})", params.join(", "))
    }
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A fault window in words: what, and from when to when.
pub fn window_phrase(w: &FaultWindow<'_>) -> String {
    let until = match w.end {
        Some(end) => format!("until {}", seconds(end)),
        None => "until the end of the run".to_string(),
    };
    let steps = match w.steps {
        0 => String::new(),
        1 => ", in 1 step".to_string(),
        n => format!(", in {n} steps"),
    };
    format!(
        "{} from {} {until}{steps}",
        fault_phrase(w.fault),
        seconds(w.start)
    )
}

/// A time since the run started, in seconds with milliseconds: `12.345 s`.
pub fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// A duration for a person: `850 ms`, `12.3 s`, `2 min 5 s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// What the checkers found, in one sentence: `48 stale reads after own write (stale read after
/// own write: 48; 48 reads checked) under replica apply delay on pg-replica-0.`
///
/// ```
/// use shakedown::checker::CheckResult;
/// use shakedown::report::{words, Report, WorkloadSummary};
/// use shakedown::Variant;
///
/// let check = CheckResult::builder("read_your_writes")
///     .anomaly("stale_read_after_own_write", 12)
///     .anomaly("non_monotonic_read", 0)
///     .counted("reads_checked", 48)
///     .build();
/// let r = Report::new("replica_lag", Variant::Naive, 1, vec![], WorkloadSummary::default(), vec![check]);
/// assert_eq!(
///     words::findings(&r),
///     "read_your_writes found 12 × stale read after own write, among 48 reads checked."
/// );
/// ```
pub fn findings(report: &Report) -> String {
    findings_phrased(report, &[])
}

/// [`findings`], with the anomaly classes that have a phrase said in it (`12 of 48 reads after
/// the user's own write returned an older profile`) instead of by their names.
///
/// ```
/// use shakedown::checker::{CheckResult, Phrase};
/// use shakedown::report::{words, ClassPhrase, Report, WorkloadSummary};
/// use shakedown::Variant;
///
/// let check = CheckResult::builder("read_your_writes")
///     .anomaly("stale_read_after_own_write", 12)
///     .counted("reads_checked", 48)
///     .build();
/// let r = Report::new("replica_lag", Variant::Naive, 1, vec![], WorkloadSummary::default(), vec![check]);
/// let said = ClassPhrase {
///     checker: "read_your_writes".into(),
///     class: "stale_read_after_own_write".into(),
///     phrase: Phrase { of: Some("reads_checked".into()), text: "reads after the user's own write returned an older profile".into() },
/// };
/// assert_eq!(
///     words::findings_phrased(&r, &[said]),
///     "12 of 48 reads after the user's own write returned an older profile."
/// );
/// ```
pub fn findings_phrased(report: &Report, phrases: &[ClassPhrase]) -> String {
    let mut found: Vec<String> = Vec::new();
    let mut looked: Vec<String> = Vec::new();
    for c in &report.checks {
        let phrase_of = |class: &str| {
            phrases
                .iter()
                .find(|p| p.checker == c.checker && p.class == class)
                .map(|p| &p.phrase)
                .or_else(|| c.phrases.get(class))
        };
        let mut said: Vec<String> = Vec::new();
        let classes: Vec<String> = c
            .anomalies
            .iter()
            .filter(|(_, n)| n.floor() > 0)
            .filter_map(|(k, n)| {
                if let Some(p) = phrase_of(k) {
                    said.push(p.say(*n, &c.counted));
                    return None;
                }
                Some(match n {
                    crate::checker::Count::Exact(n) => format!("{n} × {}", words(k)),
                    crate::checker::Count::AtLeast { at_least } => {
                        format!("at least {at_least} × {}", words(k))
                    }
                })
            })
            .collect();
        found.extend(said.iter().cloned());
        if classes.is_empty() && !said.is_empty() {
            continue;
        }
        let counted: Vec<String> = c
            .counted
            .iter()
            // Dotted names (`phase.<name>.calls`) are details for the checks table.
            .filter(|(k, n)| **n > 0 && !k.contains('.'))
            .map(|(k, n)| format!("{n} {}", words(k)))
            .collect();
        let among = if counted.is_empty() {
            String::new()
        } else {
            format!(", among {}", counted.join(", "))
        };
        if classes.is_empty() {
            let names: Vec<String> = c.anomalies.keys().map(|k| words(k)).collect();
            looked.push(format!(
                "{} found no {}{among}",
                c.checker,
                if names.is_empty() {
                    "anomaly".to_string()
                } else {
                    names.join(" and no ")
                }
            ));
        } else {
            found.push(format!("{} found {}{among}", c.checker, classes.join(", ")));
        }
        if c.validity == crate::checker::Validity::Unknown {
            if let Some(why) = c.notes.last() {
                found.push(format!("{} could not decide: {why}", c.checker));
            }
        }
    }
    let mut all = found;
    all.extend(looked);
    if all.is_empty() {
        "No checker ran.".to_string()
    } else {
        format!("{}.", all.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_as_phrases_with_their_parameters() {
        let f = Fault::component("pg-replica-0", "replica_apply_delay").param("delay_ms", 3000);
        assert_eq!(
            fault_phrase(&f),
            "replica apply delay on pg-replica-0 (delay_ms 3000)"
        );
        let tz = Fault::Timezone {
            target: "db".into(),
            zone: "Europe/Paris".into(),
        };
        assert_eq!(fault_phrase(&tz), "timezone on db (zone Europe/Paris)");
        assert_eq!(
            fault_phrase(&Fault::Partition {
                target: "n1".into()
            }),
            "partition on n1"
        );
    }

    #[test]
    fn durations_read_in_the_unit_a_person_expects() {
        assert_eq!(human(Duration::from_millis(850)), "850 ms");
        assert_eq!(human(Duration::from_millis(12_340)), "12.3 s");
        assert_eq!(human(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.500 s");
    }
}
