//! ClusterState, NoHost, access control and recording through WAT guests.

mod common;

use common::*;
use e2e::{
    AccessControl, ClusterState, EvaluationError, EvaluationErrorKind, HostCapabilities,
    KubernetesRequest, NoHost, RecordingHost,
};
use serde_json::json;

fn kind(err: &anyhow::Error) -> EvaluationErrorKind {
    err.downcast_ref::<EvaluationError>()
        .unwrap_or_else(|| panic!("not an EvaluationError: {err:?}"))
        .kind
}

fn cluster() -> ClusterState {
    let mut c = ClusterState::new();
    c.add_service("team-a", "db", &[5432]);
    c.add_service("team-a", "cache", &[6379]);
    c.add_service("team-b", "web", &[80]);
    c
}

#[test]
fn list_by_namespace_answers_the_guest() {
    let policy = host_call_guest(
        "list_resources_by_namespace",
        &list_services_payload("team-a"),
        OnHostError::Fail,
    )
    .policy();
    let mut c = cluster();
    let eval = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut c)
        .unwrap();
    let list = eval.response.mutated_object.clone().unwrap();
    assert_eq!(list["kind"], "ServiceList");
    assert_eq!(list["apiVersion"], "v1");
    assert_eq!(list["metadata"], json!({"resourceVersion": "1"}));
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cache", "db"]);
    assert_eq!(eval.kubernetes_calls().count(), 1);
}

#[test]
fn missing_object_is_the_hosts_error_text() {
    let policy = host_call_guest(
        "get_resource",
        &get_service_payload("team-a", "nope"),
        OnHostError::Fail,
    )
    .policy();
    let err = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut cluster())
        .unwrap_err();
    assert_eq!(kind(&err), EvaluationErrorKind::Guest);
    assert_eq!(
        err.to_string(),
        "Guest call failure: Callback evaluation failure: Cannot find v1/Service named 'nope' inside of namespace 'Some(\"team-a\")'"
    );
    // found: the object itself
    let policy = host_call_guest(
        "get_resource",
        &get_service_payload("team-a", "db"),
        OnHostError::Fail,
    )
    .policy();
    let eval = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut cluster())
        .unwrap();
    assert_eq!(
        eval.response.mutated_object,
        Some(ClusterState::service("team-a", "db", &[5432]))
    );
}

#[test]
fn no_host_makes_any_host_call_fail_loudly() {
    let policy = host_call_guest(
        "list_resources_by_namespace",
        &list_services_payload("team-a"),
        OnHostError::Accept,
    )
    .policy();
    let mut host = NoHost::new();
    let err = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut host)
        .unwrap_err();
    assert_eq!(kind(&err), EvaluationErrorKind::HostViolation);
    assert!(
        err.to_string().contains(
            "policy made an unexpected host call kubewarden/kubernetes/list_resources_by_namespace"
        ),
        "{err}"
    );
    assert_eq!(host.violations().len(), 1);
}

#[test]
fn policy_server_default_denies_host_calls() {
    // policy-server: hostCapabilities defaults to [] -> every call denied
    let policy = host_call_guest(
        "list_resources_by_namespace",
        &list_services_payload("team-a"),
        OnHostError::Fail,
    )
    .policy()
    .with_access(AccessControl::policy_server(&[("v1", "Service")], &[]));
    let err = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut cluster())
        .unwrap_err();
    assert_eq!(kind(&err), EvaluationErrorKind::Guest);
    assert_eq!(
        err.to_string(),
        "Guest call failure: Policy has not been granted access to the 'kubernetes/list_resources_by_namespace' host capability. The violation has been reported."
    );
    // with both contextAwareResources and hostCapabilities it works
    let policy = host_call_guest(
        "list_resources_by_namespace",
        &list_services_payload("team-a"),
        OnHostError::Fail,
    )
    .policy()
    .with_access(AccessControl::policy_server(
        &[("v1", "Service")],
        &["kubernetes/list_resources_by_namespace"],
    ));
    assert!(
        policy
            .validate(&configmap_review(json!({})), &json!({}), &mut cluster())
            .unwrap()
            .accepted()
    );
    // without the resource in contextAwareResources it is denied
    let policy = host_call_guest(
        "list_resources_by_namespace",
        &list_services_payload("team-a"),
        OnHostError::Fail,
    )
    .policy()
    .with_access(AccessControl::policy_server(&[], &["kubernetes/*"]));
    let err = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut cluster())
        .unwrap_err();
    assert!(
        err.to_string().ends_with(
            "Policy has not been granted access to Kubernetes v1/Service resources. The violation has been reported."
        ),
        "{err}"
    );
}

#[test]
fn recording_then_replaying_gives_the_same_verdict() {
    let policy = host_call_guest(
        "list_resources_by_namespace",
        &list_services_payload("team-b"),
        OnHostError::Fail,
    )
    .policy();
    let review = configmap_review(json!({}));
    let mut recorder = RecordingHost::new(cluster());
    let live = policy.validate(&review, &json!({}), &mut recorder).unwrap();
    assert_eq!(recorder.exchanges().len(), 1);
    assert_eq!(
        recorder.exchanges()[0].request,
        KubernetesRequest::list_namespace("v1", "Service", "team-b")
    );
    let text = recorder.session().to_yaml().unwrap();
    let mut replay = e2e::ReplaySession::from_yaml_str(&text).unwrap();
    let replayed = policy.validate(&review, &json!({}), &mut replay).unwrap();
    assert_eq!(replayed.response, live.response);
    assert_eq!(replay.remaining(), 0);
}

#[test]
fn warm_instance_keeps_serving_with_its_own_host() {
    let policy = host_call_guest(
        "list_resources_by_namespace",
        &list_services_payload("team-a"),
        OnHostError::Fail,
    )
    .policy();
    let mut instance = policy.instantiate(cluster()).unwrap();
    for _ in 0..3 {
        let eval = instance
            .validate(&configmap_review(json!({})), &json!({}))
            .unwrap();
        assert_eq!(eval.host_calls.len(), 1);
    }
    instance.with_host(|c| {
        c.remove("v1", "Service", Some("team-a"), "db").unwrap();
    });
    let eval = instance
        .validate(&configmap_review(json!({})), &json!({}))
        .unwrap();
    assert_eq!(
        eval.response.mutated_object.unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
