//! The monitors of prometheus-operator (`monitoring.coreos.com/v1`):
//!
//! - `servicemonitor-selects-no-services`: a ServiceMonitor whose
//!   `spec.selector` matches the `metadata.labels` of no Service in the
//!   namespaces of its `spec.namespaceSelector` (`matchNames`; `any: true`
//!   for every namespace of the set, the snapshot and the built-in
//!   Services; else its own namespace);
//! - `podmonitor-selects-no-pods`: the same for a PodMonitor and Pod
//!   templates;
//! - `servicemonitor-port-not-found`: a ServiceMonitor `spec.endpoints[].port`
//!   that is no `spec.ports[].name` of the Services it selects.
//!
//! Prometheus then silently scrapes nothing for them. Not judged: an
//! empty selector (everything), one the API server refuses, the port of a
//! ServiceMonitor that selects no Service (the first rule warns), and
//! endpoints that name a `targetPort` instead.

use std::collections::HashSet;

use serde_json::Value;

use super::super::input::{ManifestObject, ManifestSet};
use super::super::report::Finding;
use super::super::yaml::Seg;
use super::{
    Index, Labelled, NoMatch, Selector, ServiceTarget, closest_name, finding, one_namespace, quote,
    selects, show_names,
};

/// The SARIF rule of a ServiceMonitor that selects no Service.
pub const SERVICE_RULE: &str = "servicemonitor-selects-no-services";

/// The SARIF rule of a PodMonitor that selects no Pod.
pub const POD_RULE: &str = "podmonitor-selects-no-pods";

/// The SARIF rule of an endpoint port that no selected Service has.
pub const PORT_RULE: &str = "servicemonitor-port-not-found";

/// The API group of the monitors.
const GROUP: &str = "monitoring.coreos.com";

/// What Prometheus does with a ServiceMonitor that selects no Service.
const NO_SERVICE: &str = "Prometheus scrapes nothing for it until Services with these labels \
     exist; correct the selector or the Service labels, unless something else creates these \
     Services";

/// What Prometheus does with a PodMonitor that selects no Pod.
const NO_POD: &str = "Prometheus scrapes nothing for it until Pods with these labels exist; \
     correct the selector or the Pod labels, unless an operator or controller creates these Pods";

/// The namespaces a monitor looks in (`spec.namespaceSelector`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Namespaces {
    /// Its own (no `namespaceSelector`, or neither `any` nor `matchNames`).
    Own(String),
    /// `matchNames`, without repeats, in order.
    Names(Vec<String>),
    /// `any: true`.
    Any,
}

