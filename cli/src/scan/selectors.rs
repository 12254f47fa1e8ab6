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
//!
//! The controllers of the built-in kinds add labels of their own too
//! (`pod-template-hash`, `statefulset.kubernetes.io/pod-name`, `job-name`,
//! ...: [`CONTROLLER_LABELS`]): a selector of those matches the templates
//! of the kinds that add them.
//!
//! The work is bounded whatever the set holds: edit distances are computed
//! only between keys and values within the lengths Kubernetes allows, at
//! most [`COMPARISONS`] for one template, and every key and value quoted
//! in a message is clipped (see [`quote`]).

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
    /// For a built-in workload, whose controller adds labels of its own
    /// ([`CONTROLLER_LABELS`]): its kind and name.
    pub controller: Option<(&'static str, String)>,
}

/// How a controller sets the value of a label it adds to its Pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Added {
    /// Any value (a hash, a UID).
    Any,
    /// The name of the workload.
    Name,
    /// `<name>-<digits>`: a StatefulSet's Pod, a CronJob's Job.
    NameDash,
    /// Digits: the ordinal of a StatefulSet's Pod.
    Ordinal,
}

/// The labels the controllers of the built-in kinds add to the Pods they
/// make: the kind, the key and how its value is set.
const CONTROLLER_LABELS: &[(&str, &str, Added)] = &[
    (
        "StatefulSet",
        "statefulset.kubernetes.io/pod-name",
        Added::NameDash,
    ),
    (
        "StatefulSet",
        "apps.kubernetes.io/pod-index",
        Added::Ordinal,
    ),
    ("StatefulSet", "controller-revision-hash", Added::Any),
    ("DaemonSet", "controller-revision-hash", Added::Any),
    ("Deployment", "pod-template-hash", Added::Any),
    ("ReplicaSet", "pod-template-hash", Added::Any),
    ("Job", "job-name", Added::Name),
    ("Job", "batch.kubernetes.io/job-name", Added::Name),
    ("Job", "controller-uid", Added::Any),
    ("Job", "batch.kubernetes.io/controller-uid", Added::Any),
    ("CronJob", "job-name", Added::NameDash),
    ("CronJob", "batch.kubernetes.io/job-name", Added::NameDash),
    ("CronJob", "controller-uid", Added::Any),
    ("CronJob", "batch.kubernetes.io/controller-uid", Added::Any),
];

/// How the controller of `template` sets the label `key`, if it adds it.
fn added<'a>(template: &'a PodTemplate, key: &str) -> Option<(Added, &'a str)> {
    let (kind, name) = template.controller.as_ref()?;
    CONTROLLER_LABELS
        .iter()
        .find(|(k, label, _)| k == kind && *label == key)
        .map(|(_, _, how)| (*how, name.as_str()))
}

