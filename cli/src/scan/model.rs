//! The model cluster a scan evaluates against: every object of the set,
//! plus (optionally) a snapshot of a real cluster, plus what every cluster
//! has. It answers the policy's host calls like policy-server would from a
//! cluster holding exactly those objects; a call it cannot answer from them
//! is an evaluation error, never a guess.
//!
//! Modelled ([`MODELLED_KINDS`], with exactly these apiVersions): `v1`
//! Services, ConfigMaps, ServiceAccounts, Secrets, PersistentVolumeClaims
//! and ReplicationControllers, `apps/v1` Deployments, StatefulSets and
//! ReplicaSets, and `rbac.authorization.k8s.io/v1` Roles and ClusterRoles
//! (cluster-scoped: listed with `list_resources_all`). Secrets are kept by
//! name only (Secret content never enters the model: from the set and
//! from a snapshot, only names are kept). Objects of other apiVersions of
//! these kinds (`extensions/v1beta1` Deployments) are not modelled. Built
//! in: the Service `kubernetes` in `default`, and in every namespace the
//! ServiceAccount `default` and the ConfigMap `kube-root-ca.crt`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use super::input::{ManifestSet, clip};
use super::selectors::{PodTemplate, pod_templates};
use crate::cluster::{ClusterState, is_cluster_scoped};
use crate::host::{GuestCall, HostCapabilities, KubernetesRequest, Refusal, json_answer};

/// The kinds the model holds, by apiVersion: what the policy's host calls
/// ask for.
pub const MODELLED_KINDS: &[(&str, &str)] = &[
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ReplicationController"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "ReplicaSet"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
];

/// What the model holds, for the message of a call it cannot answer.
const MODELLED: &str = "v1 Services, ConfigMaps, ServiceAccounts, Secret names, \
     PersistentVolumeClaims and ReplicationControllers, apps/v1 Deployments, StatefulSets and \
     ReplicaSets, and rbac.authorization.k8s.io/v1 Roles and ClusterRoles";

/// Whether the model holds objects of `api_version` and `kind`.
pub fn is_modelled(api_version: &str, kind: &str) -> bool {
    MODELLED_KINDS
        .iter()
        .any(|(v, k)| *v == api_version && *k == kind)
}

/// The one command that takes a snapshot of every kind `scan` reads: the
/// modelled kinds, and the Pods and workloads whose labels and container
/// ports the rules of [`super::selectors`] read. (Secret names come
/// apart: `--secret-names`.)
pub const SNAPSHOT_COMMAND: &str = "kubectl get services,configmaps,serviceaccounts,\
     persistentvolumeclaims,pods,replicationcontrollers,deployments,statefulsets,replicasets,\
     daemonsets,jobs,cronjobs,roles,clusterroles -A -o json";

/// A Secret reduced to its name: all the model ever keeps of one.
fn secret_name_only(namespace: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}})
}

/// What is known of a real cluster: its objects of the modelled kinds
/// ([`SNAPSHOT_COMMAND`]), the names of its Secrets, and the labels and
/// container ports of its Pods and Pod templates (when the snapshot holds
/// Pods or workloads).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    objects: Vec<Value>,
    /// The Pod templates of its Pods and workloads (for
    /// [`super::selectors`]; the model does not hold them).
    pods: Vec<PodTemplate>,
    /// A cluster file was given.
    cluster: bool,
    /// Secret names were given (by a names file, or Secrets in a cluster
    /// file).
    secrets: bool,
}

