//! The compiled policy through `dangling-references run` (what `make
//! run-examples` and docs/cli.md use; formerly `kwrun`): its output and exit
//! codes on requests, settings and replay sessions of `test_data/`.

// The helpers of e2e/tests/policy_support are written against the host's
// API under the name `e2e`.
extern crate dangling_references as e2e;

#[path = "../../e2e/tests/policy_support/mod.rs"]
mod policy_support;

use std::process::{Command, Output};

use base64::Engine as _;
use policy_support::*;
use serde_json::Value;

/// One `dangling-references run` on files of `test_data/`.
struct Run {
    name: &'static str,
    request: &'static str,
    settings: Option<&'static str>,
    /// A file of `test_data/sessions/`.
    replay: Option<&'static str>,
    extra: &'static [&'static str],
    exit: i32,
    /// `Some(accepted)`: stdout is the verdict; `None`: stdout is empty.
    accepted: Option<bool>,
    /// Part of stdout (the pretty-printed ValidationResponse, or with
    /// `--admission-response` the AdmissionResponse).
    stdout: &'static str,
    /// Part of stderr.
    stderr: &'static str,
}

/// The seed message by its identity, as the pretty-printed JSON writes it
/// (its full text is asserted in `kubeconfig_check`'s unit tests).
const SEED_WORKLOAD: &str = r#"container \"datastorage\" (Deployment kubernaut-system/datastorage): KUBECONFIG path \"/Users/jgil/.kube/gateway-e2e-config\" is not inside any volumeMount"#;

const RUN: Run = Run {
    name: "",
    request: "",
    settings: None,
    replay: None,
    extra: &[],
    exit: 0,
    accepted: None,
    stdout: "",
    stderr: "",
};

#[rustfmt::skip]
const RUNS: &[Run] = &[
    Run { name: "seed ConfigMap, Service missing from the session",
        request: "configmap_dangling_service.json", replay: Some("services-data-storage-8080.yml"),
        extra: &["--strict-replay"], accepted: Some(false),
        stdout: r#"names Service \"datastorage\" in namespace \"kubernaut-system\", which does not exist; did you mean \"data-storage-service\"?"#,
        stderr: r#"host call: kubewarden/kubernetes/list_resources_by_namespace {"api_version":"v1","field_masks":["metadata.name","spec.clusterIP","spec.ports.name","spec.ports.port","spec.ports.protocol","spec.type"],"field_selector":null,"kind":"Service","label_selector":null,"namespace":"kubernaut-system"}"#,
        ..RUN },
    Run { name: "fixed ConfigMap, Service on 8080",
        request: "configmap_service_exists.json", replay: Some("services-data-storage-8080.yml"),
        extra: &["--strict-replay"], accepted: Some(true), ..RUN },
    Run { name: "fixed ConfigMap, Service on 8081/9181 only",
        request: "configmap_service_exists.json", replay: Some("services-data-storage-8081-only.yml"),
        accepted: Some(false), stdout: "but port 8080 is not exposed: the Service exposes only port(s) 8081, 9181", ..RUN },
    Run { name: "host error",
        request: "configmap_service_exists.json", replay: Some("services-host-error.yml"),
        accepted: Some(false), stdout: "cannot verify the Services", stderr: "-> error: Callback evaluation failure: Cannot list v1/Service", ..RUN },
    Run { name: "host error with onLookupError allow",
        request: "configmap_service_exists.json", replay: Some("services-host-error.yml"),
        settings: Some("settings_lookup_error_allow.json"), accepted: Some(true), stdout: "cannot verify the Services", ..RUN },
    Run { name: "ConfigMap without a session",
        request: "configmap_dangling_service.json", exit: 2,
        stderr: "policy made an unexpected host call kubewarden/kubernetes/list_resources_by_namespace", ..RUN },
    Run { name: "seed Deployment",
        request: "deployment_kubeconfig_host_path.json", accepted: Some(false), stdout: SEED_WORKLOAD, ..RUN },
    Run { name: "Deployment without KUBECONFIG",
        request: "deployment_kubeconfig_removed.json", accepted: Some(true), ..RUN },
    Run { name: "unknown settings",
        request: "deployment_kubeconfig_removed.json", settings: Some("settings_invalid_unknown_field.json"), exit: 1,
        stderr: "Error: Provided settings are not valid: invalid settings: unknown field `variable`", ..RUN },
    Run { name: "invalid setting values",
        request: "deployment_kubeconfig_removed.json", settings: Some("settings_invalid_values.json"), exit: 1,
        stderr: r#"Error: Provided settings are not valid: variables: "1BAD" is not a valid environment variable name"#, ..RUN },
    Run { name: "workload: every lookup, in order",
        request: "deployment_gateway_consumes_config.json", settings: Some("settings_secret_references.json"),
        replay: Some("workload/gateway-every-lookup.yml"), extra: &["--strict-replay"], accepted: Some(true),
        stderr: r#"host call: kubewarden/kubernetes/list_resources_by_namespace {"api_version":"v1","field_masks":["metadata.name"],"field_selector":null,"kind":"Secret","label_selector":null,"namespace":"kubernaut-system"}"#,
        ..RUN },
    Run { name: "workload: a recorded not-found is a missing ConfigMap",
        request: "deployment_config_map_missing.json", settings: Some("settings_workload_references.json"),
        replay: Some("workload/notification-settings-missing.yml"), extra: &["--strict-replay"], accepted: Some(false),
        stdout: r#"ConfigMap \"notification-settings\" does not exist in namespace \"kubernaut-system\""#,
        stderr: r#"host call: kubewarden/kubernetes/get_resource {"api_version":"v1","disable_cache":false,"field_masks":["binaryData","data","metadata.name"],"kind":"ConfigMap","name":"notification-settings","namespace":"kubernaut-system"} -> error: Callback evaluation failure: Cannot find v1/ConfigMap named 'notification-settings' inside of namespace 'Some("kubernaut-system")'"#,
        ..RUN },
    Run { name: "workload: the default ServiceAccount needs no host",
        request: "job_service_account_default.json", settings: Some("settings_workload_references.json"),
        accepted: Some(true), ..RUN },
    Run { name: "graph: a binding's ServiceAccounts by namespace, then every ClusterRole (list_resources_all)",
        request: "clusterrolebinding_subject_missing.json", replay: Some("graph/ci-ops-deployers.yml"),
        extra: &["--strict-replay"], accepted: Some(true),
        stdout: r#"ClusterRoleBinding deployers, subjects[1]: ServiceAccount \"gitlab-runner\" does not exist in namespace \"ci\""#,
        stderr: r#"host call: kubewarden/kubernetes/list_resources_all {"api_version":"rbac.authorization.k8s.io/v1","field_masks":["metadata.name"],"field_selector":null,"kind":"ClusterRole","label_selector":null}"#,
        ..RUN },
    Run { name: "graph: a recorded list_resources_all error only warns for a binding",
        request: "clusterrolebinding_role_exists.json", replay: Some("graph/ci-ops-deployers-cluster-roles-forbidden.yml"),
        extra: &["--strict-replay"], accepted: Some(true),
        stdout: "cannot verify the ClusterRoles it references: error invoking host capability kubernetes.list_resources_all",
        stderr: "-> error: Callback evaluation failure: Cannot list rbac.authorization.k8s.io/v1/ClusterRole",
        ..RUN },
    Run { name: "graph: a webhook Service missing from the session",
        request: "validatingwebhook_service_missing.json", replay: Some("graph/cert-manager-webhook.yml"),
        extra: &["--strict-replay"], accepted: Some(false),
        stdout: r#"Service \"cert-manager-webhok\" does not exist in namespace \"cert-manager\" (did you mean \"cert-manager-webhook\"?)"#,
        ..RUN },
    Run { name: "unsupported kind",
        request: "service_unsupported_kind.json", accepted: Some(false), stdout: "not Service; check the rules of the policy", ..RUN },
];

fn run_cli(run: &Run) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dangling-references"));
    cmd.arg("run")
        .arg("--policy")
        .arg(policy_path())
        .arg("--request")
        .arg(test_data(run.request));
    if let Some(settings) = run.settings {
        cmd.arg("--settings").arg(test_data(settings));
    }
    if let Some(session) = run.replay {
        cmd.arg("--replay")
            .arg(test_data(&format!("sessions/{session}")));
    }
    cmd.args(run.extra)
        .output()
        .expect("dangling-references runs")
}

