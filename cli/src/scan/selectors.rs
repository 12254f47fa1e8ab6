//! The rules of `scan` alone, on the whole set, that follow label
//! selectors and port names: what they share. Each rule is a module:
//!
//! - [`service`]: a Service whose `spec.selector` selects no Pod
//!   (`service-selects-no-pods`);
//! - [`target_port`]: a Service's named `targetPort` that no container of
//!   the Pods it selects declares (`service-target-port-not-declared`);
//! - [`disruption`]: a PodDisruptionBudget whose `spec.selector` selects
//!   no Pod (`pdb-selects-no-pods`);
//! - [`network`]: a NetworkPolicy whose `spec.podSelector`, or a
//!   same-namespace peer `podSelector`, selects no Pod
//!   (`networkpolicy-selects-no-pods`, `networkpolicy-peer-selects-no-pods`);
//! - [`monitors`]: a ServiceMonitor that selects no Service, a PodMonitor
//!   that selects no Pod, a ServiceMonitor endpoint `port` that is no port
//!   name of the Services it selects (`servicemonitor-selects-no-services`,
//!   `podmonitor-selects-no-pods`, `servicemonitor-port-not-found`).
//!
//! Every one is a warning, never a rejection: the policy cannot check them
//! at admission (a Service usually comes before its Pods), and operators
//! and controllers create Pods and Services that no manifest shows. Each
//! warning names the object, the field, the selector (or name) and the
//! closest labels (or names) that do exist.
//!
//! What is selected ([`Index`]): the Pod templates and the Services of the
//! set and of the snapshot, by namespace, and the Services every cluster
//! has ([`BUILT_IN_SERVICES`]: `kubernetes` in `default`, `kube-dns` in
//! `kube-system`), plus the kubelet Service that prometheus-operator makes
//! when it is run with `--kubelet-service=<namespace>/<name>`.
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
//! as matched, a key as present (`Exists`), and their container ports as
//! unknown.
//!
//! The controllers of the built-in kinds add labels of their own too
//! (`pod-template-hash`, `statefulset.kubernetes.io/pod-name`, `job-name`,
//! ...: [`CONTROLLER_LABELS`]): a selector of those matches the templates
//! of the kinds that add them.
//!
//! Label selectors are read as the API server reads them
//! ([`Selector::from_label_selector`]): `matchLabels` and
//! `matchExpressions` (`In`, `NotIn`, `Exists`, `DoesNotExist`), all of
//! which must hold. Where a controller or operator may add a label, a
//! requirement is taken as met: a rule warns only when nothing can match.
//!
//! The work is bounded whatever the set holds: a selector is matched
//! against the templates (or Services) of its namespaces once; edit
//! distances are computed only between keys, values and names within the
//! lengths Kubernetes allows, for at most [`CANDIDATES`] of them and at
//! most [`COMPARISONS`] for one candidate; and every key, value and name
//! quoted in a message is clipped (see [`quote`]).

pub mod disruption;
pub mod monitors;
pub mod network;
pub mod service;
pub mod target_port;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use super::input::{ManifestObject, ManifestSet};
use super::model::Snapshot;
use super::report::Finding;
use super::yaml::Seg;

/// The SARIF rule of the Services that select no Pod (see [`service`]).
pub const RULE: &str = service::RULE;

/// The SARIF rules of `scan`'s own, with their descriptions: what
/// `report` registers.
pub const RULES: &[(&str, &str)] = &[
    (
        service::RULE,
        "A Service whose selector matches no Pod of the set (a warning of scan only: an operator may create the Pods)",
    ),
    (
        target_port::RULE,
        "A Service's named targetPort that no container of the Pods it selects declares (a warning of scan only)",
    ),
    (
        disruption::RULE,
        "A PodDisruptionBudget whose selector matches no Pod of the set (a warning of scan only)",
    ),
    (
        network::RULE,
        "A NetworkPolicy whose podSelector matches no Pod of the set (a warning of scan only)",
    ),
    (
        network::PEER_RULE,
        "A NetworkPolicy peer whose podSelector matches no Pod of its namespace (a warning of scan only)",
    ),
    (
        monitors::SERVICE_RULE,
        "A ServiceMonitor whose selector matches no Service of its namespaces (a warning of scan only)",
    ),
    (
        monitors::POD_RULE,
        "A PodMonitor whose selector matches no Pod of its namespaces (a warning of scan only)",
    ),
    (
        monitors::PORT_RULE,
        "A ServiceMonitor endpoint port that is no port name of the Services it selects (a warning of scan only)",
    ),
];

/// The warnings of every rule of `scan`'s own on `set`, with the Pods,
/// workloads and Services of `snapshot`: the index of the object in
/// `set.objects` and the finding, at the line of its field; in input
/// order, an object's warnings in the order of [`RULES`].
pub fn warnings(set: &ManifestSet, snapshot: &Snapshot) -> Vec<(usize, Finding)> {
    let index = Index::new(set, snapshot);
    let mut found = service::warnings(set, &index);
    found.extend(target_port::warnings(set, &index));
    found.extend(disruption::warnings(set, &index));
    found.extend(network::warnings(set, &index));
    found.extend(monitors::warnings(set, &index));
    // stable: the rules' order within one object
    found.sort_by_key(|(i, _)| *i);
    found
}

/// Label keys to values.
pub type Labels = BTreeMap<String, String>;

/// The operator of a `matchExpressions` requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// The label's value is one of the values.
    In,
    /// The label is absent, or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// One requirement of `matchExpressions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How it is compared.
    pub operator: Operator,
    /// The values (non-empty for `In` and `NotIn`, empty otherwise).
    pub values: Vec<String>,
}

