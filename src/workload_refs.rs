//! Every object a Pod spec names, with the field that names it: the
//! ConfigMaps and Secrets its containers and volumes consume, its image
//! pull Secrets and its ServiceAccount. Pure extraction: nothing here asks
//! the host.

use std::collections::HashSet;

use crate::workload::{ConfigMapVolumeView, ContainerKind, PodSpecView, SecretVolumeView};

/// The kind of a named object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    ConfigMap,
    Secret,
    ServiceAccount,
}

impl ObjectKind {
    /// The Kubernetes kind, for messages and host calls.
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::ConfigMap => "ConfigMap",
            ObjectKind::Secret => "Secret",
            ObjectKind::ServiceAccount => "ServiceAccount",
        }
    }
}

/// How the object is consumed; decides which keys must exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Usage {
    /// `env[].valueFrom.configMapKeyRef` / `secretKeyRef`: one key,
    /// which becomes `variable`.
    EnvKey { key: String, variable: String },
    /// `envFrom[]`: every key, as `<prefix><key>`.
    EnvFrom { prefix: String },
    /// A `configMap`/`secret` volume or projected source; `items` are the
    /// keys it projects (`None`: every key).
    Volume { items: Option<Vec<String>> },
    /// `imagePullSecrets[]`.
    ImagePull,
    /// `serviceAccountName` (or the deprecated `serviceAccount`).
    PodIdentity,
}

/// The container that consumes a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub kind: ContainerKind,
    pub index: usize,
    pub name: String,
}

/// One object named by a Pod spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: ObjectKind,
    pub name: String,
    /// `optional: true`: the Pod starts without it.
    pub optional: bool,
    pub usage: Usage,
    /// The consuming container; `None` for Pod-level fields (volumes,
    /// imagePullSecrets, the ServiceAccount).
    pub consumer: Option<Consumer>,
    /// The field that names the object, relative to the container (or to
    /// the Pod spec): `env[2].valueFrom.configMapKeyRef`, `volumes[0].secret`.
    pub field: String,
}

/// What makes two references the same across an UPDATE: the object, the
/// use and whether it is optional, not where in the spec it is written.
type Identity<'r> = (ObjectKind, &'r str, bool, &'r Usage);

impl Reference {
    fn identity(&self) -> Identity<'_> {
        (self.kind, &self.name, self.optional, &self.usage)
    }
}

