//! Finds the Pod spec inside every workload kind and reads only the parts of
//! it the KUBECONFIG check needs. Typed k8s-openapi structs would parse the
//! whole workload (and ship their deserializers in the wasm); these views
//! borrow from the request's JSON and ignore every other field, so unknown
//! or newer fields can never make a request fail.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

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
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecView {
    #[serde(default, deserialize_with = "null_as_default")]
    pub containers: Vec<ContainerView>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub init_containers: Vec<ContainerView>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ephemeral_containers: Vec<ContainerView>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub volumes: Vec<VolumeView>,
    #[serde(default)]
    pub os: Option<PodOsView>,
    #[serde(default)]
    pub service_account_name: Option<String>,
    /// Deprecated alias of `serviceAccountName`, still honoured by the API server.
    #[serde(default)]
    pub service_account: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub image_pull_secrets: Vec<ObjectRefView>,
}

/// `spec.os`: Windows pods have Windows paths.
#[derive(Deserialize, Debug, Default)]
pub struct PodOsView {
    #[serde(default)]
    pub name: String,
}

/// The parts of a container the checks read.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub env: Vec<EnvVarView>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub env_from: Vec<EnvFromView>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub volume_mounts: Vec<VolumeMountView>,
}

/// One `env` entry.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarView {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub value_from: Option<ValueFromView>,
}

/// Which source a `valueFrom` names; only ConfigMap and Secret key
/// references are ever followed (and Secrets only for existence).
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ValueFromView {
    pub config_map_key_ref: Option<KeyRefView>,
    pub secret_key_ref: Option<KeyRefView>,
    pub field_ref: Option<IgnoredAny>,
    pub resource_field_ref: Option<IgnoredAny>,
    pub file_key_ref: Option<IgnoredAny>,
}

impl ValueFromView {
    /// The source's field name, for messages.
    pub fn source(&self) -> &'static str {
        if self.config_map_key_ref.is_some() {
            "configMapKeyRef"
        } else if self.secret_key_ref.is_some() {
            "secretKeyRef"
        } else if self.field_ref.is_some() {
            "fieldRef"
        } else if self.resource_field_ref.is_some() {
            "resourceFieldRef"
        } else if self.file_key_ref.is_some() {
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
#[derive(Deserialize, Debug, Default, Clone)]
pub struct KeyRefView {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub optional: Option<bool>,
}

/// A reference to a whole object: see [`KeyRefView`].
pub type ObjectRefView = KeyRefView;

/// One `envFrom` entry: every key of a ConfigMap or Secret, each prefixed.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromView {
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub config_map_ref: Option<ObjectRefView>,
    #[serde(default)]
    pub secret_ref: Option<ObjectRefView>,
}

/// One `volumeMounts` entry.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMountView {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mount_path: String,
    #[serde(default)]
    pub sub_path: Option<String>,
    #[serde(default)]
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
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct VolumeView {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub host_path: Option<HostPathView>,
    #[serde(default)]
    pub config_map: Option<ConfigMapVolumeView>,
    #[serde(default)]
    pub secret: Option<SecretVolumeView>,
    #[serde(default)]
    pub projected: Option<ProjectedVolumeView>,
    #[serde(default, rename = "downwardAPI")]
    pub downward_api: Option<DownwardApiView>,
}

/// `hostPath` volume source; `type` decides whether it is a file.
#[derive(Deserialize, Debug, Default)]
pub struct HostPathView {
    #[serde(default)]
    pub path: String,
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
}

/// `configMap` or `secret` volume source or projection (a secret volume
/// names its Secret `secretName`, everything else `name`).
#[derive(Deserialize, Debug, Default)]
pub struct ObjectVolumeView {
    #[serde(default, alias = "secretName")]
    pub name: String,
    #[serde(default)]
    pub items: Option<Vec<KeyToPathView>>,
    #[serde(default)]
    pub optional: Option<bool>,
}

/// `configMap` volume source or projection.
pub type ConfigMapVolumeView = ObjectVolumeView;
/// `secret` volume source or projection.
pub type SecretVolumeView = ObjectVolumeView;

/// `items[]` of a configMap or secret source: key `key` appears as file `path`.
#[derive(Deserialize, Debug, Default)]
pub struct KeyToPathView {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub path: String,
}

/// `projected` volume source.
#[derive(Deserialize, Debug, Default)]
pub struct ProjectedVolumeView {
    #[serde(default, deserialize_with = "null_as_default")]
    pub sources: Vec<ProjectionView>,
}

/// One projected source; exactly one field is set.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProjectionView {
    #[serde(default)]
    pub config_map: Option<ConfigMapVolumeView>,
    #[serde(default)]
    pub secret: Option<SecretVolumeView>,
    #[serde(default, rename = "downwardAPI")]
    pub downward_api: Option<DownwardApiView>,
    #[serde(default)]
    pub service_account_token: Option<PathView>,
    #[serde(default)]
    pub cluster_trust_bundle: Option<PathView>,
    /// `podCertificate` (1.34): the files it writes, when named.
    #[serde(default)]
    pub pod_certificate: Option<PodCertificateView>,
}

/// `downwardAPI` volume source or projection: one file per item.
#[derive(Deserialize, Debug, Default)]
pub struct DownwardApiView {
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: Vec<PathView>,
}

/// A projection that writes one file at `path`.
#[derive(Deserialize, Debug, Default)]
pub struct PathView {
    #[serde(default)]
    pub path: String,
}

/// `podCertificate` projection: up to three files.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodCertificateView {
    #[serde(default)]
    pub credential_bundle_path: Option<String>,
    #[serde(default)]
    pub key_path: Option<String>,
    #[serde(default)]
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
    PodSpecView::deserialize(spec).map_err(|e| {
        format!(
            "cannot read {} of the {kind}: {e}",
            pointer.trim_start_matches('/').replace('/', ".")
        )
    })
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::pod("Pod", json!({"spec": {"containers": [{"name": "a"}]}}))]
    #[case::deployment("Deployment", json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}))]
    #[case::cronjob("CronJob", json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}}}))]
    fn finds_the_pod_spec(#[case] kind: &str, #[case] object: Value) {
        let spec = read_pod_spec(kind, &object).unwrap();
        assert_eq!(spec.containers[0].name, "a");
    }

    #[rstest]
    #[case::no_spec("Pod", json!({"metadata": {"name": "x"}}), "has no Pod spec at spec")]
    #[case::spec_is_string("Deployment", json!({"spec": {"template": {"spec": "x"}}}), "is not an object")]
    #[case::containers_wrong_type("Pod", json!({"spec": {"containers": "x"}}), "cannot read spec")]
    #[case::unsupported_kind("Service", json!({}), "has no Pod template")]
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
