//! Check 2: the Services (and ports, and DNS records) that ConfigMap text
//! names must exist. Used for a ConfigMap on its own, and for the keys a
//! workload consumes. References are grouped by namespace and each
//! namespace is looked up once, in sorted order, so sessions replay.
//!
//! The check returns typed findings (a [`Report`]); `render` decides the
//! verdict and `messages::services` words them.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::json_tree::{Map, Value};

use crate::service_lookup::{NamedPort, ServiceInfo, ServiceSource};
use crate::service_refs::{
    Form, Port, Record, ScanOptions, ServiceRef, Zone, bare_host_ports, scan,
};
use crate::settings::Compiled;
use crate::suggest::{Likeness, likeness};

/// At most this many distinct missing Service names are compared with the
/// Services of their namespace per request (each comparison costs one
/// edit distance per Service there; a name written many times is compared
/// once). The comparison gives the "did you mean" of a message (which
/// lists at most `messages::MAX_LISTED` problems: a test keeps this
/// bound above it) and tells a typo from a name that resembles nothing
/// (a tolerant reference to it only warns). Past the bound a missing
/// Service is taken for a typo, as it cannot be told apart.
pub const MAX_SUGGESTED: usize = 64;

/// A reference found in one scanned text: `key` of the ConfigMap, and
/// `origin`, the caller's index of where that text is consumed.
#[derive(Debug)]
pub struct KeyedRef<'t> {
    pub key: &'t str,
    pub origin: usize,
    pub reference: ServiceRef<'t>,
    /// Read where a missing Service is as often an optional component as
    /// a typo (a container's env, args and command, and bare `host:port`
    /// values): a missing Service that resembles no existing name is then
    /// only [`Severity::Absent`].
    pub tolerant: bool,
}

/// How a finding weighs, set by the judge: `render` maps it to a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A broken reference: it follows `action` (deny by default).
    Broken,
    /// A Service that does not exist and resembles none that does, named
    /// where optional components are usual: always only a warning.
    Absent,
}

/// What is wrong with one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No Service of that name; the closest existing name, if any.
    Missing { suggestion: Option<String> },
    /// The Service exists but does not expose the port.
    PortNotExposed { port: Port, exposed: Vec<i32> },
    /// `<hostname>.<svc>…` names a Pod, but the Service is not headless.
    NotHeadless { hostname: String },
    /// `_<port>._<proto>.<svc>…` names an SRV record the Service lacks.
    NoSuchSrv {
        port_name: String,
        protocol: String,
        named_ports: Vec<NamedPort>,
    },
    /// The name is under a domain the cluster's DNS does not serve.
    ForeignZone { zone: String },
}

/// One dangling reference: the ConfigMap `key` whose text names it, the
/// caller's `origin` index of where that text is consumed, the reference
/// as `written` and the Service and namespace it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding<'t> {
    pub key: Cow<'t, str>,
    pub origin: usize,
    pub written: Cow<'t, str>,
    pub service: Cow<'t, str>,
    pub namespace: Cow<'t, str>,
    /// How the reference was written.
    pub form: Form,
    pub problem: Problem,
    pub severity: Severity,
}

impl Finding<'_> {
    /// The same finding, owning its text, for a report that outlives the
    /// scanned values (the ConfigMaps a workload consumes).
    pub fn into_owned(self) -> Finding<'static> {
        Finding {
            key: Cow::Owned(self.key.into_owned()),
            origin: self.origin,
            written: Cow::Owned(self.written.into_owned()),
            service: Cow::Owned(self.service.into_owned()),
            namespace: Cow::Owned(self.namespace.into_owned()),
            form: self.form,
            problem: self.problem,
            severity: self.severity,
        }
    }
}

/// Why some references could not be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupFailure {
    /// More namespaces than `maxNamespacesPerRequest`: none was looked up.
    TooManyNamespaces { count: usize, max: usize },
    /// The host could not list the Services of `namespace`.
    Host {
        namespace: String,
        /// Up to three references as written, and how many there were.
        written: Vec<String>,
        total: usize,
        error: String,
    },
}

