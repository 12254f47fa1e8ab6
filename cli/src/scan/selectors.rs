//! A rule of `scan` alone, on the whole set: a Service whose `spec.selector`
//! matches no Pod template of the set (nor a Pod or workload of the
//! snapshot) in its namespace gets a warning that names its selector and
//! the closest labels that do exist.
//!
//! The policy cannot check this at admission (a Service usually comes
//! before its Pods), and it is never a rejection: operators and
//! controllers create Pods that no manifest shows.
//!
//! Pod templates are the labels of Pods, the `spec.template` of
//! Deployments, ReplicaSets, StatefulSets, DaemonSets,
//! ReplicationControllers and Jobs, the `spec.jobTemplate.spec.template`
//! of CronJobs, and the `spec.template` or `spec.podMetadata` of custom
//! resources (kube-prometheus's `Prometheus` and `Alertmanager`, Argo
//! Rollouts, ...). The operator of a custom resource adds labels of its own
//! to the Pods it makes (`app.kubernetes.io/instance: <name>`,
//! `prometheus: <name>`, `app.kubernetes.io/name: prometheus`), so for
//! those a selector value equal to the resource's name or kind is taken
//! as matched.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

use super::input::{ManifestObject, ManifestSet};
use super::model::Snapshot;
use super::report::Finding;
use super::yaml::Seg;

/// The SARIF rule of the warning.
pub const RULE: &str = "service-selects-no-pods";

/// Label keys to values.
pub type Labels = BTreeMap<String, String>;

/// What the labels of Pods will be, and what makes those Pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodTemplate {
    /// The namespace of the Pods.
    pub namespace: String,
    /// Their labels.
    pub labels: Labels,
    /// What makes them: `Deployment shop/web`, `Pod shop/web-0`, ...
    pub owner: String,
    /// For a custom resource, whose operator makes the Pods and adds
    /// labels of its own: the resource's name and its kind in lower case.
    pub operator: Option<(String, String)>,
}

/// `spec.template.metadata.labels`: where the Pod labels of a workload are.
const TEMPLATE: &str = "/spec/template/metadata/labels";

/// The built-in kinds that make Pods, by API group, and where their Pod
/// labels are.
const WORKLOADS: &[(&str, &str, &str)] = &[
    ("", "Pod", "/metadata/labels"),
    ("", "ReplicationController", TEMPLATE),
    ("apps", "Deployment", TEMPLATE),
    ("apps", "ReplicaSet", TEMPLATE),
    ("apps", "StatefulSet", TEMPLATE),
    ("apps", "DaemonSet", TEMPLATE),
    ("extensions", "Deployment", TEMPLATE),
    ("extensions", "ReplicaSet", TEMPLATE),
    ("extensions", "DaemonSet", TEMPLATE),
    ("batch", "Job", TEMPLATE),
    (
        "batch",
        "CronJob",
        "/spec/jobTemplate/spec/template/metadata/labels",
    ),
];

/// The built-in API groups that hold workloads: in them only the kinds of
/// [`WORKLOADS`] make Pods; a kind of any other group is a custom resource.
const BUILT_IN_GROUPS: &[&str] = &["", "apps", "extensions", "batch"];

/// A map of labels (or of a selector): its string values; numbers and
/// booleans as they read. `None` when it is not a map or holds anything
/// else.
fn labels_of(value: &Value) -> Option<Labels> {
    value
        .as_object()?
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), v))
        })
        .collect()
}

