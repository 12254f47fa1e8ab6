//! Every reference kind of the graph, each with an accepting and a
//! rejecting (or warning) case, through the router as the host calls it;
//! then the host calls, UPDATE, built-ins, bounds and bad input.

use rstest::rstest;
use serde_json::{Value, json};

use crate::service_lookup::ServiceInfo;
use crate::test_support::FakeHost;

/// What the policy answered: accepted, its message, its warnings.
#[derive(Debug)]
struct Answer {
    accepted: bool,
    message: String,
    warnings: Vec<String>,
}

fn respond(host: &FakeHost, kind: &str, object: Value, old: Value, settings: Value) -> Answer {
    let (group, version) = match kind {
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
            ("admissionregistration.k8s.io", "v1")
        }
        "APIService" => ("apiregistration.k8s.io", "v1"),
        "CustomResourceDefinition" => ("apiextensions.k8s.io", "v1"),
        "HorizontalPodAutoscaler" => ("autoscaling", "v2"),
        "RoleBinding" | "ClusterRoleBinding" => ("rbac.authorization.k8s.io", "v1"),
        "Pod" => ("", "v1"),
        _ => ("apps", "v1"),
    };
    let namespace = object
        .pointer("/metadata/namespace")
        .cloned()
        .unwrap_or(json!(""));
    let operation = if old.is_null() { "CREATE" } else { "UPDATE" };
    let payload = json!({
        "request": {
            "uid": "1", "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": "x"},
            "namespace": namespace, "operation": operation,
            "userInfo": {"username": "admin"},
            "object": object, "oldObject": old,
        },
        "settings": settings,
    });
    let response = host.respond(&serde_json::to_vec(&payload).unwrap());
    Answer {
        accepted: response["accepted"].as_bool().unwrap(),
        message: response["message"].as_str().unwrap_or_default().to_string(),
        warnings: response["warnings"]
            .as_array()
            .map(|w| w.iter().map(|w| w.as_str().unwrap().to_string()).collect())
            .unwrap_or_default(),
    }
}

fn cluster() -> FakeHost {
    let mut host = FakeHost::new()
        .service("webhooks", "admission", &[443, 8443])
        .service("shop", "web", &[80]);
    for (namespace, name) in [("shop", "db-headless"), ("webhooks", "headless-hook")] {
        host.add_service(
            namespace,
            ServiceInfo {
                name: name.into(),
                headless: true,
                ports: vec![443, 5432],
                ..Default::default()
            },
        );
    }
    host.object("PersistentVolumeClaim", "shop", "data")
        .object("Deployment", "shop", "web")
        .object("StatefulSet", "shop", "db")
        .object("Role", "shop", "reader")
        .object("ClusterRole", "", "operator")
        .account("shop", "app")
        .account("ops", "deployer")
}

fn webhook_config(kind: &str, service: Value) -> Value {
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
           "metadata": {"name": "hooks"},
           "webhooks": [{"name": "a.example.com", "clientConfig": {"service": service}}]})
}

fn deployment(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"template": {"spec": spec}}})
}

fn probe(port: Value, ports: Value) -> Value {
    deployment(
        json!({"containers": [{"name": "app", "image": "app", "ports": ports,
        "readinessProbe": {"httpGet": {"path": "/", "port": port}}}]}),
    )
}

fn binding(kind: &str, role_kind: &str, role: &str, subjects: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
           "metadata": {"name": "b", "namespace": "shop"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
           "subjects": subjects})
}

fn hpa(kind: &str, api_version: &str, name: &str) -> Value {
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "h", "namespace": "shop"},
           "spec": {"scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": name},
                    "maxReplicas": 3}})
}

fn statefulset(service_name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {"name": "db", "namespace": "shop"},
           "spec": {"serviceName": service_name,
                    "template": {"spec": {"containers": [{"name": "db", "image": "db"}]}}}})
}