/// Everything the check found.
#[derive(Debug, Default)]
pub struct Report<'t> {
    pub findings: Vec<Finding<'t>>,
    pub failures: Vec<LookupFailure>,
}

/// The identity of a reference across old and new objects.
type RefId<'r> = (&'r str, &'r str, Port, &'r Record<'r>, &'r Zone<'r>);

fn id<'r>(r: &'r ServiceRef) -> RefId<'r> {
    (&r.service, &r.namespace, r.port, &r.record, &r.zone)
}

/// The scanner's options for text read in `namespace`.
pub fn scan_options<'a>(compiled: &'a Compiled, namespace: &'a str) -> ScanOptions<'a> {
    ScanOptions {
        qualified_suffixes: &compiled.qualified_suffixes,
        default_namespace: namespace,
        short_names: compiled.settings.check_short_names,
        ignored_hosts: &compiled.ignored_hosts,
    }
}

/// The references of one ConfigMap value, unless the key is documentation
/// (`ignoredKeys`) or the text a Grafana dashboard; with `bare` (a key a
/// workload consumes, where the namespace is certain) also a whole value
/// that is `host:port` or a list of such ([`bare_host_ports`]).
pub fn scan_value<'t>(
    key: &'t str,
    text: &'t str,
    origin: usize,
    bare: bool,
    compiled: &Compiled,
    options: &ScanOptions,
) -> Vec<KeyedRef<'t>> {
    if compiled.is_ignored_key(key) || is_grafana_dashboard(text) {
        return Vec::new();
    }
    let bare_refs = if bare {
        bare_host_ports(text, options)
    } else {
        Vec::new()
    };
    scan(text, options)
        .into_iter()
        .chain(bare_refs)
        .filter(|r| !is_builtin(r))
        .map(|reference| KeyedRef {
            key,
            origin,
            // A short name (`checkShortNames`) or a bare `host:port` that
            // resembles no Service is as often an example, an external
            // host (a UI link such as Argo Workflows' `http://workflows?…`)
            // or an optional component as a typo.
            tolerant: reference.form != Form::Qualified,
            reference,
        })
        .collect()
}

/// The references of a text a workload reads at run time (an `env`
/// value, an item of `args` or `command`), named `key` in findings: URLs
/// of any scheme and `.svc` names ([`scan`], with `options`), and a whole
/// value that is `host:port` or a list of such ([`bare_host_ports`]: the
/// `bare` part of the text, when given, such as the value of a `--flag=`). Every one is tolerant (see [`KeyedRef::tolerant`]).
pub fn scan_text<'t>(
    key: &'t str,
    text: &'t str,
    origin: usize,
    bare: Option<&'t str>,
    options: &ScanOptions,
) -> Vec<KeyedRef<'t>> {
    let bare_refs = bare
        .map(|value| bare_host_ports(value, options))
        .unwrap_or_default();
    scan(text, options)
        .into_iter()
        .chain(bare_refs)
        .filter(|r| !is_builtin(r))
        .map(|reference| KeyedRef {
            key,
            origin,
            reference,
            tolerant: true,
        })
        .collect()
}

/// The ConfigMap's `data`, or why it cannot be read.
fn data_of<'v>(object: &'v Value<'v>) -> Result<Option<&'v Map<'v>>, String> {
    // `null` carries nothing to check; a string or a list is no ConfigMap.
    if !object.is_object() && !object.is_null() {
        return Err("the object is not a JSON object".to_string());
    }
    match object.get("data") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err("data is not a map of strings".to_string()),
    }
}

fn scan_data<'t>(data: &'t Map, compiled: &Compiled, options: &ScanOptions) -> Vec<KeyedRef<'t>> {
    data.iter()
        .filter_map(|(key, value)| value.as_str().map(|text| (key, text)))
        .flat_map(|(key, text)| scan_value(key, text, 0, false, compiled, options))
        .collect()
}

/// A Grafana dashboard names Services only as metric label values and
/// template-variable defaults (Istio's `destination_service`, say), never as
/// something to connect to; datasource URLs live in provisioning files.
fn is_grafana_dashboard(text: &str) -> bool {
    let start = text.trim_start();
    start.starts_with('{') && text.contains("\"schemaVersion\"") && text.contains("\"panels\"")
}