impl Snapshot {
    /// An empty snapshot: the set is the whole cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether anything was added.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.pods.is_empty() && !self.cluster && !self.secrets
    }

    /// The objects kept (modelled kinds only; Secrets as names).
    pub fn objects(&self) -> &[Value] {
        &self.objects
    }

    /// The labels of its Pods and of the Pod templates of its workloads.
    pub fn pod_templates(&self) -> &[PodTemplate] {
        &self.pods
    }

    /// Reads a cluster file (see [`Snapshot::add_cluster_text`]).
    pub fn add_cluster_file(&mut self, path: &Path) -> Result<()> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("cannot read snapshot {name}: {}", reason(&e)))?;
        self.add_cluster_text(&name, &text)
    }

    /// Adds the objects of [`SNAPSHOT_COMMAND`] (or of any `kubectl get
    /// ... -A -o json`, or `-o yaml`): a `List` of objects, each with
    /// `apiVersion`, `kind`, `metadata.name` and, when namespaced,
    /// `metadata.namespace`. Items of kinds the model does not hold are
    /// skipped, but for the Pod templates of Pods and workloads; Secrets
    /// keep their names only.
    pub fn add_cluster_text(&mut self, name: &str, text: &str) -> Result<()> {
        let value: Value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text)
                .map_err(|e| anyhow!("snapshot {name} is not valid JSON: {e}"))?
        } else {
            super::yaml::value(text)
                .map_err(|e| anyhow!("snapshot {name} is neither JSON nor YAML: {e}"))?
        };
        let hint = format!("expected the output of `{SNAPSHOT_COMMAND}`");
        let items = match &value {
            Value::Object(m) if m.get("items").is_some_and(Value::is_array) => {
                m["items"].as_array().cloned().unwrap_or_default()
            }
            Value::Object(m) if m.get("kind").is_some_and(Value::is_string) => vec![value.clone()],
            Value::Object(_) => bail!("snapshot {name} has neither items nor kind: {hint}"),
            _ => bail!("snapshot {name} is not a JSON object: {hint}"),
        };
        for (i, item) in items.iter().enumerate() {
            let at = || format!("snapshot {name}, item {}", i + 1);
            let text_of = |p: &str| {
                item.pointer(p)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            };
            let (Some(api_version), Some(kind)) = (text_of("/apiVersion"), text_of("/kind")) else {
                bail!(
                    "{}: not a Kubernetes object (no apiVersion or kind): {}",
                    at(),
                    clip(&item.to_string())
                );
            };
            let Some(object_name) = text_of("/metadata/name") else {
                bail!("{}: {kind} without metadata.name", at());
            };
            let namespace = text_of("/metadata/namespace");
            if namespace.is_none() && !is_cluster_scoped(kind) {
                bail!(
                    "{}: {kind} {object_name} without metadata.namespace (take the snapshot with -A)",
                    at()
                );
            }
            self.pods.extend(pod_templates(item));
            if !is_modelled(api_version, kind) {
                continue;
            }
            if kind == "Secret" {
                self.secrets = true;
                self.objects
                    .push(secret_name_only(namespace.unwrap_or_default(), object_name));
            } else {
                self.objects.push(item.clone());
            }
        }
        self.cluster = true;
        Ok(())
    }

    /// Reads a Secret names file (see [`Snapshot::add_secret_names_text`]).
    pub fn add_secret_names_file(&mut self, path: &Path) -> Result<()> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("cannot read Secret names {name}: {}", reason(&e)))?;
        self.add_secret_names_text(&name, &text)
    }

    /// Adds Secret names, one per line: `<namespace> <name>` (what
    /// `kubectl get secrets -A --no-headers -o
    /// custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name`
    /// prints), `<namespace> secret/<name>` or `<namespace>/<name>`. Blank
    /// lines, `#` comments and a `NAMESPACE NAME` header are skipped. A
    /// `secret/<name>` line alone (`kubectl get secrets -A -o name`, which
    /// drops the namespace) is refused: which namespace holds it is unknown.
    pub fn add_secret_names_text(&mut self, name: &str, text: &str) -> Result<()> {
        for (i, line) in text.lines().enumerate() {
            let at = || format!("Secret names {name}, line {}", i + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields == ["NAMESPACE", "NAME"] {
                continue;
            }
            let (namespace, secret) = match fields.as_slice() {
                [ns, n] => (*ns, n.strip_prefix("secret/").unwrap_or(n)),
                [one] if one.starts_with("secret/") || one.starts_with("secrets/") => bail!(
                    "{}: {one:?} names no namespace (`kubectl get secrets -A -o name` drops it); \
                     list the names with `kubectl get secrets -A --no-headers -o \
                     custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name`",
                    at()
                ),
                [one] => match one.split_once('/') {
                    Some((ns, n)) if !n.contains('/') => (ns, n),
                    _ => bail!(
                        "{}: expected \"<namespace> <name>\" or \"<namespace>/<name>\", got {one:?}",
                        at()
                    ),
                },
                _ => bail!(
                    "{}: expected \"<namespace> <name>\" or \"<namespace>/<name>\", got {:?}",
                    at(),
                    clip(line)
                ),
            };
            if !is_dns_name(namespace) || !is_dns_name(secret) {
                bail!(
                    "{}: {:?} is not a namespace and Secret name",
                    at(),
                    clip(line)
                );
            }
            self.objects.push(secret_name_only(namespace, secret));
        }
        self.secrets = true;
        Ok(())
    }

    /// Adds objects known to exist besides the set, as they are (objects of
    /// kinds the model does not hold are skipped; Secrets keep their
    /// names). Unlike a cluster file, they do not make the cluster's other
    /// Secrets unknown: the corpus report uses this for the Services a
    /// repository creates outside its manifests.
    pub fn add_objects(&mut self, objects: impl IntoIterator<Item = Value>) {
        for o in objects {
            let kind = o["kind"].as_str().unwrap_or_default();
            let api_version = o["apiVersion"].as_str().unwrap_or_default();
            if !is_modelled(api_version, kind) {
                continue;
            }
            if kind == "Secret" {
                let namespace = o.pointer("/metadata/namespace").and_then(Value::as_str);
                let name = o.pointer("/metadata/name").and_then(Value::as_str);
                self.objects.push(secret_name_only(
                    namespace.unwrap_or_default(),
                    name.unwrap_or_default(),
                ));
            } else {
                self.objects.push(o);
            }
        }
    }
}

fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".to_owned(),
        _ => e.to_string(),
    }
}

/// Lower-case letters, digits, `-` and `.`: the names Kubernetes allows
/// for namespaces and Secrets.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// Where the set's objects that name no namespace are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// In the namespace they were read with (`--namespace`, as `kubectl
    /// apply -n`): what `scan` does.
    #[default]
    AsRead,
    /// In the namespace of the object under evaluation, whichever that is:
    /// the corpus report's model of repositories whose files are applied
    /// with `kubectl apply -n <namespace>` into a namespace they do not
    /// name.
    WithEvaluatedObject,
}

/// (namespace of the evaluated object when it matters, operation, payload).
type AnswerKey = (Option<String>, String, Vec<u8>);
/// A refusal is [`Refusal::Host`] for what the real host would answer (not
/// found, bad selector, ...) and [`Refusal::Violation`] for what the model
/// cannot know: an evaluation error.
type Answer = Result<Arc<Vec<u8>>, Refusal>;

/// The cluster a scan's host calls are answered from. Immutable once
/// built; answers are computed once per distinct request.
#[derive(Debug)]
pub struct ModelCluster {
    cluster: ClusterState,
    /// With [`Placement::WithEvaluatedObject`]: the set's objects that name
    /// no namespace, placed per evaluation.
    floating: Vec<Value>,
    /// `cluster` plus `floating` placed in a namespace, by namespace.
    placed: Mutex<HashMap<String, Arc<ClusterState>>>,
    /// Why Secret listings cannot be answered, if they cannot.
    secrets_unknown: Option<String>,
    answers: Mutex<HashMap<AnswerKey, Answer>>,
}

impl ModelCluster {
    /// The union of the snapshot and the set (an object of the set replaces
    /// the snapshot's object of the same name, as applying it would), and
    /// the Service `kubernetes` in `default` unless one of them has it.
    pub fn new(set: &ManifestSet, snapshot: &Snapshot) -> Self {
        Self::with_placement(set, snapshot, Placement::AsRead)
    }