/// The Pod templates of one object (of the set, or of a snapshot): none
/// for an object that makes no Pods, or that has no namespace.
pub fn pod_templates(object: &Value) -> Vec<PodTemplate> {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind, name) = (text("/apiVersion"), text("/kind"), text("/metadata/name"));
    let namespace = text("/metadata/namespace");
    if kind.is_empty() || namespace.is_empty() {
        return Vec::new();
    }
    let name = if name.is_empty() {
        text("/metadata/generateName")
    } else {
        name
    };
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let template = |labels: Option<&Value>, operator: Option<(String, String)>| PodTemplate {
        namespace: namespace.to_owned(),
        labels: labels.and_then(labels_of).unwrap_or_default(),
        owner: format!("{kind} {namespace}/{name}"),
        operator,
    };
    if BUILT_IN_GROUPS.contains(&group) {
        return WORKLOADS
            .iter()
            .filter(|(g, k, _)| *g == group && *k == kind)
            .map(|(_, _, labels)| template(object.pointer(labels), None))
            .collect();
    }
    // a custom resource: its operator makes the Pods
    [
        ("/spec/podMetadata", "/spec/podMetadata/labels"),
        ("/spec/template", TEMPLATE),
    ]
    .iter()
    .filter(|(at, _)| object.pointer(at).is_some_and(Value::is_object))
    .map(|(_, labels)| {
        template(
            object.pointer(labels),
            Some((name.to_owned(), kind.to_ascii_lowercase())),
        )
    })
    .collect()
}

/// The selector of a Service whose Pods this rule looks for: `None` for a
/// Service without one (its Endpoints are written by hand), with an empty
/// one, with one that is not a map of strings, or of `type: ExternalName`.
pub fn service_selector(object: &Value) -> Option<Labels> {
    if object.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
        return None;
    }
    labels_of(object.pointer("/spec/selector")?).filter(|s| !s.is_empty())
}

/// Whether the Pods of `template` carry the label `key: value`: they do
/// when their labels hold it, and, for a custom resource, when `value` is
/// the resource's name or kind (what its operator adds).
fn carries(template: &PodTemplate, key: &str, value: &str) -> bool {
    template.labels.get(key).is_some_and(|v| v == value)
        || template
            .operator
            .as_ref()
            .is_some_and(|(name, kind)| value == name || value == kind)
}

/// Whether `selector` selects the Pods of `template`: every one of its
/// labels is theirs.
pub fn matches(selector: &Labels, template: &PodTemplate) -> bool {
    selector.iter().all(|(k, v)| carries(template, k, v))
}

/// How far `labels` are from satisfying `selector`: the number of the
/// selector's labels they lack, then the edit distance between those and
/// the nearest labels they have (the same key's value, else the nearest
/// label).
pub fn difference(selector: &Labels, labels: &Labels) -> (usize, usize) {
    let mut missing = 0;
    let mut distance = 0;
    for (key, value) in selector {
        match labels.get(key) {
            Some(v) if v == value => {}
            Some(v) => {
                missing += 1;
                distance += levenshtein(value, v);
            }
            None => {
                missing += 1;
                distance += labels
                    .iter()
                    .map(|(k, v)| levenshtein(key, k) + levenshtein(value, v))
                    .min()
                    .unwrap_or(key.chars().count() + value.chars().count());
            }
        }
    }
    (missing, distance)
}

/// The edit distance between `a` and `b`, in characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// How many templates, of those that lack the fewest labels, are compared
/// by edit distance: a bound on the work for one Service.
const CANDIDATES: usize = 256;

/// The template of `templates` whose labels are closest to `selector`
/// (the first of equals, in order).
pub fn closest<'a>(selector: &Labels, templates: &[&'a PodTemplate]) -> Option<&'a PodTemplate> {
    let missing = |t: &PodTemplate| {
        selector
            .iter()
            .filter(|(k, v)| t.labels.get(*k) != Some(*v))
            .count()
    };
    let fewest = templates.iter().map(|t| missing(t)).min()?;
    templates
        .iter()
        .filter(|t| missing(t) == fewest)
        .take(CANDIDATES)
        .min_by_key(|t| difference(selector, &t.labels))
        .copied()
}

/// How many labels a message shows of one set.
const SHOWN_LABELS: usize = 8;

/// `key=value,key=value`, as `kubectl get -l` takes them; at most
/// [`SHOWN_LABELS`].
fn show(labels: &Labels) -> String {
    if labels.is_empty() {
        return "no labels".to_owned();
    }
    let mut out = labels
        .iter()
        .take(SHOWN_LABELS)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    if labels.len() > SHOWN_LABELS {
        let _ = write!(out, " (and {} more)", labels.len() - SHOWN_LABELS);
    }
    out
}