impl Namespaces {
    /// The namespaces of `monitor`, of namespace `own`.
    fn of(monitor: &Value, own: &str) -> Namespaces {
        let selector = monitor.pointer("/spec/namespaceSelector");
        if selector
            .and_then(|s| s.get("any"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            return Namespaces::Any;
        }
        let mut seen = HashSet::new();
        let names: Vec<String> = selector
            .and_then(|s| s.get("matchNames"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|n| seen.insert(*n))
            .map(str::to_owned)
            .collect();
        if names.is_empty() {
            Namespaces::Own(own.to_owned())
        } else {
            Namespaces::Names(names)
        }
    }

    /// `namespace "a"`, `namespaces "a", "b"`, `any namespace`.
    fn scope(&self) -> String {
        match self {
            Namespaces::Own(n) => one_namespace(n),
            Namespaces::Names(names) if names.len() == 1 => one_namespace(&names[0]),
            Namespaces::Names(names) => format!(
                "namespaces {}",
                show_names(names.iter().map(String::as_str))
            ),
            Namespaces::Any => "any namespace".to_owned(),
        }
    }

    /// What `in_namespace` holds in these namespaces (`all` for `Any`).
    fn collect<'a, T: 'a>(
        &self,
        in_namespace: impl Fn(&str) -> &'a [T],
        all: impl Iterator<Item = &'a T>,
    ) -> Vec<&'a T> {
        match self {
            Namespaces::Own(n) => in_namespace(n).iter().collect(),
            Namespaces::Names(names) => names.iter().flat_map(|n| in_namespace(n).iter()).collect(),
            Namespaces::Any => all.collect(),
        }
    }
}

/// The non-empty `spec.selector` of a monitor, if the API server takes it.
fn selector(monitor: &ManifestObject) -> Option<Selector> {
    monitor
        .object
        .pointer("/spec/selector")
        .and_then(Selector::from_label_selector)
        .filter(|s| !s.is_empty())
}

/// The warning on the endpoint `at` of a ServiceMonitor, whose `port` is
/// no port name of the `selected` Services; `None` when one has it.
fn port_warning(
    monitor: &str,
    at: usize,
    port: &str,
    selected: &[&ServiceTarget],
) -> Option<String> {
    if selected.iter().any(|s| s.ports.contains(port)) {
        return None;
    }
    let first = selected.first()?;
    let (more, verb) = match selected.len() {
        1 => (String::new(), "has"),
        n => (format!(" and {} more", n - 1), "have"),
    };
    let names: std::collections::BTreeSet<&str> = selected
        .iter()
        .flat_map(|s| s.ports.iter().map(String::as_str))
        .collect();
    let what = match closest_name(port, names.iter().copied()) {
        Some(closest) => format!(
            "{}{more} {verb} the ports {}; closest: \"{}\"",
            quote(first.owner()),
            show_names(names.iter().copied()),
            quote(closest)
        ),
        None => format!("{}{more} {verb} no named port", quote(first.owner())),
    };
    Some(format!(
        "{}: its spec.endpoints[{at}].port \"{}\" is no port name of the Services it selects \
         ({what}): Prometheus scrapes nothing on this endpoint; correct the port, or name the \
         Service's port \"{}\"",
        quote(monitor),
        quote(port),
        quote(port)
    ))
}

/// The warnings of the three rules on `set`: for each ServiceMonitor and
/// PodMonitor of the set whose selector selects nothing of `index` in its
/// namespaces, and each endpoint port of a ServiceMonitor that no Service
/// it selects has, its index in `set.objects` and the finding, at the line
/// of the selector or port.
pub fn warnings(set: &ManifestSet, index: &Index) -> Vec<(usize, Finding)> {
    let mut found = Vec::new();
    for (i, monitor) in set.objects.iter().enumerate() {
        let (pods, namespace) = match (
            super::namespaced(monitor, GROUP, "ServiceMonitor"),
            super::namespaced(monitor, GROUP, "PodMonitor"),
        ) {
            (Some(ns), _) => (false, ns),
            (_, Some(ns)) => (true, ns),
            _ => continue,
        };
        let Some(selector) = selector(monitor) else {
            continue;
        };
        let namespaces = Namespaces::of(&monitor.object, namespace);
        let path = [Seg::key("spec"), Seg::key("selector")];
        let name = monitor.display_name();
        let scope = namespaces.scope();
        if pods {
            let here = namespaces.collect(|n| index.pods_in(n), index.all_pods());
            let no_match = NoMatch {
                object: &name,
                path: &path,
                selector: &selector,
                noun: "Pod",
                of: index.pods_of(),
                scope: &scope,
                consequence: NO_POD,
            };
            let elsewhere = index.all_pods().filter(|_| here.is_empty());
            if let Some(message) = no_match.message(&here, elsewhere) {
                found.push((i, finding(monitor, &path, message, POD_RULE)));
            }
            continue;
        }
        let here = namespaces.collect(|n| index.services_in(n), index.all_services());
        let no_match = NoMatch {
            object: &name,
            path: &path,
            selector: &selector,
            noun: "Service",
            of: index.services_of(),
            scope: &scope,
            consequence: NO_SERVICE,
        };
        let elsewhere = index.all_services().filter(|_| here.is_empty());
        if let Some(message) = no_match.message(&here, elsewhere) {
            found.push((i, finding(monitor, &path, message, SERVICE_RULE)));
            continue;
        }
        let selected: Vec<&ServiceTarget> = here
            .into_iter()
            .filter(|s| selects(&selector, *s))
            .collect();
        let endpoints = monitor
            .object
            .pointer("/spec/endpoints")
            .and_then(Value::as_array);
        for (at, endpoint) in endpoints.into_iter().flatten().enumerate() {
            if endpoint.get("targetPort").is_some() {
                continue;
            }
            let Some(port) = endpoint.get("port").and_then(Value::as_str) else {
                continue;
            };
            if let Some(message) = port_warning(&name, at, port, &selected) {
                let path = [
                    Seg::key("spec"),
                    Seg::key("endpoints"),
                    Seg::Index(at),
                    Seg::key("port"),
                ];
                found.push((i, finding(monitor, &path, message, PORT_RULE)));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::super::model::Snapshot;
    use super::super::tests::{messages, set};
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    /// The Services `api` (ports `http`, `metrics`) in `shop` and `db`
    /// (`postgres`) in `data`, and the Deployment `api` in `shop`.
    const SET: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: api, labels: {app: api}}\n\
                       spec: {selector: {app: api}, ports: [{name: http, port: 80}, {name: metrics, port: 9090}]}\n---\n\
                       apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: data, labels: {app: db}}\n\
                       spec: {ports: [{name: postgres, port: 5432}]}\n---\n\
                       apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    metadata:\n      labels: {app: api}\n---\n";

    fn monitor(kind: &str, spec: &str) -> String {
        format!(
            "apiVersion: monitoring.coreos.com/v1\nkind: {kind}\nmetadata: {{name: m}}\nspec:\n{spec}"
        )
    }

    /// A monitor beside [`SET`], and the rules and messages of its warnings.
    #[rstest]
    #[case::selects_api(
        monitor("ServiceMonitor", "  selector: {matchLabels: {app: api}}\n  endpoints: [{port: metrics}, {port: http}]\n"),
        vec![]
    )]
    #[case::selects_all(monitor("ServiceMonitor", "  selector: {}\n  endpoints: [{port: x}]\n"), vec![])]
    #[case::a_typo(
        monitor("ServiceMonitor", "  selector: {matchLabels: {app: apj}}\n  endpoints: [{port: metrics}]\n"),
        vec![(SERVICE_RULE, "ServiceMonitor shop/m: its spec.selector app=apj selects no Service of the set in namespace \"shop\" \
                             (closest: Service shop/api, with app=api): Prometheus scrapes nothing for it until Services with \
                             these labels exist; correct the selector or the Service labels, unless something else creates \
                             these Services")]
    )]
    #[case::in_named_namespaces(
        monitor("ServiceMonitor", "  namespaceSelector: {matchNames: [data]}\n  selector: {matchLabels: {app: db}}\n  endpoints: [{port: postgres}]\n"),
        vec![]
    )]
    #[case::not_in_its_own_namespace(
        monitor("ServiceMonitor", "  selector: {matchLabels: {app: db}}\n"),
        vec![(SERVICE_RULE, "ServiceMonitor shop/m: its spec.selector app=db selects no Service of the set in namespace \"shop\" \
                             (closest: Service shop/api, with app=api): Prometheus scrapes nothing for it until Services with \
                             these labels exist; correct the selector or the Service labels, unless something else creates \
                             these Services")]
    )]
    #[case::in_any_namespace(
        monitor("ServiceMonitor", "  namespaceSelector: {any: true}\n  selector: {matchExpressions: [{key: app, operator: In, values: [db]}]}\n"),
        vec![]
    )]
    #[case::in_namespaces_without_services(
        monitor("ServiceMonitor", "  namespaceSelector: {matchNames: [kube-system, ops]}\n  selector: {matchLabels: {app: db}}\n"),
        vec![(SERVICE_RULE, "ServiceMonitor shop/m: its spec.selector app=db selects no Service of the set in namespaces \
                             \"kube-system\", \"ops\" (closest: Service kube-system/kube-dns (in every cluster), with \
                             k8s-app=kube-dns,kubernetes.io/cluster-service=true,kubernetes.io/name=CoreDNS): Prometheus \
                             scrapes nothing for it until Services with these labels exist; correct the selector or the \
                             Service labels, unless something else creates these Services")]
    )]
    #[case::the_api_server(
        monitor("ServiceMonitor", "  namespaceSelector: {matchNames: [default]}\n  selector: {matchLabels: {component: apiserver, provider: kubernetes}}\n  endpoints: [{port: https}]\n"),
        vec![]
    )]
    #[case::a_wrong_port(
        monitor("ServiceMonitor", "  selector: {matchLabels: {app: api}}\n  endpoints: [{port: http}, {port: metric}, {targetPort: 9090}]\n"),
        vec![(PORT_RULE, "ServiceMonitor shop/m: its spec.endpoints[1].port \"metric\" is no port name of the Services it selects \
                          (Service shop/api has the ports \"http\", \"metrics\"; closest: \"metrics\"): Prometheus scrapes nothing \
                          on this endpoint; correct the port, or name the Service's port \"metric\"")]
    )]
    #[case::a_pod_monitor(
        monitor("PodMonitor", "  selector: {matchLabels: {app: api, pod-template-hash: 7d9}}\n"),
        vec![]
    )]
    #[case::a_pod_monitor_that_selects_nothing(
        monitor("PodMonitor", "  namespaceSelector: {matchNames: [data]}\n  selector: {matchLabels: {app: api}}\n"),
        vec![(POD_RULE, "PodMonitor shop/m: its spec.selector app=api selects no Pod of the set in namespace \"data\", which \
                         has none (Deployment shop/api, in namespace \"shop\", has these labels): Prometheus scrapes nothing \
                         for it until Pods with these labels exist; correct the selector or the Pod labels, unless an \
                         operator or controller creates these Pods")]
    )]
    fn monitors_must_select_what_they_scrape(
        #[case] monitor: String,
        #[case] expected: Vec<(&str, &str)>,
    ) {
        let set = set(&format!("{SET}{monitor}"));
        let found = warnings(&set, &Index::new(&set, &Snapshot::new()));
        let rules: Vec<&str> = found.iter().map(|(_, f)| f.rule.unwrap()).collect();
        let expected_rules: Vec<&str> = expected.iter().map(|(r, _)| *r).collect();
        assert_eq!(rules, expected_rules);
        let expected: Vec<&str> = expected.iter().map(|(_, m)| *m).collect();
        assert_eq!(messages(&found), expected);
        assert!(found.iter().all(|(i, _)| *i == 3));
    }

    #[test]
    fn services_of_the_snapshot_and_of_prometheus_operator_count() {
        // kube-prometheus: the kubelet Service prometheus-operator makes
        let operator = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: prometheus-operator, namespace: monitoring}\n\
                        spec:\n  template:\n    spec:\n      containers:\n      - name: prometheus-operator\n        \
                        args: [--kubelet-service=kube-system/kubelet]\n---\n";
        let kubelet = monitor(
            "ServiceMonitor",
            "  namespaceSelector: {matchNames: [kube-system]}\n  selector: {matchLabels: {app.kubernetes.io/name: kubelet}}\n  \
             endpoints: [{port: https-metrics}, {port: https-metrics, path: /metrics/cadvisor}]\n",
        );
        let set_with = set(&format!("{operator}{kubelet}"));
        assert_eq!(
            warnings(&set_with, &Index::new(&set_with, &Snapshot::new())),
            []
        );
        let set_without = set(&kubelet);
        let found = warnings(&set_without, &Index::new(&set_without, &Snapshot::new()));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.rule, Some(SERVICE_RULE));
        // a Service of the snapshot
        let mut snapshot = Snapshot::new();
        snapshot
            .add_cluster_text(
                "s.json",
                &json!({"items": [{"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "kubelet", "namespace": "kube-system", "labels": {"app.kubernetes.io/name": "kubelet"}},
                    "spec": {"ports": [{"name": "https-metrics", "port": 10250}]}}]})
                .to_string(),
            )
            .unwrap();
        assert_eq!(
            warnings(&set_without, &Index::new(&set_without, &snapshot)),
            []
        );
    }

    #[rstest]
    #[case::none(json!({}), Namespaces::Own("shop".to_owned()), "namespace \"shop\"")]
    #[case::empty(json!({"namespaceSelector": {}}), Namespaces::Own("shop".to_owned()), "namespace \"shop\"")]
    #[case::not_any(json!({"namespaceSelector": {"any": false}}), Namespaces::Own("shop".to_owned()), "namespace \"shop\"")]
    #[case::any(json!({"namespaceSelector": {"any": true, "matchNames": ["a"]}}), Namespaces::Any, "any namespace")]
    #[case::names(
        json!({"namespaceSelector": {"matchNames": ["a", "b", "a"]}}),
        Namespaces::Names(vec!["a".to_owned(), "b".to_owned()]),
        "namespaces \"a\", \"b\""
    )]
    fn namespaces_of_a_monitor(
        #[case] spec: Value,
        #[case] expected: Namespaces,
        #[case] scope: &str,
    ) {
        let namespaces = Namespaces::of(&json!({"spec": spec}), "shop");
        assert_eq!(namespaces, expected);
        assert_eq!(namespaces.scope(), scope);
    }
}
