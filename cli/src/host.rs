//! Host side of the waPC conversation: the [`HostCapabilities`] trait that
//! answers the guest's `__host_call`s, the typed Kubernetes requests the SDK
//! sends, and the dispatcher that mirrors policy-evaluator's `host_callback`
//! (binding/namespace/operation routing, access checks and error wrapping).

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Answers the host calls a policy makes while it is being evaluated.
///
/// `binding`, `namespace` and `operation` are the three strings the guest
/// passes to `__host_call` (for the Kubernetes capabilities: `"kubewarden"`,
/// `"kubernetes"` and one of `list_resources_by_namespace`,
/// `list_resources_all`, `get_resource`); `payload` is the request the SDK
/// serialised (see [`KubernetesRequest`]).
///
/// A host states what is its own in [`HostCapabilities::respond`] (the
/// answer to one [`GuestCall`], or a [`Refusal`] that says whether the
/// failure is the host's ordinary answer or a violation) and where it keeps
/// its violations ([`HostCapabilities::record_violation`],
/// [`HostCapabilities::violations`]); [`HostCapabilities::call`], which the
/// dispatcher calls, does the rest.
///
/// `Ok(bytes)` is handed to the guest verbatim. An error makes the host
/// call fail; like policy-evaluator, the dispatcher hands the guest
/// `Callback evaluation failure: <message>` for the `kubernetes`, `oci`,
/// `net` and `crypto` namespaces (the SDK then reports
/// `error invoking host capability kubernetes.<op>: Host error: Callback evaluation failure: <message>`).
pub trait HostCapabilities {
    /// Answers one host call: the bytes handed to the guest, or why not.
    fn respond(&mut self, call: &GuestCall<'_>) -> Result<Vec<u8>, Refusal>;

    /// Keeps a violation that [`HostCapabilities::respond`] refused a call
    /// with, for [`HostCapabilities::violations`].
    fn record_violation(&mut self, violation: String);

    /// Problems of the *test set-up* seen so far (a host call the test did
    /// not expect, a replay mismatch, ...), oldest first.
    ///
    /// The guest still receives an error for such a call, but because a
    /// policy may turn host errors into an ordinary rejection,
    /// [`crate::Policy::validate`] additionally turns every violation that
    /// appeared during an evaluation into an `Err`, so a test can never pass
    /// by accident. Legitimate host errors (a recorded `type: Error`
    /// response, a missing object in a [`crate::ClusterState`]) are not
    /// violations.
    fn violations(&self) -> &[String];

    /// Answers one host call: [`HostCapabilities::respond`], with a
    /// [`Refusal::Violation`] recorded before the guest receives its
    /// message as the error.
    fn call(
        &mut self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        let call = GuestCall {
            binding,
            namespace,
            operation,
            payload,
        };
        self.respond(&call).map_err(|refusal| match refusal {
            Refusal::Host(message) => message,
            Refusal::Violation(message) => {
                self.record_violation(message.clone());
                message
            }
        })
    }
}

impl<T: HostCapabilities + ?Sized> HostCapabilities for &mut T {
    fn respond(&mut self, call: &GuestCall<'_>) -> Result<Vec<u8>, Refusal> {
        (**self).respond(call)
    }

    fn record_violation(&mut self, violation: String) {
        (**self).record_violation(violation);
    }

    fn violations(&self) -> &[String] {
        (**self).violations()
    }
}

impl<T: HostCapabilities + ?Sized> HostCapabilities for Box<T> {
    fn respond(&mut self, call: &GuestCall<'_>) -> Result<Vec<u8>, Refusal> {
        (**self).respond(call)
    }

    fn record_violation(&mut self, violation: String) {
        (**self).record_violation(violation);
    }

    fn violations(&self) -> &[String] {
        (**self).violations()
    }
}

/// One host call as the guest makes it: the three strings it passes to
/// `__host_call` and the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestCall<'a> {
    /// waPC binding, `"kubewarden"` for every Kubewarden capability.
    pub binding: &'a str,
    /// waPC namespace, e.g. `"kubernetes"`.
    pub namespace: &'a str,
    /// waPC operation, e.g. `"list_resources_by_namespace"`.
    pub operation: &'a str,
    /// The request the SDK serialised.
    pub payload: &'a [u8],
}

