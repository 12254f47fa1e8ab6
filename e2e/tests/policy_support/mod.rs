//! Shared by the tests of the compiled policy (`policy.rs`, and
//! `cli/tests/run_examples.rs`, which includes this file): the module
//! loaded once, the fixtures of `test_data/`, table runs.
#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::OnceLock;

use e2e::{Evaluation, Policy, ReplaySession};
use serde_json::{Value, json};

/// The compiled policy, loaded (and compiled by wasmtime) once per test
/// binary.
pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let wasm = policy_path();
        Policy::load(&wasm).unwrap_or_else(|e| panic!("{}: {e:#}", wasm.display()))
    })
}

/// `e2e::policy_wasm()`, built if needed.
pub fn policy_path() -> PathBuf {
    e2e::policy_wasm().unwrap_or_else(|e| panic!("no compiled policy: {e:#}"))
}

/// A file of `test_data/`.
pub fn test_data(name: &str) -> PathBuf {
    e2e::repository_root().join("test_data").join(name)
}

/// A JSON file of `test_data/`.
pub fn read_json(name: &str) -> Value {
    let path = test_data(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Settings as the fixture tables write them: `""` is `{}`, a name ending in
/// `.json` is a file of `test_data/`, anything else inline JSON.
pub fn settings_value(spec: &str) -> Value {
    match spec {
        "" => json!({}),
        file if file.ends_with(".json") => read_json(file),
        inline => serde_json::from_str(inline).unwrap_or_else(|e| panic!("{inline}: {e}")),
    }
}

/// A session of `test_data/sessions/`.
pub fn session(name: &str) -> ReplaySession {
    ReplaySession::from_file(test_data(&format!("sessions/{name}")))
        .unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

/// Every session file of `test_data/sessions/` and its subdirectories, as
/// paths relative to it (`workload/gateway-every-lookup.yml`), sorted.
pub fn session_files() -> Vec<String> {
    fn walk(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("test_data/sessions/") {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else if name.ends_with(".yml") || name.ends_with(".yaml") {
                out.push(name);
            }
        }
    }
    let mut names = Vec::new();
    walk(&test_data("sessions"), "", &mut names);
    names.sort();
    names
}

fn json_files(settings: bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(e2e::repository_root().join("test_data"))
        .expect("test_data/")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n.starts_with("settings_") == settings)
        .collect();
    names.sort();
    names
}

/// The request fixtures: `test_data/*.json` but `settings_*.json`.
pub fn request_fixtures() -> Vec<String> {
    json_files(false)
}

/// `test_data/settings_*.json`.
pub fn settings_fixtures() -> Vec<String> {
    json_files(true)
}

/// Runs `check` on every row, then fails naming the rows that failed (each
/// failure's panic message is printed as it happens).
pub fn run_table<T>(rows: &[T], name: impl Fn(&T) -> &str, check: impl Fn(&T)) {
    let failed: Vec<&str> = rows
        .iter()
        .filter(|row| catch_unwind(AssertUnwindSafe(|| check(row))).is_err())
        .map(&name)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} rows failed: {failed:?}",
        failed.len(),
        rows.len()
    );
}

/// The fields of a Service the policy asks for (`src/service_lookup.rs`).
pub const SERVICE_FIELD_MASKS: &[&str] = &[
    "metadata.name",
    "spec.clusterIP",
    "spec.ports.name",
    "spec.ports.port",
    "spec.ports.protocol",
    "spec.type",
];
/// The fields of a ConfigMap the workload check asks for (`src/object_lookup.rs`).
pub const CONFIG_MAP_FIELD_MASKS: &[&str] = &["binaryData", "data", "metadata.name"];
/// The fields of a ServiceAccount the workload check asks for.
pub const SERVICE_ACCOUNT_FIELD_MASKS: &[&str] = &["metadata.name"];
/// The fields of a Secret the workload check asks for: names only.
pub const SECRET_FIELD_MASKS: &[&str] = &["metadata.name"];
/// The fields the reference graph asks for when it lists any kind but
/// Services (`src/object_lookup.rs`, `list_names_request`): names only.
pub const NAME_FIELD_MASKS: &[&str] = &["metadata.name"];