/// Accepted without a word, accepted with a warning that says this, or
/// rejected with a message that says this.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Clean,
    Warns(&'static str),
    Rejects(&'static str),
}
use Expect::*;

fn workload_settings() -> Value {
    json!({"checkWorkloadReferences": true})
}

#[rstest]
// webhook configurations: the Service and its port (443 when left out)
#[case::webhook_service_exists("ValidatingWebhookConfiguration",
    webhook_config("ValidatingWebhookConfiguration", json!({"namespace": "webhooks", "name": "admission"})), json!({}), Clean)]
#[case::webhook_service_port("MutatingWebhookConfiguration",
    webhook_config("MutatingWebhookConfiguration", json!({"namespace": "webhooks", "name": "admission", "port": 8443})), json!({}), Clean)]
#[case::webhook_service_missing("ValidatingWebhookConfiguration",
    webhook_config("ValidatingWebhookConfiguration", json!({"namespace": "webhooks", "name": "admision"})), json!({}),
    Rejects(r#"ValidatingWebhookConfiguration hooks, webhooks[0].clientConfig.service: Service "admision" does not exist in namespace "webhooks" (did you mean "admission"?); the API server cannot call the webhook"#))]
#[case::webhook_wrong_port("MutatingWebhookConfiguration",
    webhook_config("MutatingWebhookConfiguration", json!({"namespace": "webhooks", "name": "admission", "port": 9443})), json!({}),
    Rejects(r#"webhooks[0].clientConfig.service: Service "admission" in namespace "webhooks" has no port 9443 (it exposes 443, 8443)"#))]
#[case::webhook_url_is_out_of_scope("ValidatingWebhookConfiguration",
    json!({"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "hooks"},
           "webhooks": [{"name": "a", "clientConfig": {"url": "https://nowhere.example.com"}}]}), json!({}), Clean)]
#[case::webhook_check_off("ValidatingWebhookConfiguration",
    webhook_config("ValidatingWebhookConfiguration", json!({"namespace": "webhooks", "name": "gone"})),
    json!({"checkWebhookServices": false}), Clean)]
#[case::webhook_action_warn("ValidatingWebhookConfiguration",
    webhook_config("ValidatingWebhookConfiguration", json!({"namespace": "webhooks", "name": "gone"})),
    json!({"action": "warn"}), Warns(r#"Service "gone" does not exist in namespace "webhooks""#))]
// APIServices: `spec.service`, port 443 by default; a local APIService names none
#[case::apiservice_exists("APIService",
    json!({"kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"},
           "spec": {"service": {"namespace": "webhooks", "name": "admission"}, "group": "metrics.k8s.io"}}), json!({}), Clean)]
#[case::apiservice_local("APIService",
    json!({"kind": "APIService", "metadata": {"name": "v1.apps"}, "spec": {"service": null, "group": "apps"}}), json!({}), Clean)]
