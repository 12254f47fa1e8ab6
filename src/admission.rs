//! The parts of Kubernetes' AdmissionRequest (admission.k8s.io/v1) that
//! this policy reads, as Kubewarden hosts send them in the `validate`
//! payload.
//!
//! The SDK's `KubernetesAdmissionRequest` also deserializes userInfo,
//! resource, requestKind, requestResource and options, which no check
//! reads; their derived deserializers were about 20 KB of `policy.wasm`,
//! which ships to every cluster. Fields not named here are skipped, and
//! every field defaults when absent, as in the SDK's type.

use serde::Deserialize;
use serde_json::Value;

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`.
#[derive(Deserialize)]
pub struct Payload {
    pub request: AdmissionRequest,
    /// Read as a value and judged by [`crate::settings::Settings::from_value`]:
    /// a settings error is the policy's (HTTP 500), not the request's.
    #[serde(default)]
    pub settings: Option<Value>,
}

/// One AdmissionRequest. Both the Kubernetes spelling (`subResource`,
/// `oldObject`) and the SDK's (`sub_resource`, `old_object`) are read.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AdmissionRequest {
    /// `kind`: the GroupVersionKind of the object; only its kind is read.
    pub kind: Kind,
    /// The subresource, if any (`ephemeralcontainers`, `status`, `scale`...).
    #[serde(alias = "subResource")]
    pub sub_resource: String,
    /// The object's name as the request presents it (may be empty on CREATE).
    pub name: String,
    /// The namespace of the request, if any.
    pub namespace: String,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: String,
    /// The object under review.
    pub object: Value,
    /// The existing object, for UPDATE and DELETE.
    #[serde(alias = "oldObject")]
    pub old_object: Value,
}

/// The kind part of a GroupVersionKind.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Kind {
    pub kind: String,
}