/// The ServiceAccount every namespace gets from Kubernetes itself.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// Every object `spec` names, in spec order: the ServiceAccount, then each
/// container's env and envFrom, then volumes, then imagePullSecrets.
/// References without a name (which the API server rejects for required
/// references) are skipped; the `default` ServiceAccount is never listed.
pub fn extract(spec: &PodSpecView) -> Vec<Reference> {
    let mut refs = Vec::new();
    let (account, field) = match (&spec.service_account_name, &spec.service_account) {
        (Some(name), _) if !name.is_empty() => (name.as_str(), "serviceAccountName"),
        (_, Some(name)) if !name.is_empty() => (name.as_str(), "serviceAccount"),
        _ => (DEFAULT_SERVICE_ACCOUNT, ""),
    };
    if account != DEFAULT_SERVICE_ACCOUNT {
        refs.push(Reference {
            kind: ObjectKind::ServiceAccount,
            name: account.to_string(),
            optional: false,
            usage: Usage::PodIdentity,
            consumer: None,
            field: field.to_string(),
        });
    }
    for (kind, index, container) in spec.all_containers() {
        let consumer = Consumer {
            kind,
            index,
            name: container.name.clone(),
        };
        for (i, var) in container.env.iter().enumerate() {
            let Some(from) = &var.value_from else {
                continue;
            };
            let sources = [
                (
                    ObjectKind::ConfigMap,
                    &from.config_map_key_ref,
                    "configMapKeyRef",
                ),
                (ObjectKind::Secret, &from.secret_key_ref, "secretKeyRef"),
            ];
            for (object, key_ref, source) in sources {
                if let Some(key_ref) = key_ref.as_ref().filter(|r| !r.name.is_empty()) {
                    refs.push(Reference {
                        kind: object,
                        name: key_ref.name.clone(),
                        optional: key_ref.optional.unwrap_or(false),
                        usage: Usage::EnvKey {
                            key: key_ref.key.clone(),
                            variable: var.name.clone(),
                        },
                        consumer: Some(consumer.clone()),
                        field: format!("env[{i}].valueFrom.{source}"),
                    });
                }
            }
        }
        for (i, from) in container.env_from.iter().enumerate() {
            let sources = [
                (ObjectKind::ConfigMap, &from.config_map_ref, "configMapRef"),
                (ObjectKind::Secret, &from.secret_ref, "secretRef"),
            ];
            for (object, source_ref, source) in sources {
                if let Some(source_ref) = source_ref.as_ref().filter(|r| !r.name.is_empty()) {
                    refs.push(Reference {
                        kind: object,
                        name: source_ref.name.clone(),
                        optional: source_ref.optional.unwrap_or(false),
                        usage: Usage::EnvFrom {
                            prefix: from.prefix.clone().unwrap_or_default(),
                        },
                        consumer: Some(consumer.clone()),
                        field: format!("envFrom[{i}].{source}"),
                    });
                }
            }
        }
    }
    for (i, volume) in spec.volumes.iter().enumerate() {
        if let Some(cm) = &volume.config_map {
            refs.extend(config_map_volume(cm, format!("volumes[{i}].configMap")));
        }
        if let Some(secret) = &volume.secret {
            refs.extend(secret_volume(secret, format!("volumes[{i}].secret")));
        }
        for (j, source) in volume
            .projected
            .iter()
            .flat_map(|p| p.sources.iter())
            .enumerate()
        {
            let field = format!("volumes[{i}].projected.sources[{j}]");
            if let Some(cm) = &source.config_map {
                refs.extend(config_map_volume(cm, format!("{field}.configMap")));
            }
            if let Some(secret) = &source.secret {
                refs.extend(secret_volume(secret, format!("{field}.secret")));
            }
        }
    }
    for (i, pull) in spec.image_pull_secrets.iter().enumerate() {
        if !pull.name.is_empty() {
            refs.push(Reference {
                kind: ObjectKind::Secret,
                name: pull.name.clone(),
                optional: false,
                usage: Usage::ImagePull,
                consumer: None,
                field: format!("imagePullSecrets[{i}]"),
            });
        }
    }
    refs
}

fn items_of(items: &Option<Vec<crate::workload::KeyToPathView>>) -> Option<Vec<String>> {
    items
        .as_ref()
        .filter(|items| !items.is_empty())
        .map(|items| items.iter().map(|item| item.key.clone()).collect())
}

fn config_map_volume(cm: &ConfigMapVolumeView, field: String) -> Option<Reference> {
    (!cm.name.is_empty()).then(|| Reference {
        kind: ObjectKind::ConfigMap,
        name: cm.name.clone(),
        optional: cm.optional.unwrap_or(false),
        usage: Usage::Volume {
            items: items_of(&cm.items),
        },
        consumer: None,
        field,
    })
}

fn secret_volume(secret: &SecretVolumeView, field: String) -> Option<Reference> {
    (!secret.name.is_empty()).then(|| Reference {
        kind: ObjectKind::Secret,
        name: secret.name.clone(),
        optional: secret.optional.unwrap_or(false),
        usage: Usage::Volume {
            items: items_of(&secret.items),
        },
        consumer: None,
        field,
    })
}