/// The warning on `service`, whose `selector` selects none of `templates`
/// (every template of the set and the snapshot), or `None` when it selects
/// some in its namespace. `with_snapshot`: the snapshot held Pods or
/// workloads.
pub fn warning(
    service: &ManifestObject,
    selector: &Labels,
    templates: &[&PodTemplate],
    with_snapshot: bool,
) -> Option<String> {
    let namespace = service.namespace.as_deref().unwrap_or_default();
    let here: Vec<&PodTemplate> = templates
        .iter()
        .copied()
        .filter(|t| t.namespace == namespace)
        .collect();
    if here.iter().any(|t| matches(selector, t)) {
        return None;
    }
    let of = if with_snapshot {
        "of the set or the snapshot"
    } else {
        "of the set"
    };
    let mut message = format!(
        "{}: its selector {} selects no Pod {of} in namespace \"{namespace}\"",
        service.display_name(),
        show(selector)
    );
    match closest(selector, &here) {
        Some(t) => {
            let _ = write!(message, " (closest: {}, with {})", t.owner, show(&t.labels));
        }
        None => {
            message.push_str(", which has none");
            if let Some(t) = templates.iter().find(|t| matches(selector, t)) {
                let _ = write!(
                    message,
                    " ({}, in namespace \"{}\", has these labels)",
                    t.owner, t.namespace
                );
            }
        }
    }
    message.push_str(
        ": the Service has no endpoints until Pods with these labels exist; correct the \
         selector or the Pod labels, unless an operator or controller creates these Pods",
    );
    Some(message)
}

