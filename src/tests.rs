//! The policy end to end (natively), one case per `test_data/` fixture.

use rstest::rstest;
use serde_json::{Value, json};

use super::*;
use crate::object_lookup::MockObjectSource;
use crate::service_lookup::{MockServiceSource, ServiceInfo};

/// The policy with `services` answering Service lookups; any other host
/// call fails the test.
fn evaluate(payload: &[u8], services: &dyn ServiceSource) -> ValidationResponse {
    crate::evaluate(
        payload,
        &Host {
            services,
            objects: &MockObjectSource::new(),
        },
    )
}

fn read_json(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/test_data/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The AdmissionRequest of a fixture (an AdmissionReview or a bare request).
fn request(fixture: &str) -> Value {
    let doc = read_json(fixture);
    match doc.get("request") {
        Some(request) => request.clone(),
        None => doc,
    }
}

fn payload(request: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap()
}

/// The kubernaut-system namespace with data-storage-service on 8081/9181.
fn cluster() -> MockServiceSource {
    let mut source = MockServiceSource::new();
    source.expect_services_in().returning(|ns| {
        Ok(match ns {
            "kubernaut-system" => vec![
                ServiceInfo {
                    name: "data-storage-service".into(),
                    ports: vec![8081, 9181],
                    ..Default::default()
                },
                ServiceInfo {
                    name: "redis-master".into(),
                    ports: vec![6379],
                    ..Default::default()
                },
                ServiceInfo {
                    name: "holmesgpt-service".into(),
                    ports: vec![8090],
                    ..Default::default()
                },
            ],
            _ => Vec::new(),
        })
    });
    source
}

/// A source that fails the test if the policy asks it anything.
fn no_host() -> MockServiceSource {
    MockServiceSource::new()
}

fn evaluate_fixture(
    fixture: &str,
    settings: &str,
    source: &dyn ServiceSource,
) -> ValidationResponse {
    let settings = match settings {
        "" => json!({}),
        file if file.ends_with(".json") => read_json(file),
        inline => serde_json::from_str(inline).unwrap(),
    };
    evaluate(&payload(&request(fixture), &settings), source)
}

#[rstest]
// The seed scenario and its two fixes.
#[case::seed("deployment_kubeconfig_host_path.json", "", false,
    r#"container "datastorage" (Deployment kubernaut-system/datastorage): KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" is not inside any volumeMount, so it will not exist in the container; remove KUBECONFIG to use the in-cluster ServiceAccount config, or mount the kubeconfig from a Secret"#)]
#[case::removed("deployment_kubeconfig_removed.json", "", true, "")]
#[case::secret_mount("deployment_kubeconfig_secret_mount.json", "", true, "")]
// Every workload kind.
#[case::statefulset(
    "statefulset_kubeconfig_host_path.json",
    "",
    false,
    "(StatefulSet kubernaut-system/datastorage)"
)]
#[case::daemonset(
    "daemonset_kubeconfig_host_path.json",
    "",
    false,
    "(DaemonSet kubernaut-system/datastorage)"
)]
#[case::replicaset(
    "replicaset_kubeconfig_host_path.json",
    "",
    false,
    "(ReplicaSet kubernaut-system/datastorage)"
)]
#[case::job(
    "job_kubeconfig_host_path.json",
    "",
    false,
    "(Job kubernaut-system/datastorage)"
)]
#[case::cronjob(
    "cronjob_kubeconfig_host_path.json",
    "",
    false,
    "(CronJob kubernaut-system/datastorage)"
)]
#[case::replication_controller(
    "replicationcontroller_kubeconfig_host_path.json",
    "",
    false,
    "(ReplicationController kubernaut-system/datastorage)"
)]
// Every container kind.
#[case::init_container("pod_init_container_kubeconfig.json", "", false,
    r#"init container "wait-for-api" (Pod kubernaut-system/migrate-7f9c): KUBECONFIG path "/home/runner/.kube/config""#)]
#[case::ephemeral_container("pod_ephemeral_container_kubeconfig.json", "", false,
    r#"ephemeral container "debugger-8xz2k" (Pod kubernaut-system/gateway-6d9f7c9b8-x2lkq): KUBECONFIG path "/root/.kube/config""#)]
// Value semantics.
#[case::later_duplicate_wins("deployment_kubeconfig_duplicate_later_wins.json", "", true, "")]
#[case::expansion("deployment_kubeconfig_expansion.json", "", false,
    r#"KUBECONFIG path "/home/jgil/.kube/gateway-e2e-config" (expanded from "$(HOME)/.kube/gateway-e2e-config")"#)]
