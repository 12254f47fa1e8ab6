//! Reads the fields of JSON objects by hand, for every JSON the policy
//! reads: the admission request, the Pod spec and the host's answers.
//! Derived deserializers would ship one parser per type in the wasm that
//! every cluster pulls; these few functions over [`crate::json_tree`]
//! replace them all.
//!
//! Absent and `null` fields are their default; a field of the wrong type
//! is an error naming it (`items[3].spec is not an object`).

use crate::json_tree::{Map, Value};

/// Field `key` of `m`, unless absent or `null`.
pub fn field<'a, 'j>(m: &'a Map<'j>, key: &str) -> Option<&'a Value<'j>> {
    m.get(key).filter(|v| !v.is_null())
}

/// String field `key`; an error when it is not a string.
pub fn string(m: &Map, key: &str) -> Result<Option<String>, String> {
    match field(m, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.to_string())),
        Some(_) => Err(format!("{key} is not a string")),
    }
}

/// Boolean field `key`; an error when it is not a boolean.
pub fn boolean(m: &Map, key: &str) -> Result<Option<bool>, String> {
    match field(m, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("{key} is not a boolean")),
    }
}

/// Object field `key`; an error when it is not an object.
pub fn object<'a, 'j>(m: &'a Map<'j>, key: &str) -> Result<Option<&'a Map<'j>>, String> {
    match field(m, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(format!("{key} is not an object")),
    }
}

/// Object field `key` read by `read`; errors are prefixed with `key.`.
pub fn nested<T>(
    m: &Map,
    key: &str,
    read: fn(&Map) -> Result<T, String>,
) -> Result<Option<T>, String> {
    object(m, key)?
        .map(|o| read(o).map_err(|e| within(key, None, e)))
        .transpose()
}

/// List field `key`, every item an object read by `read`; errors are
/// prefixed with `key[i].`; absent is empty.
pub fn list<T>(m: &Map, key: &str, read: fn(&Map) -> Result<T, String>) -> Result<Vec<T>, String> {
    items(m, key)?
        .iter()
        .enumerate()
        .map(|(i, item)| read(item_object(key, i, item)?).map_err(|e| within(key, Some(i), e)))
        .collect()
}

// What `nested` and `list` share, apart from the type they read: one copy
// in the module, where each of their many instances had its own.

/// The items of list field `key` (none when absent).
#[inline(never)]
fn items<'a, 'j>(m: &'a Map<'j>, key: &str) -> Result<&'a [Value<'j>], String> {
    match field(m, key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("{key} is not a list")),
    }
}

/// Item `i` of list field `key`, which must be an object.
#[inline(never)]
fn item_object<'a, 'j>(key: &str, i: usize, item: &'a Value<'j>) -> Result<&'a Map<'j>, String> {
    item.as_object()
        .ok_or_else(|| format!("{key}[{i}] is not an object"))
}

/// `error` of field `key` (item `i` of it, for a list), prefixed with
/// where it is: `key.error` or `key[i].error`.
#[inline(never)]
fn within(key: &str, i: Option<usize>, error: String) -> String {
    match i {
        Some(i) => format!("{key}[{i}].{error}"),
        None => format!("{key}.{error}"),
    }
}

/// Integer field `key`; an error when it is not an integer in `i32`.
pub fn int32(m: &Map, key: &str) -> Result<Option<i32>, String> {
    match field(m, key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("{key} is not a 32-bit integer")),
    }
}

