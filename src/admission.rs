//! The parts of Kubernetes' AdmissionRequest (admission.k8s.io/v1) that
//! this policy reads, as Kubewarden hosts send them in the `validate`
//! payload, read by hand (see [`crate::json_fields`]).
//!
//! The SDK's `KubernetesAdmissionRequest` also deserializes userInfo,
//! resource, requestKind, requestResource and options, which no check
//! reads, and its derived deserializers were about 20 KB of the wasm that
//! ships to every cluster. Fields not named here are skipped, and every
//! field defaults when absent, as in the SDK's type.

use crate::json_fields::{nested, string};
use crate::json_pull::Reader;
use crate::json_tree::{self, Map, Value};
use crate::settings::Sent;

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`,
/// borrowing from its bytes (lifetime `'a`).
#[derive(Debug, PartialEq)]
pub struct Payload<'a> {
    pub request: AdmissionRequest<'a>,
    /// The settings (`None` when absent or `null`): judged by
    /// [`crate::settings::compiled`] apart from the request, as a settings
    /// error is the policy's (HTTP 500), not the request's. Their text, as
    /// sent, is the key under which their compilation is kept.
    pub settings: Option<Sent<'a>>,
}

/// One AdmissionRequest. Both the Kubernetes spelling (`subResource`,
/// `oldObject`) and the SDK's (`sub_resource`, `old_object`) are read.
#[derive(Debug, Default, PartialEq)]
pub struct AdmissionRequest<'a> {
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
    pub object: Value<'a>,
    /// The existing object, for UPDATE and DELETE (`null` when absent).
    pub old_object: Value<'a>,
}

/// The fields of the request that are read; the rest (uid, userInfo,
/// resource, options...) is checked to be JSON and skipped.
const READ: &[&str] = &[
    "kind",
    "name",
    "namespace",
    "object",
    "oldObject",
    "old_object",
    "operation",
    "subResource",
    "sub_resource",
];

impl<'a> Payload<'a> {
    /// Reads a `validate` payload (JSON bytes) in one pass, keeping the
    /// request's fields the checks read and the settings. Errors:
    /// serde_json's, for text that is not JSON; else the first field of
    /// the wrong type, by its path (`request.kind is not an object`).
    pub fn from_slice(payload: &'a [u8]) -> Result<Payload<'a>, String> {
        match Reader::document(payload, top_level) {
            Some((request, settings)) => {
                Payload::from_fields(request, settings.filter(|s| *s != "null").map(Sent::Text))
            }
            // Not plain JSON, or not an object: serde_json (and its
            // wording) for all of it, with no second pass of the pull
            // reader, which would stop where this one did.
            None => Payload::via_serde_json(payload),
        }
    }

    /// [`Payload::from_slice`] with serde_json alone: what it falls back
    /// to, and the reference the `request` fuzz target holds it to. The
    /// settings stay serde_json's value ([`Sent::Value`]).
    pub fn via_serde_json(payload: &[u8]) -> Result<Payload<'static>, String> {
        let value: serde_json::Value =
            serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let serde_json::Value::Object(mut top) = value else {
            return Err("it is not a JSON object".to_string());
        };
        let request = top.remove("request");
        Payload::from_fields(
            request.as_ref().map(|r| Value::from(r).into_owned()),
            top.remove("settings")
                .filter(|s| !s.is_null())
                .map(Sent::Value),
        )
    }

    fn from_fields(
        request: Option<Value<'a>>,
        settings: Option<Sent<'a>>,
    ) -> Result<Payload<'a>, String> {
        let request = match request {
            Some(Value::Object(request)) => {
                AdmissionRequest::read(request).map_err(|e| format!("request.{e}"))?
            }
            None | Some(Value::Null) => return Err("missing field `request`".to_string()),
            Some(_) => return Err("request is not an object".to_string()),
        };
        Ok(Payload { request, settings })
    }
}

type TopLevel<'a> = (Option<Value<'a>>, Option<&'a str>);

