//! Check 2: a ConfigMap may only name in-cluster Services (and ports) that
//! exist. References are grouped by namespace and each namespace is looked
//! up once.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};
use wildmatch::WildMatch;

use crate::service_lookup::{ServiceInfo, ServiceSource};
use crate::service_refs::{Form, Port, ScanOptions, ServiceRef, scan};
use crate::settings::{Action, OnLookupError, Settings};
use crate::suggest::closest;
use crate::verdict::{MAX_LISTED, Verdict, join_capped};

/// A reference found under one key of the ConfigMap.
#[derive(Debug)]
struct KeyedRef<'t> {
    key: &'t str,
    reference: ServiceRef<'t>,
}

/// The identity of a reference across old and new objects.
type RefId<'r> = (&'r str, &'r str, Port);

fn id<'r>(r: &'r ServiceRef) -> RefId<'r> {
    (&r.service, &r.namespace, r.port)
}

/// The ConfigMap's `data`, or why it cannot be read.
fn data_of(object: &Value) -> Result<Option<&Map<String, Value>>, String> {
    match object.get("data") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err("data is not a map of strings".to_string()),
    }
}

fn scan_data<'t>(data: &'t Map<String, Value>, options: &ScanOptions) -> Vec<KeyedRef<'t>> {
    data.iter()
        .filter_map(|(key, value)| value.as_str().map(|text| (key, text)))
        .filter(|(_, text)| !is_grafana_dashboard(text))
        .flat_map(|(key, text)| {
            scan(text, options)
                .into_iter()
                .map(move |reference| KeyedRef { key, reference })
        })
        .collect()
}

/// A Grafana dashboard names Services only as metric label values and
/// template-variable defaults (Istio's `destination_service`, say), never as
/// something to connect to; datasource URLs live in provisioning files.
fn is_grafana_dashboard(text: &str) -> bool {
    let start = text.trim_start();
    start.starts_with('{') && text.contains("\"schemaVersion\"") && text.contains("\"panels\"")
}

/// Validates one ConfigMap `object` (with `old_object` on UPDATE).
/// `config_map` reads like "ConfigMap ns/name"; `namespace` is its namespace.
pub fn check(
    object: &Value,
    old_object: Option<&Value>,
    config_map: &str,
    namespace: &str,
    settings: &Settings,
    source: &dyn ServiceSource,
) -> Verdict {
    let data = match data_of(object) {
        Ok(Some(data)) => data,
        Ok(None) => return Verdict::accept(),
        Err(e) => return Verdict::malformed(format!("{config_map}: {e}")),
    };
    let qualified_suffixes = vec![format!(
        ".svc.{}",
        settings.cluster_domain_labels().join(".")
    )];
    let ignored: Vec<WildMatch> = settings
        .ignored_hosts
        .iter()
        .map(|p| WildMatch::new(&p.to_ascii_lowercase()))
        .collect();
    let options = ScanOptions {
        qualified_suffixes: &qualified_suffixes,
        default_namespace: namespace,
        short_names: settings.check_short_names,
        ignored_hosts: &ignored,
    };

    // On UPDATE only what the edit adds is checked: an old reference never
    // blocks an unrelated change.
    let old_refs = match old_object.map(data_of) {
        Some(Ok(Some(old))) => scan_data(old, &options),
        _ => Vec::new(),
    };
    let already_there: HashSet<RefId> = old_refs.iter().map(|k| id(&k.reference)).collect();
    let refs: Vec<KeyedRef> = scan_data(data, &options)
        .into_iter()
        .filter(|k| !is_builtin(&k.reference))
        .filter(|k| already_there.is_empty() || !already_there.contains(&id(&k.reference)))
        .collect();
    if refs.is_empty() {
        return Verdict::accept();
    }

    let mut by_namespace: BTreeMap<&str, Vec<&KeyedRef>> = BTreeMap::new();
    for r in &refs {
        by_namespace
            .entry(r.reference.namespace.as_ref())
            .or_default()
            .push(r);
    }

    let mut problems = Vec::new();
    let mut lookup_errors = Vec::new();
    // Suggestions cost a comparison with every Service of the namespace;
    // only the problems that are spelled out need one.
    let mut suggestions_left = MAX_LISTED;
    if by_namespace.len() > settings.max_namespaces_per_request {
        lookup_errors.push(format!(
            "{config_map} references Services in {} namespaces, more than maxNamespacesPerRequest ({}) allows, so they were not looked up",
            by_namespace.len(),
            settings.max_namespaces_per_request
        ));
    } else {
        // BTreeMap order: host calls are deterministic, so sessions replay.
        for (ns, ns_refs) in &by_namespace {
            match source.services_in(ns) {
                Ok(services) => {
                    problems.extend(problems_in_namespace(
                        ns_refs,
                        &services,
                        config_map,
                        settings,
                        &mut suggestions_left,
                    ))
                }
                Err(e) => lookup_errors.push(format!(
                    "{config_map}: cannot verify the Services referenced in namespace {ns:?} ({}): {e}",
                    written_list(ns_refs)
                )),
            }
        }
    }
    verdict(problems, lookup_errors, settings)
}