    /// [`ModelCluster::new`], with the set's objects that name no namespace
    /// placed as `placement` says.
    pub fn with_placement(set: &ManifestSet, snapshot: &Snapshot, placement: Placement) -> Self {
        let mut floating = Vec::new();
        let mut cluster = ClusterState::new();
        let mut kubernetes = ClusterState::service("default", "kubernetes", &[443]);
        kubernetes["spec"]["clusterIP"] = json!("10.96.0.1");
        kubernetes["spec"]["ports"][0]["name"] = json!("https");
        kubernetes["spec"]["ports"][0]["targetPort"] = json!(6443);
        cluster.add(kubernetes);
        for o in &snapshot.objects {
            cluster.add(o.clone());
        }
        for o in &set.objects {
            if o.generated_name || !is_modelled(&o.api_version, &o.kind) {
                continue;
            }
            let namespace = o.namespace.as_deref().unwrap_or_default();
            let object = if o.kind == "Secret" {
                secret_name_only(namespace, &o.name)
            } else {
                o.object.clone()
            };
            // a cluster-scoped object (a ClusterRole) is in no namespace
            let floats = !o.own_namespace && o.namespace.is_some();
            if placement == Placement::WithEvaluatedObject && floats {
                floating.push(object);
            } else {
                cluster.add(object);
            }
        }
        let secrets_unknown = (snapshot.cluster && !snapshot.secrets).then(|| {
            "the snapshot has no Secret names (give them with --secret-names), \
             so the cluster's Secrets are unknown"
                .to_owned()
        });
        ModelCluster {
            cluster,
            floating,
            placed: Mutex::new(HashMap::new()),
            secrets_unknown,
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// The cluster seen from an object of `namespace`.
    fn cluster_for(&self, namespace: Option<&str>) -> Arc<ClusterState> {
        let key = namespace.unwrap_or_default().to_owned();
        let mut placed = self.placed.lock().unwrap_or_else(|p| p.into_inner());
        placed
            .entry(key.clone())
            .or_insert_with(|| {
                let mut cluster = self.cluster.clone();
                for o in &self.floating {
                    let mut o = o.clone();
                    o["metadata"]["namespace"] = json!(key);
                    cluster.add(o);
                }
                Arc::new(cluster)
            })
            .clone()
    }

    /// How many objects the model holds (built-ins that exist in every
    /// namespace not counted).
    pub fn len(&self) -> usize {
        self.cluster.objects().len()
    }

    /// Whether the model holds nothing (never: `kubernetes` is built in).
    pub fn is_empty(&self) -> bool {
        self.cluster.objects().is_empty()
    }

    /// A host for the evaluation of an object of `namespace`.
    pub fn host(self: &Arc<Self>, namespace: Option<&str>) -> ModelHost {
        ModelHost {
            model: self.clone(),
            // only a model with floating objects depends on the namespace
            namespace: (!self.floating.is_empty())
                .then(|| namespace.unwrap_or_default().to_owned()),
            violations: Vec::new(),
        }
    }

    fn call(&self, evaluated_namespace: Option<&str>, call: &GuestCall<'_>) -> Answer {
        // a payload that does not parse gets serde's message, as from policy-server
        let request = call.kubernetes_only(|call| {
            format!(
                "the policy asked for {}, which a model cluster \
                 cannot answer (it answers Kubernetes get and list calls only)",
                call.path()
            )
        })?;
        let key = (
            evaluated_namespace.map(str::to_owned),
            call.operation.to_owned(),
            call.payload.to_vec(),
        );
        if let Some(answer) = self
            .answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return answer.clone();
        }
        let answer = self.answer(&request, evaluated_namespace);
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, answer.clone());
        answer
    }

    fn answer(&self, request: &KubernetesRequest, evaluated_namespace: Option<&str>) -> Answer {
        let (api_version, kind) = request.resource();
        let what = match request {
            KubernetesRequest::KubernetesGetResource {
                name, namespace, ..
            } => format!(
                "get {api_version}/{kind} {}{name}",
                namespace
                    .as_deref()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default()
            ),
            KubernetesRequest::KubernetesListResourceNamespace { namespace, .. } => {
                format!("list the {api_version}/{kind} objects of namespace {namespace}")
            }
            KubernetesRequest::KubernetesListResourceAll { .. } => {
                format!("list the {api_version}/{kind} objects of every namespace")
            }
        };
        if !is_modelled(api_version, kind) {
            return Err(Refusal::Violation(format!(
                "cannot {what}: the model cluster holds only {MODELLED}"
            )));
        }
        if kind == "Secret" {
            if matches!(request, KubernetesRequest::KubernetesGetResource { .. }) {
                return Err(Refusal::Violation(format!(
                    "cannot {what}: the model cluster holds Secret names only, never their content"
                )));
            }
            if let Some(why) = &self.secrets_unknown {
                return Err(Refusal::Violation(format!("cannot {what}: {why}")));
            }
        }
        let placed;
        let cluster = match evaluated_namespace {
            // A cluster-scoped object (a ClusterRoleBinding, a webhook
            // configuration) names the namespace of what it refers to:
            // the objects that name none are placed there.
            Some("") => {
                let asked = match request {
                    KubernetesRequest::KubernetesListResourceNamespace { namespace, .. } => {
                        Some(namespace.as_str())
                    }
                    KubernetesRequest::KubernetesGetResource { namespace, .. } => {
                        namespace.as_deref()
                    }
                    KubernetesRequest::KubernetesListResourceAll { .. } => None,
                };
                placed = self.cluster_for(Some(asked.unwrap_or_default()));
                placed.as_ref()
            }
            Some(ns) => {
                placed = self.cluster_for(Some(ns));
                placed.as_ref()
            }
            None => &self.cluster,
        };
        let answer = match cluster.answer(request) {
            Ok(v) => Ok(v),
            Err(not_found) => match built_in(request) {
                Some(object) => ClusterState::with_objects([object]).answer(request),
                None => Err(not_found),
            },
        };
        answer
            .map(|v| Arc::new(json_answer(&v)))
            .map_err(Refusal::Host)
    }
}