#[test]
fn run_cases() {
    run_table(RUNS, |r| r.name, check_run);
}

fn check_run(run: &Run) {
    let name = run.name;
    let out = run_cli(run);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(out.status.code(), Some(run.exit), "{name}: {all}");
    match run.accepted {
        Some(accepted) => {
            let verdict: Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("{name}: stdout is not JSON ({e}): {all}"));
            assert_eq!(verdict["accepted"], accepted, "{name}: {all}");
        }
        None => assert!(stdout.is_empty(), "{name}: {all}"),
    }
    assert!(
        stdout.contains(run.stdout),
        "{name}: stdout lacks {:?}: {all}",
        run.stdout
    );
    assert!(
        stderr.contains(run.stderr),
        "{name}: stderr lacks {:?}: {all}",
        run.stderr
    );
    // every exchange of the session was replayed
    assert!(!stderr.contains("have not been replayed"), "{name}: {all}");
}

/// `--admission-response` prints what kwctl prints: with
/// `removeOffendingVariables`, a base64 JSONPatch removing the variable.
#[test]
fn run_prints_the_patch() {
    let run = Run {
        name: "remove offending variable",
        request: "deployment_kubeconfig_host_path.json",
        settings: Some("settings_remove_offending.json"),
        extra: &["--admission-response"],
        ..RUN
    };
    let out = run_cli(&run);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let response: Value = serde_json::from_slice(&out.stdout).unwrap();
    let uid = &read_json(run.request)["request"]["uid"];
    assert_eq!(&response["uid"], uid, "{response}");
    assert_eq!(response["allowed"], true, "{response}");
    assert_eq!(response["patchType"], "JSONPatch", "{response}");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().unwrap())
        .unwrap();
    let patch: Value = serde_json::from_slice(&patch).unwrap();
    assert_eq!(
        patch,
        serde_json::json!([{"op": "remove", "path": "/spec/template/spec/containers/0/env/2"}])
    );
    let warnings = response["warnings"].as_array().unwrap();
    assert!(
        warnings[0].as_str().unwrap().contains("removed KUBECONFIG"),
        "{response}"
    );
}