/// Whether `value` is what a controller that sets a label `how` can give
/// the Pods of the workload `name`.
fn added_value(how: Added, name: &str, value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match how {
        Added::Any => true,
        Added::Name => value == name,
        Added::NameDash => value
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(digits),
        Added::Ordinal => digits(value),
    }
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
        controller: None,
    };
    if BUILT_IN_GROUPS.contains(&group) {
        return WORKLOADS
            .iter()
            .filter(|(g, k, _)| *g == group && *k == kind)
            .map(|(_, k, labels)| PodTemplate {
                controller: Some((*k, name.to_owned())),
                ..template(object.pointer(labels), None)
            })
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
/// when their labels hold it, when the controller of a built-in workload
/// adds it ([`CONTROLLER_LABELS`]), and, for a custom resource, when
/// `value` is the resource's name or kind (what its operator adds).
fn carries(template: &PodTemplate, key: &str, value: &str) -> bool {
    template.labels.get(key).is_some_and(|v| v == value)
        || added(template, key).is_some_and(|(how, name)| added_value(how, name, value))
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

/// The longest label value Kubernetes allows, in characters.
const MAX_VALUE: usize = 63;

/// The longest label key Kubernetes allows, in characters: a DNS prefix of
/// 253, a `/` and a name of 63.
const MAX_KEY: usize = 253 + 1 + 63;

/// How many edit distances are computed between a selector and the labels
/// of one template; past it, labels count as maximally distant.
pub const COMPARISONS: usize = 64;

/// The length of `s` in characters, when at most `limit`.
fn length_within(s: &str, limit: usize) -> Option<usize> {
    // a character is at least one byte and at most four
    if s.len() > 4 * limit {
        return None;
    }
    Some(s.chars().count()).filter(|n| *n <= limit)
}

/// The length of `s` in characters, at most `limit + 1`: the distance of
/// `s` from the empty string, as [`Distances`] counts it.
fn bounded_length(s: &str, limit: usize) -> usize {
    length_within(s, limit).unwrap_or(limit + 1)
}

/// Edit distances between the keys and values of labels, within a budget
/// of [`COMPARISONS`]: a key or value longer than Kubernetes allows, or
/// past the budget, is `limit + 1` from any other (0 from an equal one).
struct Distances {
    left: usize,
}

impl Distances {
    fn new() -> Self {
        Distances { left: COMPARISONS }
    }

    /// The distance between `a` and `b`, two keys (`limit` [`MAX_KEY`]) or
    /// two values ([`MAX_VALUE`]).
    fn between(&mut self, a: &str, b: &str, limit: usize) -> usize {
        if a == b {
            return 0;
        }
        match (length_within(a, limit), length_within(b, limit)) {
            (Some(0), Some(n)) | (Some(n), Some(0)) => n,
            (Some(_), Some(_)) if self.left > 0 => {
                self.left -= 1;
                levenshtein(a, b)
            }
            _ => limit + 1,
        }
    }
}

/// How far the Pods of `template` are from satisfying `selector`: the
/// number of the selector's labels they lack, then the edit distance
/// between those and the nearest labels they have (the same key's value,
/// else the nearest label). A label that the template's controller adds
/// is compared as a value it would have (`db-0` for the `pod-name` of the
/// StatefulSet `db`).
pub fn difference(selector: &Labels, template: &PodTemplate) -> (usize, usize) {
    let mut distances = Distances::new();
    let mut missing = 0;
    let mut distance = 0;
    for (key, value) in selector {
        if carries(template, key, value) {
            continue;
        }
        missing += 1;
        let added = added(template, key).map(|(how, name)| match how {
            Added::Any => value.clone(),
            Added::Name => name.to_owned(),
            Added::NameDash => format!("{name}-0"),
            Added::Ordinal => "0".to_owned(),
        });
        distance += match template.labels.get(key).or(added.as_ref()) {
            Some(v) => distances.between(value, v, MAX_VALUE),
            None => template
                .labels
                .iter()
                .map(|(k, v)| {
                    distances.between(key, k, MAX_KEY) + distances.between(value, v, MAX_VALUE)
                })
                .min()
                .unwrap_or_else(|| bounded_length(key, MAX_KEY) + bounded_length(value, MAX_VALUE)),
        };
    }
    (missing, distance)
}

#[cfg(test)]
thread_local! {
    /// The edit distances computed on this thread, and their cells.
    static LEVENSHTEIN: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

/// The edit distance between `a` and `b`, in characters.
fn levenshtein(a: &str, b: &str) -> usize {
    #[cfg(test)]
    LEVENSHTEIN.with(|c| {
        let (n, cells) = c.get();
        c.set((n + 1, cells + a.chars().count() * b.chars().count()));
    });
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
    let missing = |t: &PodTemplate| selector.iter().filter(|(k, v)| !carries(t, k, v)).count();
    let fewest = templates.iter().map(|t| missing(t)).min()?;
    templates
        .iter()
        .filter(|t| missing(t) == fewest)
        .take(CANDIDATES)
        .min_by_key(|t| difference(selector, t))
        .copied()
}

/// Longer keys and values are cut in messages (as the policy's
/// `quote::MAX_QUOTED`): a hostile manifest must not make the report huge.
const MAX_QUOTED: usize = 256;

/// `s` as quoted in a message, as the policy's `quote::clip` does it: at
/// most [`MAX_QUOTED`] bytes (cut on a character boundary), then its
/// length in bytes.
fn quote(s: &str) -> String {
    if s.len() <= MAX_QUOTED {
        return s.to_owned();
    }
    let mut cut = MAX_QUOTED;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &s[..cut], s.len())
}

/// How many labels a message shows of one set.
const SHOWN_LABELS: usize = 8;

/// `key=value,key=value`, as `kubectl get -l` takes them; at most
/// [`SHOWN_LABELS`], each key and value [`quote`]d.
fn show(labels: &Labels) -> String {
    if labels.is_empty() {
        return "no labels".to_owned();
    }
    let mut out = labels
        .iter()
        .take(SHOWN_LABELS)
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
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
        "{}: its selector {} selects no Pod {of} in namespace \"{}\"",
        quote(&service.display_name()),
        show(selector),
        quote(namespace)
    );
    match closest(selector, &here) {
        Some(t) => {
            let _ = write!(
                message,
                " (closest: {}, with {})",
                quote(&t.owner),
                show(&t.labels)
            );
        }
        None => {
            message.push_str(", which has none");
            if let Some(t) = templates.iter().find(|t| matches(selector, t)) {
                let _ = write!(
                    message,
                    " ({}, in namespace \"{}\", has these labels)",
                    quote(&t.owner),
                    quote(&t.namespace)
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

    /// Labels as written in a table.
    type Pairs<'a> = &'a [(&'a str, &'a str)];

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
            controller: None,
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
        assert_eq!(difference(&selector, &web), (2, 8));
        assert_eq!(difference(&selector, &typo), (1, 1));
        assert_eq!(
            difference(
                &selector,
                &template("Pod shop/api", &[("app", "api"), ("tier", "back")])
            ),
            (0, 0)
        );
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
    fn labels_that_controllers_add_match_the_kinds_that_add_them() {
        let workload = |api: &str, kind: &str, name: &str| {
            let template = json!({"metadata": {"labels": {"app": name}}});
            let spec = if kind == "CronJob" {
                json!({"jobTemplate": {"spec": {"template": template}}})
            } else {
                json!({"template": template})
            };
            json!({"apiVersion": api, "kind": kind,
                   "metadata": {"name": name, "namespace": "shop"}, "spec": spec})
        };
        let db = workload("apps/v1", "StatefulSet", "db");
        let web = workload("apps/v1", "Deployment", "web");
        let rs = workload("apps/v1", "ReplicaSet", "web-7d9");
        let ds = workload("apps/v1", "DaemonSet", "agent");
        let job = workload("batch/v1", "Job", "migrate");
        let cron = workload("batch/v1", "CronJob", "backup");
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": "db-0", "namespace": "shop", "labels": {"app": "db"}}});
        let pod_name = "statefulset.kubernetes.io/pod-name";
        let cases: &[(&Value, Pairs, bool)] = &[
            // StatefulSet: `<name>-<ordinal>`, the ordinal, the revision
            (&db, &[(pod_name, "db-0")], true),
            (&db, &[(pod_name, "db-12"), ("app", "db")], true),
            (&db, &[(pod_name, "db-0"), ("app", "web")], false),
            (&db, &[(pod_name, "db-")], false),
            (&db, &[(pod_name, "db-0a")], false),
            (&db, &[(pod_name, "dbx-0")], false),
            (&db, &[(pod_name, "db")], false),
            (&db, &[("apps.kubernetes.io/pod-index", "3")], true),
            (&db, &[("apps.kubernetes.io/pod-index", "x")], false),
            (&db, &[("controller-revision-hash", "db-5d8c")], true),
            (&db, &[("pod-template-hash", "5d8c")], false),
            (&db, &[("job-name", "db")], false),
            // Deployment, ReplicaSet: the template hash
            (&web, &[("pod-template-hash", "7d9"), ("app", "web")], true),
            (&web, &[("controller-revision-hash", "7d9")], false),
            (&web, &[(pod_name, "web-0")], false),
            (&rs, &[("pod-template-hash", "7d9")], true),
            // DaemonSet: the revision
            (&ds, &[("controller-revision-hash", "6b7")], true),
            (&ds, &[("pod-template-hash", "6b7")], false),
            // Job: its name, its UID
            (&job, &[("job-name", "migrate")], true),
            (&job, &[("batch.kubernetes.io/job-name", "migrate")], true),
            (&job, &[("job-name", "migrate-1")], false),
            (&job, &[("controller-uid", "0b5e")], true),
            (
                &job,
                &[("batch.kubernetes.io/controller-uid", "0b5e")],
                true,
            ),
            // CronJob: the name of its Jobs, `<name>-<digits>`
            (&cron, &[("job-name", "backup-28391720")], true),
            (&cron, &[("batch.kubernetes.io/job-name", "backup-1")], true),
            (&cron, &[("job-name", "backup")], false),
            (&cron, &[("controller-uid", "0b5e")], true),
            (
                &cron,
                &[("batch.kubernetes.io/controller-uid", "0b5e")],
                true,
            ),
            // a Pod of the set has only its labels
            (&pod, &[(pod_name, "db-0")], false),
            (&pod, &[("pod-template-hash", "7d9")], false),
        ];
        for (object, selector, expected) in cases {
            let templates = pod_templates(object);
            assert_eq!(templates.len(), 1, "{object}");
            assert_eq!(
                matches(&labels(selector), &templates[0]),
                *expected,
                "{selector:?} of {}",
                templates[0].owner
            );
        }
    }

    #[test]
    fn per_pod_services_of_a_statefulset_are_not_reported() {
        let workloads = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n      labels: {name: db-x}\n\
                         ---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  template:\n    metadata:\n      labels: {app: db}\n";
        let service = |name: &str, selector: &str| {
            format!(
                "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  selector: {selector}\n"
            )
        };
        let cases: &[(&str, Option<&str>)] = &[
            ("{statefulset.kubernetes.io/pod-name: db-0}", None),
            ("{statefulset.kubernetes.io/pod-name: db-1, app: db}", None),
            ("{apps.kubernetes.io/pod-index: '2'}", None),
            ("{pod-template-hash: 7d9, name: db-x}", None),
            // the closest is the StatefulSet, whose Pods have that label
            (
                "{statefulset.kubernetes.io/pod-name: db-x}",
                Some("(closest: StatefulSet shop/db, with app=db)"),
            ),
            (
                "{statefulset.kubernetes.io/pod-name: db-0, app: web}",
                Some("(closest: StatefulSet shop/db, with app=db)"),
            ),
        ];
        for (selector, expected) in cases {
            let found = warnings(
                &set(&format!("{workloads}{}", service("db-0", selector))),
                &Snapshot::new(),
            );
            match expected {
                None => assert_eq!(found, [], "{selector}"),
                Some(hint) => {
                    assert_eq!(found.len(), 1, "{selector}");
                    assert!(found[0].1.message.contains(hint), "{selector}: {found:?}");
                }
            }
        }
    }

    fn computed() -> (usize, usize) {
        LEVENSHTEIN.with(std::cell::Cell::get)
    }

    #[test]
    fn edit_distances_only_within_the_lengths_kubernetes_allows() {
        let long = |c: char, n: usize| c.to_string().repeat(n);
        let (a63, b63, a64, b64) = (long('a', 63), long('b', 63), long('a', 64), long('b', 64));
        let (k317, j317) = (long('k', 317), long('j', 317));
        let huge = long('a', 100_000);
        let (e63, e64) = ("é".repeat(63), "é".repeat(64));
        // a, b, limit, distance, edit distances computed
        let cases: &[(&str, &str, usize, usize, usize)] = &[
            ("kitten", "sitting", MAX_VALUE, 3, 1),
            ("", "abc", MAX_VALUE, 3, 0),
            ("web", "web", MAX_VALUE, 0, 0),
            (&a63, &b63, MAX_VALUE, 63, 1),
            (&a64, &b64, MAX_VALUE, 64, 0),
            (&a64, "a", MAX_VALUE, 64, 0),
            (&huge, "a", MAX_VALUE, 64, 0),
            (&huge, &huge, MAX_VALUE, 0, 0),
            (&huge, "", MAX_VALUE, 64, 0),
            (&e63, "", MAX_VALUE, 63, 0),
            (&e64, "e", MAX_VALUE, 64, 0),
            (&k317, &j317, MAX_KEY, 317, 1),
            (&huge, "app", MAX_KEY, 318, 0),
        ];
        for (a, b, limit, distance, count) in cases {
            let before = computed().0;
            assert_eq!(
                Distances::new().between(a, b, *limit),
                *distance,
                "{} and {} chars",
                a.len(),
                b.len()
            );
            assert_eq!(computed().0 - before, *count, "{} and {}", a.len(), b.len());
        }
        // past the budget: maximally distant
        let mut spent = Distances::new();
        for _ in 0..COMPARISONS {
            assert_eq!(spent.between("ab", "ba", MAX_VALUE), 2);
        }
        assert_eq!(spent.between("ab", "ba", MAX_VALUE), 64);
        // a template with many labels: at most COMPARISONS edit distances
        let many: Vec<(String, String)> = (0..1000)
            .map(|i| (format!("k{i}"), format!("v{i}")))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let before = computed().0;
        let selector = labels(&[("app", "x"), ("tier", "y")]);
        assert_eq!(
            difference(&selector, &template("Deployment shop/many", &many)).0,
            2
        );
        assert!(computed().0 - before <= COMPARISONS);
    }

    #[test]
    fn messages_quote_keys_and_values_clipped() {
        let long = |n: usize| "x".repeat(n);
        let (v200k, k1k, v300) = (long(200_000), long(1000), long(300));
        let e200 = "é".repeat(200);
        // the selector, the labels of the one template, what the message holds
        let cases: &[(Pairs, Pairs, &str)] = &[
            (
                &[("app", &v200k)],
                &[("app", "web")],
                "… (200000 bytes) selects no Pod",
            ),
            (
                &[("app", "api")],
                &[("app", &v300)],
                "… (300 bytes)): the Service",
            ),
            (
                &[(&k1k, "api")],
                &[("app", "web")],
                "… (1000 bytes)=api selects",
            ),
            (&[("app", "api")], &[(&k1k, &v200k)], "… (1000 bytes)=xxx"),
            (
                &[("app", &e200)],
                &[("app", "web")],
                "é… (400 bytes) selects",
            ),
        ];
        for (selector, template_labels, expected) in cases {
            let t = template("Deployment shop/web", template_labels);
            let set = set(SERVICE);
            let message = warning(&set.objects[0], &labels(selector), &[&t], false).unwrap();
            assert!(message.len() < 2000, "{} bytes", message.len());
            assert!(message.contains(expected), "{expected}: {message}");
        }
        assert_eq!(
            quote(&"é".repeat(200)),
            format!("{}… (400 bytes)", "é".repeat(128))
        );
        assert_eq!(quote(&long(256)), long(256));
        assert_eq!(quote(&long(257)), format!("{}… (257 bytes)", long(256)));
    }

    #[test]
    fn many_services_and_workloads_with_huge_labels_are_judged_in_bounded_work() {
        let value = |c: char, i: usize| format!("{i}{}", c.to_string().repeat(100_000));
        let mut sources = Vec::new();
        for i in 0..50 {
            // half the Services with a huge value, half with a huge key;
            // each with a short label too, which is compared
            let selector = if i % 2 == 0 {
                json!({"app": value('s', i), "tier": "api"})
            } else {
                json!({value('k', i): "api", "tier": "api"})
            };
            let service = json!({"apiVersion": "v1", "kind": "Service",
                                 "metadata": {"name": format!("s{i}")}, "spec": {"selector": selector}});
            let labels = json!({"app": value('d', i), value('j', i): "web", "tier": "web"});
            let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                    "metadata": {"name": format!("d{i}")},
                                    "spec": {"template": {"metadata": {"labels": labels}}}});
            sources.push(Source::new(format!("s{i}.json"), service.to_string()));
            sources.push(Source::new(format!("d{i}.json"), deployment.to_string()));
        }
        let set = ManifestSet::parse(&sources, "shop");
        assert_eq!(set.objects.len(), 100);
        let before = computed();
        let found = warnings(&set, &Snapshot::new());
        let (count, cells) = (computed().0 - before.0, computed().1 - before.1);
        assert_eq!(found.len(), 50);
        for (_, finding) in &found {
            assert!(
                finding.message.len() < 2000,
                "{} bytes",
                finding.message.len()
            );
        }
        // no edit distance between labels longer than Kubernetes allows;
        // in any case at most COMPARISONS for each Service and template
        assert!(count <= 50 * 50 * COMPARISONS, "{count}");
        assert!(cells <= count * MAX_KEY * MAX_KEY, "{cells}");
        assert!(count > 0, "the short labels are compared");
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