/// Parses JSON `bytes` that must hold an object, with serde_json alone
/// (the reference the pull reader's fast paths are held to). Errors:
/// serde_json's, or "is not a JSON object".
pub fn parse_object(bytes: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_slice(bytes).map_err(|e| e.to_string())? {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err("it is not a JSON object".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn fields(v: serde_json::Value) -> Map<'static> {
        Value::from(&v).into_owned().as_object().cloned().unwrap()
    }

    fn name_of(m: &Map) -> Result<String, String> {
        Ok(string(m, "name")?.unwrap_or_default())
    }

    #[rstest]
    #[case::present(json!({"k": "v"}), Ok(Some("v".to_string())))]
    #[case::absent(json!({}), Ok(None))]
    #[case::null(json!({"k": null}), Ok(None))]
    #[case::wrong_type(json!({"k": 1}), Err("k is not a string".to_string()))]
    fn strings(#[case] m: serde_json::Value, #[case] expected: Result<Option<String>, String>) {
        assert_eq!(string(&fields(m), "k"), expected);
    }

    #[rstest]
    #[case::present(json!({"k": true}), Ok(Some(true)))]
    #[case::absent(json!({}), Ok(None))]
    #[case::wrong_type(json!({"k": "true"}), Err("k is not a boolean".to_string()))]
    fn booleans(#[case] m: serde_json::Value, #[case] expected: Result<Option<bool>, String>) {
        assert_eq!(boolean(&fields(m), "k"), expected);
    }

    #[rstest]
    #[case::present(json!({"k": 8080}), Ok(Some(8080)))]
    #[case::negative(json!({"k": -1}), Ok(Some(-1)))]
    #[case::absent(json!({"k": null}), Ok(None))]
    #[case::too_big(json!({"k": 4_294_967_296_i64}), Err("k is not a 32-bit integer".to_string()))]
    #[case::float(json!({"k": 80.5}), Err("k is not a 32-bit integer".to_string()))]
    #[case::string(json!({"k": "80"}), Err("k is not a 32-bit integer".to_string()))]
    fn integers(#[case] m: serde_json::Value, #[case] expected: Result<Option<i32>, String>) {
        assert_eq!(int32(&fields(m), "k"), expected);
    }

    #[rstest]
    #[case::items(json!({"items": [{"name": "a"}, {"name": "b"}]}), Ok(vec!["a".to_string(), "b".to_string()]))]
    #[case::absent(json!({}), Ok(vec![]))]
    #[case::not_a_list(json!({"items": {}}), Err("items is not a list".to_string()))]
    #[case::item_not_an_object(json!({"items": [{"name": "a"}, 1]}), Err("items[1] is not an object".to_string()))]
    #[case::item_field_wrong(json!({"items": [{"name": 1}]}), Err("items[0].name is not a string".to_string()))]
    fn lists(#[case] m: serde_json::Value, #[case] expected: Result<Vec<String>, String>) {
        assert_eq!(list(&fields(m), "items", name_of), expected);
    }

    #[rstest]
    #[case::present(json!({"metadata": {"name": "a"}}), Ok(Some("a".to_string())))]
    #[case::absent(json!({}), Ok(None))]
    #[case::not_an_object(json!({"metadata": []}), Err("metadata is not an object".to_string()))]
    #[case::inner_wrong(json!({"metadata": {"name": false}}), Err("metadata.name is not a string".to_string()))]
    fn nested_objects(
        #[case] m: serde_json::Value,
        #[case] expected: Result<Option<String>, String>,
    ) {
        assert_eq!(nested(&fields(m), "metadata", name_of), expected);
    }

    #[rstest]
    #[case::object(b"{\"a\": 1}".as_slice(), Ok(1))]
    #[case::array(b"[1]".as_slice(), Err("it is not a JSON object"))]
    #[case::null(b"null".as_slice(), Err("it is not a JSON object"))]
    #[case::not_json(b"{".as_slice(), Err("EOF while parsing"))]
    fn objects(#[case] bytes: &[u8], #[case] expected: Result<usize, &str>) {
        match (parse_object(bytes), expected) {
            (Ok(m), Ok(len)) => assert_eq!(m.len(), len),
            (Err(e), Err(wanted)) => assert!(e.contains(wanted), "{e}"),
            (got, wanted) => panic!("{got:?} is not {wanted:?}"),
        }
    }
}