#[case::apiservice_missing("APIService",
    json!({"kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"},
           "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}}}), json!({}),
    Warns(r#"APIService v1beta1.metrics.k8s.io, spec.service: Service "metrics-server" does not exist in namespace "kube-system"; the aggregated API is unavailable, and API discovery fails for every client"#))]
#[case::apiservice_missing_deny("APIService",
    json!({"kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"},
           "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}}}),
    json!({"missingExtensionServices": "deny"}),
    Rejects(r#"spec.service: Service "metrics-server" does not exist in namespace "kube-system""#))]
#[case::webhook_service_headless("ValidatingWebhookConfiguration",
    webhook_config("ValidatingWebhookConfiguration", json!({"namespace": "webhooks", "name": "headless-hook"})), json!({}),
    Warns(r#"Service "headless-hook" in namespace "webhooks" is headless (clusterIP: None): the API server routes to a Service's cluster IP unless it runs with --enable-aggregator-routing"#))]
// CRD conversion webhooks
#[case::conversion_exists("CustomResourceDefinition",
    json!({"kind": "CustomResourceDefinition", "metadata": {"name": "a.example.com"},
           "spec": {"conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {"service": {"namespace": "webhooks", "name": "admission", "port": 8443}}}}}}), json!({}), Clean)]
#[case::conversion_none_strategy("CustomResourceDefinition",
    json!({"kind": "CustomResourceDefinition", "metadata": {"name": "a.example.com"},
           "spec": {"conversion": {"strategy": "None", "webhook": {"clientConfig": {"service": {"namespace": "webhooks", "name": "gone"}}}}}}), json!({}), Clean)]
#[case::conversion_missing("CustomResourceDefinition",
    json!({"kind": "CustomResourceDefinition", "metadata": {"name": "a.example.com"},
           "spec": {"conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {"service": {"namespace": "webhooks", "name": "converter"}}}}}}), json!({}),
    Warns(r#"spec.conversion.webhook.clientConfig.service: Service "converter" does not exist in namespace "webhooks""#))]
#[case::conversion_missing_deny("CustomResourceDefinition",
    json!({"kind": "CustomResourceDefinition", "metadata": {"name": "a.example.com"},
           "spec": {"conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {"service": {"namespace": "webhooks", "name": "converter"}}}}}}),
    json!({"missingExtensionServices": "deny"}),
    Rejects(r#"Service "converter" does not exist in namespace "webhooks""#))]
// PVCs (under checkWorkloadReferences)
#[case::claim_exists("Deployment",
    deployment(json!({"containers": [], "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]})),
    workload_settings(), Clean)]
#[case::claim_missing("Deployment",
    deployment(json!({"containers": [], "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "date"}}]})),
    workload_settings(),
    Rejects(r#"Deployment shop/web, spec.template.spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim "date" does not exist in namespace "shop" (did you mean "data"?); its Pods stay Pending until the claim exists"#))]
#[case::claim_not_checked_by_default("Deployment",
    deployment(json!({"containers": [], "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "date"}}]})),
    json!({}), Clean)]
#[case::ephemeral_volume_is_no_reference("Deployment",
    deployment(json!({"containers": [], "volumes": [{"name": "d", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]})),
    workload_settings(), Clean)]
// probe and lifecycle-hook ports by name, no lookup
#[case::probe_port_declared("Deployment", probe(json!("http"), json!([{"name": "http", "containerPort": 8080}])),
    workload_settings(), Clean)]
#[case::probe_port_number("Deployment", probe(json!(8080), json!([])), workload_settings(), Clean)]
#[case::probe_port_numeric_string("Deployment", probe(json!("8080"), json!([])), workload_settings(), Clean)]
#[case::probe_port_undeclared("Deployment", probe(json!("htpp"), json!([{"name": "http", "containerPort": 8080}])),
    workload_settings(),
    Rejects(r#"Deployment shop/web, spec.template.spec.containers[0].readinessProbe.httpGet.port: container "app" has no port named "htpp" (it declares "http"; did you mean "http"?); the kubelet cannot run the probe, so it always fails; declare the port or correct the name"#))]
#[case::hook_port_undeclared("Deployment",
    deployment(json!({"containers": [{"name": "app", "image": "app",
        "lifecycle": {"preStop": {"tcpSocket": {"port": "admin"}}}}]})),
    workload_settings(),
    Rejects(r#"containers[0].lifecycle.preStop.tcpSocket.port: container "app" has no port named "admin" (it declares no named ports); the kubelet cannot run the hook, so the container stops without it"#))]
#[case::post_start_port_undeclared("Deployment",
    deployment(json!({"containers": [{"name": "app", "image": "app",
        "lifecycle": {"postStart": {"httpGet": {"port": "admin"}}}}]})),
    workload_settings(),
    Rejects(r#"the kubelet cannot run the hook, so it kills the container and restarts it"#))]
// StatefulSet serviceName: a warning by default, a setting to deny
#[case::governing_service_exists(
    "StatefulSet",
    statefulset("db-headless"),
    workload_settings(),
    Clean
)]
#[case::governing_service_with_cluster_ip(
    "StatefulSet",
    statefulset("web"),
    workload_settings(),
    Clean
)]
#[case::claim_template_replaces_the_volume("StatefulSet",
    json!({"kind": "StatefulSet", "metadata": {"name": "db", "namespace": "shop"},
           "spec": {"serviceName": "db-headless",
                    "volumeClaimTemplates": [{"metadata": {"name": "pgdata"}}],
                    "template": {"spec": {"containers": [],
                        "volumes": [{"name": "pgdata", "persistentVolumeClaim": {"claimName": "pgdata"}}]}}}}),
    workload_settings(), Clean)]
#[case::governing_service_missing("StatefulSet", statefulset("db"), workload_settings(),
    Warns(r#"StatefulSet shop/db, spec.serviceName: Service "db" does not exist in namespace "shop" (did you mean "db-headless"?); its Pods run, but their per-Pod DNS names"#))]
#[case::governing_service_deny("StatefulSet", statefulset("db"),
    json!({"checkWorkloadReferences": true, "missingGoverningServices": "deny"}),
    Rejects(r#"spec.serviceName: Service "db" does not exist"#))]
// HPA scaleTargetRef
#[case::scale_target_exists("HorizontalPodAutoscaler", hpa("Deployment", "apps/v1", "web"), json!({}), Clean)]
#[case::scale_target_missing("HorizontalPodAutoscaler", hpa("StatefulSet", "apps/v1", "web"), json!({}),
    Warns(r#"HorizontalPodAutoscaler shop/h, spec.scaleTargetRef: StatefulSet "web" does not exist in namespace "shop"; the autoscaler cannot read its scale (FailedGetScale)"#))]
#[case::scale_target_deny("HorizontalPodAutoscaler", hpa("Deployment", "apps/v1", "api"),
    json!({"missingScaleTargets": "deny"}), Rejects(r#"Deployment "api" does not exist"#))]
#[case::scale_target_other_kind("HorizontalPodAutoscaler", hpa("Rollout", "argoproj.io/v1alpha1", "web"), json!({}), Clean)]
// RBAC: roleRef and ServiceAccount subjects; built-ins accepted
#[case::role_exists("RoleBinding", binding("RoleBinding", "Role", "reader",
    json!([{"kind": "ServiceAccount", "name": "app"}])), json!({}), Clean)]
#[case::built_in_cluster_role_and_default_account("RoleBinding", binding("RoleBinding", "ClusterRole", "view",
    json!([{"kind": "ServiceAccount", "name": "default", "namespace": "elsewhere"}])), json!({}), Clean)]
#[case::system_cluster_role("ClusterRoleBinding", binding("ClusterRoleBinding", "ClusterRole", "system:auth-delegator",
    json!([{"kind": "ServiceAccount", "name": "deployer", "namespace": "ops"}])), json!({}), Clean)]
#[case::kube_public_bootstrap_role("RoleBinding",
    json!({"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "kube-public"},
           "roleRef": {"kind": "Role", "name": "system:controller:bootstrap-signer"}, "subjects": []}),
    json!({}), Clean)]
#[case::users_and_groups_are_not_objects("ClusterRoleBinding", binding("ClusterRoleBinding", "ClusterRole", "operator",
    json!([{"kind": "User", "name": "jane"}, {"kind": "Group", "name": "devs"}])), json!({}), Clean)]
#[case::role_missing("RoleBinding", binding("RoleBinding", "Role", "readers",
    json!([{"kind": "ServiceAccount", "name": "app"}])), json!({}),
    Warns(r#"RoleBinding shop/b, roleRef: Role "readers" does not exist in namespace "shop" (did you mean "reader"?); the binding grants nothing until it exists"#))]
#[case::cluster_role_missing("ClusterRoleBinding", binding("ClusterRoleBinding", "ClusterRole", "operater",
    json!([])), json!({}),
    Warns(r#"roleRef: ClusterRole "operater" does not exist (did you mean "operator"?)"#))]
#[case::subject_missing("ClusterRoleBinding", binding("ClusterRoleBinding", "ClusterRole", "operator",
    json!([{"kind": "ServiceAccount", "name": "deployer", "namespace": "shop"}])), json!({}),
    Warns(r#"subjects[0]: ServiceAccount "deployer" does not exist in namespace "shop"; the binding grants that ServiceAccount nothing"#))]
#[case::binding_deny("RoleBinding", binding("RoleBinding", "Role", "reader",
    json!([{"kind": "ServiceAccount", "name": "ap"}])), json!({"missingBindingReferences": "deny"}),
    Rejects(r#"subjects[0]: ServiceAccount "ap" does not exist in namespace "shop""#))]
fn reference_kinds(
    #[case] kind: &str,
    #[case] object: Value,
    #[case] settings: Value,
    #[case] expect: Expect,
) {
    let answer = respond(&cluster(), kind, object, Value::Null, settings);
    match expect {
        Clean => assert!(answer.accepted && answer.warnings.is_empty(), "{answer:?}"),
        Warns(text) => assert!(
            answer.accepted && answer.warnings.iter().any(|w| w.contains(text)),
            "{answer:?}"
        ),
        Rejects(text) => assert!(
            !answer.accepted && answer.message.contains(text),
            "{answer:?}"
        ),
    }
}

/// One listing per (kind, namespace), in kind then namespace order,
/// cluster-scoped kinds listed once, built-ins never looked up.
#[test]
fn host_calls_are_batched_and_ordered() {
    let host = cluster();
    let subjects: Vec<Value> = (0..500)
        .map(|i| {
            let namespace = ["shop", "ops", "default"][i % 3];
            json!({"kind": "ServiceAccount", "name": format!("sa-{i}"), "namespace": namespace})
        })
        .collect();
    let answer = respond(
        &host,
        "ClusterRoleBinding",
        binding(
            "ClusterRoleBinding",
            "ClusterRole",
            "operator",
            json!(subjects),
        ),
        Value::Null,
        json!({}),
    );
    assert!(answer.accepted, "{answer:?}");
    assert_eq!(
        host.calls(),
        [
            "list ServiceAccount default",
            "list ServiceAccount ops",
            "list ServiceAccount shop",
            "list ClusterRole",
        ]
    );
    // 500 dangling subjects: MAX_LISTED worded, the rest counted
    assert_eq!(answer.warnings.len(), 21, "{answer:?}");

    let host = cluster();
    respond(
        &host,
        "RoleBinding",
        binding(
            "RoleBinding",
            "ClusterRole",
            "edit",
            json!([{"kind": "ServiceAccount", "name": "default"}]),
        ),
        Value::Null,
        json!({}),
    );
    assert!(host.calls().is_empty(), "{:?}", host.calls());
}

/// A webhook configuration with 50 webhooks on two namespaces: two calls.
#[test]
fn fifty_webhooks_two_calls() {
    let host = cluster().service("other", "hook", &[443]);
    let webhooks: Vec<Value> = (0..50)
        .map(|i| {
            let (ns, name) = if i % 2 == 0 {
                ("webhooks", "admission")
            } else {
                ("other", "hook")
            };
            json!({"name": format!("w{i}.example.com"),
                   "clientConfig": {"service": {"namespace": ns, "name": name}}})
        })
        .collect();
    let object = json!({"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "hooks"}, "webhooks": webhooks});
    let answer = respond(
        &host,
        "ValidatingWebhookConfiguration",
        object,
        Value::Null,
        json!({}),
    );
    assert!(answer.accepted && answer.warnings.is_empty(), "{answer:?}");
    assert_eq!(
        host.calls(),
        ["list Service other", "list Service webhooks"]
    );
}

/// UPDATE judges only what the edit adds: a dangling reference the object
/// already had is not judged again, a new one is; a probe port the
/// container stops declaring is new damage.
#[rstest]
#[case::unchanged_dangling_role(
    "RoleBinding",
    binding("RoleBinding", "Role", "gone", json!([])),
    binding("RoleBinding", "Role", "gone", json!([{"kind": "User", "name": "x"}])),
    json!({"missingBindingReferences": "deny"}), true)]
#[case::new_dangling_role(
    "RoleBinding",
    binding("RoleBinding", "Role", "reader", json!([])),
    binding("RoleBinding", "Role", "gone", json!([])),
    json!({"missingBindingReferences": "deny"}), false)]
#[case::port_still_undeclared("Deployment",
    probe(json!("web"), json!([])), probe(json!("web"), json!([{"containerPort": 1}])),
    workload_settings(), true)]
