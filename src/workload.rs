//! Finds the Pod spec inside every workload kind and reads only the parts of
//! it the checks need. Typed k8s-openapi structs would parse the whole
//! workload (and ship their deserializers in the wasm); these views are read
//! by hand from the request's JSON, ignoring every other field, so unknown
//! or newer fields can never make a request fail. Reading by hand rather
//! than with derived deserializers keeps the module small: every derived
//! deserializer ships to every cluster.

use crate::json_tree::{Map, Value};

use crate::json_fields::{boolean, field, list, nested, string};

/// Where the Pod spec lives in each supported kind (as a JSON pointer).
pub fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "/spec",
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => return None,
    })
}

/// Kinds whose Pod template the policy validates.
pub const WORKLOAD_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// The parts of a PodSpec the check reads.
#[derive(Debug, Default)]
pub struct PodSpecView {
    pub containers: Vec<ContainerView>,
    pub init_containers: Vec<ContainerView>,
    pub ephemeral_containers: Vec<ContainerView>,
    pub volumes: Vec<VolumeView>,
    pub os: Option<PodOsView>,
    pub service_account_name: Option<String>,
    /// Deprecated alias of `serviceAccountName`, still honoured by the API server.
    pub service_account: Option<String>,
    pub image_pull_secrets: Vec<ObjectRefView>,
    /// `hostAliases[].hostnames`: names the Pod's `/etc/hosts` resolves.
    pub host_aliases: Vec<String>,
}

/// `spec.os`: Windows pods have Windows paths.
#[derive(Debug, Default)]
pub struct PodOsView {
    pub name: String,
}

/// The parts of a container the checks read.
#[derive(Debug, Default)]
pub struct ContainerView {
    pub name: String,
    pub env: Vec<EnvVarView>,
    pub env_from: Vec<EnvFromView>,
    pub volume_mounts: Vec<VolumeMountView>,
    /// `command` and `args`; an item that is not a string (which the API
    /// server refuses) reads as empty, so indexes stay those of the list.
    pub command: Vec<String>,
    pub args: Vec<String>,
}

/// One `env` entry.
#[derive(Debug, Default, Clone)]
pub struct EnvVarView {
    pub name: String,
    pub value: Option<String>,
    pub value_from: Option<ValueFromView>,
}

/// Which source a `valueFrom` names; only ConfigMap and Secret key
/// references are ever followed (and Secrets only for existence).
#[derive(Debug, Default, Clone)]
pub struct ValueFromView {
    pub config_map_key_ref: Option<KeyRefView>,
    pub secret_key_ref: Option<KeyRefView>,
    pub field_ref: bool,
    pub resource_field_ref: bool,
    pub file_key_ref: bool,
}

impl ValueFromView {
    /// The source's field name, for messages.
    pub fn source(&self) -> &'static str {
        if self.config_map_key_ref.is_some() {
            "configMapKeyRef"
        } else if self.secret_key_ref.is_some() {
            "secretKeyRef"
        } else if self.field_ref {
            "fieldRef"
        } else if self.resource_field_ref {
            "resourceFieldRef"
        } else if self.file_key_ref {
            "fileKeyRef"
        } else {
            "unknown source"
        }
    }
}

/// `configMapKeyRef` / `secretKeyRef` (one key of a named object),
/// `envFrom[].configMapRef` / `secretRef` and `imagePullSecrets[]` (no
/// key). One view for all of them: each derived deserializer ships in the
/// wasm.
#[derive(Debug, Default, Clone)]
pub struct KeyRefView {
    pub name: String,
    pub key: String,
    pub optional: Option<bool>,
}

/// A reference to a whole object: see [`KeyRefView`].
pub type ObjectRefView = KeyRefView;

/// One `envFrom` entry: every key of a ConfigMap or Secret, each prefixed.
#[derive(Debug, Default, Clone)]
pub struct EnvFromView {
    pub prefix: Option<String>,
    pub config_map_ref: Option<ObjectRefView>,
    pub secret_ref: Option<ObjectRefView>,
}

/// One `volumeMounts` entry.
#[derive(Debug, Default)]
pub struct VolumeMountView {
    pub name: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    pub sub_path_expr: Option<String>,
}

impl VolumeMountView {
    /// A subPath mount shows one file or directory of the volume at exactly its mountPath.
    pub fn has_sub_path(&self) -> bool {
        self.sub_path.as_deref().is_some_and(|s| !s.is_empty())
            || self.sub_path_expr.as_deref().is_some_and(|s| !s.is_empty())
    }
}