#[case::list_one_bad_path(
    "deployment_kubeconfig_list.json",
    "",
    false,
    r#"KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" is not inside"#
)]
#[case::sub_path("deployment_kubeconfig_subpath.json", "", true, "")]
#[case::windows(
    "deployment_kubeconfig_windows.json",
    "",
    false,
    "is a Windows path, which never exists in a Linux container"
)]
#[case::empty_means_in_cluster("deployment_kubeconfig_empty.json", "", true, "")]
#[case::value_from("deployment_kubeconfig_value_from.json", "", true, "")]
// Volumes and settings.
#[case::host_path_volume("deployment_kubeconfig_hostpath_volume.json", "", false,
    r#"is inside volumeMount "/root/.kube" of hostPath volume "host-kube" (node path "/home/runner/.kube"), which injects the node's credentials"#)]
#[case::host_path_allowed(
    "deployment_kubeconfig_hostpath_volume.json",
    "settings_allow_host_path.json",
    true,
    ""
)]
#[case::image_path_rejected(
    "deployment_kubeconfig_image_path.json",
    "",
    false,
    "/opt/datastorage/kubeconfig"
)]
#[case::image_path_allowed(
    "deployment_kubeconfig_image_path.json",
    "settings_allowed_paths.json",
    true,
    ""
)]
#[case::other_variable_only(
    "deployment_kubeconfig_host_path.json",
    r#"{"variables":["KUBE_CONFIG_PATH"]}"#,
    true,
    ""
)]
// Malformed and unexpected requests.
#[case::pod_without_spec(
    "pod_without_spec.json",
    "",
    false,
    "Pod kubernaut-system/no-spec: the Pod has no Pod spec at spec"
)]
#[case::unsupported_kind(
    "service_unsupported_kind.json",
    "",
    false,
    "not Service; check the rules of the policy"
)]
#[case::invalid_settings(
    "deployment_kubeconfig_removed.json",
    "settings_invalid_unknown_field.json",
    false,
    "the policy is misconfigured: invalid settings: unknown field `variable`"
)]
fn workloads(
    #[case] fixture: &str,
    #[case] settings: &str,
    #[case] accepted: bool,
    #[case] message_part: &str,
) {
    let response = evaluate_fixture(fixture, settings, &no_host());
    assert_eq!(response.accepted, accepted, "{fixture}: {response:?}");
    assert!(response.mutated_object.is_none());
    if !accepted {
        let message = response.message.unwrap_or_default();
        assert!(message.contains(message_part), "{fixture}: {message}");
    }
}

#[rstest]
#[case::seed_missing_service("configmap_dangling_service.json", "", false,
    r#"ConfigMap kubernaut-system/gateway-config, key "config.yaml": "http://datastorage.kubernaut-system.svc.cluster.local:8080" names Service "datastorage" in namespace "kubernaut-system", which does not exist; did you mean "data-storage-service"?"#)]
#[case::fixed_name_wrong_port(
    "configmap_service_exists.json",
    "",
    false,
    "but port 8080 is not exposed: the Service exposes only port(s) 8081, 9181"
)]
#[case::ports_not_checked("configmap_service_exists.json", r#"{"checkPorts":false}"#, true, "")]
#[case::warn_action("configmap_dangling_service.json", "settings_warn.json", true, "")]
#[case::update_keeps_old_reference("configmap_update_old_reference.json", "", true, "")]
#[case::update_adds_reference(
    "configmap_update_new_reference.json",
    "",
    false,
    r#"names Service "datastorage""#
)]
#[case::delete("configmap_delete.json", "", true, "")]
#[case::short_names_off("configmap_short_names.json", "", true, "")]
#[case::short_names_on("configmap_short_names.json", "settings_short_names.json", false,
    r#"key "audit_url": "http://datastorage:8080" names Service "datastorage" in namespace "kubernaut-system", which does not exist; did you mean "data-storage-service"?"#)]
fn config_maps(
    #[case] fixture: &str,
    #[case] settings: &str,
    #[case] accepted: bool,
    #[case] message_part: &str,
) {
    let response = evaluate_fixture(fixture, settings, &cluster());
    assert_eq!(response.accepted, accepted, "{fixture}: {response:?}");
    if !accepted {
        let message = response.message.unwrap_or_default();
        assert!(message.contains(message_part), "{fixture}: {message}");
    }
}

#[test]
fn update_with_only_old_references_makes_no_host_call() {
    let response = evaluate_fixture("configmap_update_old_reference.json", "", &no_host());
    assert!(response.accepted);
}

