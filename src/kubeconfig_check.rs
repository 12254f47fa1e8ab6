//! Check 1: every path in a container's KUBECONFIG (or other watched
//! variable) must exist in the container as a file, i.e. be one that its
//! volumeMounts create (see [`crate::mounts`] for what each mount makes
//! exist) or lie under an allowed, image-baked path, and must not come from a
//! hostPath volume, which would inject the node's credentials.

use serde_json::Value;

use crate::env_expansion::{EffectiveValue, ValueOrigin, effective_env};
use crate::mounts::{Entry, FileList, Mounts, VolumeSource, clean_path, is_within};
use crate::settings::Settings;
use crate::workload::{ContainerKind, PodSpecView};

/// Why a kubeconfig path is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No volumeMount covers the path.
    NotMounted,
    /// The covering mount is a hostPath volume.
    HostPath {
        mount_path: String,
        volume: String,
        host_path: String,
    },
    /// The path is a directory: the mountPath of a volume mounted without
    /// subPath, or (`item_parent`) a directory the volume creates for nested
    /// items. `files` are the files below it, when the volume lists them.
    IsDirectory {
        mount_path: String,
        volume: String,
        source: VolumeSource,
        item_parent: bool,
        files: Option<FileList>,
    },
    /// The path lies below a mount that is a file (`hostPath` of type File...).
    BelowFile {
        mount_path: String,
        volume: String,
        source: VolumeSource,
    },
    /// The path lies below a volume whose items list its files, and no item
    /// creates it; `files` are the ones that exist.
    NotProjected {
        mount_path: String,
        volume: String,
        source: VolumeSource,
        files: FileList,
    },
    /// A relative path depends on the working directory.
    NotAbsolute,
    /// A `C:\...` path or a `;`-separated list.
    WindowsPath,
}

/// One offending path of one variable in one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub container_kind: ContainerKind,
    pub container_index: usize,
    pub container: String,
    pub variable: String,
    /// The value as written, when `$(VAR)` expansion changed it.
    pub written: Option<String>,
    /// The ConfigMap key the value was read from (`None`: written in `env`).
    pub origin: Option<ValueOrigin>,
    pub path: String,
    pub reason: Reason,
}

impl Finding {
    /// Whether removing the container's `env` entry removes the value:
    /// not when `envFrom` sets it.
    pub fn is_removable(&self) -> bool {
        self.origin
            .as_ref()
            .is_none_or(|o| o.field.starts_with("env["))
    }
}

/// A variable the policy cannot evaluate at admission (`valueFrom` etc.).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub container_kind: ContainerKind,
    pub container: String,
    pub variable: String,
    pub source: String,
    /// Its `$(VAR)` expansion is too long to judge (see
    /// [`EffectiveValue::Unresolved`]).
    pub too_long: bool,
}

/// A variable whose `env` entries `removeOffendingVariables` removed from
/// one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub container_kind: ContainerKind,
    pub container: String,
    pub variable: String,
}

/// Everything the check found in one Pod spec.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub unresolved: Vec<Unresolved>,
}

/// Checks every container of `spec`, with no ConfigMap values known.
pub fn check(spec: &PodSpecView, settings: &Settings) -> Report {
    check_with(spec, settings, &crate::env_expansion::no_config_maps)
}

/// Checks every container of `spec`; `config_maps` gives the ConfigMaps
/// that `configMapKeyRef` and `envFrom` read (see `effective_env`).
pub fn check_with(
    spec: &PodSpecView,
    settings: &Settings,
    config_maps: &crate::env_expansion::ConfigMaps<'_>,
) -> Report {
    let mut report = Report::default();
    if spec.is_windows() {
        return report;
    }
    for (kind, index, container) in spec.all_containers() {
        let env = effective_env(container, config_maps);
        let mut mounts: Option<Mounts> = None;
        for variable in &settings.variables {
            match env.get(variable.as_str()) {
                None => {}
                Some(EffectiveValue::Unresolved { source, too_long }) => {
                    report.unresolved.push(Unresolved {
                        container_kind: kind,
                        container: container.name.clone(),
                        variable: variable.clone(),
                        source: source.clone(),
                        too_long,
                    });
                }
                Some(EffectiveValue::Known {
                    value,
                    written,
                    origin,
                }) => {
                    let written = (written != value).then_some(written);
                    let mounts = mounts.get_or_insert_with(|| Mounts::of(container, spec));
                    for (path, reason) in offending_paths(&value, mounts, settings) {
                        report.findings.push(Finding {
                            container_kind: kind,
                            container_index: index,
                            container: container.name.clone(),
                            variable: variable.clone(),
                            written: written.clone(),
                            origin: origin.clone(),
                            path,
                            reason,
                        });
                    }
                }
            }
        }
    }
    report
}