/// The payload's `request` (only the fields in [`READ`]) and the text of
/// its `settings`; the last of repeated keys wins, as everywhere.
fn top_level<'a>(r: &mut Reader<'a>) -> Option<TopLevel<'a>> {
    let (mut request, mut settings) = (None, None);
    r.object(|r, key| {
        match key {
            "request" => request = Some(read_request(r)?),
            "settings" => settings = Some(r.raw(Reader::skip)?),
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some((request, settings))
}

fn read_request<'a>(r: &mut Reader<'a>) -> Option<Value<'a>> {
    if r.start_of_value()? != b'{' {
        return json_tree::read(r);
    }
    let mut members = Vec::new();
    r.members(|r, key| {
        if READ.contains(&key.as_ref()) {
            members.push((key, json_tree::read(r)?));
        } else {
            r.skip()?;
        }
        Some(())
    })?;
    Some(Value::Object(Map::from_members(members)))
}

impl<'a> AdmissionRequest<'a> {
    fn read(mut m: Map<'a>) -> Result<AdmissionRequest<'a>, String> {
        let text = |m: &Map, key: &str| Ok(string(m, key)?.unwrap_or_default());
        let either = |m: &Map, camel: &str, snake: &str| match string(m, camel)? {
            Some(s) => Ok::<_, String>(s),
            None => text(m, snake),
        };
        let object = m.remove("object").unwrap_or_default();
        let old_object = m
            .remove("oldObject")
            .filter(|v| !v.is_null())
            .or_else(|| m.remove("old_object"))
            .unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn read(payload: serde_json::Value) -> Result<Payload<'static>, String> {
        Payload::from_slice(serde_json::to_vec(&payload).unwrap().leak())
    }

    #[test]
    fn kubernetes_spelling() {
        let p = read(json!({"request": {
            "uid": "1", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "subResource": "scale", "name": "web", "namespace": "shop", "operation": "UPDATE",
            "userInfo": {"username": "me", "extra": {"k": ["v"]}}, "options": {"kind": "UpdateOptions"},
            "object": {"spec": {}}, "oldObject": {"spec": {"replicas": 1}}, "dryRun": true},
            "settings": {"action": "warn"}}))
        .unwrap();
        let r = &p.request;
        assert_eq!(
            (
                r.kind.as_str(),
                r.sub_resource.as_str(),
                r.name.as_str(),
                r.namespace.as_str(),
                r.operation.as_str()
            ),
            ("Deployment", "scale", "web", "shop", "UPDATE")
        );
        assert_eq!(
            (r.object.to_serde(), r.old_object.to_serde()),
            (json!({"spec": {}}), json!({"spec": {"replicas": 1}}))
        );
        assert_eq!(p.settings, Some(Sent::Text(r#"{"action":"warn"}"#)));
    }

    #[test]
    fn sdk_spelling_and_defaults() {
        let p = read(
            json!({"request": {"sub_resource": "ephemeralcontainers", "old_object": {"a": 1}}}),
        )
        .unwrap();
        assert_eq!(p.request.sub_resource, "ephemeralcontainers");
        assert_eq!(p.request.old_object.to_serde(), json!({"a": 1}));
        assert_eq!(
            (p.request.kind.as_str(), p.request.object.is_null()),
            ("", true)
        );
        assert!(p.settings.is_none());
    }

    #[rstest]
    #[case::null_settings(json!({"request": {}, "settings": null}), None)]
    #[case::missing_request(json!({"settings": {}}), Some("missing field `request`"))]
    #[case::null_request(json!({"request": null}), Some("missing field `request`"))]
    #[case::request_not_an_object(json!({"request": "x"}), Some("request is not an object"))]
    #[case::kind_not_an_object(json!({"request": {"kind": "Pod"}}), Some("request.kind is not an object"))]
    #[case::kind_kind_not_a_string(json!({"request": {"kind": {"kind": 1}}}), Some("request.kind.kind is not a string"))]
    #[case::operation_not_a_string(json!({"request": {"operation": []}}), Some("request.operation is not a string"))]
    #[case::payload_not_an_object(json!([]), Some("it is not a JSON object"))]
    fn payloads(#[case] payload: serde_json::Value, #[case] error: Option<&str>) {
        match (read(payload), error) {
            (Ok(_), None) => {}
            (Err(e), Some(wanted)) => assert_eq!(e, wanted),
            (got, wanted) => panic!("{:?} is not {wanted:?}", got.err()),
        }
    }
}