/// Checks one ConfigMap `object` (with `old_object` on UPDATE: only the
/// references the edit adds) of `namespace`: the dangling references of
/// its `data`, and the lookups that failed. Errors: why the object is no
/// ConfigMap (not a JSON object, `data` not a map), for a 400.
pub fn check<'t>(
    object: &'t Value,
    old_object: Option<&Value>,
    namespace: &str,
    compiled: &Compiled,
    source: &dyn ServiceSource,
) -> Result<Report<'t>, String> {
    let data = match data_of(object)? {
        Some(data) => data,
        None => return Ok(Report::default()),
    };
    let options = scan_options(compiled, namespace);
    // On UPDATE only what the edit adds is checked: an old reference never
    // blocks an unrelated change.
    let old_refs = match old_object.map(data_of) {
        Some(Ok(Some(old))) => scan_data(old, compiled, &options),
        _ => Vec::new(),
    };
    let already_there: HashSet<RefId> = old_refs.iter().map(|k| id(&k.reference)).collect();
    let refs: Vec<KeyedRef> = scan_data(data, compiled, &options)
        .into_iter()
        .filter(|k| already_there.is_empty() || !already_there.contains(&id(&k.reference)))
        .collect();
    Ok(judge(refs, compiled, source))
}

/// `kubernetes.default.svc` always exists: the API server's own Service.
fn is_builtin(r: &ServiceRef) -> bool {
    r.service == "kubernetes" && r.namespace == "default"
}

/// Judges `refs` against the Services that exist: one host call per
/// namespace (sorted), none for names under a foreign cluster domain.
pub fn judge<'t>(
    refs: Vec<KeyedRef<'t>>,
    compiled: &Compiled,
    source: &dyn ServiceSource,
) -> Report<'t> {
    let mut report = Report::default();
    let mut by_namespace: BTreeMap<&str, Vec<&KeyedRef>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for r in &refs {
        if let Zone::Foreign(zone) = &r.reference.zone {
            // No lookup can help: the query never reaches cluster DNS.
            if seen.insert((r.origin, r.key, r.reference.written.as_ref())) {
                report.findings.push(finding(
                    r,
                    Problem::ForeignZone {
                        zone: zone.to_string(),
                    },
                    false,
                ));
            }
            continue;
        }
        by_namespace
            .entry(r.reference.namespace.as_ref())
            .or_default()
            .push(r);
    }
    if by_namespace.len() > compiled.settings.max_namespaces_per_request {
        report.failures.push(LookupFailure::TooManyNamespaces {
            count: by_namespace.len(),
            max: compiled.settings.max_namespaces_per_request,
        });
        return report;
    }
    // Suggestions cost a comparison with every Service of the namespace;
    // only the problems that are spelled out need one.
    let mut suggestions_left = MAX_SUGGESTED;
    for (ns, ns_refs) in &by_namespace {
        match source.services_in(ns) {
            Ok(services) => problems_in_namespace(
                ns_refs,
                &services,
                compiled,
                &mut suggestions_left,
                &mut seen,
                &mut report.findings,
            ),
            Err(error) => {
                let mut written: Vec<&str> = ns_refs
                    .iter()
                    .map(|r| r.reference.written.as_ref())
                    .collect();
                written.dedup();
                let total = written.len();
                report.failures.push(LookupFailure::Host {
                    namespace: ns.to_string(),
                    written: written.into_iter().take(3).map(str::to_string).collect(),
                    total,
                    error,
                });
            }
        }
    }
    report
}

/// The finding of `problem` with `r`; `resembles_none`: the Service is
/// missing and was compared with those of its namespace, with no close
/// name (only then can a tolerant reference be [`Severity::Absent`]).
fn finding<'t>(r: &KeyedRef<'t>, problem: Problem, resembles_none: bool) -> Finding<'t> {
    Finding {
        severity: if r.tolerant && resembles_none {
            Severity::Absent
        } else {
            Severity::Broken
        },
        key: Cow::Borrowed(r.key),
        origin: r.origin,
        written: r.reference.written.clone(),
        service: r.reference.service.clone(),
        namespace: r.reference.namespace.clone(),
        form: r.reference.form,
        problem,
    }
}

