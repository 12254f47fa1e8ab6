//! The router (`evaluate`, `route`, `validate_settings`) natively: what
//! reaches which check, malformed and unexpected input, and what only a
//! whole request shows. The rules and their wording are tested in each
//! check's module; the `test_data/` fixtures run on the compiled policy
//! (`e2e/tests/policy.rs`), see docs/development.md, "Where a test case
//! lives".

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

/// A source that fails the test if the policy asks it anything.
fn no_host() -> MockServiceSource {
    MockServiceSource::new()
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
#[case::pod_without_spec(
    br#"{"request":{"operation":"CREATE","kind":{"kind":"Pod"},"namespace":"n","object":{"metadata":{"name":"p"}}},"settings":{}}"#.as_slice(),
    "Pod n/p: the Pod has no Pod spec at spec")]
#[case::unsupported_kind(
    br#"{"request":{"operation":"CREATE","kind":{"kind":"Service"},"namespace":"n","object":{"metadata":{"name":"s"}}},"settings":{}}"#.as_slice(),
    "this policy validates Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController, ConfigMap, Ingress, HTTPRoute, GRPCRoute, ValidatingWebhookConfiguration, MutatingWebhookConfiguration, APIService, CustomResourceDefinition, HorizontalPodAutoscaler, RoleBinding and ClusterRoleBinding objects, not Service; check the rules of the policy")]
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
        }]
        .into())
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

/// Settings holding a float send the payload to serde_json, whose value of
/// them is judged as it is: written back as text and read again, this
/// count would become the whole number 95029 and be accepted.
#[test]
fn float_settings_are_judged_as_read() {
    let payload = format!(
        r#"{{"request": {}, "settings": {{"maxNamespacesPerRequest": 9.502899999999998544808477163315e4}}}}"#,
        request("configmap_dangling_service.json")
    );
    let response = evaluate(payload.as_bytes(), &no_host());
    assert_eq!(response.code, Some(500));
    let message = response.message.unwrap_or_default();
    assert!(message.contains("95028.99999999999"), "{message}");
}
