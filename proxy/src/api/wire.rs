//! Toxiproxy's JSON: field names, units (milliseconds, KB/s, microseconds for the slicer's
//! delay), `"stream"` strings and integer attribute maps. The only place that knows them.
//!
//! Decoding follows Go's `encoding/json` where clients can tell: unknown fields are ignored,
//! field names match case-insensitively, wrong types give `bad request body: json: cannot
//! unmarshal …`. Beyond Toxiproxy: a proxy's `"seed"` (unsigned integer, optional on create
//! and populate, always reported), the `corrupt` toxic's `probability_ppm` attribute, the
//! HTTP toxics (`http_status`: `status` default 503, `body`; `http_delay`: `latency` in ms;
//! `http_drop_response`; all three `method` and `path_prefix`, strings, empty = any), and
//! range checks (negative attributes, toxicity outside 0..=1 and durations over ten years are
//! rejected with 400 instead of being stored).

use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::{Map, Value};

mod attributes;

use attributes::{attribute_names, attribute_values, attributes_of, spec_from, Attr};

use crate::collection::{NewProxy, ProxyInfo, ProxyPatch};
use crate::error::ProxyError;
use crate::spec::{Direction, ToxicConfig, Toxicity};

/// A JSON object from a request body.
pub(crate) type Object = Map<String, Value>;

fn bad(detail: impl Into<String>) -> ProxyError {
    ProxyError::BadRequestBody {
        detail: detail.into(),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "number (fractional)",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn decode(body: &[u8]) -> Result<Value, ProxyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad("EOF"));
    }
    serde_json::from_slice(body).map_err(|e| bad(e.to_string()))
}

/// The body as an object; `go_type` names it in errors the way Go would.
pub(crate) fn object(body: &[u8], go_type: &str) -> Result<Object, ProxyError> {
    match decode(body)? {
        Value::Object(o) => Ok(o),
        other => Err(bad(format!(
            "json: cannot unmarshal {} into Go value of type {go_type}",
            kind_of(&other)
        ))),
    }
}

/// The body as an array of objects (`/populate`).
pub(crate) fn array_of_objects(body: &[u8]) -> Result<Vec<Object>, ProxyError> {
    match decode(body)? {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Object(o) => Ok(o),
                other => Err(bad(format!(
                    "json: cannot unmarshal {} into Go value of type toxiproxy.Proxy",
                    kind_of(&other)
                ))),
            })
            .collect(),
        other => Err(bad(format!(
            "json: cannot unmarshal {} into Go value of type []toxiproxy.Proxy",
            kind_of(&other)
        ))),
    }
}

/// A field by name: exact match first, then case-insensitive (Go's rule). `null` is absent.
pub(crate) fn field<'a>(obj: &'a Object, name: &str) -> Option<&'a Value> {
    obj.get(name)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

fn type_error(v: &Value, go_struct: &str, name: &str, go_type: &str) -> ProxyError {
    bad(format!(
        "json: cannot unmarshal {} into Go struct field {go_struct}.{name} of type {go_type}",
        kind_of(v)
    ))
}

fn string(obj: &Object, name: &str, go_struct: &str) -> Result<Option<String>, ProxyError> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(type_error(v, go_struct, name, "string")),
    }
}

fn boolean(obj: &Object, name: &str, go_struct: &str) -> Result<Option<bool>, ProxyError> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(type_error(v, go_struct, name, "bool")),
    }
}

fn unsigned(obj: &Object, name: &str, go_struct: &str) -> Result<Option<u64>, ProxyError> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(v) => Err(type_error(v, go_struct, name, "uint64")),
    }
}

/// `POST /proxies` and `/populate` entries.
pub(crate) fn new_proxy(obj: &Object) -> Result<NewProxy, ProxyError> {
    Ok(NewProxy {
        name: string(obj, "name", "Proxy")?.unwrap_or_default(),
        listen: string(obj, "listen", "Proxy")?.unwrap_or_default(),
        upstream: string(obj, "upstream", "Proxy")?.unwrap_or_default(),
        enabled: boolean(obj, "enabled", "Proxy")?.unwrap_or(true),
        seed: unsigned(obj, "seed", "Proxy")?,
    })
}

/// `POST`/`PATCH /proxies/{proxy}`.
pub(crate) fn proxy_patch(obj: &Object) -> Result<ProxyPatch, ProxyError> {
    Ok(ProxyPatch {
        listen: string(obj, "listen", "Proxy")?,
        upstream: string(obj, "upstream", "Proxy")?,
        enabled: boolean(obj, "enabled", "Proxy")?,
    })
}