fn problems_in_namespace<'t, 's>(
    refs: &[&'s KeyedRef<'t>],
    services: &[ServiceInfo],
    compiled: &Compiled,
    suggestions_left: &mut usize,
    seen: &mut HashSet<(usize, &'s str, &'s str)>,
    findings: &mut Vec<Finding<'t>>,
) {
    let by_name: HashMap<&str, &ServiceInfo> =
        services.iter().map(|s| (s.name.as_str(), s)).collect();
    // Missing names already compared, with their suggestion.
    let mut compared: Vec<(&str, Option<String>)> = Vec::new();
    for r in refs.iter().copied() {
        let reference = &r.reference;
        // A `scheme://a.b` short name in a namespace without Services is much
        // more likely an external domain than a dangling reference.
        if services.is_empty() && reference.form == Form::ShortWithNamespace {
            continue;
        }
        let problem = match by_name.get(reference.service.as_ref()).copied() {
            Some(service) => match problem_with(reference, service, compiled) {
                Some(problem) => problem,
                None => continue,
            },
            None => Problem::Missing { suggestion: None },
        };
        // Only problems are deduplicated: hashing every reference would cost
        // more than checking it.
        if !seen.insert((r.origin, r.key, reference.written.as_ref())) {
            continue;
        }
        let (problem, resembles_none) = match problem {
            Problem::Missing { .. } => {
                let name = reference.service.as_ref();
                let compared = match compared.iter().find(|(n, _)| *n == name) {
                    Some((_, suggestion)) => Some(suggestion.clone()),
                    None if *suggestions_left > 0 => {
                        *suggestions_left -= 1;
                        // Listing the port beats merely accepting it (headless).
                        let serves = |s: &ServiceInfo| {
                            reference
                                .port
                                .number()
                                .is_some_and(|p| s.ports.contains(&i32::from(p)))
                        };
                        match likeness(
                            name,
                            &mut services.iter().map(|s| (s.name.as_str(), serves(s))),
                        ) {
                            Likeness::Close(close) => {
                                let suggestion = Some(close.to_string());
                                compared.push((name, suggestion.clone()));
                                Some(suggestion)
                            }
                            Likeness::Nothing => {
                                compared.push((name, None));
                                Some(None)
                            }
                            // cannot tell: taken for a typo, as past
                            // MAX_SUGGESTED
                            Likeness::Unknown => None,
                        }
                    }
                    None => None,
                };
                let resembles_none = matches!(compared, Some(None));
                (
                    Problem::Missing {
                        suggestion: compared.flatten(),
                    },
                    resembles_none,
                )
            }
            other => (other, false),
        };
        findings.push(finding(r, problem, resembles_none));
    }
}

