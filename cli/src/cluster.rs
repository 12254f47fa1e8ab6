//! An in-memory Kubernetes cluster answering the `kubernetes` host
//! capabilities, for tests that model a cluster instead of replaying a
//! recorded session.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::host::{GuestCall, HostCapabilities, KubernetesRequest, Refusal, json_answer};

/// Kinds the API server treats as cluster-scoped (the common built-in
/// ones); every other kind is treated as namespaced.
const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "CustomResourceDefinition",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "CertificateSigningRequest",
    "ClusterAdmissionPolicy",
    "ClusterAdmissionPolicyGroup",
    "PolicyServer",
];

/// An in-memory set of Kubernetes objects answering
/// `list_resources_by_namespace`, `list_resources_all` and `get_resource`
/// the way policy-evaluator's callback handler does:
///
/// * lists are `{"apiVersion": <api_version>, "kind": "<Kind>List",
///   "metadata": {"resourceVersion": "1"}, "items": [...]}`, items sorted by
///   namespace then name; listing a namespace that does not exist gives an
///   empty list; listing a cluster-scoped kind by namespace fails like the
///   real host (`resource v1/Namespace is cluster wide. Cannot search for it
///   inside of a namespace`);
/// * a missing object is the host error `Cannot find v1/Service named 'NAME'
///   inside of namespace 'Some("NS")'` (`'None'` for cluster-scoped kinds);
///   a namespaced `get_resource` without namespace fails with `Resource
///   v1/Service is namespaced, but no namespace was provided`;
/// * `field_masks` are applied like policy-evaluator's field mask: to
///   everything but `apiVersion`, `kind` and `metadata` (which are always
///   kept whole), dotted paths, arrays are transparent (`spec.ports.port`
///   keeps `port` of every port);
/// * list items lose `metadata.managedFields` and the
///   `kubectl.kubernetes.io/last-applied-configuration` annotation, as in
///   the host's reflector;
/// * label selectors support the equality-based syntax (`a=b`, `a==b`,
///   `a!=b`, `a`, `!a`, comma-separated) and field selectors
///   `metadata.name` / `metadata.namespace` with `=`, `==`, `!=`; anything
///   else (set-based selectors, other fields) fails the call and is
///   reported as a violation, as is any non-Kubernetes host call.
///
/// Every kind is known to this "cluster" (the real host fails with `Cannot
/// find resource v1/Foo` for kinds the API server does not serve).
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    objects: Vec<Value>,
    /// Position in `objects` by key, in key order (apiVersion, kind,
    /// namespace, name): gets and lists are lookups, not scans, so that a
    /// model of 10,000 objects answers as fast as one of ten.
    index: BTreeMap<Key, usize>,
    violations: Vec<String>,
}

/// apiVersion, kind, namespace (`None` for cluster-scoped kinds), name.
type Key = (String, String, Option<String>, String);

impl ClusterState {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cluster holding `objects` (later objects replace earlier ones with
    /// the same apiVersion, kind, namespace and name).
    pub fn with_objects(objects: impl IntoIterator<Item = Value>) -> Self {
        let mut s = Self::new();
        for o in objects {
            s.add(o);
        }
        s
    }

    /// Parses YAML or JSON text: one object, a `List`/`<Kind>List` with
    /// `items`, a sequence of objects, or several `---`-separated documents
    /// of any of these.
    pub fn from_yaml_str(text: &str) -> Result<Self> {
        let mut s = Self::new();
        let options = crate::scan::yaml::compat_options(serde_saphyr::DuplicateKeyPolicy::LastWins);
        let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options)
            .context("invalid YAML document")?;
        for v in docs {
            s.add_any(v)?;
        }
        Ok(s)
    }

    fn add_any(&mut self, v: Value) -> Result<()> {
        match v {
            Value::Null => Ok(()),
            Value::Array(items) => {
                for i in items {
                    self.add_any(i)?;
                }
                Ok(())
            }
            Value::Object(ref m) if m.get("items").is_some_and(Value::is_array) => {
                for i in m["items"].as_array().into_iter().flatten() {
                    self.add_any(i.clone())?;
                }
                Ok(())
            }
            Value::Object(_) => {
                if v.get("apiVersion").and_then(Value::as_str).is_none()
                    || v.get("kind").and_then(Value::as_str).is_none()
                    || v.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .is_none()
                {
                    bail!("object without apiVersion, kind or metadata.name: {v}");
                }
                self.add(v);
                Ok(())
            }
            other => bail!("not a Kubernetes object: {other}"),
        }
    }

    /// Adds (or replaces) an object. It must have `apiVersion`, `kind` and
    /// `metadata.name`; namespaced objects need `metadata.namespace`.
    pub fn add(&mut self, object: Value) -> &mut Self {
        let key = key_of(&object);
        if let Some(pos) = self.index.remove(&key) {
            self.objects.remove(pos);
            self.reindex();
        }
        self.index.insert(key, self.objects.len());
        self.objects.push(object);
        self
    }

