//! Check 1: every path in a container's KUBECONFIG (or other watched
//! variable) must exist in the container, i.e. lie inside one of its
//! volumeMounts (or an allowed, image-baked path), and must not come from a
//! hostPath volume, which would inject the node's credentials.

use serde_json::Value;

use crate::env_expansion::{EffectiveValue, effective_env};
use crate::messages;
use crate::settings::Settings;
use crate::workload::{ContainerKind, ContainerView, PodSpecView};

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
    pub path: String,
    pub reason: Reason,
}

/// A variable the policy cannot evaluate at admission (`valueFrom` etc.).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub container_kind: ContainerKind,
    pub container: String,
    pub variable: String,
    pub source: String,
}

/// Everything the check found in one Pod spec.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub unresolved: Vec<Unresolved>,
}

/// Checks every container of `spec`.
pub fn check(spec: &PodSpecView, settings: &Settings) -> Report {
    let mut report = Report::default();
    if spec.is_windows() {
        return report;
    }
    for (kind, index, container) in spec.all_containers() {
        let env = effective_env(&container.env, !container.env_from.is_empty());
        for variable in &settings.variables {
            match env.get(variable.as_str()) {
                None => {}
                Some(EffectiveValue::Unresolved { source }) => {
                    report.unresolved.push(Unresolved {
                        container_kind: kind,
                        container: container.name.clone(),
                        variable: variable.clone(),
                        source: source.clone(),
                    });
                }
                Some(EffectiveValue::Known { value, written }) => {
                    let written = (written != value).then(|| written.clone());
                    for (path, reason) in offending_paths(value, spec, container, settings) {
                        report.findings.push(Finding {
                            container_kind: kind,
                            container_index: index,
                            container: container.name.clone(),
                            variable: variable.clone(),
                            written: written.clone(),
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
fn offending_paths(
    value: &str,
    spec: &PodSpecView,
    container: &ContainerView,
    settings: &Settings,
) -> Vec<(String, Reason)> {
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
        .filter_map(|path| {
            path_problem(path, spec, container, settings).map(|r| (path.to_string(), r))
        })
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

fn path_problem(
    path: &str,
    spec: &PodSpecView,
    container: &ContainerView,
    settings: &Settings,
) -> Option<Reason> {
    if !path.starts_with('/') {
        return Some(Reason::NotAbsolute);
    }
    let path = clean_path(path);
    let mount = container
        .volume_mounts
        .iter()
        .map(|m| (clean_path(&m.mount_path), m))
        .filter(|(mount_path, m)| {
            if m.has_sub_path() {
                *mount_path == path
            } else {
                is_within(&path, mount_path)
            }
        })
        .max_by_key(|(mount_path, _)| mount_path.len());
    match mount {
        Some((mount_path, m)) => match spec.volume(&m.name).and_then(|v| v.host_path.as_ref()) {
            Some(host) if !settings.allow_host_path_volumes => Some(Reason::HostPath {
                mount_path,
                volume: m.name.clone(),
                host_path: host.path.clone(),
            }),
            _ => None,
        },
        None if settings
            .allowed_paths
            .iter()
            .any(|allowed| is_within(&path, &clean_path(allowed))) =>
        {
            None
        }
        None => Some(Reason::NotMounted),
    }
}

/// True when `path` is `base` or below it, on a path-component boundary.
fn is_within(path: &str, base: &str) -> bool {
    base == "/"
        || path == base
        || (path.len() > base.len()
            && path.starts_with(base)
            && path.as_bytes()[base.len()] == b'/')
}

/// Lexically cleans an absolute path: no `.`, `..`, repeated or trailing `/`.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut cleaned = String::with_capacity(path.len());
    for p in &parts {
        cleaned.push('/');
        cleaned.push_str(p);
    }
    if cleaned.is_empty() {
        cleaned.push('/');
    }
    cleaned
}

/// Removes every `env` entry of an offending variable from the containers
/// named in `findings`, editing the request's JSON so that every other field
/// (including ones this policy does not know) is kept as it was. Returns one
/// line per removed variable.
pub fn remove_offending(pod_spec: &mut Value, findings: &[Finding], workload: &str) -> Vec<String> {
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
            notes.push(messages::kubeconfig::removed(
                kind, container, variable, workload,
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::kubeconfig::{describe, describe_unresolved};
    use crate::workload::read_pod_spec;
    use rstest::rstest;
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
            {"name": "cfg", "configMap": {"name": "c"}}
        ])
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
    #[case::sub_path_not_a_dir("/etc/kube/config/x", json!([{"name": "kubeconfig", "mountPath": "/etc/kube/config", "subPath": "config"}]), vec![Reason::NotMounted])]
    #[case::sub_path_expr("/etc/kube/c", json!([{"name": "kubeconfig", "mountPath": "/etc/kube", "subPathExpr": "$(POD)"}]), vec![Reason::NotMounted])]
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
    fn paths(#[case] value: &str, #[case] mounts: Value, #[case] expected: Vec<Reason>) {
        assert_eq!(reasons(value, mounts, &Settings::default()), expected);
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
            path: "/y".into(),
            reason: Reason::NotMounted,
        }];
        let notes = remove_offending(&mut spec, &findings, "Pod ns/p");
        assert_eq!(notes.len(), 1);
        assert_eq!(
            spec,
            json!({"containers": [{"name": "app", "futureField": {"keep": true}, "env": [
                {"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}],
                "unknownPodField": [1, 2]})
        );
    }
}