/// The references of `new` that `old` does not already have: on UPDATE
/// only what the edit adds is checked.
pub fn added(new: Vec<Reference>, old: &[Reference]) -> Vec<Reference> {
    if old.is_empty() {
        return new;
    }
    let before: HashSet<Identity> = old.iter().map(Reference::identity).collect();
    new.into_iter()
        .filter(|r| !before.contains(&r.identity()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::read_pod_spec_of_json as read_pod_spec;
    use rstest::rstest;
    use serde_json::{Value, json};

    fn refs(spec: Value) -> Vec<(ObjectKind, String, bool, String)> {
        extract(&read_pod_spec("Pod", &json!({ "spec": spec })).unwrap())
            .into_iter()
            .map(|r| (r.kind, r.name, r.optional, r.field))
            .collect()
    }

    fn one(
        kind: ObjectKind,
        name: &str,
        optional: bool,
        field: &str,
    ) -> Vec<(ObjectKind, String, bool, String)> {
        vec![(kind, name.into(), optional, field.into())]
    }

    use ObjectKind::{ConfigMap, Secret, ServiceAccount};

    #[rstest]
    #[case::config_map_key_ref(json!({"containers": [{"name": "a", "env": [{"name": "X", "value": "1"},
        {"name": "U", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "url"}}}]}]}),
        one(ConfigMap, "cfg", false, "env[1].valueFrom.configMapKeyRef"))]
    #[case::optional_secret_key_ref(json!({"containers": [{"name": "a", "env": [
        {"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw", "optional": true}}}]}]}),
        one(Secret, "db", true, "env[0].valueFrom.secretKeyRef"))]
    #[case::env_from(json!({"initContainers": [{"name": "i", "envFrom": [{"prefix": "A_", "configMapRef": {"name": "cfg"}}]}]}),
        one(ConfigMap, "cfg", false, "envFrom[0].configMapRef"))]
    #[case::env_from_secret(json!({"containers": [{"name": "a", "envFrom": [{"secretRef": {"name": "s"}}]}]}),
        one(Secret, "s", false, "envFrom[0].secretRef"))]
    #[case::config_map_volume(json!({"containers": [], "volumes": [{"name": "v", "configMap": {"name": "cfg", "optional": true}}]}),
        one(ConfigMap, "cfg", true, "volumes[0].configMap"))]
    #[case::secret_volume(json!({"volumes": [{"name": "v", "secret": {"secretName": "tls"}}]}),
        one(Secret, "tls", false, "volumes[0].secret"))]
    #[case::projected(json!({"volumes": [{"name": "v", "projected": {"sources": [
        {"serviceAccountToken": {"path": "t"}}, {"configMap": {"name": "cfg"}}]}}]}),
        one(ConfigMap, "cfg", false, "volumes[0].projected.sources[1].configMap"))]
    #[case::image_pull_secret(json!({"imagePullSecrets": [{"name": "regcred"}]}),
        one(Secret, "regcred", false, "imagePullSecrets[0]"))]
    #[case::service_account(json!({"serviceAccountName": "builder"}),
        one(ServiceAccount, "builder", false, "serviceAccountName"))]
    #[case::deprecated_service_account(json!({"serviceAccount": "builder"}),
        one(ServiceAccount, "builder", false, "serviceAccount"))]
    #[case::default_service_account(json!({"serviceAccountName": "default"}), vec![])]
    #[case::nameless_refs_skipped(json!({"containers": [{"name": "a",
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"key": "k"}}}, {"name": "Y", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}),
        vec![])]
    fn names_every_object(
        #[case] spec: Value,
        #[case] expected: Vec<(ObjectKind, String, bool, String)>,
    ) {
        assert_eq!(refs(spec), expected);
    }

    #[test]
    fn items_and_prefixes_are_kept() {
        let spec = read_pod_spec(
            "Pod",
            &json!({"spec": {"containers": [{"name": "a", "envFrom": [{"prefix": "P_", "configMapRef": {"name": "c"}}]}],
                "volumes": [{"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "p"}]}}]}}),
        )
        .unwrap();
        let usages: Vec<Usage> = extract(&spec).into_iter().map(|r| r.usage).collect();
        assert_eq!(
            usages,
            vec![
                Usage::EnvFrom {
                    prefix: "P_".into()
                },
                Usage::Volume {
                    items: Some(vec!["k".into()])
                }
            ]
        );
    }

    #[rstest]
    #[case::nothing_added(json!({"containers": [{"name": "a", "envFrom": [{"configMapRef": {"name": "c"}}]}]}), 0)]
    #[case::reordered(json!({"containers": [{"name": "b"}, {"name": "a", "envFrom": [{"configMapRef": {"name": "c"}}]}]}), 0)]
    #[case::new_config_map(json!({"containers": [{"name": "a", "envFrom": [{"configMapRef": {"name": "c"}}, {"configMapRef": {"name": "d"}}]}]}), 1)]
    #[case::made_required(json!({"containers": [{"name": "a", "envFrom": [{"configMapRef": {"name": "c", "optional": false}}]}], "serviceAccountName": "x"}), 1)]
    fn updates_add_only_new_references(#[case] new: Value, #[case] added_count: usize) {
        let old = read_pod_spec(
            "Pod",
            &json!({"spec": {"containers": [{"name": "a", "envFrom": [{"configMapRef": {"name": "c"}}]}]}}),
        )
        .unwrap();
        let new = read_pod_spec("Pod", &json!({ "spec": new })).unwrap();
        assert_eq!(added(extract(&new), &extract(&old)).len(), added_count);
    }
}