impl GuestCall<'_> {
    /// `binding/namespace/operation`, for messages.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.binding, self.namespace, self.operation)
    }

    /// The payload as text (lossy UTF-8), for messages.
    pub fn payload_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.payload)
    }

    /// The Kubernetes request of this call (see
    /// [`KubernetesRequest::from_wapc_call`]): `Ok(None)` for any other
    /// capability, `Err` with serde's message when the payload does not
    /// parse.
    pub fn kubernetes_request(&self) -> Result<Option<KubernetesRequest>, String> {
        KubernetesRequest::from_wapc_call(
            self.binding,
            self.namespace,
            self.operation,
            self.payload,
        )
    }

    /// The Kubernetes request of this call, for a host that answers those
    /// only: a call of another capability is the violation `unsupported`
    /// words; a payload that does not parse is the host error serde's
    /// message, as policy-evaluator answers.
    pub fn kubernetes_only(
        &self,
        unsupported: impl FnOnce(&Self) -> String,
    ) -> Result<KubernetesRequest, Refusal> {
        match self.kubernetes_request() {
            Ok(Some(request)) => Ok(request),
            Ok(None) => Err(Refusal::Violation(unsupported(self))),
            Err(e) => Err(Refusal::Host(e)),
        }
    }
}

/// Why a host call got no answer: the message the guest receives as the
/// error, and whether it is a violation of the test set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// What the real host would answer (a missing object, a recorded
    /// `type: Error` response, a payload that does not parse): an ordinary
    /// host error, for the policy to handle.
    Host(String),
    /// A problem of the test set-up (an unexpected call, a replay mismatch,
    /// a call a model cannot answer): the guest receives it as a host error
    /// too, and the host records it (see [`HostCapabilities::violations`]).
    Violation(String),
}

impl Refusal {
    /// The message the guest receives.
    pub fn message(&self) -> &str {
        match self {
            Refusal::Host(message) | Refusal::Violation(message) => message,
        }
    }
}

/// `value` as the JSON bytes of an answer.
pub(crate) fn json_answer(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a Value always serialises")
}

/// One host call made by the guest, as seen by the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostCall {
    /// waPC binding, `"kubewarden"` for every Kubewarden capability.
    pub binding: String,
    /// waPC namespace, e.g. `"kubernetes"`.
    pub namespace: String,
    /// waPC operation, e.g. `"list_resources_by_namespace"`.
    pub operation: String,
    /// The request payload, parsed as JSON (a JSON string holding the lossy
    /// UTF-8 text if the payload was not JSON).
    pub payload: Value,
    /// `None` if the call succeeded, else the error text the guest received
    /// (after the dispatcher's wrapping, see [`HostCapabilities`]).
    pub error: Option<String>,
}

impl HostCall {
    /// `binding/namespace/operation`, handy in assertion messages.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.binding, self.namespace, self.operation)
    }

    /// The request as a typed [`KubernetesRequest`], if this was one of the
    /// Kubernetes calls and its payload parses.
    pub fn kubernetes_request(&self) -> Option<KubernetesRequest> {
        if self.binding != "kubewarden" || self.namespace != "kubernetes" {
            return None;
        }
        let bytes = serde_json::to_vec(&self.payload).ok()?;
        KubernetesRequest::from_host_call(&self.operation, &bytes)
            .ok()
            .flatten()
    }
}

/// A host with no capabilities: every call fails loudly and is recorded as a
/// violation. The default for evaluations that must not reach the cluster.
#[derive(Debug, Default, Clone)]
pub struct NoHost {
    violations: Vec<String>,
}

impl NoHost {
    /// A fresh `NoHost` that has seen no call.
    pub fn new() -> Self {
        Self::default()
    }
}

impl HostCapabilities for NoHost {
    fn respond(&mut self, call: &GuestCall<'_>) -> Result<Vec<u8>, Refusal> {
        Err(Refusal::Violation(format!(
            "policy made an unexpected host call {} with payload {}: \
             this evaluation has no host capabilities (NoHost)",
            call.path(),
            call.payload_text()
        )))
    }