#[case::port_no_longer_declared("Deployment",
    probe(json!("web"), json!([{"name": "web", "containerPort": 80}])), probe(json!("web"), json!([])),
    workload_settings(), false)]
fn updates_judge_what_the_edit_adds(
    #[case] kind: &str,
    #[case] old: Value,
    #[case] new: Value,
    #[case] settings: Value,
    #[case] accepted: bool,
) {
    let answer = respond(&cluster(), kind, new, old, settings);
    assert_eq!(answer.accepted, accepted, "{answer:?}");
}

/// Lookups that fail follow `onLookupError` for deny-class references,
/// and only warn for warn-class ones; too many namespaces are not looked up.
#[rstest]
#[case::webhook_lookup_fails("ValidatingWebhookConfiguration",
    webhook_config("ValidatingWebhookConfiguration", json!({"namespace": "webhooks", "name": "admission"})),
    json!({}), false, r#"cannot verify the Services it references in namespace "webhooks": forbidden"#)]
#[case::webhook_lookup_fails_allowed("ValidatingWebhookConfiguration",
    webhook_config("ValidatingWebhookConfiguration", json!({"namespace": "webhooks", "name": "admission"})),
    json!({"onLookupError": "allow"}), true, "forbidden")]
#[case::binding_lookup_fails_warns("RoleBinding",
    binding("RoleBinding", "Role", "reader", json!([])), json!({}), true,
    r#"cannot verify the Roles it references in namespace "shop": forbidden"#)]
