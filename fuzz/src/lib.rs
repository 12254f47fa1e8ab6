//! Shared by the fuzz targets: the kubelet model of the integration tests
//! (one source for both), and the invariants every verdict must hold. The
//! fake host is the policy crate's own, `test_support::FakeHost` (feature
//! `test-support`).

#[path = "../../tests/support/kubelet.rs"]
pub mod kubelet;

use dangling_references_policy::messages::MAX_LISTED;
use serde_json::Value;

/// What every answer of `validate` must be, whatever the input: a response
/// (never a trap), rejected exactly when it has a message, a code only on
/// rejections, at most [`MAX_LISTED`] warnings plus the count of the rest.
pub fn assert_well_formed(response: &Value) {
    let accepted = response["accepted"]
        .as_bool()
        .unwrap_or_else(|| panic!("no accepted flag: {response}"));
    let message = response.get("message").and_then(Value::as_str);
    if accepted {
        assert!(message.is_none(), "accepted with a message: {response}");
        assert!(
            response.get("code").is_none_or(Value::is_null),
            "accepted with a code: {response}"
        );
    } else {
        assert!(
            message.is_some_and(|m| !m.is_empty()),
            "rejected without a message: {response}"
        );
        assert!(
            response.get("mutated_object").is_none_or(Value::is_null),
            "rejected with a mutation: {response}"
        );
        if let Some(code) = response.get("code").and_then(Value::as_u64) {
            assert!(matches!(code, 400 | 500), "code {code}: {response}");
        }
    }
    if let Some(warnings) = response.get("warnings").and_then(Value::as_array) {
        assert!(
            !warnings.is_empty() && warnings.len() <= MAX_LISTED + 1,
            "{} warnings",
            warnings.len()
        );
    }
}