/// What every namespace of a real cluster holds: the ServiceAccount
/// `default` and the ConfigMap `kube-root-ca.crt`.
fn built_in(request: &KubernetesRequest) -> Option<Value> {
    let KubernetesRequest::KubernetesGetResource {
        kind,
        name,
        namespace: Some(namespace),
        ..
    } = request
    else {
        return None;
    };
    match (kind.as_str(), name.as_str()) {
        ("ServiceAccount", "default") => Some(json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace},
        })),
        ("ConfigMap", "kube-root-ca.crt") => Some(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": namespace},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n(the cluster's CA)\n-----END CERTIFICATE-----\n"},
        })),
        _ => None,
    }
}

/// Answers one evaluation's host calls from a [`ModelCluster`]; a call the
/// model cannot answer is recorded as a violation, which makes the
/// evaluation an error.
#[derive(Debug)]
pub struct ModelHost {
    model: Arc<ModelCluster>,
    /// The namespace of the object under evaluation, when it matters.
    namespace: Option<String>,
    violations: Vec<String>,
}

impl HostCapabilities for ModelHost {
    fn respond(&mut self, call: &GuestCall<'_>) -> Result<Vec<u8>, Refusal> {
        self.model
            .call(self.namespace.as_deref(), call)
            .map(|bytes| bytes.as_ref().clone())
    }

    fn record_violation(&mut self, violation: String) {
        self.violations.push(violation);
    }

    fn violations(&self) -> &[String] {
        &self.violations
    }
}

#[cfg(test)]
mod tests {
    use super::super::input::Source;
    use super::*;
    use rstest::rstest;

    fn model(set: &str, snapshot: &Snapshot) -> Arc<ModelCluster> {
        let set = ManifestSet::parse(&[Source::new("set.yaml", set)], "shop");
        Arc::new(ModelCluster::new(&set, snapshot))
    }

    fn call(host: &mut ModelHost, op: &str, req: &KubernetesRequest) -> Result<Value, String> {
        host.call("kubewarden", "kubernetes", op, &req.to_payload())
            .map(|b| serde_json::from_slice(&b).unwrap())
    }