fn failed_lookups(
    #[case] kind: &str,
    #[case] object: Value,
    #[case] settings: Value,
    #[case] accepted: bool,
    #[case] text: &str,
) {
    let host = cluster().failing("forbidden");
    let answer = respond(&host, kind, object, Value::Null, settings);
    assert_eq!(answer.accepted, accepted, "{answer:?}");
    let all = format!("{} {}", answer.message, answer.warnings.join(" "));
    assert!(all.contains(text), "{answer:?}");
}

#[test]
fn too_many_namespaces_are_not_looked_up() {
    let host = cluster();
    let subjects: Vec<Value> = (0..=20)
        .map(|i| json!({"kind": "ServiceAccount", "name": "x", "namespace": format!("ns-{i}")}))
        .collect();
    let answer = respond(
        &host,
        "ClusterRoleBinding",
        binding("ClusterRoleBinding", "ClusterRole", "view", json!(subjects)),
        Value::Null,
        json!({}),
    );
    assert!(answer.accepted, "{answer:?}");
    assert!(host.calls().is_empty(), "{:?}", host.calls());
    assert!(
        answer.warnings[0].contains("in 21 namespaces, more than maxNamespacesPerRequest (20)"),
        "{answer:?}"
    );
}

/// The bound on references: at MAX_REFERENCES they are judged, past it
/// none is looked up.
#[rstest]
#[case::at_the_bound(crate::graph::MAX_REFERENCES, true)]
#[case::past_the_bound(crate::graph::MAX_REFERENCES + 1, false)]
fn reference_bound(#[case] count: usize, #[case] looked_up: bool) {
    let host = cluster();
    // the roleRef is one reference, the subjects the rest
    let subjects: Vec<Value> = (1..count)
        .map(|i| json!({"kind": "ServiceAccount", "name": format!("sa-{i}"), "namespace": "shop"}))
        .collect();
    let answer = respond(
        &host,
        "ClusterRoleBinding",
        binding("ClusterRoleBinding", "ClusterRole", "view", json!(subjects)),
        Value::Null,
        json!({}),
    );
    assert!(answer.accepted, "{answer:?}");
    assert_eq!(!host.calls().is_empty(), looked_up, "{answer:?}");
    if !looked_up {
        assert!(
            answer.warnings[0]
                .contains("names 4097 objects, more than the 4096 this policy verifies"),
            "{answer:?}"
        );
    }
}

