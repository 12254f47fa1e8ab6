//! Check 4: the Services an Ingress or a Gateway API route sends traffic
//! to must exist, with the port the backend names. Installers create route
//! objects last (Helm's kind order ends with Ingress, and kinds Helm does
//! not know, such as HTTPRoute, come after every known kind), so the
//! backends exist when the route is admitted.
//!
//! What a missing backend does: ingress-nginx answers 503 for its paths;
//! Gateway API implementations set the route's `ResolvedRefs` condition to
//! False and answer 500. Host calls: one Service listing per namespace the
//! backends name, in sorted order, so sessions replay; on UPDATE only the
//! backends the edit adds are looked up.

use std::collections::BTreeMap;

use crate::json_tree::Value;

use crate::backend_refs::{self, BackendPort, BackendRef};
use crate::service_check::{LookupFailure, MAX_SUGGESTED};
use crate::service_lookup::{ServiceInfo, ServiceSource};
use crate::settings::Compiled;
use crate::suggest::closest;

/// What is wrong with one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No Service of that name; the closest existing name, if any.
    Missing { suggestion: Option<String> },
    /// The Service has no port of that number; the ports it has.
    PortNotExposed { port: i32, exposed: Vec<i32> },
    /// The Service has no port of that name; the names it has.
    PortNameNotExposed { name: String, names: Vec<String> },
}

/// One backend that does not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub backend: BackendRef,
    pub problem: Problem,
}

/// Everything the check found.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub failures: Vec<LookupFailure>,
}

/// Checks the Service backends of `object`, a `kind` of
/// [`backend_refs::ROUTE_KINDS`] in `namespace` (with `old_object` on
/// UPDATE: only the backends the edit adds). Errors: the first field of
/// the wrong type, for a 400.
pub fn check(
    kind: &str,
    object: &Value,
    old_object: Option<&Value>,
    namespace: &str,
    compiled: &Compiled,
    source: &dyn ServiceSource,
) -> Result<Report, String> {
    let mut backends = backend_refs::extract(kind, object, namespace)?;
    if let Some(old) = old_object {
        // an old backend that no longer parses adds nothing to compare with
        let before = backend_refs::extract(kind, old, namespace).unwrap_or_default();
        backends.retain(|b| {
            !before
                .iter()
                .any(|o| (&o.service, &o.namespace, &o.port) == (&b.service, &b.namespace, &b.port))
        });
    }
    Ok(judge(backends, compiled, source))
}

/// Judges `backends` against the Services of their namespaces: one
/// listing per namespace, sorted, none when there are more namespaces than
/// `maxNamespacesPerRequest`.
fn judge(backends: Vec<BackendRef>, compiled: &Compiled, source: &dyn ServiceSource) -> Report {
    let mut report = Report::default();
    let mut by_namespace: BTreeMap<&str, Vec<&BackendRef>> = BTreeMap::new();
    for backend in &backends {
        by_namespace
            .entry(backend.namespace.as_str())
            .or_default()
            .push(backend);
    }
    let max = compiled.settings.max_namespaces_per_request;
    if by_namespace.len() > max {
        report.failures.push(LookupFailure::TooManyNamespaces {
            count: by_namespace.len(),
            max,
        });
        return report;
    }
    let mut suggestions_left = MAX_SUGGESTED;
    for (namespace, refs) in by_namespace {
        match source.services_in(namespace) {
            Ok(services) => {
                for backend in refs {
                    if let Some(problem) = problem(backend, &services, &mut suggestions_left) {
                        report.findings.push(Finding {
                            backend: backend.clone(),
                            problem,
                        });
                    }
                }
            }
            Err(error) => {
                let mut written: Vec<&str> = refs.iter().map(|b| b.service.as_str()).collect();
                written.sort_unstable();
                written.dedup();
                report.failures.push(LookupFailure::Host {
                    namespace: namespace.to_string(),
                    total: written.len(),
                    written: written.into_iter().take(3).map(str::to_string).collect(),
                    error,
                });
            }
        }
    }
    report
}