/// The paths of one value that will not work in `container`, with the reason.
fn offending_paths(value: &str, mounts: &Mounts, settings: &Settings) -> Vec<(String, Reason)> {
    if is_windows_value(value) {
        return value
            .split(';')
            .filter(|p| !p.is_empty())
            .map(|p| (p.to_string(), Reason::WindowsPath))
            .collect();
    }
    // client-go skips empty list entries ("a::b", a trailing ":").
    value
        .split(':')
        .filter(|p| !p.is_empty())
        .filter_map(|path| path_problem(path, mounts, settings).map(|r| (path.to_string(), r)))
        .collect()
}

/// `C:\x`, `C:/x`, `\\server\share` or a `;`-separated list.
fn is_windows_value(value: &str) -> bool {
    let b = value.as_bytes();
    value.contains(';')
        || value.starts_with("\\\\")
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
}

/// Why `path` will not be a readable file in the container, if it will not.
fn path_problem(path: &str, mounts: &Mounts, settings: &Settings) -> Option<Reason> {
    if !path.starts_with('/') {
        return Some(Reason::NotAbsolute);
    }
    let path = clean_path(path);
    let Some((mount, entry)) = mounts.lookup(&path) else {
        let allowed = settings
            .allowed_paths
            .iter()
            .any(|allowed| is_within(&path, &clean_path(allowed)));
        return (!allowed).then_some(Reason::NotMounted);
    };
    if let VolumeSource::HostPath { path: host, .. } = &mount.source
        && !settings.allow_host_path_volumes
    {
        return Some(Reason::HostPath {
            mount_path: mount.mount_path.clone(),
            volume: mount.volume.clone(),
            host_path: host.clone(),
        });
    }
    if entry == Entry::MayBeFile {
        return None;
    }
    let mount_path = mount.mount_path.clone();
    let volume = mount.volume.clone();
    let source = mount.source.clone();
    Some(match entry {
        Entry::MayBeFile => return None,
        Entry::Directory { item_parent, files } => Reason::IsDirectory {
            mount_path,
            volume,
            source,
            item_parent,
            files,
        },
        Entry::BelowFile => Reason::BelowFile {
            mount_path,
            volume,
            source,
        },
        Entry::NotCreated { files } => Reason::NotProjected {
            mount_path,
            volume,
            source,
            files,
        },
    })
}

