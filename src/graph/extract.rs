//! What names what: one row per source kind, each reading only the
//! fields that hold references and returning them in the order of the
//! object. Absent and `null` fields hold no reference; a field of the
//! wrong type is an error naming it (`webhooks[0].clientConfig is not an
//! object`), answered with a 400.

use crate::json_tree::{Map, Value};

use super::{ContainerPorts, Reference, Target, Via};
use crate::json_fields::{field, int32, object, string};
use crate::settings::Settings;
use crate::workload;

/// The kinds whose references only this path reads (workloads are routed
/// to it beside the workload check).
pub const SOURCE_KINDS: &[&str] = &[
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "CustomResourceDefinition",
    "HorizontalPodAutoscaler",
    "RoleBinding",
    "ClusterRoleBinding",
];

/// The port the API server calls a webhook, APIService or conversion
/// Service on when `port` is left out (admissionregistration/v1,
/// apiregistration/v1, apiextensions/v1 all default it to 443).
pub const DEFAULT_SERVICE_PORT: i32 = 443;

/// The references of `object` (of `kind`, in `namespace`), as `settings`
/// enable them: webhook Services with `checkWebhookServices`, the Pod
/// template's with `checkWorkloadReferences`.
pub fn references(
    kind: &str,
    object: &Value,
    namespace: &str,
    settings: &Settings,
) -> Result<Vec<Reference>, String> {
    let Value::Object(object) = object else {
        return Err("the object is not a JSON object".to_string());
    };
    let mut out = Vec::new();
    match kind {
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration"
            if settings.check_webhook_services =>
        {
            for (i, webhook) in items(object, "webhooks", "webhooks")?.iter().enumerate() {
                let at = format!("webhooks[{i}]");
                let webhook = as_object(webhook, &at)?;
                if let Some(config) = map(webhook, "clientConfig", &at)? {
                    let at = format!("{at}.clientConfig");
                    service(config, &at, Via::WebhookService, &mut out)?;
                }
            }
        }
        "APIService" if settings.check_webhook_services => {
            if let Some(spec) = map(object, "spec", "")? {
                service(spec, "spec", Via::ApiService, &mut out)?;
            }
        }
        "CustomResourceDefinition" if settings.check_webhook_services => {
            let conversion = map(object, "spec", "")?
                .map(|spec| map(spec, "conversion", "spec"))
                .transpose()?
                .flatten();
            if let Some(conversion) = conversion {
                let strategy = text(conversion, "strategy", "spec.conversion")?;
                let webhook = map(conversion, "webhook", "spec.conversion")?;
                if strategy.as_deref() == Some("Webhook")
                    && let Some(webhook) = webhook
                    && let Some(config) = map(webhook, "clientConfig", "spec.conversion.webhook")?
                {
                    let at = "spec.conversion.webhook.clientConfig";
                    service(config, at, Via::ConversionService, &mut out)?;
                }
            }
        }
        "HorizontalPodAutoscaler" => {
            if let Some(spec) = map(object, "spec", "")?
                && let Some(target) = map(spec, "scaleTargetRef", "spec")?
            {
                scale_target(target, namespace, &mut out)?;
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            binding(object, kind, namespace, &mut out)?;
        }
        k if settings.check_workload_references => {
            if let Some(pointer) = workload::pod_spec_pointer(k) {
                pod_template(object, k, pointer, namespace, &mut out)?;
            }
        }
        _ => {}
    }
    Ok(out)
}

/// `clientConfig.service` (or an APIService's `spec.service`) at `at`:
/// its namespace, name and port (443 when left out). A `url` client
/// config names no Service and is out of scope.
fn service(parent: &Map, at: &str, via: Via, out: &mut Vec<Reference>) -> Result<(), String> {
    let Some(service) = map(parent, "service", at)? else {
        return Ok(());
    };
    let at = format!("{at}.service");
    let (Some(namespace), Some(name)) = (
        text(service, "namespace", &at)?,
        text(service, "name", &at)?,
    ) else {
        // the API server requires both; nothing to look up without them
        return Ok(());
    };
    let port = int32(service, "port").map_err(|e| prefixed(&at, &e))?;
    out.push(Reference {
        via,
        target: Target::Service,
        namespace,
        name,
        port: Some(port.unwrap_or(DEFAULT_SERVICE_PORT)),
        field: at,
        container: None,
    });
    Ok(())
}

/// An HPA's `scaleTargetRef`: the built-in kinds with a scale subresource
/// (Deployment, StatefulSet, ReplicaSet, ReplicationController); other
/// kinds (Argo Rollouts, custom resources) are skipped.
fn scale_target(scale_ref: &Map, namespace: &str, out: &mut Vec<Reference>) -> Result<(), String> {
    let at = "spec.scaleTargetRef";
    let api_version = text(scale_ref, "apiVersion", at)?.unwrap_or_default();
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    let kind = text(scale_ref, "kind", at)?.unwrap_or_default();
    let target = match (group, kind.as_str()) {
        // `extensions` no longer serves workloads: such a target is not
        // looked up, as the autoscaler cannot find it either
        ("apps", "Deployment") => Target::Deployment,
        ("apps", "StatefulSet") => Target::StatefulSet,
        ("apps", "ReplicaSet") => Target::ReplicaSet,
        ("", "ReplicationController") => Target::ReplicationController,
        _ => return Ok(()),
    };
    let Some(name) = text(scale_ref, "name", at)? else {
        return Ok(());
    };
    out.push(Reference {
        via: Via::ScaleTarget,
        target,
        namespace: namespace.to_string(),
        name,
        port: None,
        field: at.to_string(),
        container: None,
    });
    Ok(())
}

/// The binding's `roleRef` (a Role of its namespace, or a ClusterRole)
/// and its ServiceAccount subjects (their namespace defaults to the
/// RoleBinding's; a ClusterRoleBinding's must name one). Users and Groups
/// are not objects of the cluster.
fn binding(
    object: &Map,
    kind: &str,
    namespace: &str,
    out: &mut Vec<Reference>,
) -> Result<(), String> {
    if let Some(role) = map(object, "roleRef", "")? {
        let target = match text(role, "kind", "roleRef")?.as_deref() {
            Some("Role") if kind == "RoleBinding" => Some(Target::Role),
            Some("ClusterRole") => Some(Target::ClusterRole),
            _ => None,
        };
        if let (Some(target), Some(name)) = (target, text(role, "name", "roleRef")?) {
            out.push(Reference {
                via: Via::RoleRef,
                target,
                namespace: if target == Target::Role {
                    namespace.to_string()
                } else {
                    String::new()
                },
                name,
                port: None,
                field: "roleRef".to_string(),
                container: None,
            });
        }
    }
    for (i, subject) in items(object, "subjects", "subjects")?.iter().enumerate() {
        let at = format!("subjects[{i}]");
        let subject = as_object(subject, &at)?;
        if text(subject, "kind", &at)?.as_deref() != Some("ServiceAccount") {
            continue;
        }
        let own = (kind == "RoleBinding").then(|| namespace.to_string());
        let (Some(name), Some(namespace)) = (
            text(subject, "name", &at)?,
            text(subject, "namespace", &at)?
                .filter(|n| !n.is_empty())
                .or(own),
        ) else {
            continue;
        };
        out.push(Reference {
            via: Via::Subject,
            target: Target::ServiceAccount,
            namespace,
            name,
            port: None,
            field: at,
            container: None,
        });
    }
    Ok(())
}

/// The Pod template's PersistentVolumeClaims, its containers' named probe
/// and lifecycle-hook ports, and a StatefulSet's governing Service.
fn pod_template(
    object: &Map,
    kind: &str,
    pointer: &str,
    namespace: &str,
    out: &mut Vec<Reference>,
) -> Result<(), String> {
    if kind == "StatefulSet"
        && let Some(spec) = map(object, "spec", "")?
        && let Some(name) = text(spec, "serviceName", "spec")?.filter(|n| !n.is_empty())
    {
        out.push(Reference {
            via: Via::GoverningService,
            target: Target::Service,
            namespace: namespace.to_string(),
            name,
            port: None,
            field: "spec.serviceName".to_string(),
            container: None,
        });
    }
    // `/spec/template/spec` → `spec.template.spec`
    let base = pointer.trim_start_matches('/').replace('/', ".");
    let mut spec = object;
    let mut walked = String::new();
    for key in base.split('.') {
        match map(spec, key, &walked)? {
            Some(inner) => spec = inner,
            None => return Ok(()),
        }
        walked = prefixed(&walked, key);
    }
    // A StatefulSet's controller replaces a template volume named like
    // one of its volumeClaimTemplates with the Pod's own claim.
    let mut templated: Vec<String> = Vec::new();
    if kind == "StatefulSet"
        && let Some(set_spec) = map(object, "spec", "")?
    {
        let path = "spec.volumeClaimTemplates";
        for (i, template) in items(set_spec, "volumeClaimTemplates", path)?
            .iter()
            .enumerate()
        {
            let at = format!("{path}[{i}]");
            let name = map(as_object(template, &at)?, "metadata", &at)?
                .map(|m| text(m, "name", &format!("{at}.metadata")))
                .transpose()?
                .flatten();
            templated.extend(name);
        }
    }
    for (i, volume) in items(spec, "volumes", &format!("{base}.volumes"))?
        .iter()
        .enumerate()
    {
        let at = format!("{base}.volumes[{i}]");
        let volume = as_object(volume, &at)?;
        let name = text(volume, "name", &at)?.unwrap_or_default();
        if templated.contains(&name) {
            continue;
        }
        if let Some(claim) = map(volume, "persistentVolumeClaim", &at)? {
            let at = format!("{at}.persistentVolumeClaim.claimName");
            if let Some(name) = text(claim, "claimName", &at)?.filter(|n| !n.is_empty()) {
                out.push(Reference {
                    via: Via::ClaimName,
                    target: Target::PersistentVolumeClaim,
                    namespace: namespace.to_string(),
                    name,
                    port: None,
                    field: at,
                    container: None,
                });
            }
        }
    }
    for list in ["initContainers", "containers"] {
        let path = format!("{base}.{list}");
        for (i, container) in items(spec, list, &path)?.iter().enumerate() {
            let at = format!("{path}[{i}]");
            probe_ports(as_object(container, &at)?, &at, out)?;
        }
    }
    Ok(())
}

/// Where a container's probes and lifecycle hooks name ports.
const PORT_HOLDERS: &[(&str, &str)] = &[
    ("livenessProbe", ""),
    ("readinessProbe", ""),
    ("startupProbe", ""),
    ("lifecycle", "postStart"),
    ("lifecycle", "preStop"),
];

/// The named `httpGet`/`tcpSocket` ports of one container's probes and
/// lifecycle hooks. The kubelet looks a string port up among the
/// container's `ports[].name`, and takes it as a number only when no
/// name matches (`extractPort`), so numeric strings are not names.
fn probe_ports(container: &Map, at: &str, out: &mut Vec<Reference>) -> Result<(), String> {
    let name = text(container, "name", at)?.unwrap_or_default();
    let mut declared: Option<Vec<String>> = None;
    for (holder, hook) in PORT_HOLDERS {
        let Some(mut handler) = map(container, holder, at)? else {
            continue;
        };
        let mut path = format!("{at}.{holder}");
        if !hook.is_empty() {
            match map(handler, hook, &path)? {
                Some(h) => handler = h,
                None => continue,
            }
            path = format!("{path}.{hook}");
        }
        for action in ["httpGet", "tcpSocket"] {
            let Some(action_map) = map(handler, action, &path)? else {
                continue;
            };
            let Some(Value::String(port)) = field(action_map, "port") else {
                continue;
            };
            if port.is_empty() || port.parse::<i64>().is_ok() {
                continue;
            }
            let declared = match &declared {
                Some(d) => d.clone(),
                None => {
                    let names = port_names(container, at)?;
                    declared = Some(names.clone());
                    names
                }
            };
            out.push(Reference {
                via: Via::ProbePort,
                target: Target::ContainerPort,
                namespace: String::new(),
                name: port.to_string(),
                port: None,
                field: format!("{path}.{action}.port"),
                container: Some(ContainerPorts {
                    container: name.clone(),
                    declared,
                }),
            });
        }
    }
    Ok(())
}

/// The names of a container's `ports[]`.
fn port_names(container: &Map, at: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let path = format!("{at}.ports");
    for (i, port) in items(container, "ports", &path)?.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if let Some(name) = text(as_object(port, &at)?, "name", &at)? {
            names.push(name);
        }
    }
    Ok(names)
}

/// `at.key` (or `key` at the top), for errors.
fn prefixed(at: &str, error: &str) -> String {
    if at.is_empty() {
        error.to_string()
    } else {
        format!("{at}.{error}")
    }
}

/// Object field `key` of `m` (at `at`); absent or `null` is `None`.
fn map<'a>(m: &'a Map<'a>, key: &str, at: &str) -> Result<Option<&'a Map<'a>>, String> {
    object(m, key).map_err(|e| prefixed(at, &e))
}

/// String field `key` of `m` (at `at`).
fn text(m: &Map, key: &str, at: &str) -> Result<Option<String>, String> {
    string(m, key).map_err(|e| prefixed(at, &e))
}

/// List field `key` of `m`, whose path is `path`; absent is empty.
fn items<'a>(m: &'a Map<'a>, key: &str, path: &str) -> Result<&'a [Value<'a>], String> {
    match field(m, key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("{path} is not a list")),
    }
}

/// `v` (at `at`) as an object.
fn as_object<'a>(v: &'a Value<'a>, at: &str) -> Result<&'a Map<'a>, String> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(format!("{at} is not an object")),
    }
}