fn toxicity(obj: &Object) -> Result<Option<Toxicity>, ProxyError> {
    match field(obj, "toxicity") {
        None => Ok(None),
        Some(Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            Toxicity::new(f).map(Some)
        }
        Some(v) => Err(type_error(v, "Toxic", "toxicity", "float32")),
    }
}

/// `POST /proxies/{proxy}/toxics`, checked in Toxiproxy's order (body, stream, type, attributes).
/// The name-conflict check (409) comes from the collection, before attributes in Toxiproxy;
/// here attributes are checked first, which only matters when both are wrong.
pub(crate) fn new_toxic(body: &[u8]) -> Result<ToxicConfig, ProxyError> {
    let obj = object(body, "toxics.ToxicWrapper")?;
    let name = string(&obj, "name", "ToxicWrapper")?;
    let stream_text = string(&obj, "stream", "ToxicWrapper")?;
    let type_name = string(&obj, "type", "ToxicWrapper")?.unwrap_or_default();
    let toxicity = toxicity(&obj)?.unwrap_or_default();
    let stream = match &stream_text {
        None => Direction::Downstream,
        Some(s) => s.parse::<Direction>()?,
    };
    if attribute_names(&type_name).is_none() {
        return Err(ProxyError::InvalidToxicType { given: type_name });
    }
    let values = attribute_values(&type_name, field(&obj, "attributes"), &[])?;
    let spec = spec_from(&type_name, &values)?;
    let name = match name {
        Some(n) if !n.is_empty() => n,
        _ => format!("{type_name}_{stream}"),
    };
    Ok(ToxicConfig {
        name,
        stream,
        toxicity,
        spec,
    })
}

/// `PATCH /proxies/{proxy}/toxics/{toxic}`: merges the body into `current`.
pub(crate) fn merge_toxic(current: &ToxicConfig, obj: &Object) -> Result<ToxicConfig, ProxyError> {
    let type_name = current.spec.type_name();
    let toxicity = toxicity(obj)?.unwrap_or(current.toxicity);
    let base = attributes_of(&current.spec);
    let values = attribute_values(type_name, field(obj, "attributes"), &base)?;
    Ok(ToxicConfig {
        name: current.name.clone(),
        stream: current.stream,
        toxicity,
        spec: spec_from(type_name, &values)?,
    })
}