/// One `volumes` entry. Only the sources whose mounts have a known shape
/// (or that name other objects) are read; every other source (emptyDir,
/// persistentVolumeClaim, ephemeral, csi, image, nfs...) is a directory
/// whose content is unknown at admission.
#[derive(Debug, Default)]
pub struct VolumeView {
    pub name: String,
    pub host_path: Option<HostPathView>,
    pub config_map: Option<ConfigMapVolumeView>,
    pub secret: Option<SecretVolumeView>,
    pub projected: Option<ProjectedVolumeView>,
    pub downward_api: Option<DownwardApiView>,
}

/// `hostPath` volume source; `type` decides whether it is a file.
#[derive(Debug, Default)]
pub struct HostPathView {
    pub path: String,
    pub type_: Option<String>,
}

/// `configMap` or `secret` volume source or projection (a secret volume
/// names its Secret `secretName`, everything else `name`).
#[derive(Debug, Default)]
pub struct ObjectVolumeView {
    pub name: String,
    pub items: Option<Vec<KeyToPathView>>,
    pub optional: Option<bool>,
}

/// `configMap` volume source or projection.
pub type ConfigMapVolumeView = ObjectVolumeView;
/// `secret` volume source or projection.
pub type SecretVolumeView = ObjectVolumeView;

/// `items[]` of a configMap or secret source: key `key` appears as file `path`.
#[derive(Debug, Default)]
pub struct KeyToPathView {
    pub key: String,
    pub path: String,
}

/// `projected` volume source.
#[derive(Debug, Default)]
pub struct ProjectedVolumeView {
    pub sources: Vec<ProjectionView>,
}

/// One projected source; exactly one field is set.
#[derive(Debug, Default)]
pub struct ProjectionView {
    pub config_map: Option<ConfigMapVolumeView>,
    pub secret: Option<SecretVolumeView>,
    pub downward_api: Option<DownwardApiView>,
    pub service_account_token: Option<PathView>,
    pub cluster_trust_bundle: Option<PathView>,
    /// `podCertificate` (1.34): the files it writes, when named.
    pub pod_certificate: Option<PodCertificateView>,
}

/// `downwardAPI` volume source or projection: one file per item.
#[derive(Debug, Default)]
pub struct DownwardApiView {
    pub items: Vec<PathView>,
}

/// A projection that writes one file at `path`.
#[derive(Debug, Default)]
pub struct PathView {
    pub path: String,
}

/// `podCertificate` projection: up to three files.
#[derive(Debug, Default)]
pub struct PodCertificateView {
    pub credential_bundle_path: Option<String>,
    pub key_path: Option<String>,
    pub certificate_chain_path: Option<String>,
}

/// The kind of a container list, as named in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    Container,
    InitContainer,
    EphemeralContainer,
}

impl ContainerKind {
    /// Words used in messages ("init container").
    pub fn describe(self) -> &'static str {
        match self {
            ContainerKind::Container => "container",
            ContainerKind::InitContainer => "init container",
            ContainerKind::EphemeralContainer => "ephemeral container",
        }
    }

    /// The PodSpec field holding this list.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Container => "containers",
            ContainerKind::InitContainer => "initContainers",
            ContainerKind::EphemeralContainer => "ephemeralContainers",
        }
    }
}

impl PodSpecView {
    /// Every container with its kind and index in its list.
    pub fn all_containers(&self) -> impl Iterator<Item = (ContainerKind, usize, &ContainerView)> {
        fn tag(
            kind: ContainerKind,
            list: &[ContainerView],
        ) -> impl Iterator<Item = (ContainerKind, usize, &ContainerView)> {
            list.iter().enumerate().map(move |(i, c)| (kind, i, c))
        }
        tag(ContainerKind::Container, &self.containers)
            .chain(tag(ContainerKind::InitContainer, &self.init_containers))
            .chain(tag(
                ContainerKind::EphemeralContainer,
                &self.ephemeral_containers,
            ))
    }

    /// The volume named `name`, if the spec declares it.
    pub fn volume(&self, name: &str) -> Option<&VolumeView> {
        self.volumes.iter().find(|v| v.name == name)
    }

    /// Windows pods run Windows paths; the Linux path rules do not apply.
    pub fn is_windows(&self) -> bool {
        self.os
            .as_ref()
            .is_some_and(|os| os.name.eq_ignore_ascii_case("windows"))
    }
}

/// Reads the Pod spec of `object` (of `kind`) without copying the object.
pub fn read_pod_spec(kind: &str, object: &Value) -> Result<PodSpecView, String> {
    let pointer = pod_spec_pointer(kind).ok_or_else(|| format!("{kind} has no Pod template"))?;
    let spec = match object.pointer(pointer) {
        Some(spec) if spec.is_object() => spec,
        Some(Value::Null) | None => {
            return Err(format!(
                "the {kind} has no Pod spec at {}",
                pointer.trim_start_matches('/').replace('/', ".")
            ));
        }
        Some(_) => {
            return Err(format!(
                "{} of the {kind} is not an object",
                pointer.trim_start_matches('/').replace('/', ".")
            ));
        }
    };
    PodSpecView::read(spec.as_object().unwrap_or(&Map::new())).map_err(|e| {
        format!(
            "cannot read {} of the {kind}: {e}",
            pointer.trim_start_matches('/').replace('/', ".")
        )
    })
}