/// A label selector: every label of `labels` and every requirement of
/// `expressions` must hold. A Service's `spec.selector` has labels only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    /// `matchLabels` (or a Service's map).
    pub labels: Labels,
    /// `matchExpressions`.
    pub expressions: Vec<Requirement>,
}

impl From<Labels> for Selector {
    fn from(labels: Labels) -> Self {
        Selector {
            labels,
            expressions: Vec::new(),
        }
    }
}

impl Selector {
    /// A `metav1.LabelSelector` (`matchLabels`, `matchExpressions`), as the
    /// API server validates it; `None` for one it refuses (not a map,
    /// values that are not strings, an unknown operator, `In`/`NotIn`
    /// without values, `Exists`/`DoesNotExist` with some): no rule judges
    /// what cannot be applied.
    pub fn from_label_selector(value: &Value) -> Option<Selector> {
        let map = value.as_object()?;
        let labels = match map.get("matchLabels") {
            None | Some(Value::Null) => Labels::new(),
            Some(v) => labels_of(v)?,
        };
        let mut expressions = Vec::new();
        match map.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    let key = item.get("key")?.as_str()?.to_owned();
                    let operator = match item.get("operator")?.as_str()? {
                        "In" => Operator::In,
                        "NotIn" => Operator::NotIn,
                        "Exists" => Operator::Exists,
                        "DoesNotExist" => Operator::DoesNotExist,
                        _ => return None,
                    };
                    let values = match item.get("values") {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Array(values)) => {
                            values.iter().map(scalar).collect::<Option<Vec<_>>>()?
                        }
                        Some(_) => return None,
                    };
                    let needs_values = matches!(operator, Operator::In | Operator::NotIn);
                    if needs_values == values.is_empty() {
                        return None;
                    }
                    expressions.push(Requirement {
                        key,
                        operator,
                        values,
                    });
                }
            }
            Some(_) => return None,
        }
        Some(Selector {
            labels,
            expressions,
        })
    }

    /// Whether it has no label and no requirement: it selects everything.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.expressions.is_empty()
    }

    /// How many of its labels and requirements `target` does not meet.
    fn unmet<T: Labelled + ?Sized>(&self, target: &T) -> usize {
        self.labels
            .iter()
            .filter(|(k, v)| !target.carries(k, v))
            .count()
            + self
                .expressions
                .iter()
                .filter(|r| !meets(target, r))
                .count()
    }
}

/// A string, number or boolean as a label value reads.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A map of labels (or of a selector): its string values; numbers and
/// booleans as they read. `None` when it is not a map or holds anything
/// else.
pub fn labels_of(value: &Value) -> Option<Labels> {
    value
        .as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), scalar(v)?)))
        .collect()
}

/// What a selector selects: Pod templates ([`PodTemplate`]) or Services
/// ([`ServiceTarget`]).
pub trait Labelled {
    /// Its namespace.
    fn namespace(&self) -> &str;
    /// The labels written in it.
    fn labels(&self) -> &Labels;
    /// What it is, for messages: `Deployment shop/web`, `Service shop/api`.
    fn owner(&self) -> &str;
    /// Whether it carries the label `key: value`: by its labels, or
    /// because what makes it adds that label.
    fn carries(&self, key: &str, value: &str) -> bool {
        self.labels().get(key).is_some_and(|v| v == value)
    }
    /// Whether it may carry a label `key`, whatever its value.
    fn may_carry_key(&self, key: &str) -> bool {
        self.labels().contains_key(key)
    }
    /// For edit distances: the value it would have for `key` (wanted:
    /// `wanted`) that is not among its labels.
    fn added_value(&self, _key: &str, _wanted: &str) -> Option<String> {
        None
    }
}

/// Whether `target` meets `requirement`. Where what makes it may add the
/// label, `In` and `Exists` are met; `NotIn` and `DoesNotExist` fail only
/// on the labels written in it.
fn meets<T: Labelled + ?Sized>(target: &T, requirement: &Requirement) -> bool {
    let key = requirement.key.as_str();
    match requirement.operator {
        Operator::In => requirement.values.iter().any(|v| target.carries(key, v)),
        Operator::NotIn => !target
            .labels()
            .get(key)
            .is_some_and(|v| requirement.values.contains(v)),
        Operator::Exists => target.may_carry_key(key),
        Operator::DoesNotExist => !target.labels().contains_key(key),
    }
}

/// Whether `selector` selects `target`: it meets every label and
/// requirement.
pub fn selects<T: Labelled + ?Sized>(selector: &Selector, target: &T) -> bool {
    selector.labels.iter().all(|(k, v)| target.carries(k, v))
        && selector.expressions.iter().all(|r| meets(target, r))
}

/// What the labels of Pods will be, what makes those Pods and the port
/// names their containers declare.
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
    /// The `ports[].name` of its `containers` and `initContainers`; `None`
    /// for a custom resource, whose operator decides the containers.
    pub ports: Option<BTreeSet<String>>,
}

impl Labelled for PodTemplate {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn owner(&self) -> &str {
        &self.owner
    }

    /// Its labels hold it, the controller of a built-in workload adds it
    /// ([`CONTROLLER_LABELS`]), or, for a custom resource, `value` is the
    /// resource's name or kind (what its operator adds).
    fn carries(&self, key: &str, value: &str) -> bool {
        self.labels.get(key).is_some_and(|v| v == value)
            || added(self, key).is_some_and(|(how, name)| added_value(how, name, value))
            || self
                .operator
                .as_ref()
                .is_some_and(|(name, kind)| value == name || value == kind)
    }

    fn may_carry_key(&self, key: &str) -> bool {
        self.labels.contains_key(key) || added(self, key).is_some() || self.operator.is_some()
    }

