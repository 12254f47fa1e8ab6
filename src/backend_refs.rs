//! The Services that route objects send traffic to: the backends of an
//! Ingress (`networking.k8s.io/v1`) and the `backendRefs` of a Gateway API
//! HTTPRoute or GRPCRoute (`gateway.networking.k8s.io`), read by hand from
//! the request's JSON. Only Service backends are references here:
//! an Ingress `backend.resource` and a route backendRef of another group or
//! kind are out of scope.

use crate::json_tree::{Map, Value};

use crate::json_fields::{self, field, int32, string};

/// The kinds whose backends [`extract`] reads.
pub const ROUTE_KINDS: &[&str] = &["Ingress", "HTTPRoute", "GRPCRoute"];

/// The port a backend names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackendPort {
    /// `port.number` (Ingress), `port` (routes).
    Number(i32),
    /// `port.name` (Ingress only).
    Name(String),
    /// None written (routes to an ExternalName Service may leave it out).
    Unset,
}

/// One Service a route object sends traffic to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendRef {
    /// Where it is written: `spec.rules[0].http.paths[1].backend.service`,
    /// `spec.defaultBackend.service`, `spec.rules[2].backendRefs[0]`,
    /// `spec.rules[0].filters[1].requestMirror.backendRef`.
    pub field: String,
    pub service: String,
    /// The route's own namespace, or the backendRef's `namespace`.
    pub namespace: String,
    pub port: BackendPort,
}

/// The Service backends of `object`, a `kind` of [`ROUTE_KINDS`] in
/// `namespace`, in the order they are written. Errors: the first field of
/// the wrong type, by its path (`spec.rules[0].http is not an object`).
pub fn extract(kind: &str, object: &Value, namespace: &str) -> Result<Vec<BackendRef>, String> {
    let mut refs = Vec::new();
    let Some(object) = object.as_object() else {
        // `null`: nothing to route; anything else is no route object
        return match object {
            Value::Null => Ok(refs),
            _ => Err("the object is not a JSON object".to_string()),
        };
    };
    let Some(spec) = object_at(object, "spec", "")? else {
        return Ok(refs);
    };
    if kind == "Ingress" {
        if let Some(backend) = object_at(spec, "defaultBackend", "spec.")? {
            ingress_backend(backend, "spec.defaultBackend", namespace, &mut refs)?;
        }
        for (i, rule) in objects_at(spec, "rules", "spec.")? {
            let at = format!("spec.rules[{i}]");
            let Some(http) = object_at(rule, "http", &format!("{at}."))? else {
                continue;
            };
            for (j, path) in objects_at(http, "paths", &format!("{at}.http."))? {
                let at = format!("{at}.http.paths[{j}]");
                if let Some(backend) = object_at(path, "backend", &format!("{at}."))? {
                    ingress_backend(backend, &format!("{at}.backend"), namespace, &mut refs)?;
                }
            }
        }
    } else {
        for (i, rule) in objects_at(spec, "rules", "spec.")? {
            let at = format!("spec.rules[{i}]");
            mirrors(rule, &at, namespace, &mut refs)?;
            for (j, backend) in objects_at(rule, "backendRefs", &format!("{at}."))? {
                let at = format!("{at}.backendRefs[{j}]");
                route_backend(backend, &at, namespace, &mut refs)?;
                mirrors(backend, &at, namespace, &mut refs)?;
            }
        }
    }
    Ok(refs)
}

/// `backend.service` of an Ingress path or default backend.
fn ingress_backend(
    backend: &Map,
    at: &str,
    namespace: &str,
    refs: &mut Vec<BackendRef>,
) -> Result<(), String> {
    let Some(service) = object_at(backend, "service", &format!("{at}."))? else {
        return Ok(());
    };
    let at = format!("{at}.service");
    let prefix = format!("{at}.");
    let Some(name) = within(&prefix, string(service, "name"))? else {
        return Ok(());
    };
    let port = match object_at(service, "port", &prefix)? {
        None => BackendPort::Unset,
        Some(port) => {
            let prefix = format!("{at}.port.");
            match (
                within(&prefix, int32(port, "number"))?,
                within(&prefix, string(port, "name"))?,
            ) {
                (Some(number), _) => BackendPort::Number(number),
                (None, Some(name)) => BackendPort::Name(name),
                (None, None) => BackendPort::Unset,
            }
        }
    };
    refs.push(BackendRef {
        field: at,
        service: name,
        namespace: namespace.to_string(),
        port,
    });
    Ok(())
}

/// A Gateway API `BackendObjectReference`, when it names a Service (group
/// `""` and kind `Service` are the defaults).
fn route_backend(
    backend: &Map,
    at: &str,
    namespace: &str,
    refs: &mut Vec<BackendRef>,
) -> Result<(), String> {
    let prefix = format!("{at}.");
    let group = within(&prefix, string(backend, "group"))?.unwrap_or_default();
    let kind = within(&prefix, string(backend, "kind"))?;
    if !group.is_empty() || kind.is_some_and(|k| k != "Service") {
        return Ok(());
    }
    let Some(name) = within(&prefix, string(backend, "name"))? else {
        return Ok(());
    };
    let port =
        within(&prefix, int32(backend, "port"))?.map_or(BackendPort::Unset, BackendPort::Number);
    refs.push(BackendRef {
        field: at.to_string(),
        service: name,
        namespace: within(&prefix, string(backend, "namespace"))?
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| namespace.to_string()),
        port,
    });
    Ok(())
}