#[test]
fn warn_action_returns_the_problem_as_a_warning() {
    let response = evaluate_fixture(
        "configmap_dangling_service.json",
        "settings_warn.json",
        &cluster(),
    );
    let warnings = response.warnings.unwrap_or_default();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains(r#"did you mean "data-storage-service"?"#));
}

#[test]
fn value_from_is_named_only_when_asked() {
    let quiet = evaluate_fixture("deployment_kubeconfig_value_from.json", "", &no_host());
    assert_eq!(quiet.warnings, None);
    let loud = evaluate_fixture(
        "deployment_kubeconfig_value_from.json",
        "settings_warn_unresolved.json",
        &no_host(),
    );
    assert_eq!(
        loud.warnings.unwrap_or_default(),
        vec![
            r#"container "datastorage" (Deployment kubernaut-system/datastorage): KUBECONFIG comes from valueFrom.configMapKeyRef and cannot be checked at admission"#
        ]
    );
}

/// `kubectl debug` on a Pod whose own container is already broken: only the
/// ephemeral container being added is judged.
#[rstest]
#[case::good_debugger("/etc/kubeconfig/config", true)]
#[case::bad_debugger("/root/.kube/config", false)]
fn ephemeral_container_updates_judge_only_ephemeral_containers(
    #[case] debugger_kubeconfig: &str,
    #[case] accepted: bool,
) {
    let mut request = request("pod_ephemeral_container_kubeconfig.json");
    let spec = request.pointer_mut("/object/spec").unwrap();
    spec["containers"][0]["env"] =
        json!([{"name": "KUBECONFIG", "value": "/Users/jgil/.kube/config"}]);
    spec["ephemeralContainers"][0]["env"] =
        json!([{"name": "KUBECONFIG", "value": debugger_kubeconfig}]);
    spec["ephemeralContainers"][0]["volumeMounts"] =
        json!([{"name": "kc", "mountPath": "/etc/kubeconfig"}]);
    spec["volumes"] = json!([{"name": "kc", "secret": {"secretName": "kc"}}]);
    let response = evaluate(&payload(&request, &json!({})), &no_host());
    assert_eq!(response.accepted, accepted, "{:?}", response.message);
    if let Some(message) = response.message {
        assert!(
            message.starts_with("ephemeral container") && !message.contains("container \"app\""),
            "{message}"
        );
    }
}

#[test]
fn every_offending_container_is_reported() {
    let mut request = request("deployment_kubeconfig_host_path.json");
    let containers = request
        .pointer_mut("/object/spec/template/spec/containers")
        .unwrap();
    let mut second = containers[0].clone();
    second["name"] = json!("sidecar");
    containers.as_array_mut().unwrap().push(second);
    let response = evaluate(&payload(&request, &json!({})), &no_host());
    let message = response.message.unwrap();
    assert!(
        message.contains(r#"container "datastorage""#)
            && message.contains(r#"container "sidecar""#)
    );
}

/// Mutation: only the offending variable goes; everything else, including
/// fields this policy's k8s-openapi does not know, stays as it was.
#[rstest]
#[case::pod("pod_unknown_fields_kubeconfig.json", "/spec/containers/0/env")]
#[case::deployment(
    "deployment_kubeconfig_host_path.json",
    "/spec/template/spec/containers/0/env"
)]
#[case::cronjob(
    "cronjob_kubeconfig_host_path.json",
    "/spec/jobTemplate/spec/template/spec/containers/0/env"
)]
#[case::init_container("pod_init_container_kubeconfig.json", "/spec/initContainers/0/env")]
fn removal_mutates_only_the_offending_variable(#[case] fixture: &str, #[case] env_pointer: &str) {
    let response = evaluate_fixture(fixture, "settings_remove_offending.json", &no_host());
    assert!(response.accepted);
    let mutated = response.mutated_object.expect("a mutated object");
    let mut expected = request(fixture)["object"].clone();
    expected
        .pointer_mut(env_pointer)
        .and_then(Value::as_array_mut)
        .unwrap()
        .retain(|e| e["name"] != "KUBECONFIG");
    assert_eq!(mutated, expected);
    let warnings = response.warnings.unwrap_or_default();
    assert!(warnings[0].contains("removed KUBECONFIG"), "{warnings:?}");
}