    fn record_violation(&mut self, violation: String) {
        self.violations.push(violation);
    }

    fn violations(&self) -> &[String] {
        &self.violations
    }
}

/// The three Kubernetes requests of kubewarden-policy-sdk 0.17, in the shape
/// of policy-evaluator's `CallbackRequestType` (same variant and field
/// names), so that it (de)serialises to the YAML tags kwctl writes in a
/// `--record-host-capabilities-interactions` session and compares the way
/// kwctl's replay compares (`field_masks` is a set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KubernetesRequest {
    /// `kubernetes/list_resources_by_namespace`.
    KubernetesListResourceNamespace {
        /// apiVersion of the resource, e.g. `v1`.
        api_version: String,
        /// Kind, e.g. `Service`.
        kind: String,
        /// Namespace to list.
        namespace: String,
        /// Optional label selector.
        label_selector: Option<String>,
        /// Optional field selector.
        field_selector: Option<String>,
        /// Optional field masks (dotted paths).
        field_masks: Option<BTreeSet<String>>,
    },
    /// `kubernetes/list_resources_all`.
    KubernetesListResourceAll {
        /// apiVersion of the resource, e.g. `v1`.
        api_version: String,
        /// Kind, e.g. `Namespace`.
        kind: String,
        /// Optional label selector.
        label_selector: Option<String>,
        /// Optional field selector.
        field_selector: Option<String>,
        /// Optional field masks (dotted paths).
        field_masks: Option<BTreeSet<String>>,
    },
    /// `kubernetes/get_resource`.
    KubernetesGetResource {
        /// apiVersion of the resource, e.g. `v1`.
        api_version: String,
        /// Kind, e.g. `Service`.
        kind: String,
        /// Object name.
        name: String,
        /// Namespace, `None` for cluster-scoped kinds.
        namespace: Option<String>,
        /// Whether the policy asked to bypass the host cache.
        disable_cache: bool,
        /// Optional field masks (dotted paths).
        field_masks: Option<BTreeSet<String>>,
    },
}

// The SDK's request structs (kubewarden-policy-sdk 0.17
// host_capabilities::kubernetes), used to parse the guest's payload exactly
// the way policy-evaluator does (missing `Option` fields are `None`, unknown
// fields are ignored, the others are required).
#[derive(Deserialize, Serialize)]
struct ListResourcesByNamespaceRequest {
    api_version: String,
    kind: String,
    namespace: String,
    label_selector: Option<String>,
    field_selector: Option<String>,
    field_masks: Option<BTreeSet<String>>,
}

#[derive(Deserialize, Serialize)]
struct ListAllResourcesRequest {
    api_version: String,
    kind: String,
    label_selector: Option<String>,
    field_selector: Option<String>,
    field_masks: Option<BTreeSet<String>>,
}

#[derive(Deserialize, Serialize)]
struct GetResourceRequest {
    api_version: String,
    kind: String,
    name: String,
    namespace: Option<String>,
    disable_cache: bool,
    field_masks: Option<BTreeSet<String>>,
}

