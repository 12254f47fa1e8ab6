//! dangling-references-policy: a Kubewarden policy that rejects workloads
//! whose KUBECONFIG points at a path that will not exist in the container
//! (or comes from a hostPath volume), and ConfigMaps that name in-cluster
//! Services (or ports) that do not exist.
//!
//! Data flows one way: request → extract → check → typed findings →
//! rendered verdict (`render`, worded by `messages`); this module only
//! parses the payload and routes the request. Every expected
//! situation, malformed input included, ends in a verdict: a guest error or
//! a trap would be an outage at the API server.

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::prelude::*;

pub mod admission;
pub mod backend_refs;
pub mod env_expansion;
pub mod graph;
pub mod host_call;
pub mod ignore_annotation;
pub mod json_fields;
pub use borrowed_json::{json_pull, json_tree};
pub mod kubeconfig_check;
pub mod messages;
pub mod mounts;
pub mod object_lookup;
pub mod quote;
pub mod render;
pub mod route_check;
pub mod service_check;
pub mod service_lookup;
pub mod service_refs;
pub mod settings;
pub mod suggest;
pub mod verdict;
pub mod workload;
pub mod workload_check;
pub mod workload_refs;

use admission::{AdmissionRequest, Payload};
use object_lookup::{HostObjects, ObjectSource};
use service_lookup::{HostServices, OncePerNamespace, ServiceSource};
use settings::{Compiled, Settings};
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

fn validate(payload: &[u8]) -> CallResult {
    let host = Host {
        services: &HostServices(&host_call::Wapc),
        objects: &HostObjects(&host_call::Wapc),
    };
    Ok(serde_json::to_vec(&evaluate(payload, &host))?)
}

/// Benchmark baseline: the payload read into a `serde_json::Value`, as
/// the SDK's `ValidationRequest` reads it before any check (and as this
/// policy did before its one borrowed pass), and nothing else. A fixed
/// yardstick: `validate`'s own reading is cheaper (`json_tree`).
#[cfg(feature = "parse-baseline")]
fn parse_request(payload: &[u8]) -> CallResult {
    let parsed = serde_json::from_slice::<serde_json::Value>(payload).is_ok();
    Ok(if parsed {
        b"true".to_vec()
    } else {
        b"false".to_vec()
    })
}

/// The waPC `protocol_version` answer (`"v1"`): the SDK's, for hosts that
/// call the policy natively.
pub fn protocol_version(payload: &[u8]) -> CallResult {
    kubewarden_policy_sdk::protocol_version_guest(payload)
}

/// Like the SDK's `validate_settings`, but a document that does not parse
/// (an unknown field, a wrong type) is answered `valid: false` with the
/// reason instead of failing the call. Public for the fuzz targets.
pub fn validate_settings(payload: &[u8]) -> CallResult {
    let result = std::str::from_utf8(payload)
        .map_err(|e| format!("settings are not UTF-8: {e}"))
        .and_then(Settings::parse_valid);
    let response = SettingsValidationResponse {
        valid: result.is_ok(),
        message: result.err(),
    };
    Ok(serde_json::to_vec(&response)?)
}

/// The host's answers the checks can ask for: Services, and the objects
/// a Pod template names.
pub struct Host<'h> {
    pub services: &'h dyn ServiceSource,
    pub objects: &'h dyn ObjectSource,
}

/// Evaluates one `validate` payload; never fails, never panics on input.
pub fn evaluate(payload: &[u8], host: &Host) -> ValidationResponse {
    let payload = match Payload::from_slice(payload) {
        Ok(p) => p,
        Err(e) => return Verdict::malformed(messages::unreadable_request(&e)).into_response(),
    };
    let compiled = match settings::compiled(payload.settings.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            return Verdict::Reject {
                message: messages::misconfigured(&e),
                code: Some(500),
                warnings: Vec::new(),
            }
            .into_response();
        }
    };
    route(&payload.request, &compiled, host).into_response()
}

/// Chooses the check for the request's kind and operation.
fn route(request: &AdmissionRequest, compiled: &Compiled, host: &Host) -> Verdict {
    if matches!(request.operation.as_str(), "DELETE" | "CONNECT") {
        return Verdict::accept();
    }
    let kind = request.kind.as_str();
    let (object, namespace) = messages::object(request, kind);
    let old = (request.operation == "UPDATE")
        .then_some(&request.old_object)
        .filter(|o| !o.is_null());
    match kind {
        "ConfigMap" if request.sub_resource.is_empty() => render::config_map(
            service_check::check(&request.object, old, &namespace, compiled, host.services),
            &object,
            compiled,
        ),
        k if workload::pod_spec_pointer(k).is_some() => {
            // Status, scale, binding... carry no containers to check.
            if !request.sub_resource.is_empty() && request.sub_resource != "ephemeralcontainers" {
                return Verdict::accept();
            }
            let only_ephemeral = request.sub_resource == "ephemeralcontainers";
            // one Service listing per namespace for both checks
            let services = OncePerNamespace::new(host.services);
            let report = workload_check::check(
                &workload_check::Request {
                    object: &request.object,
                    old_object: old,
                    kind: k,
                    namespace: &namespace,
                    only_ephemeral,
                },
                compiled,
                &services,
                host.objects,
            );
            // `kubectl debug` adds ephemeral containers, which have no
            // probes: nothing of the graph changes
            let graph = if only_ephemeral {
                Ok(graph::Report::default())
            } else {
                graph::check(
                    &graph_request(request, k, old, &namespace),
                    compiled,
                    &services,
                    host.objects,
                )
            };
            render::workload(report, graph, &object, &namespace, compiled)
        }
        k if graph::extract::SOURCE_KINDS.contains(&k) => {
            if !request.sub_resource.is_empty() {
                return Verdict::accept();
            }
            let report = graph::check(
                &graph_request(request, k, old, &namespace),
                compiled,
                host.services,
                host.objects,
            );
            render::graph(report, &object, compiled)
        }
        k if backend_refs::ROUTE_KINDS.contains(&k) => {
            if !request.sub_resource.is_empty() || !compiled.settings.check_routes {
                return Verdict::accept();
            }
            let report =
                route_check::check(k, &request.object, old, &namespace, compiled, host.services);
            render::route(report, &object, k, compiled)
        }
        "" => Verdict::malformed(messages::no_kind()),
        other => Verdict::malformed(messages::unsupported_kind(
            other,
            workload::WORKLOAD_KINDS,
            backend_refs::ROUTE_KINDS,
            graph::extract::SOURCE_KINDS,
        )),
    }
}

/// The reference graph's view of the request.
fn graph_request<'a>(
    request: &'a AdmissionRequest<'a>,
    kind: &'a str,
    old_object: Option<&'a json_tree::Value<'a>>,
    namespace: &'a str,
) -> graph::Request<'a> {
    graph::Request {
        kind,
        object: &request.object,
        old_object,
        namespace,
    }
}

#[cfg(test)]
mod fake_cluster {
    pub use crate::test_support::FakeHost as FakeCluster;
}
#[cfg(test)]
mod rules;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
#[cfg(test)]
mod tests;