/// Attributes serialised as a JSON object, in the type's order.
#[derive(Debug)]
struct Attributes(Vec<(&'static str, Attr)>);

impl Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A toxic object on the wire.
#[derive(Debug, Serialize)]
pub(crate) struct WireToxic {
    attributes: Attributes,
    name: String,
    #[serde(rename = "type")]
    type_name: &'static str,
    stream: &'static str,
    toxicity: f32,
}

impl From<&ToxicConfig> for WireToxic {
    fn from(t: &ToxicConfig) -> Self {
        WireToxic {
            attributes: Attributes(attributes_of(&t.spec)),
            name: t.name.clone(),
            type_name: t.spec.type_name(),
            stream: t.stream.as_str(),
            toxicity: t.toxicity.get() as f32,
        }
    }
}

#[derive(Debug, Serialize)]
struct Empty {}

/// A proxy object on the wire.
#[derive(Debug, Serialize)]
pub(crate) struct WireProxy {
    name: String,
    listen: String,
    upstream: String,
    enabled: bool,
    #[serde(rename = "Logger")]
    logger: Empty,
    toxics: Vec<WireToxic>,
    seed: u64,
}

impl From<&ProxyInfo> for WireProxy {
    fn from(p: &ProxyInfo) -> Self {
        WireProxy {
            name: p.name.clone(),
            listen: p.listen.clone(),
            upstream: p.upstream.clone(),
            enabled: p.enabled,
            logger: Empty {},
            toxics: p.toxics.iter().map(WireToxic::from).collect(),
            seed: p.seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HttpMatch, ToxicSpec};
    use std::time::Duration;

    #[test]
    fn toxic_defaults_follow_toxiproxy() {
        let t = new_toxic(br#"{"type":"latency","attributes":{"latency":10}}"#).unwrap();
        assert_eq!(t.name, "latency_downstream");
        assert_eq!(t.stream, Direction::Downstream);
        assert_eq!(t.toxicity, Toxicity::ALWAYS);
        assert_eq!(
            t.spec,
            ToxicSpec::Latency {
                latency: Duration::from_millis(10),
                jitter: Duration::ZERO
            }
        );
    }

    #[test]
    fn fields_match_case_insensitively() {
        let t = new_toxic(br#"{"Type":"limit_data","STREAM":"UpStream","Attributes":{"Bytes":5}}"#)
            .unwrap();
        assert_eq!(t.stream, Direction::Upstream);
        assert_eq!(t.spec, ToxicSpec::LimitData { bytes: 5 });
    }

    #[test]
    fn bad_values_are_rejected_with_bad_request_body() {
        for body in [
            &br#"{"type":"latency","attributes":{"latency":-1}}"#[..],
            br#"{"type":"latency","attributes":{"latency":1.5}}"#,
            br#"{"type":"latency","attributes":{"latency":"1"}}"#,
            br#"{"type":"latency","attributes":{"latency":99999999999999999999}}"#,
            br#"{"type":"latency","attributes":{"latency":18446744073709551615}}"#,
            br#"{"type":"latency","toxicity":2.5}"#,
            br#"{"type":"latency","toxicity":"x"}"#,
            br#"{"type":"corrupt","attributes":{"probability_ppm":1000001}}"#,
            br#"["not","an","object"]"#,
            b"{not json",
            b"",
        ] {
            let err = new_toxic(body).unwrap_err();
            assert_eq!(err.status(), 400, "{}", String::from_utf8_lossy(body));
            assert!(
                err.api_message().starts_with("bad request body: "),
                "{}",
                err.api_message()
            );
        }
        assert_eq!(
            new_toxic(b"").unwrap_err().api_message(),
            "bad request body: EOF"
        );
    }

    #[test]
    fn unknown_type_and_stream_use_toxiproxy_strings() {
        let err = new_toxic(br#"{"type":"latancy"}"#).unwrap_err();
        assert_eq!(err.api_message(), "invalid toxic type");
        let err = new_toxic(br#"{"type":"latency","stream":""}"#).unwrap_err();
        assert_eq!(
            err.api_message(),
            "stream was invalid, can be either upstream or downstream"
        );
    }

    #[test]
    fn merge_changes_only_sent_keys() {
        let current = new_toxic(
            br#"{"type":"latency","toxicity":0.5,"attributes":{"latency":10,"jitter":3}}"#,
        )
        .unwrap();
        let patch = object(br#"{"attributes":{"jitter":7}}"#, "x").unwrap();
        let merged = merge_toxic(&current, &patch).unwrap();
        assert_eq!(
            attributes_of(&merged.spec),
            vec![("latency", Attr::Int(10)), ("jitter", Attr::Int(7))]
        );
        assert_eq!(merged.toxicity.get(), 0.5);
    }

    #[test]
    fn http_toxics_take_string_attributes_with_defaults() {
        let t = new_toxic(br#"{"type":"http_status","attributes":{"path_prefix":"/p"}}"#).unwrap();
        assert_eq!(
            t.spec,
            ToxicSpec::HttpStatus {
                status: 503,
                body: String::new(),
                matcher: HttpMatch {
                    method: String::new(),
                    path_prefix: "/p".into()
                },
            }
        );
        let patch = object(br#"{"attributes":{"method":"GET","status":404}}"#, "x").unwrap();
        let merged = merge_toxic(&t, &patch).unwrap();
        assert_eq!(
            attributes_of(&merged.spec),
            vec![
                ("status", Attr::Int(404)),
                ("body", Attr::Text(String::new())),
                ("method", Attr::Text("GET".into())),
                ("path_prefix", Attr::Text("/p".into())),
            ]
        );
        for body in [
            &br#"{"type":"http_status","attributes":{"status":70000}}"#[..],
            br#"{"type":"http_status","attributes":{"status":100}}"#,
            br#"{"type":"http_delay","attributes":{"method":["GET"]}}"#,
        ] {
            let err = new_toxic(body).unwrap_err();
            assert_eq!(err.status(), 400, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn wire_toxic_shape_matches_toxiproxy() {
        let t = new_toxic(br#"{"type":"latency","attributes":{"latency":1000}}"#).unwrap();
        let json = serde_json::to_string(&WireToxic::from(&t)).unwrap();
        assert_eq!(
            json,
            r#"{"attributes":{"latency":1000,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1.0}"#
        );
    }
}