    fn reindex(&mut self) {
        self.index = self
            .objects
            .iter()
            .enumerate()
            .map(|(i, o)| (key_of(o), i))
            .collect();
    }

    /// The object with this key, if any.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&Value> {
        let ns = if is_cluster_scoped(kind) {
            None
        } else {
            namespace.map(str::to_owned)
        };
        let key = (api_version.to_owned(), kind.to_owned(), ns, name.to_owned());
        self.index.get(&key).map(|&i| &self.objects[i])
    }

    /// The objects of `api_version`/`kind` (in `namespace`, or in every
    /// namespace), sorted by namespace then name.
    fn select<'a>(
        &'a self,
        api_version: &'a str,
        kind: &'a str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        let start: Key = (
            api_version.to_owned(),
            kind.to_owned(),
            namespace.map(str::to_owned),
            String::new(),
        );
        self.index
            .range(start..)
            .take_while(move |((a, k, ns, _), _)| {
                a == api_version
                    && k == kind
                    && namespace.is_none_or(|wanted| ns.as_deref() == Some(wanted))
            })
            .map(|(_, &i)| &self.objects[i])
    }

    /// Removes an object, returning it if it was there.
    pub fn remove(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let key = (
            api_version.to_owned(),
            kind.to_owned(),
            namespace.map(str::to_owned),
            name.to_owned(),
        );
        let pos = self.index.remove(&key)?;
        let object = self.objects.remove(pos);
        self.reindex();
        Some(object)
    }

    /// All the objects.
    pub fn objects(&self) -> &[Value] {
        &self.objects
    }

    /// A minimal `v1/Service` object with one TCP port per entry of `ports`.
    pub fn service(namespace: &str, name: &str, ports: &[u16]) -> Value {
        let ports: Vec<Value> = ports
            .iter()
            .map(
                |p| json!({"name": format!("p{p}"), "port": p, "protocol": "TCP", "targetPort": p}),
            )
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": format!("svc-{namespace}-{name}"),
                "resourceVersion": "1",
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "ports": ports,
            },
        })
    }

    /// A minimal `v1/Namespace` object.
    pub fn namespace(name: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "uid": format!("ns-{name}"), "resourceVersion": "1"},
            "status": {"phase": "Active"},
        })
    }

    /// Adds a Service (see [`ClusterState::service`]).
    pub fn add_service(&mut self, namespace: &str, name: &str, ports: &[u16]) -> &mut Self {
        self.add(Self::service(namespace, name, ports))
    }

    /// Answers one typed request (what [`HostCapabilities::respond`] does
    /// after parsing the payload).
    pub fn answer(&self, request: &KubernetesRequest) -> Result<Value, String> {
        match request {
            KubernetesRequest::KubernetesListResourceNamespace {
                api_version,
                kind,
                namespace,
                label_selector,
                field_selector,
                field_masks,
            } => {
                if is_cluster_scoped(kind) {
                    return Err(format!(
                        "resource {api_version}/{kind} is cluster wide. Cannot search for it inside of a namespace"
                    ));
                }
                self.list(
                    api_version,
                    kind,
                    Some(namespace),
                    label_selector.as_deref(),
                    field_selector.as_deref(),
                    field_masks.as_ref(),
                )
            }
            KubernetesRequest::KubernetesListResourceAll {
                api_version,
                kind,
                label_selector,
                field_selector,
                field_masks,
            } => self.list(
                api_version,
                kind,
                None,
                label_selector.as_deref(),
                field_selector.as_deref(),
                field_masks.as_ref(),
            ),
            KubernetesRequest::KubernetesGetResource {
                api_version,
                kind,
                name,
                namespace,
                field_masks,
                ..
            } => {
                let ns = if is_cluster_scoped(kind) {
                    None
                } else {
                    match namespace {
                        Some(ns) => Some(ns.clone()),
                        None => {
                            return Err(format!(
                                "Resource {api_version}/{kind} is namespaced, but no namespace was provided"
                            ));
                        }
                    }
                };
                let key = (api_version.clone(), kind.clone(), ns, name.clone());
                let found = self.index.get(&key).map(|&i| &self.objects[i]).ok_or_else(|| {
                    format!(
                        "Cannot find {api_version}/{kind} named '{name}' inside of namespace '{namespace:?}'"
                    )
                })?;
                let mut obj = found.clone();
                if let Some(masks) = field_masks {
                    apply_field_masks(&mut obj, masks);
                }
                Ok(obj)
            }
        }
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
        field_masks: Option<&std::collections::BTreeSet<String>>,
    ) -> Result<Value, String> {
        let labels = match label_selector {
            Some(s) => parse_label_selector(s)?,
            None => Vec::new(),
        };
        let fields = match field_selector {
            Some(s) => parse_field_selector(s)?,
            None => Vec::new(),
        };
        // the index is in (namespace, name) order already
        let items: Vec<&Value> = self
            .select(api_version, kind, namespace)
            .filter(|o| labels.iter().all(|r| r.matches(o)) && fields.iter().all(|r| r.matches(o)))
            .collect();
        let items: Vec<Value> = items
            .into_iter()
            .map(|o| {
                let mut o = o.clone();
                if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("managedFields");
                    if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                        ann.remove("kubectl.kubernetes.io/last-applied-configuration");
                    }
                }
                if let Some(masks) = field_masks {
                    apply_field_masks(&mut o, masks);
                }
                o
            })
            .collect();
        Ok(json!({
            "apiVersion": api_version,
            "kind": format!("{kind}List"),
            "metadata": {"resourceVersion": "1"},
            "items": items,
        }))
    }
}

