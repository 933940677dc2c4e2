//! A run's history in the shape Jepsen's Elle (and `elle-cli --format json`) reads: a JSON array
//! of operations `{"index", "type", "f", "value", "process", "time"}`, `type` one of `invoke`,
//! `ok`, `fail`, `info`, `time` in nanoseconds since the run started. `f` and `value` are the
//! suite's own, unchanged (see the README, "Elle export").

use serde_json::{json, Value};

use crate::report::RunDoc;

/// Every history entry as an Elle operation, in history order.
pub fn export(doc: &RunDoc) -> Value {
    Value::Array(
        doc.ops
            .iter()
            .map(|o| {
                let mut op = json!({
                    "index": o.index,
                    "type": o.kind.as_str(),
                    "f": o.f,
                    "value": o.value,
                    "process": o.process,
                    "time": u64::try_from(o.time.as_nanos()).unwrap_or(u64::MAX),
                });
                if let (Some(node), Some(map)) = (&o.node, op.as_object_mut()) {
                    map.insert("node".into(), json!(node));
                }
                if let (Some(error), Some(map)) = (&o.error, op.as_object_mut()) {
                    map.insert("error".into(), json!(error));
                }
                op
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_becomes_an_elle_op_with_type_f_value_process_and_time() {
        let doc: RunDoc = serde_json::from_value(json!({
            "ops": [
                {"index": 0, "time_ns": 5, "process": 1, "kind": "invoke", "f": "write", "value": {"key": "k", "version": 1}},
                {"index": 1, "time_ns": 9, "process": 1, "kind": "info", "f": "write", "value": {"key": "k", "version": 1}, "error": "timeout"}
            ],
            "timeline": []
        }))
        .unwrap();
        assert_eq!(
            export(&doc),
            json!([
                {"index": 0, "type": "invoke", "f": "write", "value": {"key": "k", "version": 1}, "process": 1, "time": 5},
                {"index": 1, "type": "info", "f": "write", "value": {"key": "k", "version": 1}, "process": 1, "time": 9, "error": "timeout"}
            ])
        );
    }
}