    /// A label that its controller adds is compared as a value it would
    /// have (`db-0` for the `pod-name` of the StatefulSet `db`).
    fn added_value(&self, key: &str, wanted: &str) -> Option<String> {
        added(self, key).map(|(how, name)| match how {
            Added::Any => wanted.to_owned(),
            Added::Name => name.to_owned(),
            Added::NameDash => format!("{name}-0"),
            Added::Ordinal => "0".to_owned(),
        })
    }
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
/// labels are (their Pod spec is beside: `.../spec` for `.../metadata/labels`).
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

/// The text at `pointer` in `object`, or `""`.
fn text_at<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The API group of an `apiVersion`.
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The Pod spec of a built-in workload (or Pod), and its kind.
fn pod_spec(object: &Value) -> Option<(&'static str, &Value)> {
    let group = group_of(text_at(object, "/apiVersion"));
    let kind = text_at(object, "/kind");
    let (_, kind, labels) = WORKLOADS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)?;
    let spec = format!("{}/spec", labels.strip_suffix("/metadata/labels")?);
    Some((kind, object.pointer(&spec)?))
}

/// The containers and init containers of a Pod spec.
fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["containers", "initContainers"]
        .into_iter()
        .filter_map(|list| spec.get(list).and_then(Value::as_array))
        .flatten()
}