/// Wrong types get a 400 naming the field, never a trap.
#[rstest]
#[case::webhooks_not_a_list("ValidatingWebhookConfiguration",
    json!({"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "h"}, "webhooks": {}}), "webhooks is not a list")]
#[case::client_config_not_an_object("MutatingWebhookConfiguration",
    json!({"kind": "MutatingWebhookConfiguration", "metadata": {"name": "h"}, "webhooks": [{"clientConfig": 3}]}),
    "webhooks[0].clientConfig is not an object")]
#[case::port_not_an_integer("ValidatingWebhookConfiguration",
    webhook_config("ValidatingWebhookConfiguration", json!({"namespace": "a", "name": "b", "port": "443"})),
    "webhooks[0].clientConfig.service.port is not a 32-bit integer")]
#[case::subject_not_an_object("RoleBinding",
    json!({"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "shop"}, "subjects": ["x"]}),
    "subjects[0] is not an object")]
#[case::role_ref_name_not_a_string("ClusterRoleBinding",
    json!({"kind": "ClusterRoleBinding", "metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": 1}}),
    "roleRef.name is not a string")]
#[case::scale_target_not_an_object("HorizontalPodAutoscaler",
    json!({"kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "namespace": "shop"}, "spec": {"scaleTargetRef": []}}),
    "spec.scaleTargetRef is not an object")]
