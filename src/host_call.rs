//! One call to the host's `kubernetes` capabilities (policy-server or
//! kwctl), with the host's error cut to what a `kubectl` user should read.

use kubewarden_policy_sdk::wapc_guest;
use serde::Serialize;

/// The body of a `kubernetes.get_resource` call: on the wire, field for
/// field, the SDK's `GetResourceRequest`. Borrowed strings and a mask
/// slice instead of the SDK's `String`s and `BTreeSet`: building and
/// serializing a `BTreeSet` cost about 7 KB of `policy.wasm`.
#[derive(Serialize, Debug)]
pub struct GetResourceRequest<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    /// Skip the host's 5-second cache; never set by this policy.
    pub disable_cache: bool,
    /// Sorted and without duplicates, as the SDK's `BTreeSet` sends them.
    pub field_masks: Option<&'a [&'a str]>,
}

/// The body of a `kubernetes.list_resources_by_namespace` call: on the
/// wire, field for field, the SDK's `ListResourcesByNamespaceRequest`.
#[derive(Serialize, Debug)]
pub struct ListResourcesByNamespaceRequest<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub label_selector: Option<&'a str>,
    pub field_selector: Option<&'a str>,
    /// Sorted and without duplicates, as the SDK's `BTreeSet` sends them.
    pub field_masks: Option<&'a [&'a str]>,
}

/// The body of a `kubernetes.list_resources_all` call (cluster-scoped
/// kinds): on the wire, field for field, the SDK's
/// `ListAllResourcesRequest`.
#[derive(Serialize, Debug)]
pub struct ListAllResourcesRequest<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub label_selector: Option<&'a str>,
    pub field_selector: Option<&'a str>,
    /// Sorted and without duplicates, as the SDK's `BTreeSet` sends them.
    pub field_masks: Option<&'a [&'a str]>,
}

/// How a host call reaches the host: waPC in `policy.wasm` ([`Wapc`]), or
/// the `dangling-references` CLI's own host when it runs the policy
/// natively. Errors are worded as the guest reads them from waPC
/// (`Host error: <the host's text>`), so that both give the same messages.
pub trait Transport {
    /// Calls `kubewarden/kubernetes/<operation>` with the JSON `payload`.
    fn kubernetes(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String>;
}

/// Host calls through waPC: what `policy.wasm` uses.
pub struct Wapc;

impl Transport for Wapc {
    fn kubernetes(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        wapc_guest::host_call("kubewarden", "kubernetes", operation, payload)
            .map_err(|e| e.to_string())
    }
}

/// Sends `request` (one of the request bodies above, as JSON) to the host's
/// `kubernetes.<operation>` through `transport`; the answer's bytes, or the
/// host's error as [`summarize_host_error`] cuts it, prefixed as the SDK
/// words it.
pub fn kubernetes(
    transport: &dyn Transport,
    operation: &str,
    request: &impl Serialize,
) -> Result<Vec<u8>, String> {
    let payload = serde_json::to_vec(request)
        .map_err(|e| format!("cannot encode the kubernetes.{operation} request: {e}"))?;
    transport.kubernetes(operation, &payload).map_err(|e| {
        summarize_host_error(&format!(
            "error invoking host capability kubernetes.{operation}: {e}"
        ))
    })
}

/// Longest host error quoted in a message, in bytes.
pub const MAX_HOST_ERROR: usize = 512;

/// The part of a host error worth showing to `kubectl` users: its first
/// line (policy-server under `RUST_BACKTRACE=1` appends a stack backtrace
/// after a blank line), and the next non-empty one when the first ends
/// with `:` (the reason is there when the host's own message starts with a
/// line break); at most [`MAX_HOST_ERROR`] bytes.
pub fn summarize_host_error(error: &str) -> String {
    let mut lines = error.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let line = match lines.next() {
        Some(next) if first.ends_with(':') && next != "Stack backtrace:" => {
            format!("{first} {next}")
        }
        _ => first.to_string(),
    };
    if line.len() <= MAX_HOST_ERROR {
        return line;
    }
    let mut cut = MAX_HOST_ERROR;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &line[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    use kubewarden_policy_sdk::host_capabilities::kubernetes as sdk;

    /// The borrowed request bodies are, on the wire, the SDK's own.
    #[test]
    fn request_bodies_are_the_sdks() {
        let masks = ["binaryData", "data", "metadata.name"];
        let ours = GetResourceRequest {
            api_version: "v1",
            kind: "ConfigMap",
            name: "app",
            namespace: Some("shop"),
            disable_cache: false,
            field_masks: Some(&masks),
        };
        let theirs = sdk::GetResourceRequest {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "app".into(),
            namespace: Some("shop".into()),
            disable_cache: false,
            field_masks: Some(masks.iter().map(|m| m.to_string()).collect()),
        };
        same_wire(&ours, &theirs);
        let ours = ListResourcesByNamespaceRequest {
            api_version: "v1",
            kind: "Service",
            namespace: "shop",
            label_selector: None,
            field_selector: None,
            field_masks: Some(&masks),
        };
        let theirs = sdk::ListResourcesByNamespaceRequest {
            api_version: "v1".into(),
            kind: "Service".into(),
            namespace: "shop".into(),
            label_selector: None,
            field_selector: None,
            field_masks: Some(masks.iter().map(|m| m.to_string()).collect()),
        };
        same_wire(&ours, &theirs);
    }

    fn same_wire(ours: &impl Serialize, theirs: &impl Serialize) {
        assert_eq!(
            serde_json::to_string(ours).unwrap(),
            serde_json::to_string(theirs).unwrap()
        );
    }

    /// A `BTreeSet` sends masks sorted and once each: so must the constants.
    #[test]
    fn field_masks_are_sorted_and_unique() {
        use crate::object_lookup::{
            CONFIG_MAP_FIELD_MASKS, SECRET_FIELD_MASKS, SERVICE_ACCOUNT_FIELD_MASKS,
        };
        use crate::service_lookup::SERVICE_FIELD_MASKS;
        for masks in [
            CONFIG_MAP_FIELD_MASKS,
            SECRET_FIELD_MASKS,
            SERVICE_ACCOUNT_FIELD_MASKS,
            SERVICE_FIELD_MASKS,
        ] {
            assert!(masks.windows(2).all(|w| w[0] < w[1]), "{masks:?}");
        }
    }

    #[test]
    fn host_errors_keep_their_first_line() {
        let with_backtrace = "error invoking host capability kubernetes.list_resources_by_namespace: Host error: Callback evaluation failure: kube::Client was not initialized properly\n\nStack backtrace:\n   0: policy_evaluator::callback\n   1: tokio";
        assert_eq!(
            summarize_host_error(with_backtrace),
            "error invoking host capability kubernetes.list_resources_by_namespace: Host error: Callback evaluation failure: kube::Client was not initialized properly"
        );
        assert_eq!(
            summarize_host_error(
                "error invoking host capability kubernetes.get_resource: Host error: Callback evaluation failure: \n\nfirst line empty\nmore"
            ),
            "error invoking host capability kubernetes.get_resource: Host error: Callback evaluation failure: first line empty"
        );
        assert_eq!(
            summarize_host_error("failure:\n\nStack backtrace:\n   0: x"),
            "failure:"
        );
        let long = "é".repeat(MAX_HOST_ERROR);
        assert!(summarize_host_error(&long).len() <= MAX_HOST_ERROR + '…'.len_utf8());
    }
}