impl HostCapabilities for ClusterState {
    fn respond(&mut self, call: &GuestCall<'_>) -> Result<Vec<u8>, Refusal> {
        let request = call.kubernetes_only(|call| {
            format!(
                "ClusterState does not implement {} (payload {})",
                call.path(),
                call.payload_text()
            )
        })?;
        match self.answer(&request) {
            Ok(v) => Ok(json_answer(&v)),
            // what this model does not support (set-based selectors, ...)
            Err(e) if e.starts_with("ClusterState") => Err(Refusal::Violation(e)),
            Err(e) => Err(Refusal::Host(e)),
        }
    }

    fn record_violation(&mut self, violation: String) {
        self.violations.push(violation);
    }

    fn violations(&self) -> &[String] {
        &self.violations
    }
}

/// Whether the API server treats `kind` as cluster-scoped (the common
/// built-in kinds; every other kind is namespaced).
pub(crate) fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED_KINDS.contains(&kind)
}

fn obj_namespace(o: &Value) -> Option<&str> {
    o.pointer("/metadata/namespace").and_then(Value::as_str)
}

#[cfg(test)]
fn obj_name(o: &Value) -> &str {
    o.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn key_of(o: &Value) -> (String, String, Option<String>, String) {
    let s = |p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let kind = s("/kind");
    let ns = if is_cluster_scoped(&kind) {
        None
    } else {
        obj_namespace(o).map(str::to_owned)
    };
    (s("/apiVersion"), kind, ns, s("/metadata/name"))
}

/// Keeps only the masked paths of everything but apiVersion/kind/metadata.
fn apply_field_masks(obj: &mut Value, masks: &std::collections::BTreeSet<String>) {
    #[derive(Default)]
    struct Node(BTreeMap<String, Node>);
    let mut root = Node::default();
    for m in masks {
        let mut cur = &mut root;
        for part in m.split('.') {
            cur = cur.0.entry(part.to_owned()).or_default();
        }
    }
    fn prune(v: &mut Value, node: &Node) {
        if node.0.is_empty() {
            return;
        }
        match v {
            Value::Object(map) => map.retain(|k, child| match node.0.get(k) {
                Some(n) => {
                    prune(child, n);
                    true
                }
                None => false,
            }),
            Value::Array(items) => items.iter_mut().for_each(|i| prune(i, node)),
            _ => {}
        }
    }
    if root.0.is_empty() {
        return;
    }
    if let Value::Object(map) = obj {
        map.retain(|k, child| {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                return true;
            }
            match root.0.get(k) {
                Some(n) => {
                    prune(child, n);
                    true
                }
                None => false,
            }
        });
    }
}

enum LabelReq {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    NotExists(String),
}

impl LabelReq {
    fn matches(&self, o: &Value) -> bool {
        let label = |k: &str| {
            o.pointer("/metadata/labels")
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
        };
        match self {
            LabelReq::Eq(k, v) => label(k) == Some(v.as_str()),
            LabelReq::Ne(k, v) => label(k) != Some(v.as_str()),
            LabelReq::Exists(k) => label(k).is_some(),
            LabelReq::NotExists(k) => label(k).is_none(),
        }
    }
}

fn parse_label_selector(s: &str) -> Result<Vec<LabelReq>, String> {
    let mut out = Vec::new();
    for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if term.contains(" in ")
            || term.contains(" notin ")
            || term.contains('(')
            || term.contains('<')
            || term.contains('>')
        {
            return Err(format!(
                "ClusterState supports only equality-based label selectors, got {s:?}"
            ));
        }
        let req = if let Some((k, v)) = term.split_once("!=") {
            LabelReq::Ne(k.trim().to_owned(), v.trim().to_owned())
        } else if let Some((k, v)) = term.split_once("==") {
            LabelReq::Eq(k.trim().to_owned(), v.trim().to_owned())
        } else if let Some((k, v)) = term.split_once('=') {
            LabelReq::Eq(k.trim().to_owned(), v.trim().to_owned())
        } else if let Some(k) = term.strip_prefix('!') {
            LabelReq::NotExists(k.trim().to_owned())
        } else {
            LabelReq::Exists(term.to_owned())
        };
        out.push(req);
    }
    Ok(out)
}