/// The `filters[].requestMirror.backendRef`s of a rule or a backendRef.
fn mirrors(
    holder: &Map,
    at: &str,
    namespace: &str,
    refs: &mut Vec<BackendRef>,
) -> Result<(), String> {
    for (k, filter) in objects_at(holder, "filters", &format!("{at}."))? {
        let at = format!("{at}.filters[{k}]");
        if let Some(mirror) = object_at(filter, "requestMirror", &format!("{at}."))? {
            let at = format!("{at}.requestMirror");
            if let Some(backend) = object_at(mirror, "backendRef", &format!("{at}."))? {
                route_backend(backend, &format!("{at}.backendRef"), namespace, refs)?;
            }
        }
    }
    Ok(())
}

/// A `json_fields` reading of a field of the object at path `prefix`, its
/// error prefixed with that path.
fn within<T>(prefix: &str, read: Result<T, String>) -> Result<T, String> {
    read.map_err(|e| format!("{prefix}{e}"))
}

/// Object field `key` (absent or `null`: `None`).
fn object_at<'v>(m: &'v Map<'v>, key: &str, prefix: &str) -> Result<Option<&'v Map<'v>>, String> {
    within(prefix, json_fields::object(m, key))
}

/// One item of a list of objects, with its index.
type Indexed<'v> = (usize, &'v Map<'v>);

/// The objects of list field `key`, with their index (absent: none).
fn objects_at<'v>(m: &'v Map<'v>, key: &str, prefix: &str) -> Result<Vec<Indexed<'v>>, String> {
    match field(m, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_object()
                    .map(|o| (i, o))
                    .ok_or_else(|| format!("{prefix}{key}[{i}] is not an object"))
            })
            .collect(),
        Some(_) => Err(format!("{prefix}{key} is not a list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::Value;
    use serde_json::json;

    fn number(field: &str, service: &str, namespace: &str, port: i32) -> BackendRef {
        BackendRef {
            field: field.into(),
            service: service.into(),
            namespace: namespace.into(),
            port: BackendPort::Number(port),
        }
    }

    #[rstest]
    #[case::ingress_paths_and_default("Ingress", json!({"spec": {
            "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
            "rules": [{"host": "a.example", "http": {"paths": [
                {"path": "/", "backend": {"service": {"name": "web", "port": {"name": "http"}}}},
                {"path": "/r", "backend": {"resource": {"kind": "StorageBucket", "name": "b"}}}]}},
                {"host": "no-http.example"}]}}),
        vec![number("spec.defaultBackend.service", "fallback", "shop", 80),
             BackendRef { field: "spec.rules[0].http.paths[0].backend.service".into(), service: "web".into(),
                          namespace: "shop".into(), port: BackendPort::Name("http".into()) }])]
    #[case::route_refs_mirrors_and_other_kinds("HTTPRoute", json!({"spec": {"rules": [
            {"backendRefs": [{"name": "web", "port": 8080},
                             {"name": "api", "namespace": "backend", "port": 9090, "kind": "Service", "group": ""},
                             {"name": "bucket", "kind": "Bucket", "group": "storage.example"}],
             "filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "shadow", "port": 80}}}]}]}}),
        vec![number("spec.rules[0].filters[0].requestMirror.backendRef", "shadow", "shop", 80),
             number("spec.rules[0].backendRefs[0]", "web", "shop", 8080),
             number("spec.rules[0].backendRefs[1]", "api", "backend", 9090)])]
    #[case::grpc_route_without_port("GRPCRoute", json!({"spec": {"rules": [{"backendRefs": [{"name": "grpc"}]}]}}),
        vec![BackendRef { field: "spec.rules[0].backendRefs[0]".into(), service: "grpc".into(),
                          namespace: "shop".into(), port: BackendPort::Unset }])]
    #[case::nothing("HTTPRoute", json!({"metadata": {"name": "r"}}), vec![])]
    fn backends(#[case] kind: &str, #[case] object: Value, #[case] expected: Vec<BackendRef>) {
        assert_eq!(extract(kind, &(&object).into(), "shop"), Ok(expected));
    }

    #[rstest]
    #[case::spec_not_object("Ingress", json!({"spec": []}), "spec is not an object")]
    #[case::rules_not_list("Ingress", json!({"spec": {"rules": {}}}), "spec.rules is not a list")]
    #[case::path_not_object("Ingress", json!({"spec": {"rules": [{"http": {"paths": [1]}}]}}),
        "spec.rules[0].http.paths[0] is not an object")]
    #[case::port_not_number("Ingress", json!({"spec": {"defaultBackend": {"service": {"name": "a", "port": {"number": "80"}}}}}),
        "spec.defaultBackend.service.port.number is not a 32-bit integer")]
    #[case::route_name_not_string("HTTPRoute", json!({"spec": {"rules": [{"backendRefs": [{"name": 1}]}]}}),
        "spec.rules[0].backendRefs[0].name is not a string")]
    fn malformed(#[case] kind: &str, #[case] object: Value, #[case] error: &str) {
        assert_eq!(
            extract(kind, &(&object).into(), "shop"),
            Err(error.to_string())
        );
    }
}
