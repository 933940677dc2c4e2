//! Toxic attributes in wire units: which each type has, their kinds (integers; strings for
//! the HTTP toxics) and defaults, read into a [`ToxicSpec`] and written back.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::{field, kind_of, type_error};
use crate::error::ProxyError;
use crate::spec::{HttpMatch, ToxicSpec, Toxicity};

/// An attribute value: Toxiproxy's are integers; the HTTP toxics also have strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Attr {
    /// An unsigned integer.
    Int(u64),
    /// A string (`body`, `method`, `path_prefix`).
    Text(String),
}

impl Serialize for Attr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Attr::Int(v) => s.serialize_u64(*v),
            Attr::Text(t) => s.serialize_str(t),
        }
    }
}

/// Which kind of value an attribute takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Text,
}

/// Attribute names of each type and their kinds. Missing integers default to 0 (`status`:
/// 503), missing strings to empty.
pub(super) fn attribute_names(type_name: &str) -> Option<&'static [(&'static str, Kind)]> {
    use Kind::{Int, Text};
    Some(match type_name {
        "latency" => &[("latency", Int), ("jitter", Int)],
        "bandwidth" => &[("rate", Int)],
        "slow_close" => &[("delay", Int)],
        "timeout" | "reset_peer" => &[("timeout", Int)],
        "slicer" => &[
            ("average_size", Int),
            ("size_variation", Int),
            ("delay", Int),
        ],
        "limit_data" => &[("bytes", Int)],
        "noop" => &[],
        "corrupt" => &[("probability_ppm", Int)],
        "http_status" => &[
            ("status", Int),
            ("body", Text),
            ("method", Text),
            ("path_prefix", Text),
        ],
        "http_delay" => &[("latency", Int), ("method", Text), ("path_prefix", Text)],
        "http_drop_response" => &[("method", Text), ("path_prefix", Text)],
        _ => return None,
    })
}

fn integer(name: &str, value: &Value) -> Result<u64, ProxyError> {
    match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(v), _) => Ok(v),
            (None, Some(neg)) => Err(ProxyError::InvalidAttribute {
                attribute: name.into(),
                detail: format!("{neg} is negative (use 0 or a positive integer)"),
            }),
            _ => Err(ProxyError::InvalidAttribute {
                attribute: name.into(),
                detail: format!("{n} is not an integer (use a whole number)"),
            }),
        },
        v => Err(ProxyError::InvalidAttribute {
            attribute: name.into(),
            detail: format!("expected an integer, got {}", kind_of(v)),
        }),
    }
}