/// The `ports[].name` the containers and init containers of a Pod spec
/// declare.
fn port_names(spec: Option<&Value>) -> BTreeSet<String> {
    spec.into_iter()
        .flat_map(containers)
        .filter_map(|c| c.get("ports").and_then(Value::as_array))
        .flatten()
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// The Pod templates of one object (of the set, or of a snapshot): none
/// for an object that makes no Pods, or that has no namespace.
pub fn pod_templates(object: &Value) -> Vec<PodTemplate> {
    let text = |p: &str| text_at(object, p);
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
    let group = group_of(api_version);
    let template = |labels: Option<&Value>, operator: Option<(String, String)>| PodTemplate {
        namespace: namespace.to_owned(),
        labels: labels.and_then(labels_of).unwrap_or_default(),
        owner: format!("{kind} {namespace}/{name}"),
        operator,
        controller: None,
        ports: None,
    };
    if BUILT_IN_GROUPS.contains(&group) {
        return WORKLOADS
            .iter()
            .filter(|(g, k, _)| *g == group && *k == kind)
            .map(|(_, k, labels)| PodTemplate {
                controller: Some((*k, name.to_owned())),
                ports: Some(port_names(pod_spec(object).map(|(_, spec)| spec))),
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

/// A Service, as a ServiceMonitor selects it: its labels and port names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTarget {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its `metadata.labels`.
    pub labels: Labels,
    /// `Service ns/name`, and where it comes from when not from the set
    /// or the snapshot.
    pub owner: String,
    /// Its `spec.ports[].name`.
    pub ports: BTreeSet<String>,
}

impl Labelled for ServiceTarget {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn owner(&self) -> &str {
        &self.owner
    }
}

impl ServiceTarget {
    /// A `v1` Service object (of the set or of a snapshot) as a target;
    /// `None` for another kind, or one without name or namespace.
    pub fn of(object: &Value) -> Option<ServiceTarget> {
        if text_at(object, "/apiVersion") != "v1" || text_at(object, "/kind") != "Service" {
            return None;
        }
        let (namespace, name) = (
            text_at(object, "/metadata/namespace"),
            text_at(object, "/metadata/name"),
        );
        if namespace.is_empty() || name.is_empty() {
            return None;
        }
        Some(ServiceTarget {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            labels: object
                .pointer("/metadata/labels")
                .and_then(labels_of)
                .unwrap_or_default(),
            owner: format!("Service {namespace}/{name}"),
            ports: object
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect(),
        })
    }

    fn built_in(
        namespace: &str,
        name: &str,
        labels: &[(&str, &str)],
        ports: &[&str],
        from: &str,
    ) -> ServiceTarget {
        ServiceTarget {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            owner: format!("Service {namespace}/{name} ({from})"),
            ports: ports.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}

/// A Service every cluster has: namespace, name, labels, port names.
type BuiltInService = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

/// The Services of every (kubeadm, kind, k3s, ...) cluster, with their
/// labels and port names: the API server's `kubernetes` and CoreDNS's
/// `kube-dns` (what kube-prometheus's ServiceMonitors for the API server
/// and CoreDNS select).
pub const BUILT_IN_SERVICES: &[BuiltInService] = &[
    (
        "default",
        "kubernetes",
        &[("component", "apiserver"), ("provider", "kubernetes")],
        &["https"],
    ),
    (
        "kube-system",
        "kube-dns",
        &[
            ("k8s-app", "kube-dns"),
            ("kubernetes.io/cluster-service", "true"),
            ("kubernetes.io/name", "CoreDNS"),
        ],
        &["dns", "dns-tcp", "metrics"],
    ),
];

/// The flag of prometheus-operator that makes it create (and keep) a
/// Service of the kubelets: `--kubelet-service=<namespace>/<name>`.
const KUBELET_SERVICE_FLAG: &str = "--kubelet-service";

/// The kubelet Services a workload's containers make, as prometheus-operator
/// does when given [`KUBELET_SERVICE_FLAG`]: with its labels and ports
/// (pkg/kubelet of prometheus-operator).
fn operator_services(object: &Value) -> Vec<ServiceTarget> {
    let Some((_, spec)) = pod_spec(object) else {
        return Vec::new();
    };
    let owner = format!(
        "made by {} {}/{}",
        text_at(object, "/kind"),
        text_at(object, "/metadata/namespace"),
        text_at(object, "/metadata/name")
    );
    let mut found = Vec::new();
    for container in containers(spec) {
        let args: Vec<&str> = container
            .get("args")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (i, arg) in args.iter().enumerate() {
            let value = match arg.strip_prefix(KUBELET_SERVICE_FLAG) {
                Some(rest) if rest.starts_with('=') => &rest[1..],
                Some("") => args.get(i + 1).copied().unwrap_or_default(),
                _ => continue,
            };
            if let Some((namespace, name)) = value.split_once('/')
                && !namespace.is_empty()
                && !name.is_empty()
            {
                found.push(ServiceTarget::built_in(
                    namespace,
                    name,
                    &[
                        ("app.kubernetes.io/managed-by", "prometheus-operator"),
                        ("app.kubernetes.io/name", "kubelet"),
                        ("k8s-app", "kubelet"),
                    ],
                    &["https-metrics", "http-metrics", "cadvisor"],
                    &owner,
                ));
            }
        }
    }
    found
}

/// What the rules select from: the Pod templates and the Services of the
/// set, of the snapshot and of every cluster, by namespace (in input
/// order: the set's, then the snapshot's, then the built-in ones).
#[derive(Debug, Default)]
pub struct Index {
    pods: BTreeMap<String, Vec<PodTemplate>>,
    services: BTreeMap<String, Vec<ServiceTarget>>,
    /// The snapshot held Pods or workloads.
    pub pods_from_snapshot: bool,
    /// The snapshot held Services.
    pub services_from_snapshot: bool,
}

impl Index {
    /// The Pod templates and Services of `set` and `snapshot`, and the
    /// Services every cluster has ([`BUILT_IN_SERVICES`], and those
    /// prometheus-operator makes) unless one of them has them.
    pub fn new(set: &ManifestSet, snapshot: &Snapshot) -> Index {
        let mut index = Index {
            pods_from_snapshot: !snapshot.pod_templates().is_empty(),
            ..Index::default()
        };
        for t in set
            .objects
            .iter()
            .flat_map(|o| pod_templates(&o.object))
            .chain(snapshot.pod_templates().iter().cloned())
        {
            index.pods.entry(t.namespace.clone()).or_default().push(t);
        }
        let mut known = BTreeSet::new();
        let from_set = set
            .objects
            .iter()
            .filter(|o| !o.generated_name)
            .filter_map(|o| ServiceTarget::of(&o.object));
        let from_snapshot: Vec<ServiceTarget> = snapshot
            .objects()
            .iter()
            .filter_map(ServiceTarget::of)
            .collect();
        index.services_from_snapshot = !from_snapshot.is_empty();
        let made = set
            .objects
            .iter()
            .map(|o| &o.object)
            .chain(snapshot.objects())
            .flat_map(operator_services);
        let built_in = BUILT_IN_SERVICES.iter().map(|(ns, name, labels, ports)| {
            ServiceTarget::built_in(ns, name, labels, ports, "in every cluster")
        });
        for s in from_set.chain(from_snapshot).chain(made).chain(built_in) {
            // the first of a name: the set's replaces the snapshot's
            if known.insert((s.namespace.clone(), s.name.clone())) {
                index
                    .services
                    .entry(s.namespace.clone())
                    .or_default()
                    .push(s);
            }
        }
        index
    }

    /// The Pod templates of `namespace`.
    pub fn pods_in(&self, namespace: &str) -> &[PodTemplate] {
        self.pods.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// The Services of `namespace`.
    pub fn services_in(&self, namespace: &str) -> &[ServiceTarget] {
        self.services.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// Every Pod template, by namespace.
    pub fn all_pods(&self) -> impl Iterator<Item = &PodTemplate> {
        self.pods.values().flatten()
    }

    /// Every Service, by namespace.
    pub fn all_services(&self) -> impl Iterator<Item = &ServiceTarget> {
        self.services.values().flatten()
    }

    /// "of the set", or "of the set or the snapshot" when the snapshot
    /// held Pods or workloads.
    pub fn pods_of(&self) -> &'static str {
        if self.pods_from_snapshot {
            "of the set or the snapshot"
        } else {
            "of the set"
        }
    }

    /// "of the set", or "of the set or the snapshot" when the snapshot
    /// held Services.
    pub fn services_of(&self) -> &'static str {
        if self.services_from_snapshot {
            "of the set or the snapshot"
        } else {
            "of the set"
        }
    }
}

/// The longest label value Kubernetes allows, in characters (and the
/// longest name compared: port names are at most 15).
const MAX_VALUE: usize = 63;

/// The longest label key Kubernetes allows, in characters: a DNS prefix of
/// 253, a `/` and a name of 63.
const MAX_KEY: usize = 253 + 1 + 63;

/// How many edit distances are computed between a selector and the labels
/// of one template (or between a name and the names that exist); past it,
/// they count as maximally distant.
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

    /// How far `target` is from carrying `key: value`: the edit distance
    /// from the value it has for `key` (or its controller would give it),
    /// else from its nearest label.
    fn label_distance<T: Labelled + ?Sized>(
        &mut self,
        target: &T,
        key: &str,
        value: &str,
    ) -> usize {
        let added = target.added_value(key, value);
        match target.labels().get(key).or(added.as_ref()) {
            Some(v) => self.between(value, v, MAX_VALUE),
            None => target
                .labels()
                .iter()
                .map(|(k, v)| self.between(key, k, MAX_KEY) + self.between(value, v, MAX_VALUE))
                .min()
                .unwrap_or_else(|| bounded_length(key, MAX_KEY) + bounded_length(value, MAX_VALUE)),
        }
    }
}

/// How far `target` is from being selected by `selector`: the number of
/// its labels and requirements it does not meet, then the edit distance
/// between those and the nearest labels it has (the same key's value, else
/// the nearest label; an `In` as its first value, an `Exists` as the
/// nearest key, a `NotIn` or `DoesNotExist` as 1).
pub fn difference<T: Labelled + ?Sized>(selector: &Selector, target: &T) -> (usize, usize) {
    let mut distances = Distances::new();
    let mut missing = 0;
    let mut distance = 0;
    for (key, value) in &selector.labels {
        if target.carries(key, value) {
            continue;
        }
        missing += 1;
        distance += distances.label_distance(target, key, value);
    }
    for r in &selector.expressions {
        if meets(target, r) {
            continue;
        }
        missing += 1;
        distance += match r.operator {
            Operator::In => distances.label_distance(target, &r.key, &r.values[0]),
            Operator::Exists => target
                .labels()
                .keys()
                .map(|k| distances.between(&r.key, k, MAX_KEY))
                .min()
                .unwrap_or_else(|| bounded_length(&r.key, MAX_KEY)),
            Operator::NotIn | Operator::DoesNotExist => 1,
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

/// How many candidates, of those that lack the fewest labels, are compared
/// by edit distance: a bound on the work for one selector.
pub const CANDIDATES: usize = 256;

/// The one of `candidates` closest to being selected by `selector` (the
/// first of equals, in order).
pub fn closest<'a, T: Labelled + ?Sized>(
    selector: &Selector,
    candidates: &[&'a T],
) -> Option<&'a T> {
    let fewest = candidates.iter().map(|t| selector.unmet(*t)).min()?;
    candidates
        .iter()
        .filter(|t| selector.unmet(**t) == fewest)
        .take(CANDIDATES)
        .min_by_key(|t| difference(selector, **t))
        .copied()
}

/// The name of `names` closest to `wanted` by edit distance (the first of
/// equals), within [`COMPARISONS`] edit distances of names of at most
/// [`MAX_VALUE`] characters; `None` when there is no name.
pub fn closest_name<'a>(wanted: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut distances = Distances::new();
    names
        .into_iter()
        .take(CANDIDATES)
        .min_by_key(|n| distances.between(wanted, n, MAX_VALUE))
}

/// Longer keys and values are cut in messages (as the policy's
/// `quote::MAX_QUOTED`): a hostile manifest must not make the report huge.
const MAX_QUOTED: usize = 256;

/// `s` as quoted in a message, as the policy's `quote::clip` does it: at
/// most [`MAX_QUOTED`] bytes (cut on a character boundary), then its
/// length in bytes.
pub fn quote(s: &str) -> String {
    if s.len() <= MAX_QUOTED {
        return s.to_owned();
    }
    let mut cut = MAX_QUOTED;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &s[..cut], s.len())
}

/// How many labels (or requirements, names, namespaces) a message shows
/// of one set.
const SHOWN_LABELS: usize = 8;

/// Items joined by `separator`, at most [`SHOWN_LABELS`], then how many
/// more there are.
fn show_items(items: impl ExactSizeIterator<Item = String>, separator: &str) -> String {
    let total = items.len();
    let mut out = items.take(SHOWN_LABELS).collect::<Vec<_>>().join(separator);
    if total > SHOWN_LABELS {
        let _ = write!(out, " (and {} more)", total - SHOWN_LABELS);
    }
    out
}

/// `key=value,key=value`, as `kubectl get -l` takes them; at most
/// [`SHOWN_LABELS`], each key and value [`quote`]d.
pub fn show(labels: &Labels) -> String {
    if labels.is_empty() {
        return "no labels".to_owned();
    }
    show_items(
        labels
            .iter()
            .map(|(k, v)| format!("{}={}", quote(k), quote(v))),
        ",",
    )
}

/// A selector as `kubectl get -l` takes it: `app=web,tier in (a,b),!old`;
/// at most [`SHOWN_LABELS`] labels and requirements, and values of each,
/// every key and value [`quote`]d.
pub fn show_selector(selector: &Selector) -> String {
    if selector.is_empty() {
        return "{}".to_owned();
    }
    let values = |r: &Requirement| show_items(r.values.iter().map(|v| quote(v)), ",");
    let labels = selector
        .labels
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)));
    let expressions = selector.expressions.iter().map(|r| match r.operator {
        Operator::In => format!("{} in ({})", quote(&r.key), values(r)),
        Operator::NotIn => format!("{} notin ({})", quote(&r.key), values(r)),
        Operator::Exists => quote(&r.key),
        Operator::DoesNotExist => format!("!{}", quote(&r.key)),
    });
    let all: Vec<String> = labels.chain(expressions).collect();
    show_items(all.into_iter(), ",")
}

/// Names quoted and joined: `"a", "b"`, at most [`SHOWN_LABELS`].
pub fn show_names<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    show_items(names.map(|n| format!("\"{}\"", quote(n))), ", ")
}

/// Where a selector that selects nothing comes closest, for its warning:
/// ` (closest: Deployment shop/web, with app=web)` when `here` (what is in
/// its namespaces) has candidates; else `, which has none`, and, when one
/// of `elsewhere` (the other namespaces) is selected, which and where.
pub fn nearest<'a, T: Labelled + 'a>(
    selector: &Selector,
    here: &[&'a T],
    elsewhere: impl IntoIterator<Item = &'a T>,
) -> String {
    match closest(selector, here) {
        Some(t) => format!(
            " (closest: {}, with {})",
            quote(t.owner()),
            show(t.labels())
        ),
        None => {
            let mut out = ", which has none".to_owned();
            if let Some(t) = elsewhere.into_iter().find(|t| selects(selector, *t)) {
                let _ = write!(
                    out,
                    " ({}, in namespace \"{}\", has these labels)",
                    quote(t.owner()),
                    quote(t.namespace())
                );
            }
            out
        }
    }
}

/// The warning on `object` (its display name), whose selector at `path`
/// selects none of `here` (what is in `scope`, its namespaces), or `None`
/// when it selects one: `<object>: its <path> <selector> selects no
/// <noun> <of> in <scope>` then where it comes closest ([`nearest`]) and
/// `consequence`.
pub struct NoMatch<'s> {
    /// The object, as `Kind namespace/name`.
    pub object: &'s str,
    /// Where the selector is.
    pub path: &'s [Seg],
    /// The selector.
    pub selector: &'s Selector,
    /// What it selects: `Pod`, `Service`.
    pub noun: &'s str,
    /// `of the set`, `of the set or the snapshot`.
    pub of: &'s str,
    /// `namespace "shop"`, `namespaces "a", "b"`, `any namespace`.
    pub scope: &'s str,
    /// What the cluster does, and what to do.
    pub consequence: &'s str,
}

impl NoMatch<'_> {
    /// The message, or `None` when the selector selects one of `here`.
    pub fn message<'a, T: Labelled + 'a>(
        &self,
        here: &[&'a T],
        elsewhere: impl IntoIterator<Item = &'a T>,
    ) -> Option<String> {
        if here.iter().any(|t| selects(self.selector, *t)) {
            return None;
        }
        Some(format!(
            "{}: its {} {} selects no {} {} in {}{}: {}",
            quote(self.object),
            field_path(self.path),
            show_selector(self.selector),
            self.noun,
            self.of,
            self.scope,
            nearest(self.selector, here, elsewhere),
            self.consequence
        ))
    }
}

/// `namespace "shop"`, quoted.
pub fn one_namespace(namespace: &str) -> String {
    format!("namespace \"{}\"", quote(namespace))
}

/// A field path as messages write it: `spec.ingress[0].from[1].podSelector`.
pub fn field_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&quote(k));
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// The finding of `rule` on `object`, at the line of the field at `path`
/// (else of the object).
pub fn finding(
    object: &ManifestObject,
    path: &[Seg],
    message: String,
    rule: &'static str,
) -> Finding {
    let at = object
        .span
        .position_of(path)
        .or_else(|| super::report::object_position(object));
    Finding {
        message,
        line: at.map(|p| p.line),
        column: at.map(|p| p.column),
        rule: Some(rule),
        reported_on: None,
    }
}