/// Removes every `env` entry of an offending variable from the containers
/// named in `findings`, editing the request's JSON so that every other field
/// (including ones this policy does not know) is kept as it was. Returns
/// each removed variable once per container.
pub fn remove_offending(pod_spec: &mut Value, findings: &[Finding]) -> Vec<Removed> {
    let mut removed: Vec<(ContainerKind, usize, &str, &str)> = Vec::new();
    for f in findings {
        let key = (
            f.container_kind,
            f.container_index,
            f.container.as_str(),
            f.variable.as_str(),
        );
        if !removed.contains(&key) {
            removed.push(key);
        }
    }
    let mut notes = Vec::new();
    for (kind, index, container, variable) in removed {
        let env = pod_spec
            .get_mut(kind.field())
            .and_then(|list| list.get_mut(index))
            .and_then(|c| c.get_mut("env"))
            .and_then(Value::as_array_mut);
        if let Some(env) = env {
            env.retain(|e| e.get("name").and_then(Value::as_str) != Some(variable));
            notes.push(Removed {
                container_kind: kind,
                container: container.to_string(),
                variable: variable.to_string(),
            });
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::kubeconfig::{describe, describe_unresolved};
    use crate::workload::read_pod_spec_of_json as read_pod_spec;
    use rstest::rstest;
    use serde_json::Value;
    use serde_json::json;

    fn pod(container: Value, volumes: Value) -> PodSpecView {
        read_pod_spec(
            "Pod",
            &json!({"spec": {"containers": [container], "volumes": volumes}}),
        )
        .unwrap()
    }

    fn with_env(value: &str, mounts: Value) -> Value {
        json!({"name": "app", "env": [{"name": "KUBECONFIG", "value": value}], "volumeMounts": mounts})
    }

    fn volumes() -> Value {
        json!([
            {"name": "kubeconfig", "secret": {"secretName": "kc"}},
            {"name": "host-kube", "hostPath": {"path": "/home/me/.kube"}},
            {"name": "cfg", "configMap": {"name": "c"}},
            {"name": "cfg-items", "configMap": {"name": "ci", "items": [
                {"key": "kubeconfig", "path": "kube/config"}, {"key": "ca", "path": "ca.crt"}]}},
            {"name": "proj", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token"}},
                {"configMap": {"name": "p", "items": [{"key": "kubeconfig", "path": "config"}]}}]}},
            {"name": "proj-open", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token"}}, {"secret": {"name": "s"}}]}},
            {"name": "downward", "downwardAPI": {"items": [{"path": "labels"}]}},
            {"name": "host-file", "hostPath": {"path": "/etc/kubernetes/admin.conf", "type": "File"}},
            {"name": "host-dir", "hostPath": {"path": "/etc/kubernetes", "type": "Directory"}},
            {"name": "scratch", "emptyDir": {}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "d"}}
        ])
    }

    fn list(shown: &[&str], total: usize) -> FileList {
        FileList {
            shown: shown.iter().map(|s| s.to_string()).collect(),
            total,
        }
    }

    fn is_dir(
        mount_path: &str,
        volume: &str,
        source: VolumeSource,
        files: Option<FileList>,
    ) -> Reason {
        Reason::IsDirectory {
            mount_path: mount_path.into(),
            volume: volume.into(),
            source,
            item_parent: false,
            files,
        }
    }

    fn not_projected(
        mount_path: &str,
        volume: &str,
        source: VolumeSource,
        files: FileList,
    ) -> Reason {
        Reason::NotProjected {
            mount_path: mount_path.into(),
            volume: volume.into(),
            source,
            files,
        }
    }

    fn config_map(name: &str) -> VolumeSource {
        VolumeSource::ConfigMap { name: name.into() }
    }

    fn host_path(path: &str, type_: &str) -> VolumeSource {
        VolumeSource::HostPath {
            path: path.into(),
            type_: type_.into(),
        }
    }

    fn reasons(value: &str, mounts: Value, settings: &Settings) -> Vec<Reason> {
        check(&pod(with_env(value, mounts), volumes()), settings)
            .findings
            .into_iter()
            .map(|f| f.reason)
            .collect()
    }

    #[rstest]
    #[case::mounted_dir("/etc/kube/config", json!([{"name": "kubeconfig", "mountPath": "/etc/kube"}]), vec![])]
    #[case::mount_with_trailing_slash("/etc/kube/config", json!([{"name": "kubeconfig", "mountPath": "/etc/kube/"}]), vec![])]
    #[case::dot_dot_inside("/etc/kube/x/../config", json!([{"name": "kubeconfig", "mountPath": "/etc/kube"}]), vec![])]
    #[case::dot_dot_escapes("/etc/kube/../passwd", json!([{"name": "kubeconfig", "mountPath": "/etc/kube"}]), vec![Reason::NotMounted])]
    #[case::component_boundary("/etc/kubeconfig", json!([{"name": "kubeconfig", "mountPath": "/etc/kube"}]), vec![Reason::NotMounted])]
    #[case::host_path_leak("/Users/jgil/.kube/gateway-e2e-config", json!([]), vec![Reason::NotMounted])]
    #[case::sub_path_exact("/etc/kube/config", json!([{"name": "kubeconfig", "mountPath": "/etc/kube/config", "subPath": "config"}]), vec![])]
    // A subPath may name a directory of the volume (a shared PVC, a nested ConfigMap item).
    #[case::sub_path_directory("/etc/kube/config/x", json!([{"name": "kubeconfig", "mountPath": "/etc/kube/config", "subPath": "config"}]), vec![])]
    #[case::sub_path_expr("/etc/kube/c", json!([{"name": "kubeconfig", "mountPath": "/etc/kube", "subPathExpr": "$(POD)"}]), vec![])]
    #[case::sub_path_outside("/etc/other/c", json!([{"name": "kubeconfig", "mountPath": "/etc/kube", "subPath": "kube"}]), vec![Reason::NotMounted])]
    #[case::relative("kubeconfig", json!([]), vec![Reason::NotAbsolute])]
    #[case::tilde("~/.kube/config", json!([]), vec![Reason::NotAbsolute])]
    #[case::windows_drive("C:\\Users\\me\\.kube\\config", json!([]), vec![Reason::WindowsPath])]
    #[case::windows_list("C:\\a;D:\\b", json!([]), vec![Reason::WindowsPath, Reason::WindowsPath])]
    #[case::list_all_mounted("/a/c:/b/c", json!([{"name": "kubeconfig", "mountPath": "/a"}, {"name": "cfg", "mountPath": "/b"}]), vec![])]
    #[case::list_one_missing("/a/c:/b/c", json!([{"name": "kubeconfig", "mountPath": "/a"}]), vec![Reason::NotMounted])]
    #[case::list_with_empty_entry("/a/c::/a/d:", json!([{"name": "kubeconfig", "mountPath": "/a"}]), vec![])]
    #[case::empty_value("", json!([]), vec![])]
    #[case::root_mount("/x/y", json!([{"name": "cfg", "mountPath": "/"}]), vec![])]
    #[case::host_path_volume("/root/.kube/config", json!([{"name": "host-kube", "mountPath": "/root/.kube"}]),
        vec![Reason::HostPath { mount_path: "/root/.kube".into(), volume: "host-kube".into(), host_path: "/home/me/.kube".into() }])]
    #[case::deeper_secret_mount_over_host_path("/root/.kube/s/config",
        json!([{"name": "host-kube", "mountPath": "/root/.kube"}, {"name": "kubeconfig", "mountPath": "/root/.kube/s"}]), vec![])]
    // What each mount makes exist.
    #[case::secret_dir_equal("/etc/kube", json!([{"name": "kubeconfig", "mountPath": "/etc/kube"}]),
        vec![is_dir("/etc/kube", "kubeconfig", VolumeSource::Secret { name: "kc".into() }, None)])]
    #[case::secret_dir_equal_trailing_slash("/etc/kube/", json!([{"name": "kubeconfig", "mountPath": "/etc/kube"}]),
        vec![is_dir("/etc/kube", "kubeconfig", VolumeSource::Secret { name: "kc".into() }, None)])]
    #[case::items_listed("/etc/app/kube/config", json!([{"name": "cfg-items", "mountPath": "/etc/app"}]), vec![])]
    #[case::items_not_listed("/etc/app/config", json!([{"name": "cfg-items", "mountPath": "/etc/app"}]),
        vec![not_projected("/etc/app", "cfg-items", config_map("ci"), list(&["/etc/app/ca.crt", "/etc/app/kube/config"], 2))])]
    #[case::items_parent_dir("/etc/app/kube", json!([{"name": "cfg-items", "mountPath": "/etc/app"}]),
        vec![Reason::IsDirectory { mount_path: "/etc/app".into(), volume: "cfg-items".into(), source: config_map("ci"),
            item_parent: true, files: Some(list(&["/etc/app/kube/config"], 1)) }])]
    #[case::items_mount_equal("/etc/app", json!([{"name": "cfg-items", "mountPath": "/etc/app"}]),
        vec![is_dir("/etc/app", "cfg-items", config_map("ci"), Some(list(&["/etc/app/ca.crt", "/etc/app/kube/config"], 2)))])]
    #[case::projected_token("/var/run/p/token", json!([{"name": "proj", "mountPath": "/var/run/p"}]), vec![])]
    #[case::projected_item("/var/run/p/config", json!([{"name": "proj", "mountPath": "/var/run/p"}]), vec![])]
    #[case::projected_not_listed("/var/run/p/kubeconfig", json!([{"name": "proj", "mountPath": "/var/run/p"}]),
        vec![not_projected("/var/run/p", "proj", VolumeSource::Projected, list(&["/var/run/p/config", "/var/run/p/token"], 2))])]
    #[case::projected_open_any_name("/var/run/p/kubeconfig", json!([{"name": "proj-open", "mountPath": "/var/run/p"}]), vec![])]
    #[case::projected_open_equal("/var/run/p", json!([{"name": "proj-open", "mountPath": "/var/run/p"}]),
        vec![is_dir("/var/run/p", "proj-open", VolumeSource::Projected, None)])]
    #[case::downward_listed("/etc/info/labels", json!([{"name": "downward", "mountPath": "/etc/info"}]), vec![])]
    #[case::downward_not_listed("/etc/info/config", json!([{"name": "downward", "mountPath": "/etc/info"}]),
        vec![not_projected("/etc/info", "downward", VolumeSource::DownwardApi, list(&["/etc/info/labels"], 1))])]
    #[case::empty_dir_equal("/scratch", json!([{"name": "scratch", "mountPath": "/scratch"}]),
        vec![is_dir("/scratch", "scratch", VolumeSource::Other, None)])]
    #[case::empty_dir_below("/scratch/kube/config", json!([{"name": "scratch", "mountPath": "/scratch"}]), vec![])]
    #[case::pvc_equal("/data", json!([{"name": "data", "mountPath": "/data"}]),
        vec![is_dir("/data", "data", VolumeSource::Other, None)])]
    #[case::pvc_below("/data/config", json!([{"name": "data", "mountPath": "/data"}]), vec![])]
    #[case::sub_path_of_items_volume("/etc/kube/config", json!([{"name": "cfg-items", "mountPath": "/etc/kube/config", "subPath": "kube/config"}]), vec![])]
    #[case::host_file_rule_first("/etc/kubernetes/admin.conf", json!([{"name": "host-file", "mountPath": "/etc/kubernetes/admin.conf"}]),
        vec![Reason::HostPath { mount_path: "/etc/kubernetes/admin.conf".into(), volume: "host-file".into(), host_path: "/etc/kubernetes/admin.conf".into() }])]
    #[case::deeper_file_mount_over_dir("/etc/app/kubeconfig", json!([
        {"name": "scratch", "mountPath": "/etc/app"}, {"name": "kubeconfig", "mountPath": "/etc/app/kubeconfig"}]),
        vec![is_dir("/etc/app/kubeconfig", "kubeconfig", VolumeSource::Secret { name: "kc".into() }, None)])]
    fn paths(#[case] value: &str, #[case] mounts: Value, #[case] expected: Vec<Reason>) {
        assert_eq!(reasons(value, mounts, &Settings::default()), expected);
    }

    /// With `allowHostPathVolumes`, the hostPath's type still decides what exists.
    #[rstest]
    #[case::file_equal("/etc/kubernetes/admin.conf", json!([{"name": "host-file", "mountPath": "/etc/kubernetes/admin.conf"}]), vec![])]
    #[case::file_below("/etc/kubernetes/admin.conf/config", json!([{"name": "host-file", "mountPath": "/etc/kubernetes/admin.conf"}]),
        vec![Reason::BelowFile { mount_path: "/etc/kubernetes/admin.conf".into(), volume: "host-file".into(),
            source: host_path("/etc/kubernetes/admin.conf", "File") }])]
    #[case::dir_equal("/etc/kubernetes", json!([{"name": "host-dir", "mountPath": "/etc/kubernetes"}]),
        vec![is_dir("/etc/kubernetes", "host-dir", host_path("/etc/kubernetes", "Directory"), None)])]
    #[case::dir_below("/etc/kubernetes/admin.conf", json!([{"name": "host-dir", "mountPath": "/etc/kubernetes"}]), vec![])]
    #[case::untyped_equal("/root/.kube", json!([{"name": "host-kube", "mountPath": "/root/.kube"}]), vec![])]
    #[case::untyped_below("/root/.kube/config", json!([{"name": "host-kube", "mountPath": "/root/.kube"}]), vec![])]
    #[case::file_sub_path("/k/config", json!([{"name": "host-dir", "mountPath": "/k/config", "subPath": "admin.conf"}]), vec![])]
    fn allowed_host_paths(
        #[case] value: &str,
        #[case] mounts: Value,
        #[case] expected: Vec<Reason>,
    ) {
        let settings = Settings {
            allow_host_path_volumes: true,
            ..Default::default()
        };
        assert_eq!(reasons(value, mounts, &settings), expected);
    }

    #[rstest]
    #[case::allowed_prefix("/opt/app/kube/config", vec![])]
    #[case::allowed_exact("/opt/app/kube", vec![])]
    #[case::allowed_boundary("/opt/app/kubex", vec![Reason::NotMounted])]
    fn allowed_paths(#[case] value: &str, #[case] expected: Vec<Reason>) {
        let settings = Settings {
            allowed_paths: vec!["/opt/app/kube".into()],
            ..Default::default()
        };
        assert_eq!(reasons(value, json!([]), &settings), expected);
    }

    #[test]
    fn allow_host_path_volumes() {
        let settings = Settings {
            allow_host_path_volumes: true,
            ..Default::default()
        };
        let mounts = json!([{"name": "host-kube", "mountPath": "/root/.kube"}]);
        assert_eq!(reasons("/root/.kube/config", mounts, &settings), vec![]);
    }

    #[test]
    fn watched_variables_come_from_settings() {
        let container = json!({"name": "app", "env": [
            {"name": "KUBECONFIG", "value": "/nope"}, {"name": "KUBE_CONFIG_PATH", "value": "/also/nope"}]});
        let settings = Settings {
            variables: vec!["KUBE_CONFIG_PATH".into()],
            ..Default::default()
        };
        let report = check(&pod(container, json!([])), &settings);
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.findings[0].variable, "KUBE_CONFIG_PATH");
    }

    #[test]
    fn windows_pods_are_not_checked() {
        let spec = read_pod_spec(
            "Pod",
            &json!({"spec": {"os": {"name": "windows"}, "containers": [with_env("C:\\k\\config", json!([]))]}}),
        )
        .unwrap();
        assert!(check(&spec, &Settings::default()).findings.is_empty());
    }

    #[test]
    fn unresolved_values_are_reported_separately() {
        let container = json!({"name": "app", "env": [
            {"name": "KUBECONFIG", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]});
        let report = check(&pod(container, json!([])), &Settings::default());
        assert!(report.findings.is_empty());
        assert_eq!(report.unresolved[0].source, "valueFrom.secretKeyRef");
        assert_eq!(
            describe_unresolved(&report.unresolved[0], "Pod ns/p"),
            "container \"app\" (Pod ns/p): KUBECONFIG comes from valueFrom.secretKeyRef and cannot be checked at admission"
        );
    }

    #[test]
    fn message_of_the_seed_scenario() {
        let container = json!({"name": "datastorage", "env": [
            {"name": "KUBECONFIG", "value": "/Users/jgil/.kube/gateway-e2e-config"}]});
        let report = check(&pod(container, json!([])), &Settings::default());
        assert_eq!(
            describe(
                &report.findings[0],
                "Deployment kubernaut-system/datastorage"
            ),
            "container \"datastorage\" (Deployment kubernaut-system/datastorage): KUBECONFIG path \"/Users/jgil/.kube/gateway-e2e-config\" is not inside any volumeMount, so it will not exist in the container; remove KUBECONFIG to use the in-cluster ServiceAccount config, or mount the kubeconfig from a Secret"
        );
    }

    /// The issue's input: a Secret volume mounted whole at the KUBECONFIG path.
    #[test]
    fn message_of_a_secret_directory() {
        let spec = read_pod_spec(
            "Deployment",
            &json!({"metadata": {"name": "app", "namespace": "shop"}, "spec": {"template": {"spec": {
                "containers": [{"name": "app", "image": "app:1",
                    "env": [{"name": "KUBECONFIG", "value": "/etc/app/kubeconfig"}],
                    "volumeMounts": [{"name": "kubeconfig", "mountPath": "/etc/app/kubeconfig", "readOnly": true}]}],
                "volumes": [{"name": "kubeconfig", "secret": {"secretName": "app-kubeconfig"}}]}}}}),
        )
        .unwrap();
        let report = check(&spec, &Settings::default());
        assert_eq!(report.findings.len(), 1);
        assert_eq!(
            describe(&report.findings[0], "Deployment shop/app"),
            r#"container "app" (Deployment shop/app): KUBECONFIG path "/etc/app/kubeconfig" is the directory where volume "kubeconfig" (Secret "app-kubeconfig") puts the Secret's keys, not a file: client-go fails with "is a directory"; point KUBECONFIG at "/etc/app/kubeconfig/<key>", or mount the key with subPath"#
        );
    }

    fn message(value: &str, mounts: Value, settings: &Settings) -> String {
        let report = check(&pod(with_env(value, mounts), volumes()), settings);
        describe(&report.findings[0], "Pod ns/p")
    }

    /// The wording of every reason (the seed's, `NotMounted`, and a
    /// Secret directory's are above; `BelowFile` below).
    #[rstest]
    #[case::host_path("/root/.kube/config", json!([{"name": "host-kube", "mountPath": "/root/.kube"}]),
        r#"container "app" (Pod ns/p): KUBECONFIG path "/root/.kube/config" is inside volumeMount "/root/.kube" of hostPath volume "host-kube" (node path "/home/me/.kube"), which injects the node's credentials into the container; mount the kubeconfig from a Secret instead, or remove KUBECONFIG to use the in-cluster ServiceAccount config"#)]
    #[case::not_absolute("kube/config", json!([]),
        r#"container "app" (Pod ns/p): KUBECONFIG path "kube/config" is not an absolute path, so it depends on the working directory and is not inside any volumeMount; remove KUBECONFIG to use the in-cluster ServiceAccount config, or mount the kubeconfig from a Secret and use its absolute path"#)]
    #[case::windows_path("C:\\Users\\me\\.kube\\config", json!([]),
        r#"container "app" (Pod ns/p): KUBECONFIG path "C:\\Users\\me\\.kube\\config" is a Windows path, which never exists in a Linux container; remove KUBECONFIG to use the in-cluster ServiceAccount config, or mount the kubeconfig from a Secret"#)]
    #[case::items_equal("/etc/app", json!([{"name": "cfg-items", "mountPath": "/etc/app"}]),
        r#"container "app" (Pod ns/p): KUBECONFIG path "/etc/app" is the directory where volume "cfg-items" (ConfigMap "ci") puts the items it lists, not a file: client-go fails with "is a directory"; point KUBECONFIG at one of "/etc/app/ca.crt", "/etc/app/kube/config""#)]
    #[case::items_parent("/etc/app/kube/", json!([{"name": "cfg-items", "mountPath": "/etc/app"}]),
        r#"container "app" (Pod ns/p): KUBECONFIG path "/etc/app/kube/" is a directory that volume "cfg-items" (ConfigMap "ci"), mounted at "/etc/app", creates for its items, not a file: client-go fails with "is a directory"; point KUBECONFIG at "/etc/app/kube/config""#)]
    #[case::not_projected("/var/run/p/kubeconfig", json!([{"name": "proj", "mountPath": "/var/run/p"}]),
        r#"container "app" (Pod ns/p): KUBECONFIG path "/var/run/p/kubeconfig" is inside volumeMount "/var/run/p", but no item of volume "proj" (projected) creates it, so it will not exist in the container; the volume creates only: "/var/run/p/config", "/var/run/p/token""#)]
    #[case::empty_dir("/scratch", json!([{"name": "scratch", "mountPath": "/scratch"}]),
        r#"container "app" (Pod ns/p): KUBECONFIG path "/scratch" is the directory where volume "scratch" puts its files, not a file: client-go fails with "is a directory"; point KUBECONFIG at the kubeconfig file inside it ("/scratch/<file>")"#)]
    fn messages_of_reasons(#[case] value: &str, #[case] mounts: Value, #[case] expected: &str) {
        assert_eq!(message(value, mounts, &Settings::default()), expected);
    }

    /// Init and ephemeral containers are named as such.
    #[rstest]
    #[case::init_container(
        "initContainers",
        r#"init container "app" (Pod ns/p): KUBECONFIG path "/nope""#
    )]
    #[case::ephemeral_container(
        "ephemeralContainers",
        r#"ephemeral container "app" (Pod ns/p): KUBECONFIG path "/nope""#
    )]
    fn container_kinds_are_named(#[case] list: &str, #[case] start: &str) {
        let mut spec = json!({"spec": {"containers": []}});
        spec["spec"][list] = json!([with_env("/nope", json!([]))]);
        let report = check(&read_pod_spec("Pod", &spec).unwrap(), &Settings::default());
        let message = describe(&report.findings[0], "Pod ns/p");
        assert!(message.starts_with(start), "{message}");
    }

    #[test]
    fn message_below_a_file() {
        let settings = Settings {
            allow_host_path_volumes: true,
            ..Default::default()
        };
        let mounts = json!([{"name": "host-file", "mountPath": "/etc/kubernetes/admin.conf"}]);
        assert_eq!(
            message("/etc/kubernetes/admin.conf/x", mounts, &settings),
            r#"container "app" (Pod ns/p): KUBECONFIG path "/etc/kubernetes/admin.conf/x" lies below volumeMount "/etc/kubernetes/admin.conf" of hostPath volume "host-file" of type File, which is a file, so nothing exists below it; point KUBECONFIG at "/etc/kubernetes/admin.conf" if that file is the kubeconfig"#
        );
    }

    #[test]
    fn long_file_lists_are_bounded_in_messages() {
        let items: Vec<Value> = (0..40)
            .map(|i| json!({"key": "k", "path": format!("{}{i:02}", "f".repeat(400))}))
            .collect();
        let spec = pod(
            with_env("/m/nope", json!([{"name": "many", "mountPath": "/m"}])),
            json!([{"name": "many", "secret": {"secretName": "s", "items": items}}]),
        );
        let report = check(&spec, &Settings::default());
        let text = describe(&report.findings[0], "Pod ns/p");
        assert!(text.ends_with(" (and 30 more)"), "{text}");
        assert!(text.len() < 4000, "{}", text.len());
    }

    #[test]
    fn removal_covers_mount_shape_findings() {
        let container = with_env(
            "/etc/kube",
            json!([{"name": "kubeconfig", "mountPath": "/etc/kube"}]),
        );
        let report = check(&pod(container.clone(), volumes()), &Settings::default());
        assert!(matches!(
            report.findings[0].reason,
            Reason::IsDirectory { .. }
        ));
        let mut spec = json!({"containers": [container]});
        let notes = remove_offending(&mut spec, &report.findings);
        assert_eq!(notes.len(), 1);
        assert_eq!(spec["containers"][0]["env"], json!([]));
    }

    #[test]
    fn expanded_values_name_what_was_written() {
        let container = json!({"name": "app", "env": [
            {"name": "HOME", "value": "/home/me"}, {"name": "KUBECONFIG", "value": "$(HOME)/.kube/config"}]});
        let report = check(&pod(container, json!([])), &Settings::default());
        let message = describe(&report.findings[0], "Pod ns/p");
        assert!(
            message
                .contains(r#"path "/home/me/.kube/config" (expanded from "$(HOME)/.kube/config")"#),
            "{message}"
        );
    }

    #[test]
    fn long_values_are_clipped_in_messages() {
        let long = format!("/x/{}", "a".repeat(5000));
        let container = json!({"name": "app", "env": [
            {"name": "D", "value": long}, {"name": "KUBECONFIG", "value": "$(D)/c"}]});
        let report = check(&pod(container, json!([])), &Settings::default());
        let message = describe(&report.findings[0], "Pod ns/p");
        assert!(message.len() < 1200, "{}", message.len());
        assert!(
            message.contains("… (5005 bytes)\" (expanded from \"$(D)/c\")"),
            "{message}"
        );
    }

    #[test]
    fn removal_keeps_everything_else() {
        let mut spec = json!({"containers": [{"name": "app", "futureField": {"keep": true}, "env": [
            {"name": "A", "value": "1"}, {"name": "KUBECONFIG", "value": "/x"},
            {"name": "KUBECONFIG", "value": "/y"}, {"name": "B", "value": "2"}]}],
            "unknownPodField": [1, 2]});
        let findings = vec![Finding {
            container_kind: ContainerKind::Container,
            container_index: 0,
            container: "app".into(),
            variable: "KUBECONFIG".into(),
            written: None,
            origin: None,
            path: "/y".into(),
            reason: Reason::NotMounted,
        }];
        let removed = remove_offending(&mut spec, &findings);
        assert_eq!(
            removed,
            [Removed {
                container_kind: ContainerKind::Container,
                container: "app".into(),
                variable: "KUBECONFIG".into(),
            }]
        );
        assert_eq!(
            crate::messages::kubeconfig::removed(&removed[0], "Pod ns/p"),
            r#"container "app" (Pod ns/p): removed KUBECONFIG, whose path would not work in the container; the client falls back to the in-cluster ServiceAccount config"#
        );
        assert_eq!(
            spec,
            json!({"containers": [{"name": "app", "futureField": {"keep": true}, "env": [
                {"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}],
                "unknownPodField": [1, 2]})
        );
    }
}