#[test]
fn removal_keeps_unknown_fields() {
    let response = evaluate_fixture(
        "pod_unknown_fields_kubeconfig.json",
        "settings_remove_offending.json",
        &no_host(),
    );
    let mutated = response.mutated_object.unwrap();
    assert_eq!(
        mutated["spec"]["futurePodField"],
        json!({"enabled": true, "weights": [1, 2.5, 3]})
    );
    assert_eq!(
        mutated["spec"]["containers"][0]["futureContainerField"],
        json!({"mode": "strict"})
    );
    assert_eq!(
        mutated["metadata"]["annotations"]["example.com/unknown-annotation"],
        "keep me"
    );
    assert_eq!(
        mutated["spec"]["containers"][0]["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );
}

#[test]
fn removal_setting_never_mutates_a_good_object() {
    let response = evaluate_fixture(
        "deployment_kubeconfig_secret_mount.json",
        "settings_remove_offending.json",
        &no_host(),
    );
    assert!(response.accepted && response.mutated_object.is_none());
}

#[rstest]
#[case::garbage(b"\x00\xffnot json".as_slice(), "cannot read the admission request")]
#[case::empty(b"".as_slice(), "cannot read the admission request")]
#[case::no_request(br#"{"settings":{}}"#.as_slice(), "missing field `request`")]
#[case::request_wrong_type(br#"{"request":"x","settings":{}}"#.as_slice(), "cannot read the admission request")]
#[case::no_kind(br#"{"request":{"operation":"CREATE","object":{}},"settings":{}}"#.as_slice(), "the admission request has no kind")]
#[case::containers_wrong_type(
    br#"{"request":{"operation":"CREATE","kind":{"kind":"Pod"},"object":{"metadata":{"name":"p"},"spec":{"containers":{"a":1}}}},"settings":{}}"#.as_slice(),
    "Pod p: cannot read spec")]
#[case::config_map_data_wrong_type(
    br#"{"request":{"operation":"CREATE","kind":{"kind":"ConfigMap"},"namespace":"n","object":{"metadata":{"name":"c"},"data":"x"}},"settings":{}}"#.as_slice(),
    "ConfigMap n/c: data is not a map of strings")]
#[case::settings_wrong_type(
    br#"{"request":{"operation":"CREATE","kind":{"kind":"Pod"},"object":{"spec":{"containers":[]}}},"settings":{"variables":"KUBECONFIG"}}"#.as_slice(),
    "the policy is misconfigured")]
fn malformed_input_gets_a_clear_rejection(#[case] payload: &[u8], #[case] message_part: &str) {
    let response = evaluate(payload, &no_host());
    assert!(!response.accepted);
    let message = response.message.unwrap_or_default();
    assert!(message.contains(message_part), "{message}");
    assert!(
        matches!(response.code, Some(400 | 500)),
        "{:?}",
        response.code
    );
}

#[test]
fn huge_config_map_is_evaluated() {
    // 1 MiB, the Kubernetes limit, with thousands of URLs in 3 namespaces.
    let mut text = String::with_capacity(1 << 20);
    let mut i = 0;
    while text.len() < (1 << 20) - 200 {
        text.push_str(&format!(
            "endpoint_{i}: http://redis-master.ns-{}.svc.cluster.local:6379/{i} # filler text\n",
            i % 3
        ));
        i += 1;
    }
    let mut source = MockServiceSource::new();
    source.expect_services_in().times(3).returning(|_| {
        Ok(vec![ServiceInfo {
            name: "redis-master".into(),
            ports: vec![6379],
            ..Default::default()
        }])
    });
    let request = json!({"operation": "CREATE", "kind": {"kind": "ConfigMap"}, "namespace": "a",
        "object": {"metadata": {"name": "big", "namespace": "a"}, "data": {"k": text}}});
    let response = evaluate(&payload(&request, &json!({})), &source);
    assert!(response.accepted, "{:?}", response.message);
}

#[rstest]
#[case::valid("{}", true, None)]
#[case::unknown_field(
    r#"{"variable":["KUBECONFIG"]}"#,
    false,
    Some("unknown field `variable`")
)]
#[case::invalid_values(
    r#"{"variables":["1BAD"]}"#,
    false,
    Some(r#"variables: "1BAD" is not a valid environment variable name"#)
)]
#[case::not_json("variables: [KUBECONFIG]", false, Some("invalid settings"))]
fn validate_settings_answers(
    #[case] raw: &str,
    #[case] valid: bool,
    #[case] message: Option<&str>,
) {
    let response: SettingsValidationResponse =
        serde_json::from_slice(&validate_settings(raw.as_bytes()).unwrap()).unwrap();
    assert_eq!(response.valid, valid);
    if let Some(part) = message {
        assert!(response.message.unwrap().contains(part));
    }
}

#[rstest]
#[case::status(
    r#"{"operation":"UPDATE","subResource":"status","kind":{"kind":"Pod"},"object":{"spec":{}}}"#
)]
#[case::delete(r#"{"operation":"DELETE","kind":{"kind":"Deployment"},"object":null}"#)]
fn nothing_to_check(#[case] request: &str) {
    let request: Value = serde_json::from_str(request).unwrap();
    assert!(evaluate(&payload(&request, &json!({})), &no_host()).accepted);
}