/// Whether `object` of the set is of `group` and `kind` and has a
/// namespace: its namespace.
pub fn namespaced<'a>(object: &'a ManifestObject, group: &str, kind: &str) -> Option<&'a str> {
    (object.group == group && object.kind == kind)
        .then_some(object.namespace.as_deref())
        .flatten()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::input::Source;
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    /// Labels as written in a table.
    pub type Pairs<'a> = &'a [(&'a str, &'a str)];

    pub fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A selector of `matchLabels` only.
    pub fn sel(pairs: &[(&str, &str)]) -> Selector {
        labels(pairs).into()
    }

    pub fn template(owner: &str, pairs: &[(&str, &str)]) -> PodTemplate {
        PodTemplate {
            namespace: "shop".to_owned(),
            labels: labels(pairs),
            owner: owner.to_owned(),
            operator: None,
            controller: None,
            ports: Some(BTreeSet::new()),
        }
    }

    /// A set read with the default namespace `shop`.
    pub fn set(text: &str) -> ManifestSet {
        ManifestSet::parse(&[Source::new("set.yaml", text)], "shop")
    }

    /// The messages of `found`.
    pub fn messages(found: &[(usize, Finding)]) -> Vec<&str> {
        found.iter().map(|(_, f)| f.message.as_str()).collect()
    }

    pub fn computed() -> (usize, usize) {
        LEVENSHTEIN.with(std::cell::Cell::get)
    }

    #[rstest]
    #[case::one_label(&[("app", "web")], true)]
    #[case::every_label(&[("app", "web"), ("tier", "front")], true)]
    #[case::another_value(&[("app", "web"), ("tier", "back")], false)]
    #[case::another_app(&[("app", "api")], false)]
    #[case::another_key(&[("application", "web")], false)]
    #[case::a_label_too_many(&[("app", "web"), ("version", "1")], false)]
    fn a_selector_matches_when_every_label_is_the_templates(
        #[case] selector: Pairs<'_>,
        #[case] expected: bool,
    ) {
        let t = template("Deployment shop/web", &[("app", "web"), ("tier", "front")]);
        assert_eq!(selects(&sel(selector), &t), expected, "{selector:?}");
    }

    /// `matchExpressions`, on a Deployment's template and on a custom
    /// resource's (whose operator may add labels).
    #[rstest]
    #[case::in_one_of(json!([{"key": "app", "operator": "In", "values": ["api", "web"]}]), true, true)]
    #[case::in_none_of(json!([{"key": "app", "operator": "In", "values": ["api", "db"]}]), false, false)]
    #[case::in_the_operators_name(json!([{"key": "app.kubernetes.io/instance", "operator": "In", "values": ["k8s"]}]), false, true)]
    #[case::not_in(json!([{"key": "tier", "operator": "NotIn", "values": ["back"]}]), true, true)]
    #[case::not_in_its_value(json!([{"key": "tier", "operator": "NotIn", "values": ["front"]}]), false, false)]
    #[case::not_in_absent(json!([{"key": "track", "operator": "NotIn", "values": ["canary"]}]), true, true)]
    #[case::exists(json!([{"key": "tier", "operator": "Exists"}]), true, true)]
    #[case::exists_absent(json!([{"key": "track", "operator": "Exists"}]), false, true)]
    #[case::exists_added_by_the_controller(json!([{"key": "pod-template-hash", "operator": "Exists"}]), true, true)]
    #[case::does_not_exist(json!([{"key": "track", "operator": "DoesNotExist"}]), true, true)]
    #[case::does_not_exist_present(json!([{"key": "tier", "operator": "DoesNotExist"}]), false, false)]
    #[case::all_must_hold(json!([{"key": "tier", "operator": "Exists"}, {"key": "app", "operator": "In", "values": ["db"]}]), false, false)]
    fn match_expressions_as_the_api_server_reads_them(
        #[case] expressions: Value,
        #[case] deployment: bool,
        #[case] custom_resource: bool,
    ) {
        let selector =
            Selector::from_label_selector(&json!({"matchExpressions": expressions})).unwrap();
        let mut web = template("Deployment shop/web", &[("app", "web"), ("tier", "front")]);
        web.controller = Some(("Deployment", "web".to_owned()));
        let mut cr = template("Prometheus shop/k8s", &[("app", "web"), ("tier", "front")]);
        cr.operator = Some(("k8s".to_owned(), "prometheus".to_owned()));
        cr.ports = None;
        assert_eq!(selects(&selector, &web), deployment, "{expressions}");
        assert_eq!(selects(&selector, &cr), custom_resource, "{expressions}");
    }

    #[rstest]
    #[case::labels(json!({"matchLabels": {"app": "web", "v": 2}}), Some("app=web,v=2"))]
    #[case::empty(json!({}), Some("{}"))]
    #[case::nulls(json!({"matchLabels": null, "matchExpressions": null}), Some("{}"))]
    #[case::expressions(
        json!({"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "canary", "operator": "Exists"},
            {"key": "old", "operator": "DoesNotExist", "values": []}]}),
        Some("app=web,tier in (a,b),env notin (dev),canary,!old"))]
    #[case::not_a_map(json!(["app"]), None)]
    #[case::a_list_of_labels(json!({"matchLabels": {"app": ["web"]}}), None)]
    #[case::unknown_operator(json!({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]}), None)]
    #[case::in_without_values(json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}), None)]
    #[case::exists_with_values(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["b"]}]}), None)]
    #[case::no_key(json!({"matchExpressions": [{"operator": "Exists"}]}), None)]
    #[case::expressions_not_a_list(json!({"matchExpressions": {"key": "a"}}), None)]
    fn label_selectors_read_and_shown(#[case] value: Value, #[case] shown: Option<&str>) {
        let selector = Selector::from_label_selector(&value);
        assert_eq!(selector.as_ref().map(show_selector).as_deref(), shown);
    }

    #[test]
    fn shown_selectors_are_cut() {
        let values: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
        let selector = Selector::from_label_selector(
            &json!({"matchExpressions": [{"key": "k", "operator": "In", "values": values}]}),
        )
        .unwrap();
        assert_eq!(
            show_selector(&selector),
            "k in (v0,v1,v2,v3,v4,v5,v6,v7 (and 12 more))"
        );
        let many = sel(&(0..10)
            .map(|i| (["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"][i], "x"))
            .collect::<Vec<_>>());
        assert_eq!(
            show_selector(&many),
            "a=x,b=x,c=x,d=x,e=x,f=x,g=x,h=x (and 2 more)"
        );
    }

    #[rstest]
    #[case::prometheus_component(&[("app.kubernetes.io/component", "prometheus")], true)]
    // what prometheus-operator adds: the name and the kind
    #[case::its_name(&[("prometheus", "k8s")], true)]
    #[case::its_instance(&[("app.kubernetes.io/instance", "k8s")], true)]
    #[case::its_kind(&[("app.kubernetes.io/name", "prometheus")], true)]
    #[case::another_instance(&[("app.kubernetes.io/instance", "main")], false)]
    #[case::a_label_it_lacks(
        &[("app.kubernetes.io/component", "prometheus"), ("app.kubernetes.io/part-of", "kube-prometheus")],
        false
    )]
    fn an_operators_own_labels_match_a_custom_resource(
        #[case] selector: Pairs<'_>,
        #[case] expected: bool,
    ) {
        let mut t = template(
            "Prometheus monitoring/k8s",
            &[("app.kubernetes.io/component", "prometheus")],
        );
        t.operator = Some(("k8s".to_owned(), "prometheus".to_owned()));
        assert_eq!(selects(&sel(selector), &t), expected, "{selector:?}");
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
                selects(&sel(selector), &templates[0]),
                *expected,
                "{selector:?} of {}",
                templates[0].owner
            );
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

    /// The port names of a template: its containers' and init containers';
    /// unknown for a custom resource.
    #[rstest]
    #[case::deployment(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "s"},
               "spec": {"template": {"spec": {
                   "containers": [{"name": "a", "ports": [{"name": "http", "containerPort": 80}, {"containerPort": 81}]},
                                  {"name": "b", "ports": [{"name": "metrics", "containerPort": 9090}]}],
                   "initContainers": [{"name": "proxy", "restartPolicy": "Always", "ports": [{"name": "proxy", "containerPort": 15001}]}]}}}}),
        Some(vec!["http", "metrics", "proxy"]))]
    #[case::pod(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "s"},
               "spec": {"containers": [{"name": "a", "ports": [{"name": "web", "containerPort": 80}]}]}}),
        Some(vec!["web"]))]
    #[case::cronjob(
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "s"},
               "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "ports": [{"name": "x", "containerPort": 1}]}]}}}}}}),
        Some(vec!["x"]))]
    #[case::no_ports(
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "d", "namespace": "s"},
               "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}),
        Some(vec![]))]
    #[case::custom_resource(
        json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "metadata": {"name": "k8s", "namespace": "s"},
               "spec": {"podMetadata": {"labels": {"app": "p"}}}}),
        None)]
    fn port_names_of_templates(#[case] object: Value, #[case] expected: Option<Vec<&str>>) {
        let templates = pod_templates(&object);
        assert_eq!(templates.len(), 1);
        let ports = templates[0]
            .ports
            .as_ref()
            .map(|p| p.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(ports, expected);
    }

    #[test]
    fn the_index_holds_the_set_the_snapshot_and_the_built_in_services() {
        let set = set(
            "apiVersion: v1\nkind: Service\nmetadata: {name: api, labels: {app: api}}\n\
                       spec: {ports: [{name: http, port: 80}]}\n---\n\
                       apiVersion: v1\nkind: Service\nmetadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: own}}\n---\n\
                       apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: prometheus-operator, namespace: monitoring}\n\
                       spec:\n  template:\n    spec:\n      containers:\n      - name: o\n        args: [--kubelet-service=kube-system/kubelet]\n      - name: p\n        args: [--kubelet-service, other/kubelet, --kubelet-service=bad]\n",
        );
        let mut snapshot = Snapshot::new();
        snapshot
            .add_cluster_text(
                "c.json",
                &json!({"items": [
                    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "shop", "labels": {"app": "old"}}},
                    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "shop"}}]})
                .to_string(),
            )
            .unwrap();
        let index = Index::new(&set, &snapshot);
        let owners = |ns: &str| -> Vec<(String, Labels)> {
            index
                .services_in(ns)
                .iter()
                .map(|s| (s.owner.clone(), s.labels.clone()))
                .collect()
        };
        // the set's Service replaces the snapshot's
        assert_eq!(
            owners("shop"),
            [
                ("Service shop/api".to_owned(), labels(&[("app", "api")])),
                ("Service shop/db".to_owned(), Labels::new())
            ]
        );
        assert_eq!(
            owners("kube-system"),
            [
                (
                    "Service kube-system/kube-dns".to_owned(),
                    labels(&[("k8s-app", "own")])
                ),
                (
                    "Service kube-system/kubelet (made by Deployment monitoring/prometheus-operator)"
                        .to_owned(),
                    labels(&[
                        ("app.kubernetes.io/managed-by", "prometheus-operator"),
                        ("app.kubernetes.io/name", "kubelet"),
                        ("k8s-app", "kubelet")
                    ])
                ),
            ]
        );
        assert_eq!(index.services_in("other").len(), 1);
        assert_eq!(
            owners("default"),
            [(
                "Service default/kubernetes (in every cluster)".to_owned(),
                labels(&[("component", "apiserver"), ("provider", "kubernetes")])
            )]
        );
        assert_eq!(index.services_in("shop")[0].ports.len(), 1);
        assert_eq!(index.services_of(), "of the set or the snapshot");
        assert_eq!(index.pods_of(), "of the set");
    }

    #[test]
    fn the_closest_labels_lack_the_fewest_then_differ_the_least() {
        let selector = sel(&[("app", "api"), ("tier", "back")]);
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
        assert_eq!(closest::<PodTemplate>(&selector, &[]), None);
        assert_eq!(difference(&selector, &web), (2, 8));
        assert_eq!(difference(&selector, &typo), (1, 1));
        assert_eq!(
            difference(
                &selector,
                &template("Pod shop/api", &[("app", "api"), ("tier", "back")])
            ),
            (0, 0)
        );
        // requirements: In as its first value, Exists as the nearest key
        let expressions = Selector::from_label_selector(&json!({"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["apx", "zzz"]},
            {"key": "tie", "operator": "Exists"},
            {"key": "tier", "operator": "NotIn", "values": ["back"]}]}))
        .unwrap();
        assert_eq!(difference(&expressions, &api), (3, 1 + 1 + 1));
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
    }

    #[rstest]
    #[case::a_typo("metrcs", &["http", "metrics"], Some("metrics"))]
    #[case::the_first_of_equals("b", &["a", "c"], Some("a"))]
    #[case::none("http", &[], None)]
    fn the_closest_name(
        #[case] wanted: &str,
        #[case] names: &[&'static str],
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(closest_name(wanted, names.iter().copied()), expected);
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
        let selector = sel(&[("app", "x"), ("tier", "y")]);
        assert_eq!(
            difference(&selector, &template("Deployment shop/many", &many)).0,
            2
        );
        assert!(computed().0 - before <= COMPARISONS);
        // many names: at most COMPARISONS edit distances, CANDIDATES names
        let names: Vec<String> = (0..10_000).map(|i| format!("p{i}")).collect();
        let before = computed().0;
        assert_eq!(
            closest_name("q", names.iter().map(String::as_str)),
            Some("p0")
        );
        assert!(computed().0 - before <= COMPARISONS);
    }

    #[test]
    fn long_label_sets_are_cut() {
        let many: Labels = (0..10).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert_eq!(
            show(&many),
            "k0=v,k1=v,k2=v,k3=v,k4=v,k5=v,k6=v,k7=v (and 2 more)"
        );
        assert_eq!(show(&Labels::new()), "no labels");
        assert_eq!(
            quote(&"é".repeat(200)),
            format!("{}… (400 bytes)", "é".repeat(128))
        );
        let long = |n: usize| "x".repeat(n);
        assert_eq!(quote(&long(256)), long(256));
        assert_eq!(quote(&long(257)), format!("{}… (257 bytes)", long(256)));
        assert_eq!(
            show_names(["a", "b"].into_iter()),
            "\"a\", \"b\"".to_owned()
        );
        assert_eq!(
            field_path(&[
                Seg::key("spec"),
                Seg::key("ingress"),
                Seg::Index(0),
                Seg::key("from"),
                Seg::Index(1),
                Seg::key("podSelector")
            ]),
            "spec.ingress[0].from[1].podSelector"
        );
    }
}
