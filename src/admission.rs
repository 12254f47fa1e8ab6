//! The parts of Kubernetes' AdmissionRequest (admission.k8s.io/v1) that
//! this policy reads, as Kubewarden hosts send them in the `validate`
//! payload, read by hand (see [`crate::json_fields`]).
//!
//! The SDK's `KubernetesAdmissionRequest` also deserializes userInfo,
//! resource, requestKind, requestResource and options, which no check
//! reads, and its derived deserializers were about 20 KB of the wasm that
//! ships to every cluster. Fields not named here are skipped, and every
//! field defaults when absent, as in the SDK's type.

use serde_json::{Map, Value};

use crate::json_fields::{nested, parse_object, string};

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`.
pub struct Payload {
    pub request: AdmissionRequest,
    /// Judged by [`crate::settings::Settings::parse_valid`] apart from the
    /// request: a settings error is the policy's (HTTP 500), not the
    /// request's. `None` when absent or `null`.
    pub settings: Option<Value>,
}

/// One AdmissionRequest. Both the Kubernetes spelling (`subResource`,
/// `oldObject`) and the SDK's (`sub_resource`, `old_object`) are read.
#[derive(Debug, Default)]
pub struct AdmissionRequest {
    /// `kind.kind`: the kind of the object (`Deployment`).
    pub kind: String,
    /// The subresource, if any (`ephemeralcontainers`, `status`, `scale`...).
    pub sub_resource: String,
    /// The object's name as the request presents it (may be empty on CREATE).
    pub name: String,
    /// The namespace of the request, if any.
    pub namespace: String,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: String,
    /// The object under review (`null` when absent).
    pub object: Value,
    /// The existing object, for UPDATE and DELETE (`null` when absent).
    pub old_object: Value,
}

impl Payload {
    /// Reads a `validate` payload (JSON bytes). Errors: serde_json's, for
    /// text that is not JSON; else the first field of the wrong type, by
    /// its path (`request.kind is not an object`).
    pub fn from_slice(payload: &[u8]) -> Result<Payload, String> {
        let mut top = parse_object(payload)?;
        let request = match top.remove("request") {
            Some(Value::Object(request)) => {
                AdmissionRequest::read(request).map_err(|e| format!("request.{e}"))?
            }
            None | Some(Value::Null) => return Err("missing field `request`".to_string()),
            Some(_) => return Err("request is not an object".to_string()),
        };
        Ok(Payload {
            request,
            settings: top.remove("settings").filter(|s| !s.is_null()),
        })
    }
}

impl AdmissionRequest {
    fn read(mut m: Map<String, Value>) -> Result<AdmissionRequest, String> {
        let text = |m: &Map<String, Value>, key: &str| Ok(string(m, key)?.unwrap_or_default());
        let either = |m: &Map<String, Value>, camel: &str, snake: &str| match string(m, camel)? {
            Some(s) => Ok::<_, String>(s),
            None => text(m, snake),
        };
        let mut take = |camel: &str, snake: &str| {
            m.remove(camel)
                .filter(|v| !v.is_null())
                .or_else(|| m.remove(snake))
                .unwrap_or_default()
        };
        let object = take("object", "object");
        let old_object = take("oldObject", "old_object");
        Ok(AdmissionRequest {
            kind: nested(&m, "kind", |k| Ok(string(k, "kind")?.unwrap_or_default()))?
                .unwrap_or_default(),
            sub_resource: either(&m, "subResource", "sub_resource")?,
            name: text(&m, "name")?,
            namespace: text(&m, "namespace")?,
            operation: text(&m, "operation")?,
            object,
            old_object,
        })
    }
}