impl KubernetesRequest {
    /// Parses any waPC host call: `Ok(None)` unless it is one of the three
    /// supported `kubewarden/kubernetes/<operation>` calls (see
    /// [`KubernetesRequest::from_host_call`]).
    pub fn from_wapc_call(
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Option<Self>, String> {
        if binding == "kubewarden" && namespace == "kubernetes" {
            Self::from_host_call(operation, payload)
        } else {
            Ok(None)
        }
    }

    /// Parses the payload of a `kubewarden/kubernetes/<operation>` host call.
    ///
    /// `Ok(None)` for operations that are not one of the three supported
    /// ones (e.g. `can_i`); `Err` with serde's message (the text
    /// policy-evaluator hands the guest) if the payload does not parse.
    pub fn from_host_call(operation: &str, payload: &[u8]) -> Result<Option<Self>, String> {
        let req = match operation {
            "list_resources_by_namespace" => {
                let r: ListResourcesByNamespaceRequest =
                    serde_json::from_slice(payload).map_err(|e| e.to_string())?;
                KubernetesRequest::KubernetesListResourceNamespace {
                    api_version: r.api_version,
                    kind: r.kind,
                    namespace: r.namespace,
                    label_selector: r.label_selector,
                    field_selector: r.field_selector,
                    field_masks: r.field_masks,
                }
            }
            "list_resources_all" => {
                let r: ListAllResourcesRequest =
                    serde_json::from_slice(payload).map_err(|e| e.to_string())?;
                KubernetesRequest::KubernetesListResourceAll {
                    api_version: r.api_version,
                    kind: r.kind,
                    label_selector: r.label_selector,
                    field_selector: r.field_selector,
                    field_masks: r.field_masks,
                }
            }
            "get_resource" => {
                let r: GetResourceRequest =
                    serde_json::from_slice(payload).map_err(|e| e.to_string())?;
                KubernetesRequest::KubernetesGetResource {
                    api_version: r.api_version,
                    kind: r.kind,
                    name: r.name,
                    namespace: r.namespace,
                    disable_cache: r.disable_cache,
                    field_masks: r.field_masks,
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(req))
    }

    /// The waPC operation name of this request.
    pub fn operation(&self) -> &'static str {
        match self {
            KubernetesRequest::KubernetesListResourceNamespace { .. } => {
                "list_resources_by_namespace"
            }
            KubernetesRequest::KubernetesListResourceAll { .. } => "list_resources_all",
            KubernetesRequest::KubernetesGetResource { .. } => "get_resource",
        }
    }

    /// The JSON payload the SDK sends for this request (all fields present,
    /// `null` for `None`).
    pub fn to_payload(&self) -> Vec<u8> {
        let res = match self.clone() {
            KubernetesRequest::KubernetesListResourceNamespace {
                api_version,
                kind,
                namespace,
                label_selector,
                field_selector,
                field_masks,
            } => serde_json::to_vec(&ListResourcesByNamespaceRequest {
                api_version,
                kind,
                namespace,
                label_selector,
                field_selector,
                field_masks,
            }),
            KubernetesRequest::KubernetesListResourceAll {
                api_version,
                kind,
                label_selector,
                field_selector,
                field_masks,
            } => serde_json::to_vec(&ListAllResourcesRequest {
                api_version,
                kind,
                label_selector,
                field_selector,
                field_masks,
            }),
            KubernetesRequest::KubernetesGetResource {
                api_version,
                kind,
                name,
                namespace,
                disable_cache,
                field_masks,
            } => serde_json::to_vec(&GetResourceRequest {
                api_version,
                kind,
                name,
                namespace,
                disable_cache,
                field_masks,
            }),
        };
        res.expect("serialising plain structs cannot fail")
    }

    /// `api_version` and `kind` of the requested resource.
    pub fn resource(&self) -> (&str, &str) {
        match self {
            KubernetesRequest::KubernetesListResourceNamespace {
                api_version, kind, ..
            }
            | KubernetesRequest::KubernetesListResourceAll {
                api_version, kind, ..
            }
            | KubernetesRequest::KubernetesGetResource {
                api_version, kind, ..
            } => (api_version, kind),
        }
    }

    /// Shorthand for the request the SDK sends for
    /// `list_resources_by_namespace` without selectors nor masks.
    pub fn list_namespace(api_version: &str, kind: &str, namespace: &str) -> Self {
        KubernetesRequest::KubernetesListResourceNamespace {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            label_selector: None,
            field_selector: None,
            field_masks: None,
        }
    }

    /// Shorthand for a `get_resource` request with `disable_cache: false`
    /// and no masks.
    pub fn get(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        KubernetesRequest::KubernetesGetResource {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
            disable_cache: false,
            field_masks: None,
        }
    }
}

/// Which capabilities and Kubernetes resources the evaluation may use,
/// i.e. the checks policy-evaluator makes before a request reaches the
/// callback handler.
///
/// The default allows everything, like `kwctl run --allow-context-aware`
/// with a policy whose metadata lists the resources it reads (kwctl allows
/// every host capability by default). policy-server instead defaults
/// `hostCapabilities` to the empty list, i.e. `host_capabilities:
/// Some(vec![])`, which denies every host call but `tracing`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessControl {
    /// Allowed host capability patterns such as
    /// `kubernetes/list_resources_by_namespace`, `kubernetes/*` or `*`;
    /// `None` allows every capability.
    pub host_capabilities: Option<Vec<String>>,
    /// Allowed `(apiVersion, kind)` pairs for the Kubernetes calls (the
    /// policy's `contextAwareResources`); `None` allows every resource.
    pub context_aware_resources: Option<Vec<(String, String)>>,
}

impl AccessControl {
    /// policy-server's defaults for a policy with the given
    /// `contextAwareResources` and `hostCapabilities`.
    pub fn policy_server(
        context_aware_resources: &[(&str, &str)],
        host_capabilities: &[&str],
    ) -> Self {
        AccessControl {
            host_capabilities: Some(host_capabilities.iter().map(|s| s.to_string()).collect()),
            context_aware_resources: Some(
                context_aware_resources
                    .iter()
                    .map(|(a, k)| (a.to_string(), k.to_string()))
                    .collect(),
            ),
        }
    }