/// `kubernetes.default.svc` always exists: the API server's own Service.
fn is_builtin(r: &ServiceRef) -> bool {
    r.service == "kubernetes" && r.namespace == "default"
}

fn problems_in_namespace(
    refs: &[&KeyedRef],
    services: &[ServiceInfo],
    config_map: &str,
    settings: &Settings,
    suggestions_left: &mut usize,
) -> Vec<String> {
    let by_name: HashMap<&str, &ServiceInfo> =
        services.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut seen = HashSet::new();
    let mut problems = Vec::new();
    for KeyedRef { key, reference: r } in refs.iter().copied() {
        // A `scheme://a.b` short name in a namespace without Services is much
        // more likely an external domain than a dangling reference.
        if services.is_empty() && r.form == Form::ShortWithNamespace {
            continue;
        }
        let service = by_name.get(r.service.as_ref()).copied();
        let closed_port = service.and_then(|service| {
            r.port
                .number()
                .filter(|p| settings.check_ports && !service.accepts_port(*p))
        });
        if service.is_some() && closed_port.is_none() {
            continue;
        }
        // Only problems are deduplicated: hashing every reference would cost
        // more than checking it.
        if !seen.insert((*key, r.written.as_ref())) {
            continue;
        }
        let subject = format!(
            "{config_map}, key {key:?}: {:?} names Service {:?} in namespace {:?}",
            r.written, r.service, r.namespace
        );
        match (service, closed_port) {
            (Some(service), Some(port)) => {
                let implied = match r.port {
                    Port::SchemeDefault(_) => " (implied by the URL scheme)",
                    _ => "",
                };
                let exposed = if service.ports.is_empty() {
                    "no ports".to_string()
                } else {
                    let list: Vec<String> = service.ports.iter().map(i32::to_string).collect();
                    format!("only port(s) {}", list.join(", "))
                };
                problems.push(format!(
                    "{subject}, but port {port}{implied} is not exposed: the Service exposes {exposed}"
                ));
            }
            _ => {
                let suggestion = if *suggestions_left > 0 {
                    *suggestions_left -= 1;
                    // Listing the port beats merely accepting it (headless).
                    let serves = |s: &ServiceInfo| {
                        r.port
                            .number()
                            .is_some_and(|p| s.ports.contains(&i32::from(p)))
                    };
                    closest(
                        &r.service,
                        services.iter().map(|s| (s.name.as_str(), serves(s))),
                    )
                } else {
                    None
                };
                let hint = suggestion
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_else(|| "; create the Service or correct the name".to_string());
                problems.push(format!("{subject}, which does not exist{hint}"));
            }
        }
    }
    problems
}

fn written_list(refs: &[&KeyedRef]) -> String {
    let mut written: Vec<&str> = refs.iter().map(|r| r.reference.written.as_ref()).collect();
    written.dedup();
    let total = written.len();
    written.truncate(3);
    let mut list = written.join(", ");
    if total > 3 {
        list.push_str(&format!(" and {} more", total - 3));
    }
    list
}