/// One host call the policy is expected to make, with the exact payload
/// the SDK sends for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `list_resources_by_namespace` of `v1/Service` in a namespace.
    Services(&'static str),
    /// `list_resources_by_namespace` of `v1/Secret` (names only) in a namespace.
    Secrets(&'static str),
    /// `get_resource` of `v1/ConfigMap` `(namespace, name)`.
    ConfigMap(&'static str, &'static str),
    /// `get_resource` of `v1/ServiceAccount` `(namespace, name)`.
    ServiceAccount(&'static str, &'static str),
    /// `list_resources_by_namespace` of `api_version/kind` in `namespace`,
    /// names only (the reference graph's listings but Services).
    Names {
        api_version: &'static str,
        kind: &'static str,
        namespace: &'static str,
    },
    /// `list_resources_all` of the cluster-scoped `api_version/kind`, names
    /// only (a session's `!KubernetesListResourceAll`).
    AllNames {
        api_version: &'static str,
        kind: &'static str,
    },
    /// Any other `kubewarden/kubernetes/<operation>` call with this JSON payload.
    Other {
        operation: &'static str,
        payload: &'static str,
    },
}

impl Call {
    /// `kubewarden/kubernetes/<operation>`.
    pub fn path(&self) -> String {
        let operation = match self {
            Call::Services(_) | Call::Secrets(_) | Call::Names { .. } => {
                "list_resources_by_namespace"
            }
            Call::AllNames { .. } => "list_resources_all",
            Call::ConfigMap(..) | Call::ServiceAccount(..) => "get_resource",
            Call::Other { operation, .. } => operation,
        };
        format!("kubewarden/kubernetes/{operation}")
    }

    /// The JSON payload the SDK sends.
    pub fn payload(&self) -> Value {
        match *self {
            Call::Services(ns) => list_payload("Service", ns, SERVICE_FIELD_MASKS),
            Call::Secrets(ns) => list_payload("Secret", ns, SECRET_FIELD_MASKS),
            Call::ConfigMap(ns, name) => get_payload("ConfigMap", ns, name, CONFIG_MAP_FIELD_MASKS),
            Call::ServiceAccount(ns, name) => {
                get_payload("ServiceAccount", ns, name, SERVICE_ACCOUNT_FIELD_MASKS)
            }
            Call::Names {
                api_version,
                kind,
                namespace,
            } => json!({
                "api_version": api_version,
                "kind": kind,
                "namespace": namespace,
                "label_selector": null,
                "field_selector": null,
                "field_masks": NAME_FIELD_MASKS,
            }),
            Call::AllNames { api_version, kind } => json!({
                "api_version": api_version,
                "kind": kind,
                "label_selector": null,
                "field_selector": null,
                "field_masks": NAME_FIELD_MASKS,
            }),
            Call::Other { payload, .. } => {
                serde_json::from_str(payload).unwrap_or_else(|e| panic!("{payload}: {e}"))
            }
        }
    }
}

fn list_payload(kind: &str, namespace: &str, masks: &[&str]) -> Value {
    json!({
        "api_version": "v1",
        "kind": kind,
        "namespace": namespace,
        "label_selector": null,
        "field_selector": null,
        "field_masks": masks,
    })
}

fn get_payload(kind: &str, namespace: &str, name: &str, masks: &[&str]) -> Value {
    json!({
        "api_version": "v1",
        "kind": kind,
        "name": name,
        "namespace": namespace,
        "disable_cache": false,
        "field_masks": masks,
    })
}

/// The payload the policy sends to list the Services of `namespace`: no
/// selectors, field masks limited to what the check reads.
pub fn list_services_payload(namespace: &str) -> Value {
    list_payload("Service", namespace, SERVICE_FIELD_MASKS)
}

/// The evaluation made exactly the host calls of `calls`, in that order,
/// with exactly these payloads, and no other host call.
pub fn assert_calls(name: &str, eval: &Evaluation, calls: &[Call]) {
    let got: Vec<(String, &Value)> = eval
        .host_calls
        .iter()
        .map(|c| (c.path(), &c.payload))
        .collect();
    let want_payloads: Vec<Value> = calls.iter().map(Call::payload).collect();
    let want: Vec<(String, &Value)> = calls
        .iter()
        .zip(&want_payloads)
        .map(|(c, p)| (c.path(), p))
        .collect();
    assert_eq!(got, want, "{name}: host calls");
}

/// The evaluation made exactly one `list_resources_by_namespace` of
/// Services per namespace of `namespaces`, in that order, and no other
/// host call.
pub fn assert_lookups(name: &str, eval: &Evaluation, namespaces: &[&str]) {
    let got: Vec<(String, &Value)> = eval
        .host_calls
        .iter()
        .map(|c| (c.path(), &c.payload))
        .collect();
    let want_payloads: Vec<Value> = namespaces
        .iter()
        .map(|ns| list_services_payload(ns))
        .collect();
    let want: Vec<(String, &Value)> = want_payloads
        .iter()
        .map(|p| {
            (
                "kubewarden/kubernetes/list_resources_by_namespace".to_owned(),
                p,
            )
        })
        .collect();
    assert_eq!(got, want, "{name}: host calls");
}