/// The warnings of the rule on `set`, with the Pods and workloads of
/// `snapshot`: for each Service of the set that selects no Pod, its index
/// in `set.objects` and the finding, at the line of its selector.
pub fn warnings(set: &ManifestSet, snapshot: &Snapshot) -> Vec<(usize, Finding)> {
    let from_set: Vec<PodTemplate> = set
        .objects
        .iter()
        .flat_map(|o| pod_templates(&o.object))
        .collect();
    let mut by_namespace: HashMap<&str, Vec<&PodTemplate>> = HashMap::new();
    for t in from_set.iter().chain(snapshot.pod_templates()) {
        by_namespace.entry(&t.namespace).or_default().push(t);
    }
    let with_snapshot = !snapshot.pod_templates().is_empty();
    let mut all: Option<Vec<&PodTemplate>> = None;
    let mut found = Vec::new();
    for (i, service) in set.objects.iter().enumerate() {
        if !service.group.is_empty() || service.kind != "Service" {
            continue;
        }
        let Some(selector) = service_selector(&service.object) else {
            continue;
        };
        let namespace = service.namespace.as_deref().unwrap_or_default();
        let here = by_namespace.get(namespace).map_or(&[][..], Vec::as_slice);
        // the other namespaces matter only to a Service of a namespace without Pods
        let templates = if here.is_empty() {
            all.get_or_insert_with(|| by_namespace.values().flatten().copied().collect())
                .as_slice()
        } else {
            here
        };
        if let Some(message) = warning(service, &selector, templates, with_snapshot) {
            let at = service
                .span
                .position_of(&[Seg::key("spec"), Seg::key("selector")])
                .or_else(|| super::report::object_position(service));
            found.push((
                i,
                Finding {
                    message,
                    line: at.map(|p| p.line),
                    column: at.map(|p| p.column),
                    rule: Some(RULE),
                    reported_on: None,
                },
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::input::Source;
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn template(owner: &str, pairs: &[(&str, &str)]) -> PodTemplate {
        PodTemplate {
            namespace: "shop".to_owned(),
            labels: labels(pairs),
            owner: owner.to_owned(),
            operator: None,
        }
    }

    #[test]
    fn a_selector_matches_when_every_label_is_the_templates() {
        let t = template("Deployment shop/web", &[("app", "web"), ("tier", "front")]);
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[("app", "web")], true),
            (&[("app", "web"), ("tier", "front")], true),
            (&[("app", "web"), ("tier", "back")], false),
            (&[("app", "api")], false),
            (&[("application", "web")], false),
            (&[("app", "web"), ("version", "1")], false),
        ];
        for (selector, expected) in cases {
            assert_eq!(matches(&labels(selector), &t), *expected, "{selector:?}");
        }
    }

    #[test]
    fn an_operators_own_labels_match_a_custom_resource() {
        let mut t = template(
            "Prometheus monitoring/k8s",
            &[("app.kubernetes.io/component", "prometheus")],
        );
        t.operator = Some(("k8s".to_owned(), "prometheus".to_owned()));
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[("app.kubernetes.io/component", "prometheus")], true),
            // what prometheus-operator adds: the name and the kind
            (&[("prometheus", "k8s")], true),
            (&[("app.kubernetes.io/instance", "k8s")], true),
            (&[("app.kubernetes.io/name", "prometheus")], true),
            (&[("app.kubernetes.io/instance", "main")], false),
            (
                &[
                    ("app.kubernetes.io/component", "prometheus"),
                    ("app.kubernetes.io/part-of", "kube-prometheus"),
                ],
                false,
            ),
        ];
        for (selector, expected) in cases {
            assert_eq!(matches(&labels(selector), &t), *expected, "{selector:?}");
        }
    }

    #[test]
    fn pod_templates_of_every_kind() {
        let labels_at = |object: Value| -> Vec<(String, Labels, bool)> {
            pod_templates(&object)
                .into_iter()
                .map(|t| (t.owner, t.labels, t.operator.is_some()))
                .collect()
        };
        let app = labels(&[("app", "a")]);
        let template = json!({"metadata": {"labels": {"app": "a"}}});
        let cases = [
            (
                json!({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": "p", "namespace": "s", "labels": {"app": "a"}}}),
                vec![("Pod s/p".to_owned(), app.clone(), false)],
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                       "metadata": {"name": "db", "namespace": "s"}, "spec": {"template": template}}),
                vec![("StatefulSet s/db".to_owned(), app.clone(), false)],
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "CronJob",
                       "metadata": {"name": "c", "namespace": "s"},
                       "spec": {"jobTemplate": {"spec": {"template": template}}}}),
                vec![("CronJob s/c".to_owned(), app.clone(), false)],
            ),
            (
                json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
                       "metadata": {"name": "main", "namespace": "s"},
                       "spec": {"podMetadata": {"labels": {"app": "a"}}}}),
                vec![("Alertmanager s/main".to_owned(), app.clone(), true)],
            ),
            (
                json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                       "metadata": {"name": "r", "namespace": "s"}, "spec": {"template": template}}),
                vec![("Rollout s/r".to_owned(), app.clone(), true)],
            ),
            // a Pod template without labels is one all the same
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "d", "namespace": "s"}, "spec": {"template": {}}}),
                vec![("Deployment s/d".to_owned(), Labels::new(), false)],
            ),
            // no Pods: a Service, a ConfigMap, a built-in kind with a
            // template that is not a workload, an object without namespace
            (
                json!({"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": "x", "namespace": "s"}, "spec": {"selector": {"app": "a"}}}),
                vec![],
            ),
            (
                json!({"apiVersion": "v1", "kind": "PodTemplate",
                       "metadata": {"name": "x", "namespace": "s"}, "template": template}),
                vec![],
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "d"}, "spec": {"template": template}}),
                vec![],
            ),
        ];
        for (object, expected) in cases {
            assert_eq!(labels_at(object.clone()), expected, "{object}");
        }
    }

    #[test]
    fn selectors_the_rule_looks_at() {
        let service = |spec: Value| json!({"apiVersion": "v1", "kind": "Service", "spec": spec});
        let cases = [
            (
                json!({"selector": {"app": "a"}}),
                Some(labels(&[("app", "a")])),
            ),
            (json!({"selector": {"v": 1}}), Some(labels(&[("v", "1")]))),
            (json!({"ports": [{"port": 80}]}), None),
            (json!({"selector": {}}), None),
            (json!({"selector": {"app": ["a"]}}), None),
            (
                json!({"type": "ExternalName", "externalName": "db.example.com", "selector": {"app": "a"}}),
                None,
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(service_selector(&service(spec.clone())), expected, "{spec}");
        }
    }

    #[test]
    fn the_closest_labels_lack_the_fewest_then_differ_the_least() {
        let selector = labels(&[("app", "api"), ("tier", "back")]);
        let web = template("Deployment shop/web", &[("app", "web"), ("tier", "front")]);
        let apis = template("Deployment shop/apis", &[("app", "apis"), ("tier", "back")]);
        let api = template("Deployment shop/api", &[("app", "apl"), ("tier", "back")]);
        let typo = template("Deployment shop/typo", &[("ap", "api"), ("tier", "back")]);
        assert_eq!(
            closest(&selector, &[&web, &apis, &api]).map(|t| &t.owner[..]),
            Some("Deployment shop/apis"),
            "the first of equals"
        );
        assert_eq!(
            closest(&selector, &[&web, &typo]).map(|t| &t.owner[..]),
            Some("Deployment shop/typo")
        );
        assert_eq!(
            closest(&selector, &[&web]).map(|t| &t.owner[..]),
            Some("Deployment shop/web")
        );
        assert_eq!(closest(&selector, &[]), None);
        assert_eq!(difference(&selector, &web.labels), (2, 8));
        assert_eq!(difference(&selector, &typo.labels), (1, 1));
        assert_eq!(difference(&selector, &selector), (0, 0));
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
    }

    fn set(text: &str) -> ManifestSet {
        ManifestSet::parse(&[Source::new("set.yaml", text)], "shop")
    }

    const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  ports:\n  - port: 80\n  selector:\n    app: api\n";

    #[test]
    fn warnings_name_the_selector_and_the_closest_labels() {
        let web = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n      labels: {app: web, tier: front}\n";
        let found = warnings(&set(&format!("{SERVICE}{web}")), &Snapshot::new());
        assert_eq!(found.len(), 1);
        let (index, finding) = &found[0];
        assert_eq!(*index, 0);
        assert_eq!(finding.line, Some(8));
        assert_eq!(finding.rule, Some(RULE));
        assert_eq!(
            finding.message,
            "Service shop/api: its selector app=api selects no Pod of the set in namespace \"shop\" \
             (closest: Deployment shop/web, with app=web,tier=front): the Service has no endpoints \
             until Pods with these labels exist; correct the selector or the Pod labels, unless an \
             operator or controller creates these Pods"
        );

        // Pods elsewhere: the namespace is named
        let elsewhere = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: api-0, namespace: other, labels: {app: api}}\n";
        let found = warnings(&set(&format!("{SERVICE}{elsewhere}")), &Snapshot::new());
        assert!(
            found[0].1.message.contains(
                "selects no Pod of the set in namespace \"shop\", which has none (Pod other/api-0, \
                 in namespace \"other\", has these labels):"
            ),
            "{}",
            found[0].1.message
        );

        // a matching Pod of the snapshot: nothing
        let mut snapshot = Snapshot::new();
        snapshot
            .add_cluster_text(
                "pods.json",
                &json!({"kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "api-7d9", "namespace": "shop", "labels": {"app": "api", "pod-template-hash": "7d9"}}}]})
                .to_string(),
            )
            .unwrap();
        assert_eq!(warnings(&set(SERVICE), &snapshot), []);
        assert_eq!(warnings(&set(&format!("{SERVICE}{web}")), &snapshot), []);
        let found = warnings(&set(&SERVICE.replace("app: api", "app: gone")), &snapshot);
        assert!(
            found[0]
                .1
                .message
                .contains("selects no Pod of the set or the snapshot in namespace \"shop\""),
            "{found:?}"
        );
    }

    #[test]
    fn long_label_sets_are_cut() {
        let many: Labels = (0..10).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert_eq!(
            show(&many),
            "k0=v,k1=v,k2=v,k3=v,k4=v,k5=v,k6=v,k7=v (and 2 more)"
        );
        assert_eq!(show(&Labels::new()), "no labels");
    }
}