fn verdict(problems: Vec<String>, lookup_errors: Vec<String>, settings: &Settings) -> Verdict {
    let deny_problems = !problems.is_empty() && settings.action == Action::Deny;
    let deny_errors = !lookup_errors.is_empty() && settings.on_lookup_error == OnLookupError::Deny;
    let mut warnings = Vec::new();
    let mut reasons = Vec::new();
    if deny_problems {
        reasons.extend(problems);
    } else {
        warnings.extend(problems);
    }
    if deny_errors {
        reasons.extend(lookup_errors);
    } else {
        warnings.extend(lookup_errors);
    }
    if reasons.is_empty() {
        Verdict::Accept { warnings }
    } else {
        Verdict::Reject {
            message: join_capped(reasons.into_iter()),
            code: None,
            warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_lookup::MockServiceSource;
    use mockall::predicate::eq;
    use rstest::rstest;
    use serde_json::json;

    fn svc(name: &str, ports: &[i32]) -> ServiceInfo {
        ServiceInfo {
            name: name.into(),
            ports: ports.to_vec(),
            ..Default::default()
        }
    }

    /// The kubernaut-system namespace of the post-mortem.
    fn kubernaut_system() -> Vec<ServiceInfo> {
        vec![
            svc("data-storage-service", &[8081, 9181]),
            svc("postgresql", &[5432]),
            ServiceInfo {
                name: "redis-headless".into(),
                headless: true,
                ..Default::default()
            },
            ServiceInfo {
                name: "legacy-db".into(),
                external_name: true,
                ..Default::default()
            },
        ]
    }

    fn cluster() -> MockServiceSource {
        let mut source = MockServiceSource::new();
        source
            .expect_services_in()
            .with(eq("kubernaut-system"))
            .returning(|_| Ok(kubernaut_system()));
        source
            .expect_services_in()
            .with(eq("monitoring"))
            .returning(|_| Ok(vec![svc("prometheus", &[9090])]));
        source.expect_services_in().returning(|_| Ok(Vec::new()));
        source
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "gateway-config", "namespace": "kubernaut-system"}, "data": data})
    }

    fn run(data: Value, settings: &Settings, source: &dyn ServiceSource) -> Verdict {
        check(
            &cm(data),
            None,
            "ConfigMap kubernaut-system/gateway-config",
            "kubernaut-system",
            settings,
            source,
        )
    }

    fn message(v: &Verdict) -> &str {
        match v {
            Verdict::Reject { message, .. } => message,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[rstest]
    #[case::exists_right_port(
        "http://data-storage-service.kubernaut-system.svc.cluster.local:8081"
    )]
    #[case::no_port_written("data-storage-service.kubernaut-system.svc.cluster.local")]
    #[case::headless_any_port("redis-0.redis-headless.kubernaut-system.svc.cluster.local:6379")]
    #[case::external_name_any_port("legacy-db.kubernaut-system.svc:1521")]
    #[case::builtin_kubernetes("https://kubernetes.default.svc:443")]
    #[case::other_namespace("http://prometheus.monitoring.svc:9090/api")]
    #[case::placeholder("http://datastorage.${NAMESPACE}.svc.cluster.local:8080")]
    #[case::short_name_off_by_default("http://datastorage:8080")]
    #[case::no_references("log_level: debug")]
    fn accepted(#[case] text: &str) {
        let v = run(
            json!({"config.yaml": text}),
            &Settings::default(),
            &cluster(),
        );
        assert!(
            matches!(v, Verdict::Accept { ref warnings } if warnings.is_empty()),
            "{text}: {v:?}"
        );
    }

    #[rstest]
    #[case::seed_missing("data_storage_url: http://datastorage.kubernaut-system.svc.cluster.local:8080",
        r#"ConfigMap kubernaut-system/gateway-config, key "config.yaml": "http://datastorage.kubernaut-system.svc.cluster.local:8080" names Service "datastorage" in namespace "kubernaut-system", which does not exist; did you mean "data-storage-service"?"#)]
    #[case::wrong_port(
        "http://data-storage-service.kubernaut-system.svc.cluster.local:8080",
        r#"but port 8080 is not exposed: the Service exposes only port(s) 8081, 9181"#
    )]
    #[case::scheme_default_port(
        "http://data-storage-service.kubernaut-system.svc",
        r#"port 80 (implied by the URL scheme) is not exposed"#
    )]
    #[case::missing_no_suggestion("nats://queue.kubernaut-system.svc:4222",
        r#"names Service "queue" in namespace "kubernaut-system", which does not exist; create the Service or correct the name"#)]
    #[case::missing_namespace(
        "http://api.nowhere.svc:80",
        r#"names Service "api" in namespace "nowhere", which does not exist"#
    )]
    fn rejected(#[case] text: &str, #[case] expected: &str) {
        let v = run(
            json!({"config.yaml": text}),
            &Settings::default(),
            &cluster(),
        );
        assert!(message(&v).contains(expected), "{}", message(&v));
    }

    #[test]
    fn every_bad_reference_is_reported_once() {
        let data = json!({
            "a": "http://datastorage.kubernaut-system.svc.cluster.local:8080 http://datastorage.kubernaut-system.svc.cluster.local:8080",
            "b": "postgres.kubernaut-system.svc:5432",
        });
        let v = run(data, &Settings::default(), &cluster());
        let m = message(&v);
        assert_eq!(m.matches("does not exist").count(), 2, "{m}");
        assert!(m.contains(r#"key "a""#) && m.contains(r#"key "b""#));
    }

    #[test]
    fn ports_are_not_checked_when_disabled() {
        let settings = Settings {
            check_ports: false,
            ..Default::default()
        };
        let v = run(
            json!({"k": "http://data-storage-service.kubernaut-system.svc:8080"}),
            &settings,
            &cluster(),
        );
        assert!(matches!(v, Verdict::Accept { .. }));
    }

    #[test]
    fn warn_action_accepts_with_warnings() {
        let settings = Settings {
            action: Action::Warn,
            ..Default::default()
        };
        let v = run(
            json!({"k": "http://datastorage.kubernaut-system.svc:8080"}),
            &settings,
            &cluster(),
        );
        match v {
            Verdict::Accept { warnings } => {
                assert!(warnings[0].contains("did you mean \"data-storage-service\""))
            }
            other => panic!("{other:?}"),
        }
    }

    #[rstest]
    #[case::short_same_namespace(
        "http://datastorage:8080",
        Some("names Service \"datastorage\" in namespace \"kubernaut-system\"")
    )]
    #[case::short_ok("http://data-storage-service:8081", None)]
    #[case::short_other_namespace("http://prometheus.monitoring:9090", None)]
    #[case::short_other_namespace_missing(
        "http://grafana.monitoring:3000",
        Some("names Service \"grafana\" in namespace \"monitoring\"")
    )]
    #[case::external_looking_namespace_without_services("https://flagd.dev/schema", None)]
    #[case::tld("https://grafana.net", None)]
    fn short_names(#[case] text: &str, #[case] expected: Option<&str>) {
        let settings = Settings {
            check_short_names: true,
            ..Default::default()
        };
        let v = run(json!({"k": text}), &settings, &cluster());
        match expected {
            Some(part) => assert!(message(&v).contains(part), "{}", message(&v)),
            None => assert!(matches!(v, Verdict::Accept { .. }), "{text}: {v:?}"),
        }
    }

    #[test]
    fn ignored_hosts_are_not_looked_up() {
        let settings = Settings {
            ignored_hosts: vec!["*.kubernaut-system.svc.cluster.local".into()],
            ..Default::default()
        };
        let source = MockServiceSource::new(); // any call would panic
        let v = run(
            json!({"k": "http://datastorage.kubernaut-system.svc.cluster.local:8080"}),
            &settings,
            &source,
        );
        assert!(matches!(v, Verdict::Accept { .. }));
    }

    #[test]
    fn one_lookup_per_namespace_in_sorted_order() {
        let mut source = MockServiceSource::new();
        let mut seq = mockall::Sequence::new();
        for ns in ["a", "b", "c"] {
            source
                .expect_services_in()
                .with(eq(ns))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_| Ok(vec![svc("x", &[80])]));
        }
        let text: String = (0..3000)
            .map(|i| format!("http://x.{}.svc:80\n", ["c", "a", "b"][i % 3]))
            .collect();
        let v = run(json!({"k": text}), &Settings::default(), &source);
        assert!(matches!(v, Verdict::Accept { .. }), "{v:?}");
    }

    #[rstest]
    #[case::deny(OnLookupError::Deny, true)]
    #[case::allow(OnLookupError::Allow, false)]
    fn host_errors(#[case] on_error: OnLookupError, #[case] rejected: bool) {
        let mut source = MockServiceSource::new();
        source
            .expect_services_in()
            .returning(|_| Err("error invoking host capability: forbidden".into()));
        let settings = Settings {
            on_lookup_error: on_error,
            ..Default::default()
        };
        let v = run(
            json!({"k": "http://datastorage.kubernaut-system.svc:8080"}),
            &settings,
            &source,
        );
        let expected = r#"cannot verify the Services referenced in namespace "kubernaut-system" (http://datastorage.kubernaut-system.svc:8080): error invoking host capability: forbidden"#;
        match v {
            Verdict::Reject { message, .. } => {
                assert!(rejected && message.contains(expected), "{message}")
            }
            Verdict::Accept { warnings } => {
                assert!(!rejected && warnings[0].contains(expected), "{warnings:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn namespace_bound_is_a_lookup_error() {
        let settings = Settings {
            max_namespaces_per_request: 2,
            ..Default::default()
        };
        let source = MockServiceSource::new(); // no call may be made
        let v = run(
            json!({"k": "a.n1.svc b.n2.svc c.n3.svc"}),
            &settings,
            &source,
        );
        assert!(message(&v).contains(
            "references Services in 3 namespaces, more than maxNamespacesPerRequest (2) allows"
        ));
    }

    #[rstest]
    #[case::old_reference_kept(
        "http://datastorage.kubernaut-system.svc:8080",
        "http://datastorage.kubernaut-system.svc:8080\nlevel: debug",
        false
    )]
    #[case::new_reference_added(
        "level: info",
        "http://datastorage.kubernaut-system.svc:8080",
        true
    )]
    #[case::port_changed(
        "http://data-storage-service.kubernaut-system.svc:8081",
        "http://data-storage-service.kubernaut-system.svc:8080",
        true
    )]
    fn updates_check_only_new_references(
        #[case] old: &str,
        #[case] new: &str,
        #[case] rejected: bool,
    ) {
        let v = check(
            &cm(json!({"k": new})),
            Some(&cm(json!({"k": old}))),
            "ConfigMap kubernaut-system/gateway-config",
            "kubernaut-system",
            &Settings::default(),
            &cluster(),
        );
        assert_eq!(matches!(v, Verdict::Reject { .. }), rejected, "{v:?}");
    }

    #[test]
    fn long_lists_are_capped() {
        let text: String = (0..100)
            .map(|i| format!("http://s{i}.kubernaut-system.svc:80\n"))
            .collect();
        let v = run(json!({"k": text}), &Settings::default(), &cluster());
        assert!(
            message(&v).ends_with("; and 80 more problem(s)"),
            "{}",
            message(&v)
        );
    }

    #[rstest]
    #[case::no_data(json!(null))]
    #[case::empty(json!({}))]
    #[case::binary_like(json!({"k": 1}))]
    fn nothing_to_check(#[case] data: Value) {
        let source = MockServiceSource::new();
        assert!(matches!(
            run(data, &Settings::default(), &source),
            Verdict::Accept { .. }
        ));
    }

    #[rstest]
    #[case::dashboard(r#"{"panels":[],"templating":{"list":[{"current":{"text":"details.default.svc.cluster.local"}}]},"schemaVersion":39}"#, true)]
    #[case::datasource_json(r#"{"url":"http://nope.kubernaut-system.svc:80","panels":"x"}"#, false)]
    fn grafana_dashboards_are_not_connections(#[case] text: &str, #[case] accepted: bool) {
        let v = run(json!({"d.json": text}), &Settings::default(), &cluster());
        assert_eq!(matches!(v, Verdict::Accept { .. }), accepted, "{v:?}");
    }

    #[test]
    fn data_must_be_a_map() {
        let source = MockServiceSource::new();
        let v = run(json!(["x"]), &Settings::default(), &source);
        assert!(
            matches!(
                v,
                Verdict::Reject {
                    code: Some(400),
                    ..
                }
            ),
            "{v:?}"
        );
    }
}