/// What is wrong with `backend` among `services`, if anything. An
/// ExternalName Service accepts any port: the proxy connects to the name
/// it points to.
fn problem(
    backend: &BackendRef,
    services: &[ServiceInfo],
    suggestions_left: &mut usize,
) -> Option<Problem> {
    let Some(service) = services.iter().find(|s| s.name == backend.service) else {
        let suggestion = (*suggestions_left > 0)
            .then(|| {
                *suggestions_left -= 1;
                let serves = |s: &ServiceInfo| match &backend.port {
                    BackendPort::Number(n) => s.ports.contains(n),
                    BackendPort::Name(name) => s.named_ports.iter().any(|p| &p.name == name),
                    BackendPort::Unset => true,
                };
                closest(
                    &backend.service,
                    &mut services.iter().map(|s| (s.name.as_str(), serves(s))),
                )
                .map(str::to_string)
            })
            .flatten();
        return Some(Problem::Missing { suggestion });
    };
    if service.external_name {
        return None;
    }
    match &backend.port {
        BackendPort::Number(port) if !service.ports.contains(port) => {
            Some(Problem::PortNotExposed {
                port: *port,
                exposed: service.ports.clone(),
            })
        }
        BackendPort::Name(name) if !service.named_ports.iter().any(|p| &p.name == name) => {
            Some(Problem::PortNameNotExposed {
                name: name.clone(),
                names: service.named_ports.iter().map(|p| p.name.clone()).collect(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_lookup::NamedPort;
    use crate::settings::{Action, OnLookupError, Settings};
    use crate::test_support::FakeHost;
    use crate::verdict::Verdict;
    use rstest::rstest;
    use serde_json::Value;
    use serde_json::json;

    /// Namespace `shop`: `frontend` (80 "http", 443 "https"), `legacy`
    /// (ExternalName); namespace `backend`: `api` (9090).
    fn cluster() -> FakeHost {
        let mut host = FakeHost::new();
        host.add_service(
            "shop",
            ServiceInfo {
                name: "frontend".into(),
                ports: vec![80, 443],
                named_ports: vec![
                    NamedPort {
                        name: "http".into(),
                        protocol: "tcp".into(),
                    },
                    NamedPort {
                        name: "https".into(),
                        protocol: "tcp".into(),
                    },
                ],
                ..Default::default()
            },
        );
        host.add_service(
            "shop",
            ServiceInfo {
                name: "legacy".into(),
                external_name: true,
                ..Default::default()
            },
        );
        host.add_service(
            "backend",
            ServiceInfo {
                name: "api".into(),
                ports: vec![9090],
                ..Default::default()
            },
        );
        host
    }

    fn ingress(service: Value) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                   "backend": {"service": service}}]}}]}})
    }

    fn route(kind: &str, backend: Value) -> Value {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind,
               "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [backend]}]}})
    }

    /// The check and its rendering, as the router runs them.
    fn rendered(
        kind: &str,
        object: &Value,
        old: Option<&Value>,
        settings: &Settings,
        host: &FakeHost,
    ) -> Verdict {
        let compiled = settings.compile();
        let (object, old) = (object.into(), old.map(crate::json_tree::Value::from));
        let report = check(kind, &object, old.as_ref(), "shop", &compiled, host);
        crate::render::route(report, &format!("{kind} shop/web"), kind, &compiled)
    }

    fn rejection(v: &Verdict) -> Option<&str> {
        match v {
            Verdict::Reject { message, .. } => Some(message),
            _ => None,
        }
    }

    #[rstest]
    #[case::ingress_name_exists("Ingress", ingress(json!({"name": "frontend", "port": {"number": 80}})), None)]
    #[case::ingress_name_missing("Ingress", ingress(json!({"name": "frontnd", "port": {"number": 80}})),
        Some(r#"Ingress shop/web, spec.rules[0].http.paths[0].backend.service: Service "frontnd" does not exist in namespace "shop"; did you mean "frontend"? Requests routed to this backend get 503 until it exists"#))]
    #[case::ingress_port_number("Ingress", ingress(json!({"name": "frontend", "port": {"number": 8080}})),
        Some(r#"Ingress shop/web, spec.rules[0].http.paths[0].backend.service: Service "frontend" in namespace "shop" has no port 8080 (it exposes 80, 443); requests routed to this backend get 503"#))]
    #[case::ingress_port_name_exists("Ingress", ingress(json!({"name": "frontend", "port": {"name": "https"}})), None)]
    #[case::ingress_port_name("Ingress", ingress(json!({"name": "frontend", "port": {"name": "htp"}})),
        Some(r#"Ingress shop/web, spec.rules[0].http.paths[0].backend.service: Service "frontend" in namespace "shop" has no port named "htp" (its named ports: "http", "https"); requests routed to this backend get 503"#))]
    #[case::ingress_external_name("Ingress", ingress(json!({"name": "legacy", "port": {"number": 5432}})), None)]
    #[case::http_route_exists("HTTPRoute", route("HTTPRoute", json!({"name": "frontend", "port": 443})), None)]
    #[case::http_route_name("HTTPRoute", route("HTTPRoute", json!({"name": "fronted", "port": 80})),
        Some(r#"HTTPRoute shop/web, spec.rules[0].backendRefs[0]: Service "fronted" does not exist in namespace "shop"; did you mean "frontend"? The route's ResolvedRefs condition turns False and its requests get 500 until it exists"#))]
    #[case::http_route_port("HTTPRoute", route("HTTPRoute", json!({"name": "frontend", "port": 8443})),
        Some(r#"HTTPRoute shop/web, spec.rules[0].backendRefs[0]: Service "frontend" in namespace "shop" has no port 8443 (it exposes 80, 443); the route's ResolvedRefs condition turns False and its requests get 500"#))]
    #[case::http_route_cross_namespace("HTTPRoute", route("HTTPRoute", json!({"name": "api", "namespace": "backend", "port": 9090})), None)]
    #[case::http_route_cross_namespace_missing("HTTPRoute", route("HTTPRoute", json!({"name": "apis", "namespace": "backend", "port": 9090})),
        Some(r#"HTTPRoute shop/web, spec.rules[0].backendRefs[0]: Service "apis" does not exist in namespace "backend"; did you mean "api"?"#))]
    #[case::http_route_other_kind("HTTPRoute", route("HTTPRoute", json!({"name": "nothing", "group": "storage.example", "kind": "Bucket"})), None)]
    #[case::grpc_route_exists("GRPCRoute", route("GRPCRoute", json!({"name": "api", "namespace": "backend", "port": 9090})), None)]
    #[case::grpc_route_name("GRPCRoute", route("GRPCRoute", json!({"name": "grpc", "port": 9090})),
        Some(r#"GRPCRoute shop/web, spec.rules[0].backendRefs[0]: Service "grpc" does not exist in namespace "shop""#))]
    fn backends(#[case] kind: &str, #[case] object: Value, #[case] rejected: Option<&str>) {
        let v = rendered(kind, &object, None, &Settings::default(), &cluster());
        match rejected {
            None => assert_eq!(v, Verdict::accept()),
            Some(start) => {
                let message = rejection(&v).unwrap_or_else(|| panic!("{v:?}"));
                assert!(message.starts_with(start), "{message}");
            }
        }
    }

    #[test]
    fn default_backend_is_a_backend() {
        let object = json!({"spec": {"defaultBackend": {"service": {"name": "default-http-backend", "port": {"number": 80}}}}});
        let v = rendered("Ingress", &object, None, &Settings::default(), &cluster());
        assert!(
            rejection(&v).is_some_and(|m| m.starts_with(
                r#"Ingress shop/web, spec.defaultBackend.service: Service "default-http-backend" does not exist"#
            )),
            "{v:?}"
        );
        let exists = json!({"spec": {"defaultBackend": {"service": {"name": "frontend", "port": {"number": 80}}}}});
        assert_eq!(
            rendered("Ingress", &exists, None, &Settings::default(), &cluster()),
            Verdict::accept()
        );
    }

    #[rstest]
    #[case::warn(Action::Warn, OnLookupError::Deny, false)]
    #[case::deny(Action::Deny, OnLookupError::Deny, true)]
    fn action_decides(
        #[case] action: Action,
        #[case] on_error: OnLookupError,
        #[case] rejected: bool,
    ) {
        let settings = Settings {
            action,
            on_lookup_error: on_error,
            ..Settings::default()
        };
        let object = ingress(json!({"name": "gone", "port": {"number": 80}}));
        let v = rendered("Ingress", &object, None, &settings, &cluster());
        assert_eq!(rejection(&v).is_some(), rejected, "{v:?}");
        if !rejected {
            assert!(
                matches!(&v, Verdict::Accept { warnings } if warnings.len() == 1),
                "{v:?}"
            );
        }
    }

    #[rstest]
    #[case::deny(OnLookupError::Deny, true)]
    #[case::allow(OnLookupError::Allow, false)]
    fn lookup_errors(#[case] on_error: OnLookupError, #[case] rejected: bool) {
        let settings = Settings {
            on_lookup_error: on_error,
            ..Settings::default()
        };
        let host = cluster().failing_in("shop", "forbidden");
        let object = ingress(json!({"name": "frontend", "port": {"number": 80}}));
        let v = rendered("Ingress", &object, None, &settings, &host);
        assert_eq!(rejection(&v).is_some(), rejected, "{v:?}");
    }

    #[test]
    fn updates_judge_only_added_backends() {
        let host = cluster();
        let old = ingress(json!({"name": "gone", "port": {"number": 80}}));
        let unchanged = rendered("Ingress", &old, Some(&old), &Settings::default(), &host);
        assert_eq!(unchanged, Verdict::accept());
        assert!(host.calls().is_empty(), "{:?}", host.calls());
        let added = ingress(json!({"name": "gone-too", "port": {"number": 80}}));
        let v = rendered("Ingress", &added, Some(&old), &Settings::default(), &host);
        assert!(rejection(&v).is_some(), "{v:?}");
        assert_eq!(host.calls(), vec!["list Service shop"]);
    }

    #[rstest]
    #[case::at_the_bound(3, 0)]
    #[case::past_the_bound(2, 1)]
    fn namespace_bound(#[case] max: usize, #[case] failures: usize) {
        let settings = Settings {
            max_namespaces_per_request: max,
            ..Settings::default()
        };
        let refs: Vec<Value> = ["a", "b", "c"]
            .iter()
            .map(|ns| json!({"name": "x", "namespace": ns, "port": 80}))
            .collect();
        let object = json!({"spec": {"rules": [{"backendRefs": refs}]}});
        let host = FakeHost::new();
        let report = check(
            "HTTPRoute",
            &(&object).into(),
            None,
            "shop",
            &settings.compile(),
            &host,
        )
        .unwrap();
        assert_eq!(report.failures.len(), failures);
        assert_eq!(host.calls().len(), if failures == 0 { 3 } else { 0 });
    }

    #[test]
    fn malformed_routes_are_a_bad_request() {
        let object = json!({"spec": {"rules": "everything"}});
        let v = rendered("HTTPRoute", &object, None, &Settings::default(), &cluster());
        assert_eq!(
            v,
            Verdict::malformed("HTTPRoute shop/web: spec.rules is not a list".into())
        );
    }
}