struct FieldReq {
    path: &'static str,
    value: String,
    equal: bool,
}

impl FieldReq {
    fn matches(&self, o: &Value) -> bool {
        let actual = o.pointer(self.path).and_then(Value::as_str).unwrap_or("");
        (actual == self.value) == self.equal
    }
}

fn parse_field_selector(s: &str) -> Result<Vec<FieldReq>, String> {
    let mut out = Vec::new();
    for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (field, value, equal) = if let Some((f, v)) = term.split_once("!=") {
            (f, v, false)
        } else if let Some((f, v)) = term.split_once("==") {
            (f, v, true)
        } else if let Some((f, v)) = term.split_once('=') {
            (f, v, true)
        } else {
            return Err(format!("ClusterState: invalid field selector {s:?}"));
        };
        let path = match field.trim() {
            "metadata.name" => "/metadata/name",
            "metadata.namespace" => "/metadata/namespace",
            other => {
                return Err(format!(
                    "ClusterState supports only metadata.name and metadata.namespace field selectors, got {other:?}"
                ));
            }
        };
        out.push(FieldReq {
            path,
            value: value.trim().to_owned(),
            equal,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn cluster() -> ClusterState {
        let mut c = ClusterState::new();
        c.add_service("b", "svc2", &[80]);
        c.add_service("a", "svc1", &[8080, 9090]);
        c.add(ClusterState::namespace("a"));
        let mut labelled = ClusterState::service("a", "svc0", &[80]);
        labelled["metadata"]["labels"] = json!({"app": "x"});
        c.add(labelled);
        c
    }

    #[test]
    fn lists_by_namespace_sorted() {
        let c = cluster();
        let l = c
            .answer(&KubernetesRequest::list_namespace("v1", "Service", "a"))
            .unwrap();
        assert_eq!(l["kind"], "ServiceList");
        assert_eq!(l["metadata"]["resourceVersion"], "1");
        let names: Vec<&str> = l["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(obj_name)
            .collect();
        assert_eq!(names, ["svc0", "svc1"]);
        let empty = c
            .answer(&KubernetesRequest::list_namespace("v1", "Service", "zzz"))
            .unwrap();
        assert_eq!(empty["items"], json!([]));
        let err = c
            .answer(&KubernetesRequest::list_namespace("v1", "Namespace", "a"))
            .unwrap_err();
        assert!(err.contains("cluster wide"), "{err}");
    }

    #[test]
    fn get_not_found_message() {
        let c = cluster();
        let err = c
            .answer(&KubernetesRequest::get("v1", "Service", Some("a"), "nope"))
            .unwrap_err();
        assert_eq!(
            err,
            "Cannot find v1/Service named 'nope' inside of namespace 'Some(\"a\")'"
        );
        let err = c
            .answer(&KubernetesRequest::get("v1", "Namespace", None, "nope"))
            .unwrap_err();
        assert_eq!(
            err,
            "Cannot find v1/Namespace named 'nope' inside of namespace 'None'"
        );
        let ns = c
            .answer(&KubernetesRequest::get("v1", "Namespace", None, "a"))
            .unwrap();
        assert_eq!(ns["metadata"]["name"], "a");
    }

    #[test]
    fn masks_and_selectors() {
        let c = cluster();
        let req = KubernetesRequest::KubernetesListResourceAll {
            api_version: "v1".into(),
            kind: "Service".into(),
            label_selector: Some("app=x".into()),
            field_selector: Some("metadata.namespace=a".into()),
            field_masks: Some(BTreeSet::from(["spec.ports.port".to_owned()])),
        };
        let l = c.answer(&req).unwrap();
        let items = l["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["spec"], json!({"ports": [{"port": 80}]}));
        assert_eq!(items[0]["metadata"]["name"], "svc0");
        let all = KubernetesRequest::KubernetesListResourceAll {
            api_version: "v1".into(),
            kind: "Service".into(),
            label_selector: Some("!app".into()),
            field_selector: None,
            field_masks: None,
        };
        assert_eq!(
            c.answer(&all).unwrap()["items"].as_array().unwrap().len(),
            2
        );
    }

    #[test]
    fn parses_yaml() {
        let c = ClusterState::from_yaml_str(
            "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: n}\n---\n\
             apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: n}}\n",
        )
        .unwrap();
        assert_eq!(c.objects().len(), 2);
        assert!(ClusterState::from_yaml_str("kind: Service\n").is_err());
    }
}
