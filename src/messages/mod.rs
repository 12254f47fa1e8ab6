//! Every message the policy returns is worded here, one submodule per
//! check: the checks return typed findings and never format text, and
//! `render` turns findings into a verdict with these words. This module
//! holds what every message shares: quoting ([`clip`]) and the bound on
//! how much one response lists ([`MAX_LISTED`], [`join_capped`]).

use crate::admission::AdmissionRequest;
use crate::json_tree::Value;

pub use crate::quote::{MAX_LISTED, MAX_QUOTED, clip, join_capped};

pub mod graph;
pub mod kubeconfig;
pub mod routes;
pub mod services;
pub mod workload;

/// The object under review, named for messages: `Deployment ns/name`
/// (`Deployment name` outside a namespace; `generateName*` before the API
/// server names it), and its namespace.
pub fn object(request: &AdmissionRequest, kind: &str) -> (String, String) {
    let meta = |field: &str| {
        request
            .object
            .get("metadata")
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let namespace = meta("namespace")
        .or_else(|| non_empty(&request.namespace))
        .unwrap_or_default();
    let name = meta("name")
        .or_else(|| non_empty(&request.name))
        .or_else(|| meta("generateName").map(|g| format!("{g}*")))
        .unwrap_or_else(|| "<unnamed>".to_string());
    // Quoted in every problem: at most `MAX_QUOTED` bytes each, as every
    // value (a mutating webhook sees names before the API server checks them).
    let described = if namespace.is_empty() {
        format!("{kind} {}", clip(&name))
    } else {
        format!("{kind} {}/{}", clip(&namespace), clip(&name))
    };
    (described, namespace)
}

/// The last warning of a response that lists [`MAX_LISTED`] of them.
pub fn more_warnings(more: usize) -> String {
    format!("and {more} more warning(s)")
}

/// The object under review cannot be read (a 400): `object` names it,
/// `error` says why.
pub fn malformed(object: &str, error: &str) -> String {
    format!("{object}: {error}")
}

/// The payload is not a `validate` request.
pub fn unreadable_request(error: &str) -> String {
    format!("cannot read the admission request: {error}")
}

/// The settings sent with the request are invalid.
pub fn misconfigured(error: &str) -> String {
    format!("the policy is misconfigured: {error}")
}

/// The request names no kind.
pub fn no_kind() -> String {
    "the admission request has no kind".to_string()
}

/// The policy's rules send it a kind it does not check.
pub fn unsupported_kind(
    kind: &str,
    workloads: &[&str],
    routes: &[&str],
    others: &[&str],
) -> String {
    let mut kinds: Vec<&str> = workloads.to_vec();
    kinds.push("ConfigMap");
    kinds.extend_from_slice(routes);
    kinds.extend_from_slice(others);
    let last = kinds.pop().unwrap_or_default();
    format!(
        "this policy validates {} and {last} objects, not {}; check the rules of the policy",
        kinds.join(", "),
        clip(kind)
    )
}