#[case::volumes_not_a_list("Deployment", deployment(json!({"volumes": 1})), "volumes is not a list")]
#[case::object_not_an_object("APIService", json!([1]), "the object is not a JSON object")]
fn bad_input_gets_a_400(#[case] kind: &str, #[case] object: Value, #[case] text: &str) {
    let host = cluster();
    let settings = workload_settings();
    let answer = respond(&host, kind, object, Value::Null, settings);
    assert!(
        !answer.accepted && answer.message.contains(text),
        "{answer:?}"
    );
}

/// The bound counts distinct references: 10,000 webhooks calling one
/// Service are one reference and one listing, judged.
#[test]
fn many_webhooks_on_one_service_are_one_reference() {
    let host = cluster();
    let webhooks: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({"name": format!("w{i}.example.com"),
                   "clientConfig": {"service": {"namespace": "webhooks", "name": "admission"}}})
        })
        .collect();
    let object = json!({"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "hooks"},
                        "webhooks": webhooks});
    let answer = respond(
        &host,
        "ValidatingWebhookConfiguration",
        object,
        Value::Null,
        json!({}),
    );
    assert!(answer.accepted && answer.warnings.is_empty(), "{answer:?}");
    assert_eq!(host.calls(), ["list Service webhooks"]);
}

/// An UPDATE of a binding with 20,000 subjects that adds one: only the new
/// one is looked up (old and new references are matched by sorted keys,
/// not pairwise).
#[test]
fn a_large_update_judges_only_the_added_subject() {
    let host = cluster();
    let subjects = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"kind": "ServiceAccount", "name": format!("sa-{i}"), "namespace": format!("ns-{}", i % 2)}))
            .collect()
    };
    let mut new = binding(
        "ClusterRoleBinding",
        "ClusterRole",
        "view",
        subjects(20_000),
    );
    new["subjects"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kind": "ServiceAccount", "name": "deployer", "namespace": "ops"}));
    let old = binding(
        "ClusterRoleBinding",
        "ClusterRole",
        "view",
        subjects(20_000),
    );
    let answer = respond(&host, "ClusterRoleBinding", new, old, json!({}));
    assert!(answer.accepted && answer.warnings.is_empty(), "{answer:?}");
    assert_eq!(host.calls(), ["list ServiceAccount ops"]);
}