    fn capability_allowed(&self, path: &str) -> bool {
        match &self.host_capabilities {
            None => true,
            Some(patterns) => patterns.iter().any(|p| pattern_matches(p, path)),
        }
    }

    fn resource_allowed(&self, api_version: &str, kind: &str) -> bool {
        match &self.context_aware_resources {
            None => true,
            Some(list) => list.iter().any(|(a, k)| a == api_version && k == kind),
        }
    }
}

/// `a/b/*` matches every path below `a/b`; otherwise segments must be equal.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.split('/');
    let mut segs = path.split('/');
    loop {
        match (pat.next(), segs.next()) {
            (Some("*"), _) => return true,
            (Some(p), Some(s)) if p == s => continue,
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// What the dispatcher did with one host call.
pub(crate) enum Dispatched {
    /// A `kubewarden/tracing/log` call: handled by the host itself.
    Log(Value),
    /// Any other call, with the result handed to the guest.
    Call(HostCall, Result<Vec<u8>, String>),
}

/// Parses a payload for [`HostCall::payload`].
pub(crate) fn payload_value(payload: &[u8]) -> Value {
    serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
}

/// Routes one host call the way policy-evaluator's `host_callback` does.
pub(crate) fn dispatch(
    host: &mut dyn HostCapabilities,
    access: &AccessControl,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Dispatched {
    if binding == "kubewarden" && namespace == "tracing" && operation == "log" {
        // policy-evaluator logs these itself; they never reach the callback
        // handler and are not gated by host capabilities.
        return Dispatched::Log(payload_value(payload));
    }
    let result = route(host, access, binding, namespace, operation, payload);
    let call = HostCall {
        binding: binding.to_owned(),
        namespace: namespace.to_owned(),
        operation: operation.to_owned(),
        payload: payload_value(payload),
        error: result.as_ref().err().cloned(),
    };
    Dispatched::Call(call, result)
}

fn route(
    host: &mut dyn HostCapabilities,
    access: &AccessControl,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    if binding != "kubewarden" {
        return Err(format!("unknown binding: {binding}"));
    }
    if namespace != "tracing" {
        let path = format!("{namespace}/{operation}");
        if !access.capability_allowed(&path) {
            return Err(format!(
                "Policy has not been granted access to the '{path}' host capability. The violation has been reported."
            ));
        }
    }
    let unknown_operation = || Err(format!("unknown operation: {operation}"));
    let forward = |host: &mut dyn HostCapabilities| {
        host.call(binding, namespace, operation, payload)
            .map_err(|e| format!("Callback evaluation failure: {e}"))
    };
    match namespace {
        "tracing" => unknown_operation(),
        "kubernetes" => match operation {
            "list_resources_by_namespace" | "list_resources_all" | "get_resource" => {
                let req = match KubernetesRequest::from_host_call(operation, payload) {
                    Ok(Some(req)) => req,
                    Ok(None) => unreachable!("operation is one of the three"),
                    Err(e) => return Err(e),
                };
                let (api_version, kind) = req.resource();
                if !access.resource_allowed(api_version, kind) {
                    return Err(format!(
                        "Policy has not been granted access to Kubernetes {api_version}/{kind} resources. The violation has been reported."
                    ));
                }
                forward(host)
            }
            "can_i" => forward(host),
            _ => unknown_operation(),
        },
        "oci" => match operation {
            "v1/verify"
            | "v2/verify"
            | "v1/manifest_digest"
            | "v1/oci_manifest"
            | "v1/oci_manifest_config" => forward(host),
            _ => unknown_operation(),
        },
        "net" => match operation {
            "v1/dns_lookup_host" => forward(host),
            _ => unknown_operation(),
        },
        "crypto" => match operation {
            "v1/is_certificate_trusted" => forward(host),
            _ => unknown_operation(),
        },
        _ => Err(format!("unknown namespace: {namespace}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(pattern_matches("*", "kubernetes/get_resource"));
        assert!(pattern_matches("kubernetes/*", "kubernetes/get_resource"));
        assert!(pattern_matches(
            "kubernetes/get_resource",
            "kubernetes/get_resource"
        ));
        assert!(!pattern_matches(
            "kubernetes/list_resources_all",
            "kubernetes/get_resource"
        ));
        assert!(pattern_matches("oci/v1/*", "oci/v1/verify"));
        assert!(!pattern_matches("oci/v2/*", "oci/v1/verify"));
    }

    #[test]
    fn parses_sdk_payloads() {
        let p = br#"{"api_version":"v1","kind":"Service","namespace":"a","label_selector":null,"field_selector":null,"field_masks":["metadata.name"]}"#;
        let r = KubernetesRequest::from_host_call("list_resources_by_namespace", p)
            .unwrap()
            .unwrap();
        assert_eq!(r.resource(), ("v1", "Service"));
        let back = KubernetesRequest::from_host_call(r.operation(), &r.to_payload())
            .unwrap()
            .unwrap();
        assert_eq!(back, r);
        let missing = br#"{"api_version":"v1","kind":"Service","name":"x"}"#;
        let err = KubernetesRequest::from_host_call("get_resource", missing).unwrap_err();
        assert!(err.contains("disable_cache"), "{err}");
        assert_eq!(
            KubernetesRequest::from_host_call("can_i", b"{}").unwrap(),
            None
        );
    }

    #[test]
    fn dispatcher_wraps_and_denies() {
        let mut host = NoHost::new();
        let access = AccessControl::default();
        let payload = KubernetesRequest::get("v1", "Service", Some("a"), "b").to_payload();
        match dispatch(
            &mut host,
            &access,
            "kubewarden",
            "kubernetes",
            "get_resource",
            &payload,
        ) {
            Dispatched::Call(call, Err(e)) => {
                assert!(e.starts_with(
                    "Callback evaluation failure: policy made an unexpected host call"
                ));
                assert_eq!(call.error.as_deref(), Some(e.as_str()));
            }
            _ => panic!("expected a failed call"),
        }
        assert_eq!(host.violations().len(), 1);

        let deny = AccessControl::policy_server(&[("v1", "Service")], &[]);
        match dispatch(
            &mut host,
            &deny,
            "kubewarden",
            "kubernetes",
            "get_resource",
            &payload,
        ) {
            Dispatched::Call(_, Err(e)) => assert_eq!(
                e,
                "Policy has not been granted access to the 'kubernetes/get_resource' host capability. The violation has been reported."
            ),
            _ => panic!("expected a denial"),
        }
        let no_resource = AccessControl::policy_server(&[("v1", "ConfigMap")], &["kubernetes/*"]);
        match dispatch(
            &mut host,
            &no_resource,
            "kubewarden",
            "kubernetes",
            "get_resource",
            &payload,
        ) {
            Dispatched::Call(_, Err(e)) => assert_eq!(
                e,
                "Policy has not been granted access to Kubernetes v1/Service resources. The violation has been reported."
            ),
            _ => panic!("expected a denial"),
        }
        // denials are not violations of the test set-up
        assert_eq!(host.violations().len(), 1);
        assert!(matches!(
            dispatch(&mut host, &deny, "kubewarden", "tracing", "log", b"{}"),
            Dispatched::Log(_)
        ));
    }
}