/// Reads the known attributes of `type_name` from `attrs` over `base` (merge update). An
/// attribute neither sent nor in `base` is left out (its default applies).
pub(super) fn attribute_values(
    type_name: &str,
    attrs: Option<&Value>,
    base: &[(&'static str, Attr)],
) -> Result<Vec<(&'static str, Attr)>, ProxyError> {
    let names = attribute_names(type_name).ok_or_else(|| ProxyError::InvalidToxicType {
        given: type_name.into(),
    })?;
    let obj = match attrs {
        None => None,
        Some(Value::Object(o)) => Some(o),
        Some(v) => return Err(type_error(v, "Toxic", "attributes", "map")),
    };
    let mut out = Vec::with_capacity(names.len());
    for &(name, kind) in names {
        let value = match (obj.and_then(|o| field(o, name)), kind) {
            (None, _) => match base.iter().find(|(k, _)| *k == name) {
                Some((_, old)) => old.clone(),
                None => continue,
            },
            (Some(v), Kind::Int) => Attr::Int(integer(name, v)?),
            (Some(Value::String(t)), Kind::Text) => Attr::Text(t.clone()),
            (Some(v), Kind::Text) => {
                return Err(ProxyError::InvalidAttribute {
                    attribute: name.into(),
                    detail: format!("expected a string, got {}", kind_of(v)),
                })
            }
        };
        out.push((name, value));
    }
    Ok(out)
}

fn find<'a>(values: &'a [(&'static str, Attr)], name: &str) -> Option<&'a Attr> {
    values.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn get(values: &[(&'static str, Attr)], name: &str) -> u64 {
    match find(values, name) {
        Some(Attr::Int(v)) => *v,
        _ => 0,
    }
}

fn text(values: &[(&'static str, Attr)], name: &str) -> String {
    match find(values, name) {
        Some(Attr::Text(t)) => t.clone(),
        _ => String::new(),
    }
}

fn http_match(v: &[(&'static str, Attr)]) -> HttpMatch {
    HttpMatch {
        method: text(v, "method"),
        path_prefix: text(v, "path_prefix"),
    }
}

pub(super) fn spec_from(
    type_name: &str,
    v: &[(&'static str, Attr)],
) -> Result<ToxicSpec, ProxyError> {
    let ms = |name| Duration::from_millis(get(v, name));
    let spec = match type_name {
        "latency" => ToxicSpec::Latency {
            latency: ms("latency"),
            jitter: ms("jitter"),
        },
        "bandwidth" => ToxicSpec::Bandwidth {
            rate_kb_per_s: get(v, "rate"),
        },
        "slow_close" => ToxicSpec::SlowClose { delay: ms("delay") },
        "timeout" => ToxicSpec::Timeout {
            timeout: ms("timeout"),
        },
        "reset_peer" => ToxicSpec::ResetPeer {
            timeout: ms("timeout"),
        },
        "slicer" => ToxicSpec::Slicer {
            average_size: get(v, "average_size"),
            size_variation: get(v, "size_variation"),
            delay: Duration::from_micros(get(v, "delay")),
        },
        "limit_data" => ToxicSpec::LimitData {
            bytes: get(v, "bytes"),
        },
        "noop" => ToxicSpec::Noop,
        "corrupt" => {
            let ppm = get(v, "probability_ppm");
            if ppm > 1_000_000 {
                return Err(ProxyError::InvalidAttribute {
                    attribute: "probability_ppm".into(),
                    detail: format!("{ppm} is above 1000000 (parts per million)"),
                });
            }
            ToxicSpec::Corrupt {
                probability: Toxicity::new(ppm as f64 / 1e6)?,
            }
        }
        "http_status" => {
            let status = match find(v, "status") {
                Some(Attr::Int(s)) => *s,
                _ => 503,
            };
            ToxicSpec::HttpStatus {
                // Out of range values become 0, which `validate` rejects with the value.
                status: u16::try_from(status).unwrap_or(0),
                body: text(v, "body"),
                matcher: http_match(v),
            }
        }
        "http_delay" => ToxicSpec::HttpDelay {
            latency: ms("latency"),
            matcher: http_match(v),
        },
        "http_drop_response" => ToxicSpec::HttpDropResponse {
            matcher: http_match(v),
        },
        other => {
            return Err(ProxyError::InvalidToxicType {
                given: other.into(),
            })
        }
    };
    spec.validate()?;
    Ok(spec)
}

/// A spec's attributes in wire units.
pub(super) fn attributes_of(spec: &ToxicSpec) -> Vec<(&'static str, Attr)> {
    let ms = |d: &Duration| Attr::Int(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let http = |m: &HttpMatch| {
        [
            ("method", Attr::Text(m.method.clone())),
            ("path_prefix", Attr::Text(m.path_prefix.clone())),
        ]
    };
    match spec {
        ToxicSpec::Latency { latency, jitter } => {
            vec![("latency", ms(latency)), ("jitter", ms(jitter))]
        }
        ToxicSpec::Bandwidth { rate_kb_per_s } => vec![("rate", Attr::Int(*rate_kb_per_s))],
        ToxicSpec::SlowClose { delay } => vec![("delay", ms(delay))],
        ToxicSpec::Timeout { timeout } | ToxicSpec::ResetPeer { timeout } => {
            vec![("timeout", ms(timeout))]
        }
        ToxicSpec::Slicer {
            average_size,
            size_variation,
            delay,
        } => vec![
            ("average_size", Attr::Int(*average_size)),
            ("size_variation", Attr::Int(*size_variation)),
            (
                "delay",
                Attr::Int(u64::try_from(delay.as_micros()).unwrap_or(u64::MAX)),
            ),
        ],
        ToxicSpec::LimitData { bytes } => vec![("bytes", Attr::Int(*bytes))],
        ToxicSpec::Noop => vec![],
        ToxicSpec::Corrupt { probability } => {
            vec![(
                "probability_ppm",
                Attr::Int((probability.get() * 1e6).round() as u64),
            )]
        }
        ToxicSpec::HttpStatus {
            status,
            body,
            matcher,
        } => {
            let mut v = vec![
                ("status", Attr::Int(u64::from(*status))),
                ("body", Attr::Text(body.clone())),
            ];
            v.extend(http(matcher));
            v
        }
        ToxicSpec::HttpDelay { latency, matcher } => {
            let mut v = vec![("latency", ms(latency))];
            v.extend(http(matcher));
            v
        }
        ToxicSpec::HttpDropResponse { matcher } => http(matcher).to_vec(),
    }
}
