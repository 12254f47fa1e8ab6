//! dangling-references-policy: a Kubewarden policy that rejects workloads
//! whose KUBECONFIG points at a path that will not exist in the container
//! (or comes from a hostPath volume), and ConfigMaps that name in-cluster
//! Services (or ports) that do not exist.
//!
//! Data flows one way: request → extract → check → verdict. Every expected
//! situation, malformed input included, ends in a verdict: a guest error or
//! a trap would be an outage at the API server.

use kubewarden_policy_sdk::request::KubernetesAdmissionRequest;
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

pub mod env_expansion;
pub mod kubeconfig_check;
pub mod messages;
pub mod service_check;
pub mod service_lookup;
pub mod service_refs;
pub mod settings;
pub mod suggest;
pub mod verdict;
pub mod workload;

use service_lookup::{HostServices, ServiceSource};
use settings::Settings;
use verdict::Verdict;

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings);
    register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
    #[cfg(feature = "parse-baseline")]
    register_function("parse_request", parse_request);
}

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`.
#[derive(Deserialize)]
pub struct Payload {
    pub request: KubernetesAdmissionRequest,
    #[serde(default)]
    pub settings: Option<Box<RawValue>>,
}

fn validate(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&evaluate(payload, &HostServices))?)
}

/// Benchmark baseline: the parsing `validate` does, and nothing else.
#[cfg(feature = "parse-baseline")]
fn parse_request(payload: &[u8]) -> CallResult {
    let parsed = serde_json::from_slice::<Payload>(payload).is_ok();
    Ok(if parsed {
        b"true".to_vec()
    } else {
        b"false".to_vec()
    })
}

/// Like the SDK's `validate_settings`, but a document that does not parse
/// (an unknown field, a wrong type) is answered `valid: false` with the
/// reason instead of failing the call.
fn validate_settings(payload: &[u8]) -> CallResult {
    let result = std::str::from_utf8(payload)
        .map_err(|e| format!("settings are not UTF-8: {e}"))
        .and_then(Settings::parse_valid);
    let response = SettingsValidationResponse {
        valid: result.is_ok(),
        message: result.err(),
    };
    Ok(serde_json::to_vec(&response)?)
}

/// Evaluates one `validate` payload; never fails, never panics on input.
pub fn evaluate(payload: &[u8], services: &dyn ServiceSource) -> ValidationResponse {
    let payload: Payload = match serde_json::from_slice(payload) {
        Ok(p) => p,
        Err(e) => {
            return Verdict::malformed(format!("cannot read the admission request: {e}"))
                .into_response();
        }
    };
    let settings = match payload
        .settings
        .as_deref()
        .map_or(Ok(Settings::default()), |raw| {
            Settings::parse_valid(raw.get())
        }) {
        Ok(s) => s,
        Err(e) => {
            return Verdict::Reject {
                message: format!("the policy is misconfigured: {e}"),
                code: Some(500),
                warnings: Vec::new(),
            }
            .into_response();
        }
    };
    route(payload.request, &settings, services).into_response()
}

/// Chooses the check for the request's kind and operation.
fn route(
    request: KubernetesAdmissionRequest,
    settings: &Settings,
    services: &dyn ServiceSource,
) -> Verdict {
    if matches!(request.operation.as_str(), "DELETE" | "CONNECT") {
        return Verdict::accept();
    }
    let kind = request.kind.kind.clone();
    let identity = Identity::of(&request);
    match kind.as_str() {
        "ConfigMap" if request.sub_resource.is_empty() => {
            let old = (request.operation == "UPDATE").then_some(&request.old_object);
            service_check::check(
                &request.object,
                old.filter(|o| !o.is_null()),
                &identity.describe(&kind),
                &identity.namespace,
                settings,
                services,
            )
        }
        k if workload::pod_spec_pointer(k).is_some() => {
            // Status, scale, binding... carry no containers to check.
            if !request.sub_resource.is_empty() && request.sub_resource != "ephemeralcontainers" {
                return Verdict::accept();
            }
            // `kubectl debug` adds ephemeral containers to a running Pod whose
            // other containers can no longer change: judge only the new ones.
            let only_ephemeral = request.sub_resource == "ephemeralcontainers";
            check_workload(
                request.object,
                k,
                &identity.describe(k),
                settings,
                only_ephemeral,
            )
        }
        "" => Verdict::malformed("the admission request has no kind".to_string()),
        other => Verdict::malformed(format!(
            "this policy validates {} and ConfigMap objects, not {other}; check the rules of the policy",
            workload::WORKLOAD_KINDS.join(", ")
        )),
    }
}

/// Kubeconfig check on any workload kind, mutating when the settings ask for it.
fn check_workload(
    mut object: Value,
    kind: &str,
    workload: &str,
    settings: &Settings,
    only_ephemeral: bool,
) -> Verdict {
    let spec = match workload::read_pod_spec(kind, &object) {
        Ok(spec) => spec,
        Err(e) => return Verdict::malformed(format!("{workload}: {e}")),
    };
    let mut report = kubeconfig_check::check(&spec, settings);
    if only_ephemeral {
        let ephemeral = workload::ContainerKind::EphemeralContainer;
        report.findings.retain(|f| f.container_kind == ephemeral);
        report.unresolved.retain(|u| u.container_kind == ephemeral);
    }
    let mut warnings: Vec<String> = if settings.warn_on_unresolved_values {
        report
            .unresolved
            .iter()
            .map(|u| messages::kubeconfig::describe_unresolved(u, workload))
            .collect()
    } else {
        Vec::new()
    };
    if report.findings.is_empty() {
        return Verdict::Accept { warnings };
    }
    if settings.remove_offending_variables {
        let pointer = workload::pod_spec_pointer(kind).unwrap_or("/spec");
        if let Some(pod_spec) = object.pointer_mut(pointer) {
            warnings.extend(kubeconfig_check::remove_offending(
                pod_spec,
                &report.findings,
                workload,
            ));
            return Verdict::Mutate { object, warnings };
        }
    }
    let message = verdict::join_capped(
        report
            .findings
            .iter()
            .map(|f| messages::kubeconfig::describe(f, workload)),
    );
    Verdict::Reject {
        message,
        code: None,
        warnings,
    }
}

/// Namespace and name of the object under review, for messages.
struct Identity {
    namespace: String,
    name: String,
}

impl Identity {
    fn of(request: &KubernetesAdmissionRequest) -> Identity {
        let meta = |field: &str| {
            request
                .object
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Identity {
            namespace: meta("namespace")
                .or_else(|| non_empty(&request.namespace))
                .unwrap_or_default(),
            name: meta("name")
                .or_else(|| non_empty(&request.name))
                .or_else(|| meta("generateName").map(|g| format!("{g}*")))
                .unwrap_or_else(|| "<unnamed>".to_string()),
        }
    }

    /// "Deployment ns/name" (or "Deployment name" outside a namespace).
    fn describe(&self, kind: &str) -> String {
        if self.namespace.is_empty() {
            format!("{kind} {}", self.name)
        } else {
            format!("{kind} {}/{}", self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests;