/// [`read_pod_spec`] of a `serde_json::Value`, for tests.
#[cfg(test)]
pub fn read_pod_spec_of_json(
    kind: &str,
    object: &serde_json::Value,
) -> Result<PodSpecView, String> {
    read_pod_spec(kind, &object.into())
}

type Fields<'a> = &'a Map<'a>;

/// A list of strings, read leniently: these fields only feed the search
/// for Service references, so a value of another type (which the API
/// server refuses anyway) reads as empty rather than failing the request.
fn texts(m: Fields, key: &str) -> Vec<String> {
    match field(m, key) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

impl PodSpecView {
    fn read(m: Fields) -> Result<Self, String> {
        Ok(PodSpecView {
            containers: list(m, "containers", ContainerView::read)?,
            init_containers: list(m, "initContainers", ContainerView::read)?,
            ephemeral_containers: list(m, "ephemeralContainers", ContainerView::read)?,
            volumes: list(m, "volumes", VolumeView::read)?,
            os: nested(m, "os", |m| {
                Ok(PodOsView {
                    name: string(m, "name")?.unwrap_or_default(),
                })
            })?,
            service_account_name: string(m, "serviceAccountName")?,
            service_account: string(m, "serviceAccount")?,
            image_pull_secrets: list(m, "imagePullSecrets", KeyRefView::read)?,
            host_aliases: list(m, "hostAliases", |m| Ok(texts(m, "hostnames")))?
                .into_iter()
                .flatten()
                .collect(),
        })
    }
}

impl ContainerView {
    fn read(m: Fields) -> Result<Self, String> {
        Ok(ContainerView {
            name: string(m, "name")?.unwrap_or_default(),
            env: list(m, "env", EnvVarView::read)?,
            env_from: list(m, "envFrom", EnvFromView::read)?,
            volume_mounts: list(m, "volumeMounts", VolumeMountView::read)?,
            command: texts(m, "command"),
            args: texts(m, "args"),
        })
    }
}

impl EnvVarView {
    fn read(m: Fields) -> Result<Self, String> {
        Ok(EnvVarView {
            name: string(m, "name")?.unwrap_or_default(),
            value: string(m, "value")?,
            value_from: nested(m, "valueFrom", |m| {
                Ok(ValueFromView {
                    config_map_key_ref: nested(m, "configMapKeyRef", KeyRefView::read)?,
                    secret_key_ref: nested(m, "secretKeyRef", KeyRefView::read)?,
                    field_ref: field(m, "fieldRef").is_some(),
                    resource_field_ref: field(m, "resourceFieldRef").is_some(),
                    file_key_ref: field(m, "fileKeyRef").is_some(),
                })
            })?,
        })
    }
}

impl KeyRefView {
    fn read(m: Fields) -> Result<Self, String> {
        Ok(KeyRefView {
            name: string(m, "name")?.unwrap_or_default(),
            key: string(m, "key")?.unwrap_or_default(),
            optional: boolean(m, "optional")?,
        })
    }
}

impl EnvFromView {
    fn read(m: Fields) -> Result<Self, String> {
        Ok(EnvFromView {
            prefix: string(m, "prefix")?,
            config_map_ref: nested(m, "configMapRef", KeyRefView::read)?,
            secret_ref: nested(m, "secretRef", KeyRefView::read)?,
        })
    }
}

impl VolumeMountView {
    fn read(m: Fields) -> Result<Self, String> {
        Ok(VolumeMountView {
            name: string(m, "name")?.unwrap_or_default(),
            mount_path: string(m, "mountPath")?.unwrap_or_default(),
            sub_path: string(m, "subPath")?,
            sub_path_expr: string(m, "subPathExpr")?,
        })
    }
}

impl VolumeView {
    fn read(m: Fields) -> Result<Self, String> {
        Ok(VolumeView {
            name: string(m, "name")?.unwrap_or_default(),
            host_path: nested(m, "hostPath", |m| {
                Ok(HostPathView {
                    path: string(m, "path")?.unwrap_or_default(),
                    type_: string(m, "type")?,
                })
            })?,
            config_map: nested(m, "configMap", ObjectVolumeView::read)?,
            secret: nested(m, "secret", ObjectVolumeView::read)?,
            projected: nested(m, "projected", |m| {
                Ok(ProjectedVolumeView {
                    sources: list(m, "sources", ProjectionView::read)?,
                })
            })?,
            downward_api: nested(m, "downwardAPI", DownwardApiView::read)?,
        })
    }
}

impl ObjectVolumeView {
    fn read(m: Fields) -> Result<Self, String> {
        let name = match string(m, "secretName")? {
            Some(name) => name,
            None => string(m, "name")?.unwrap_or_default(),
        };
        let items = match field(m, "items") {
            None => None,
            Some(_) => Some(list(m, "items", |m| {
                Ok(KeyToPathView {
                    key: string(m, "key")?.unwrap_or_default(),
                    path: string(m, "path")?.unwrap_or_default(),
                })
            })?),
        };
        Ok(ObjectVolumeView {
            name,
            items,
            optional: boolean(m, "optional")?,
        })
    }
}

impl DownwardApiView {
    fn read(m: Fields) -> Result<Self, String> {
        Ok(DownwardApiView {
            items: list(m, "items", PathView::read)?,
        })
    }
}

impl PathView {
    fn read(m: Fields) -> Result<Self, String> {
        Ok(PathView {
            path: string(m, "path")?.unwrap_or_default(),
        })
    }
}

impl ProjectionView {
    fn read(m: Fields) -> Result<Self, String> {
        Ok(ProjectionView {
            config_map: nested(m, "configMap", ObjectVolumeView::read)?,
            secret: nested(m, "secret", ObjectVolumeView::read)?,
            downward_api: nested(m, "downwardAPI", DownwardApiView::read)?,
            service_account_token: nested(m, "serviceAccountToken", PathView::read)?,
            cluster_trust_bundle: nested(m, "clusterTrustBundle", PathView::read)?,
            pod_certificate: nested(m, "podCertificate", |m| {
                Ok(PodCertificateView {
                    credential_bundle_path: string(m, "credentialBundlePath")?,
                    key_path: string(m, "keyPath")?,
                    certificate_chain_path: string(m, "certificateChainPath")?,
                })
            })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::read_pod_spec_of_json as read_pod_spec;
    use super::*;
    use rstest::rstest;
    use serde_json::Value;
    use serde_json::json;

    #[rstest]
    #[case::pod("Pod", json!({"spec": {"containers": [{"name": "a"}]}}))]
    #[case::deployment("Deployment", json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}))]
    #[case::replicaset("ReplicaSet", json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}))]
    #[case::statefulset("StatefulSet", json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}))]
    #[case::daemonset("DaemonSet", json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}))]
    #[case::job("Job", json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}))]
    #[case::cronjob("CronJob", json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}}}))]
    #[case::replication_controller("ReplicationController", json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}))]
    fn finds_the_pod_spec(#[case] kind: &str, #[case] object: Value) {
        let spec = read_pod_spec(kind, &object).unwrap();
        assert_eq!(spec.containers[0].name, "a");
        assert!(WORKLOAD_KINDS.contains(&kind));
    }

    /// Every kind the policy validates has a case above.
    #[test]
    fn every_workload_kind_has_a_case() {
        let source = include_str!("workload.rs");
        let start = source.find("fn finds_the_pod_spec").unwrap();
        let cases = &source[source[..start].rfind("#[rstest]").unwrap()..start];
        for kind in WORKLOAD_KINDS {
            assert!(cases.contains(&format!("(\"{kind}\", ")), "{kind}");
        }
    }

    #[rstest]
    #[case::no_spec("Pod", json!({"metadata": {"name": "x"}}), "has no Pod spec at spec")]
    #[case::spec_is_string("Deployment", json!({"spec": {"template": {"spec": "x"}}}), "is not an object")]
    #[case::containers_wrong_type("Pod", json!({"spec": {"containers": "x"}}), "cannot read spec")]
    #[case::unsupported_kind("Service", json!({}), "has no Pod template")]
    #[case::nested_wrong_type("Pod", json!({"spec": {"containers": [{"name": "a", "env": {"x": 1}}]}}),
        "cannot read spec of the Pod: containers[0].env is not a list")]
    #[case::optional_wrong_type("Pod", json!({"spec": {"volumes": [{"name": "v", "secret": {"optional": "yes"}}]}}),
        "volumes[0].secret.optional is not a boolean")]
    fn malformed_objects_are_errors(#[case] kind: &str, #[case] object: Value, #[case] part: &str) {
        let err = read_pod_spec(kind, &object).unwrap_err();
        assert!(err.contains(part), "{err}");
    }

    #[test]
    fn nulls_and_unknown_fields_are_tolerated() {
        let object = json!({"spec": {"containers": [{"name": "a", "env": null, "futureField": {"x": 1}}],
                                     "volumes": null, "newPodField": true}});
        let spec = read_pod_spec("Pod", &object).unwrap();
        assert!(spec.containers[0].env.is_empty() && spec.volumes.is_empty());
    }
}
