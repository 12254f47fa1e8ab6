//! Shared by the tests of the compiled policy (`policy.rs`,
//! `policy_kwrun.rs`): the module loaded once, the fixtures of `test_data/`,
//! table runs.
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

/// Settings as `src/tests.rs` writes them: `""` is `{}`, a name ending in
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

/// The payload the policy sends to list the Services of `namespace`: no
/// selectors, field masks limited to what the check reads.
pub fn list_services_payload(namespace: &str) -> Value {
    json!({
        "api_version": "v1",
        "kind": "Service",
        "namespace": namespace,
        "label_selector": null,
        "field_selector": null,
        "field_masks": ["metadata.name", "spec.clusterIP", "spec.ports.port", "spec.type"],
    })
}

/// The evaluation made exactly one `list_resources_by_namespace` per
/// namespace of `namespaces`, in that order, and no other host call.
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
