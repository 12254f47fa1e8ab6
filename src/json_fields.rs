//! Reads the fields of JSON objects by hand, for every JSON the policy
//! reads: the admission request, the Pod spec and the host's answers.
//! Derived deserializers would ship one parser per type in the wasm that
//! every cluster pulls; these few functions over `serde_json::Value`
//! replace them all.
//!
//! Absent and `null` fields are their default; a field of the wrong type
//! is an error naming it (`items[3].spec is not an object`).

use serde_json::{Map, Value};

/// Field `key` of `m`, unless absent or `null`.
pub fn field<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

/// String field `key`; an error when it is not a string.
pub fn string(m: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match field(m, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{key} is not a string")),
    }
}

/// Boolean field `key`; an error when it is not a boolean.
pub fn boolean(m: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match field(m, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("{key} is not a boolean")),
    }
}

/// Object field `key`; an error when it is not an object.
pub fn object<'a>(
    m: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match field(m, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(format!("{key} is not an object")),
    }
}

/// Object field `key` read by `read`; errors are prefixed with `key.`.
pub fn nested<T>(
    m: &Map<String, Value>,
    key: &str,
    read: fn(&Map<String, Value>) -> Result<T, String>,
) -> Result<Option<T>, String> {
    object(m, key)?
        .map(|o| read(o).map_err(|e| format!("{key}.{e}")))
        .transpose()
}

/// List field `key`, every item an object read by `read`; errors are
/// prefixed with `key[i].`; absent is empty.
pub fn list<T>(
    m: &Map<String, Value>,
    key: &str,
    read: fn(&Map<String, Value>) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    match field(m, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(o) => read(o).map_err(|e| format!("{key}[{i}].{e}")),
                _ => Err(format!("{key}[{i}] is not an object")),
            })
            .collect(),
        Some(_) => Err(format!("{key} is not a list")),
    }
}

/// Integer field `key`; an error when it is not an integer in `i32`.
pub fn int32(m: &Map<String, Value>, key: &str) -> Result<Option<i32>, String> {
    match field(m, key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("{key} is not a 32-bit integer")),
    }
}

/// Parses JSON `bytes` that must hold an object. Errors: serde_json's, or
/// "is not a JSON object".
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes).map_err(|e| e.to_string())? {
        Value::Object(m) => Ok(m),
        _ => Err("it is not a JSON object".to_string()),
    }
}