/// What is wrong with `reference` to an existing `service`, if anything:
/// the record it asks for must exist (DNS spec), then the port must be open.
fn problem_with(
    reference: &ServiceRef,
    service: &ServiceInfo,
    compiled: &Compiled,
) -> Option<Problem> {
    match &reference.record {
        Record::PodHostname(hostname) if !service.headless && !service.external_name => {
            return Some(Problem::NotHeadless {
                hostname: hostname.to_string(),
            });
        }
        Record::Srv {
            port_name,
            protocol,
        } if !service.has_srv(port_name, protocol) => {
            return Some(Problem::NoSuchSrv {
                port_name: port_name.to_string(),
                protocol: protocol.to_string(),
                named_ports: service.named_ports.clone(),
            });
        }
        _ => {}
    }
    let port = reference.port;
    let closed = port
        .number()
        .is_some_and(|p| compiled.settings.check_ports && !service.accepts_port(p));
    closed.then(|| Problem::PortNotExposed {
        port,
        exposed: service.ports.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_lookup::Services;
    use crate::verdict::Verdict;
    use serde_json::Value;

    #[test]
    fn suggestions_cover_every_listed_problem() {
        const { assert!(MAX_SUGGESTED >= crate::messages::MAX_LISTED) };
    }

    /// The check and its rendering, as the router runs them.
    fn rendered(
        object: &Value,
        old_object: Option<&Value>,
        config_map: &str,
        namespace: &str,
        compiled: &Compiled,
        source: &dyn ServiceSource,
    ) -> Verdict {
        let (object, old) = (object.into(), old_object.map(crate::json_tree::Value::from));
        let report = check(&object, old.as_ref(), namespace, compiled, source);
        crate::render::config_map(report, config_map, compiled)
    }
    use crate::service_lookup::MockServiceSource;
    use crate::settings::{Action, OnLookupError, Settings};
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
            .returning(|_| Ok(kubernaut_system().into()));
        source
            .expect_services_in()
            .with(eq("monitoring"))
            .returning(|_| Ok(vec![svc("prometheus", &[9090])].into()));
        source
            .expect_services_in()
            .returning(|_| Ok(Services::from([])));
        source
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "gateway-config", "namespace": "kubernaut-system"}, "data": data})
    }

    fn run(data: Value, settings: &Settings, source: &dyn ServiceSource) -> Verdict {
        rendered(
            &cm(data),
            None,
            "ConfigMap kubernaut-system/gateway-config",
            "kubernaut-system",
            &settings.compile(),
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

    /// Short names: a missing Service with a close name is a typo and
    /// rejected; one that resembles no Service of the namespace is as often
    /// an example or external host, and only warned.
    #[rstest]
    #[case::short_same_namespace(
        "http://datastorag-service:8081",
        Some("names Service \"datastorag-service\" in namespace \"kubernaut-system\""),
        None
    )]
    #[case::short_absent_warns(
        "http://zipkin:9411",
        None,
        Some("names Service \"zipkin\" in namespace \"kubernaut-system\", which does not exist")
    )]
    #[case::short_ok("http://data-storage-service:8081", None, None)]
    #[case::short_other_namespace("http://prometheus.monitoring:9090", None, None)]
    #[case::short_other_namespace_missing(
        "http://prometheu.monitoring:9090",
        Some("names Service \"prometheu\" in namespace \"monitoring\""),
        None
    )]
    #[case::short_other_namespace_absent(
        "http://grafana.monitoring:3000",
        None,
        Some("names Service \"grafana\" in namespace \"monitoring\"")
    )]
    #[case::external_looking_namespace_without_services("https://flagd.dev/schema", None, None)]
    #[case::tld("https://grafana.net", None, None)]
    fn short_names(
        #[case] text: &str,
        #[case] rejected: Option<&str>,
        #[case] warned: Option<&str>,
    ) {
        let settings = Settings {
            check_short_names: true,
            ..Default::default()
        };
        let v = run(json!({"k": text}), &settings, &cluster());
        match (rejected, warned, &v) {
            (Some(part), _, _) => assert!(message(&v).contains(part), "{}", message(&v)),
            (None, None, Verdict::Accept { warnings }) => {
                assert!(warnings.is_empty(), "{warnings:?}")
            }
            (None, Some(part), Verdict::Accept { warnings }) => {
                assert!(
                    warnings.len() == 1 && warnings[0].contains(part),
                    "{warnings:?}"
                )
            }
            _ => panic!("{text}: {v:?}"),
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
                .returning(|_| Ok(vec![svc("x", &[80])].into()));
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

    /// Services of at most `maxNamespacesPerRequest` namespaces are
    /// listed; past it none is, and that is a lookup error.
    #[rstest]
    #[case::at_the_bound(2, None)]
    #[case::past_the_bound(
        1,
        Some("references Services in 2 namespaces, more than maxNamespacesPerRequest (1) allows")
    )]
    fn namespace_bound(#[case] max: usize, #[case] rejection: Option<&str>) {
        let settings = Settings {
            max_namespaces_per_request: max,
            ..Default::default()
        };
        let text = "data-storage-service.kubernaut-system.svc:8081 prometheus.monitoring.svc:9090";
        match rejection {
            None => {
                let v = run(json!({ "k": text }), &settings, &cluster());
                assert!(
                    matches!(v, Verdict::Accept { ref warnings } if warnings.is_empty()),
                    "{v:?}"
                );
            }
            Some(part) => {
                let source = MockServiceSource::new(); // no call may be made
                let v = run(json!({ "k": text }), &settings, &source);
                assert!(message(&v).contains(part), "{}", message(&v));
            }
        }
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
        let v = rendered(
            &cm(json!({"k": new})),
            Some(&cm(json!({"k": old}))),
            "ConfigMap kubernaut-system/gateway-config",
            "kubernaut-system",
            &Settings::default().compile(),
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
    fn the_object_must_be_an_object() {
        let source = MockServiceSource::new();
        let v = rendered(
            &json!("hello"),
            None,
            "ConfigMap ns/x",
            "ns",
            &Settings::default().compile(),
            &source,
        );
        assert!(
            matches!(v, Verdict::Reject { code: Some(400), ref message, .. } if message.contains("not a JSON object")),
            "{v:?}"
        );
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

    /// Namespace `shop`: ClusterIP `nginx` (80) and `api` (8080, named
    /// `http`), headless `web`; `kafka`: headless `kafka-headless`.
    fn shop() -> MockServiceSource {
        let mut source = MockServiceSource::new();
        source.expect_services_in().returning(|ns| {
            Ok(match ns {
                "shop" => vec![
                    svc("nginx", &[80]),
                    ServiceInfo {
                        named_ports: vec![NamedPort {
                            name: "http".into(),
                            protocol: "tcp".into(),
                        }],
                        ..svc("api", &[8080])
                    },
                    ServiceInfo {
                        headless: true,
                        ..svc("web", &[80])
                    },
                ],
                "kafka" => vec![ServiceInfo {
                    headless: true,
                    ..svc("kafka-headless", &[9092])
                }],
                _ => Vec::new(),
            }
            .into())
        });
        source
    }

    fn in_shop(data: Value, settings: &Settings) -> Verdict {
        let object = json!({"metadata": {"name": "cfg", "namespace": "shop"}, "data": data});
        rendered(
            &object,
            None,
            "ConfigMap shop/cfg",
            "shop",
            &settings.compile(),
            &shop(),
        )
    }

    fn corp_internal() -> Settings {
        Settings {
            cluster_domain: "corp.internal".into(),
            ..Default::default()
        }
    }

    #[rstest]
    // DNS records (issue: judge names the way cluster DNS resolves them).
    #[case::pod_name_not_headless(json!({"upstream.conf": "server web-0.nginx.shop.svc.cluster.local:80;"}), Settings::default(),
        Some(r#"ConfigMap shop/cfg, key "upstream.conf": "web-0.nginx.shop.svc.cluster.local:80" names Service "nginx" in namespace "shop", but the Service is not headless: per-pod names such as "web-0" exist only behind a headless Service (clusterIP: None)"#))]
    #[case::pod_name_headless(json!({"k": "web-0.web.shop.svc.cluster.local:80"}), Settings::default(), None)]
    #[case::srv_named_port(json!({"k": "_http._tcp.api.shop.svc.cluster.local"}), Settings::default(), None)]
    #[case::srv_wrong_protocol(json!({"k": "_http._udp.api.shop.svc.cluster.local"}), Settings::default(),
        Some(r#"but the Service has no port named "http" with protocol UDP: SRV records exist only for named ports; its named ports are http/TCP"#))]
    #[case::srv_unnamed_port(json!({"k": "_metrics._tcp.nginx.shop.svc"}), Settings::default(),
        Some(r#"has no port named "metrics" with protocol TCP: SRV records exist only for named ports; it has no named ports"#))]
    #[case::foreign_zone(json!({"BROKERS": "kafka-0.kafka-headless.kafka.svc.cluster.local:9092"}), corp_internal(),
        Some(r#"ConfigMap shop/cfg, key "BROKERS": "kafka-0.kafka-headless.kafka.svc.cluster.local:9092" uses the cluster domain "cluster.local", but this cluster's domain is "corp.internal": the query leaves cluster DNS and gets NXDOMAIN"#))]
    #[case::own_zone(json!({"BROKERS": "kafka-0.kafka-headless.kafka.svc.corp.internal:9092"}), corp_internal(), None)]
    #[case::additional_zone(json!({"BROKERS": "kafka-0.kafka-headless.kafka.svc.cluster.local:9092"}),
        Settings { additional_cluster_domains: vec!["cluster.local".into()], ..corp_internal() }, None)]
    // Documentation is not configuration.
    #[case::yaml_comment(json!({"app.yaml": "# Example: backend: http://example-svc.other.svc.cluster.local:8080\nbackend: http://api.shop.svc.cluster.local:8080\n"}), Settings::default(), None)]
    #[case::yaml_uncommented(json!({"app.yaml": "example: http://example-svc.other.svc.cluster.local:8080\nbackend: http://api.shop.svc.cluster.local:8080\n"}), Settings::default(),
        Some(r#"names Service "example-svc" in namespace "other", which does not exist"#))]
    #[case::nginx_comment(json!({"nginx.conf": "upstream b {\n  server api.shop.svc.cluster.local:8080;\n  # server api-canary.shop.svc.cluster.local:8080;\n}\n"}), Settings::default(), None)]
    #[case::nginx_uncommented(json!({"nginx.conf": "upstream b {\n  server api.shop.svc.cluster.local:8080;\n  server api-canary.shop.svc.cluster.local:8080;\n}\n"}), Settings::default(),
        Some(r#"names Service "api-canary" in namespace "shop", which does not exist"#))]
    #[case::example_key(json!({"_example": "################################\n# EXAMPLE CONFIGURATION, NOT READ #\n################################\nlog-endpoint: http://fluentd.logging.svc.cluster.local:24224\n",
        "backend": "http://api.shop.svc.cluster.local:8080"}), Settings::default(), None)]
    #[case::example_key_not_ignored(json!({"_example": "log-endpoint: http://fluentd.logging.svc.cluster.local:24224\n"}),
        Settings { ignored_keys: vec![], ..Default::default() },
        Some(r#"ConfigMap shop/cfg, key "_example": "http://fluentd.logging.svc.cluster.local:24224" names Service "fluentd" in namespace "logging", which does not exist"#))]
    #[case::own_ignored_keys(json!({"README.md": "see http://docs.shop.svc:80", "notes.txt": "http://gone.shop.svc:80"}),
        Settings { ignored_keys: vec!["*.md".into()], ..Default::default() },
        Some(r#"key "notes.txt""#))]
    #[case::url_fragment_is_not_a_comment(json!({"k": "dashboard: http://grafana.shop.svc:3000/#/overview"}), Settings::default(),
        Some(r#"names Service "grafana" in namespace "shop", which does not exist"#))]
    #[case::hash_in_quotes(json!({"k": "url: \"http://x.y/ # http://gone.shop.svc:80\""}), Settings::default(),
        Some(r#"names Service "gone""#))]
    #[case::json_has_no_comments(json!({"k": "{\"a\": \"# http://gone.shop.svc:80\"}"}), Settings::default(),
        Some(r#"names Service "gone""#))]
    fn records_zones_and_comments(
        #[case] data: Value,
        #[case] settings: Settings,
        #[case] rejection: Option<&str>,
    ) {
        let v = in_shop(data, &settings);
        match rejection {
            Some(part) => assert!(message(&v).contains(part), "{}", message(&v)),
            None => assert!(
                matches!(v, Verdict::Accept { ref warnings } if warnings.is_empty()),
                "{v:?}"
            ),
        }
    }

    #[test]
    fn foreign_zones_need_no_lookup() {
        let object = json!({"metadata": {"name": "cfg", "namespace": "shop"},
                            "data": {"k": "kafka-0.kafka-headless.kafka.svc.cluster.local:9092"}});
        let source = MockServiceSource::new(); // any call would panic
        let v = rendered(
            &object,
            None,
            "ConfigMap shop/cfg",
            "shop",
            &corp_internal().compile(),
            &source,
        );
        assert!(message(&v).contains("uses the cluster domain"), "{v:?}");
    }
}