    const SET: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec: {ports: [{port: 8080}]}\n---\n\
        apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: c2VjcmV0}\n";

    #[test]
    fn answers_from_the_set_and_built_ins() {
        let m = model(SET, &Snapshot::new());
        let mut host = m.host(Some("shop"));
        let list = call(
            &mut host,
            "list_resources_by_namespace",
            &KubernetesRequest::list_namespace("v1", "Service", "shop"),
        )
        .unwrap();
        assert_eq!(list["items"][0]["metadata"]["name"], "api");
        let secrets = call(
            &mut host,
            "list_resources_by_namespace",
            &KubernetesRequest::list_namespace("v1", "Secret", "shop"),
        )
        .unwrap();
        assert_eq!(
            secrets["items"],
            json!([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}}])
        );
        let sa = call(
            &mut host,
            "get_resource",
            &KubernetesRequest::get("v1", "ServiceAccount", Some("any"), "default"),
        )
        .unwrap();
        assert_eq!(sa["metadata"]["namespace"], "any");
        let missing = call(
            &mut host,
            "get_resource",
            &KubernetesRequest::get("v1", "ConfigMap", Some("shop"), "gone"),
        )
        .unwrap_err();
        assert_eq!(
            missing,
            "Cannot find v1/ConfigMap named 'gone' inside of namespace 'Some(\"shop\")'"
        );
        let k8s = call(
            &mut host,
            "get_resource",
            &KubernetesRequest::get("v1", "Service", Some("default"), "kubernetes"),
        )
        .unwrap();
        assert_eq!(k8s["spec"]["ports"][0]["port"], 443);
        assert!(host.violations().is_empty());
    }

    #[test]
    fn refuses_what_it_cannot_know() {
        let mut snapshot = Snapshot::new();
        snapshot
            .add_cluster_text(
                "c.json",
                r#"{"apiVersion": "v1", "kind": "List", "items": []}"#,
            )
            .unwrap();
        let m = model(SET, &snapshot);
        let mut host = m.host(Some("shop"));
        let e = call(
            &mut host,
            "list_resources_by_namespace",
            &KubernetesRequest::list_namespace("v1", "Secret", "shop"),
        )
        .unwrap_err();
        assert!(e.contains("--secret-names"), "{e}");
        let e = call(
            &mut host,
            "get_resource",
            &KubernetesRequest::get("v1", "Secret", Some("shop"), "s"),
        )
        .unwrap_err();
        assert!(e.contains("never their content"), "{e}");
        let e = call(
            &mut host,
            "get_resource",
            &KubernetesRequest::get("extensions/v1beta1", "Deployment", Some("shop"), "d"),
        )
        .unwrap_err();
        assert!(e.contains("holds only v1 Services"), "{e}");
        assert!(
            host.call("kubewarden", "net", "v1/dns_lookup_host", b"\"x\"")
                .is_err()
        );
        assert_eq!(host.violations().len(), 4);
    }

    /// The kinds of the policy's workload, RBAC and PVC lookups, from the
    /// set and from the snapshot: (apiVersion, kind, namespace) of each
    /// list call and the names it answers.
    #[rstest]
    #[case::pvcs("v1", "PersistentVolumeClaim", Some("shop"), &["data", "snap-pvc"])]
    #[case::replication_controllers("v1", "ReplicationController", Some("shop"), &["rc", "snap-rc"])]
    #[case::deployments("apps/v1", "Deployment", Some("shop"), &["snap-web", "web"])]
    #[case::statefulsets("apps/v1", "StatefulSet", Some("shop"), &["db", "snap-db"])]
    #[case::replicasets("apps/v1", "ReplicaSet", Some("shop"), &["rs", "snap-rs"])]
    #[case::roles("rbac.authorization.k8s.io/v1", "Role", Some("shop"), &["reader", "snap-role"])]
    // cluster-scoped: listed in every namespace at once
    #[case::cluster_roles("rbac.authorization.k8s.io/v1", "ClusterRole", None, &["snap-admin", "viewer"])]
    #[case::service_accounts("v1", "ServiceAccount", Some("shop"), &["bot", "snap-sa"])]
    // other apiVersions of these kinds are not modelled: nothing of them
    fn answers_the_workload_rbac_and_pvc_kinds(
        #[case] api_version: &str,
        #[case] kind: &str,
        #[case] namespace: Option<&str>,
        #[case] expected: &[&str],
    ) {
        let set = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n---\n\
            apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\n---\n\
            apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\n\
            apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: old}\n---\n\
            apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\n---\n\
            apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\n---\n\
            apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader}\n---\n\
            apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: viewer}\n---\n\
            apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: bot}\n";
        let item = |api: &str, kind: &str, name: &str, ns: Option<&str>| {
            let mut o = json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}});
            if let Some(ns) = ns {
                o["metadata"]["namespace"] = json!(ns);
            }
            o
        };
        let mut snapshot = Snapshot::new();
        snapshot
            .add_cluster_text(
                "c.json",
                &json!({"kind": "List", "items": [
                    item("v1", "PersistentVolumeClaim", "snap-pvc", Some("shop")),
                    item("v1", "ReplicationController", "snap-rc", Some("shop")),
                    item("apps/v1", "Deployment", "snap-web", Some("shop")),
                    item("apps/v1", "StatefulSet", "snap-db", Some("shop")),
                    item("apps/v1", "ReplicaSet", "snap-rs", Some("shop")),
                    item("rbac.authorization.k8s.io/v1", "Role", "snap-role", Some("shop")),
                    item("rbac.authorization.k8s.io/v1", "ClusterRole", "snap-admin", None),
                    item("v1", "ServiceAccount", "snap-sa", Some("shop")),
                    item("apps/v1", "DaemonSet", "agent", Some("shop")),
                ]})
                .to_string(),
            )
            .unwrap();
        // as scan places objects, and as the corpus report does
        for placement in [Placement::AsRead, Placement::WithEvaluatedObject] {
            let set = ManifestSet::parse(&[Source::new("set.yaml", set)], "shop");
            let m = Arc::new(ModelCluster::with_placement(&set, &snapshot, placement));
            let mut host = m.host(Some("shop"));
            let request = match namespace {
                Some(ns) => KubernetesRequest::list_namespace(api_version, kind, ns),
                None => KubernetesRequest::KubernetesListResourceAll {
                    api_version: api_version.to_owned(),
                    kind: kind.to_owned(),
                    label_selector: None,
                    field_selector: None,
                    field_masks: None,
                },
            };
            let op = if namespace.is_some() {
                "list_resources_by_namespace"
            } else {
                "list_resources_all"
            };
            let list = call(&mut host, op, &request).unwrap();
            let mut names: Vec<&str> = list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["metadata"]["name"].as_str().unwrap())
                .collect();
            names.sort_unstable();
            assert_eq!(names, expected, "{placement:?}");
            let get = call(
                &mut host,
                "get_resource",
                &KubernetesRequest::get(api_version, kind, namespace, expected[0]),
            )
            .unwrap();
            assert_eq!(get["kind"], kind);
            assert!(host.violations().is_empty());
        }
        assert!(is_modelled(api_version, kind));
    }

    /// Under [`Placement::WithEvaluatedObject`], an object that names no
    /// namespace is where the object referring to it looks: a ServiceAccount
    /// applied with `kubectl apply -n` is found in the namespace a
    /// ClusterRoleBinding's subject names, and in no other namespace from a
    /// namespaced object.
    #[rstest]
    #[case::cluster_scoped_referrer(None, "kubernaut-system", true)]
    #[case::cluster_scoped_referrer_elsewhere(None, "other", true)]
    #[case::namespaced_referrer_own_namespace(Some("kubernaut-system"), "kubernaut-system", true)]
    #[case::namespaced_referrer_other_namespace(Some("shop"), "kubernaut-system", false)]
    fn floating_objects_are_where_the_referrer_looks(
        #[case] referrer: Option<&str>,
        #[case] asked: &str,
        #[case] found: bool,
    ) {
        let set = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: data-storage-sa\n";
        let set = ManifestSet::parse(&[Source::new("set.yaml", set)], "default");
        let m = Arc::new(ModelCluster::with_placement(
            &set,
            &Snapshot::new(),
            Placement::WithEvaluatedObject,
        ));
        let mut host = m.host(referrer);
        let list = call(
            &mut host,
            "list_resources_by_namespace",
            &KubernetesRequest::list_namespace("v1", "ServiceAccount", asked),
        )
        .unwrap();
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.contains(&"data-storage-sa"), found, "{names:?}");
    }

    #[rstest]
    #[case::old_deployments("extensions/v1beta1", "Deployment")]
    #[case::daemonsets("apps/v1", "DaemonSet")]
    #[case::jobs("batch/v1", "Job")]
    #[case::role_bindings("rbac.authorization.k8s.io/v1", "RoleBinding")]
    #[case::pods("v1", "Pod")]
    fn other_kinds_are_refused(#[case] api_version: &str, #[case] kind: &str) {
        assert!(!is_modelled(api_version, kind));
        let m = model(SET, &Snapshot::new());
        let mut host = m.host(Some("shop"));
        let e = call(
            &mut host,
            "list_resources_by_namespace",
            &KubernetesRequest::list_namespace(api_version, kind, "shop"),
        )
        .unwrap_err();
        assert_eq!(
            e,
            format!(
                "cannot list the {api_version}/{kind} objects of namespace shop: \
                 the model cluster holds only {MODELLED}"
            )
        );
    }

    #[test]
    fn snapshot_formats() {
        let mut s = Snapshot::new();
        s.add_secret_names_text(
            "n.txt",
            "NAMESPACE NAME\nshop  db-creds\n# c\n\nshop secret/tls\nops/token\n",
        )
        .unwrap();
        assert_eq!(s.objects().len(), 3);
        let e = s
            .add_secret_names_text("n.txt", "secret/db\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("Secret names n.txt, line 1: \"secret/db\" names no namespace"),
            "{e}"
        );
        let e = s.add_cluster_text("c.json", "[1]").unwrap_err().to_string();
        assert!(e.starts_with("snapshot c.json is not a JSON object"), "{e}");
        let e = s.add_cluster_text("c.json", "{").unwrap_err().to_string();
        assert!(e.starts_with("snapshot c.json is not valid JSON"), "{e}");
        let e = s
            .add_cluster_text("c.json", r#"{"items": [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "snapshot c.json, item 1: Service a without metadata.namespace (take the snapshot with -A)"
        );
    }
}
