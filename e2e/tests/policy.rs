//! The compiled policy (`e2e::policy_wasm()`) end to end on the waPC host
//! (wapc + wasmtime-provider, as kwctl and policy-server): every fixture of
//! `test_data/` (the one level where the fixtures run), host calls (Service
//! lists, the ConfigMaps, ServiceAccounts and Secret names a workload
//! names, and the reference graph's name listings, ClusterRoles with
//! `list_resources_all`) answered by the recorded sessions of
//! `test_data/sessions/` and asserted call by call, settings, mutation,
//! host-capability failures, hostile payloads sent straight to the guest,
//! and the protocol version.
//!
//! The tests are tables: every row has a name, and every assertion message
//! starts with it. A table runs all its rows and then fails listing the
//! rows that failed (each failure's own message is printed above).

mod policy_support;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use e2e::json_patch::{self, PatchOperation};
use e2e::{
    AccessControl, ClusterState, Evaluation, EvaluationError, EvaluationErrorKind, Exchange,
    ExchangeResponse, HostCapabilities, KubernetesRequest, NoHost, Policy, ReplaySession,
    SettingsVerdict, ValidationResponse, validate_payload,
};
use policy_support::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// 1. Every fixture, with the settings it is meant for; host calls answered
//    by the recorded sessions, exactly as listed.
// ---------------------------------------------------------------------------

/// One fixture evaluation.
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    fixture: &'static str,
    /// `""`: `{}`; `*.json`: a file of `test_data/`; else inline JSON.
    settings: &'static str,
    /// A file of `test_data/sessions/` (`workload/x.yml` for one in a
    /// subdirectory), which must be replayed completely; `None`: `NoHost`
    /// (any host call fails the evaluation).
    session: Option<&'static str>,
    accepted: bool,
    code: Option<u16>,
    /// Part of the rejection message (`""` when accepted).
    message: &'static str,
    /// Part of each warning, one entry per warning (`&[]`: no warnings).
    warnings: &'static [&'static str],
    /// Every host call the policy must make, in order, with its exact
    /// payload (`&[]`: none).
    calls: &'static [Call],
}

const fn accept(name: &'static str, fixture: &'static str) -> Case {
    Case {
        name,
        fixture,
        settings: "",
        session: None,
        accepted: true,
        code: None,
        message: "",
        warnings: &[],
        calls: &[],
    }
}

const fn reject(name: &'static str, fixture: &'static str, message: &'static str) -> Case {
    Case {
        accepted: false,
        message,
        ..accept(name, fixture)
    }
}

impl Case {
    const fn settings(self, settings: &'static str) -> Case {
        Case { settings, ..self }
    }

    const fn code(self, code: u16) -> Case {
        Case {
            code: Some(code),
            ..self
        }
    }

    /// Parts of the warnings, in order.
    const fn warnings(self, warnings: &'static [&'static str]) -> Case {
        Case { warnings, ..self }
    }

    /// Services answered by `session`, which must be asked exactly once,
    /// for kubernaut-system.
    const fn replay(self, session: &'static str) -> Case {
        self.session(session, KS_SERVICES)
    }

    /// Host calls answered by `session`, which must be exactly `calls`.
    const fn session(self, session: &'static str, calls: &'static [Call]) -> Case {
        Case {
            session: Some(session),
            calls,
            ..self
        }
    }
}

// The seed messages by their identity (what, where, which rule): their full
// text is asserted once, in the unit tests of their check
// (`kubeconfig_check::message_of_the_seed_scenario`,
// `service_check::rejected::seed_missing`).
const SEED_WORKLOAD: &str = r#"container "datastorage" (Deployment kubernaut-system/datastorage): KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" is not inside any volumeMount"#;
const SEED_CONFIGMAP: &str = r#"ConfigMap kubernaut-system/gateway-config, key "config.yaml": "http://datastorage.kubernaut-system.svc.cluster.local:8080" names Service "datastorage" in namespace "kubernaut-system", which does not exist"#;
const S8080: &str = "services-data-storage-8080.yml";
const S8081: &str = "services-data-storage-8081-only.yml";
const SERR: &str = "services-host-error.yml";
/// The host's error of `services-host-error.yml`, as the guest reports it.
const FORBIDDEN: &str = r#"error invoking host capability kubernetes.list_resources_by_namespace: Host error: Callback evaluation failure: Cannot list v1/Service inside of namespace 'kubernaut-system': services is forbidden: User "system:serviceaccount:kubewarden:policy-server-default" cannot list resource "services""#;

const KS: &str = "kubernaut-system";
const KS_SERVICES: &[Call] = &[Call::Services(KS)];
const SHOP_SERVICES: &[Call] = &[Call::Services("shop")];
/// Namespace shop: Service api (port 8080, named http) and nothing else.
const SHOP_API: &str = "services/shop-api-8080.yml";
const WORKLOAD: &str = "settings_workload_references.json";
const SECRETS: &str = "settings_secret_references.json";
/// The Gateway Deployment's lookups: its ServiceAccount, its ConfigMap,
/// the Services its config.yaml names.
const GATEWAY: &[Call] = &[
    Call::ServiceAccount(KS, "gateway"),
    Call::ConfigMap(KS, "gateway-config"),
    Call::Services(KS),
];
/// The DataStorage Deployment's lookups (Secrets not checked).
const DATASTORAGE: &[Call] = &[
    Call::ServiceAccount(KS, "data-storage-sa"),
    Call::ConfigMap(KS, "datastorage-config"),
    Call::Services(KS),
];
/// The same with `checkSecretReferences`: the Secret names come before the Services.
const DATASTORAGE_SECRETS: &[Call] = &[
    Call::ServiceAccount(KS, "data-storage-sa"),
    Call::ConfigMap(KS, "datastorage-config"),
    Call::Secrets(KS),
    Call::Services(KS),
];
/// DataStorage reading KUBECONFIG from ConfigMap datastorage-env: ConfigMaps by name.
const DATASTORAGE_ENV: &[Call] = &[
    Call::ServiceAccount(KS, "data-storage-sa"),
    Call::ConfigMap(KS, "datastorage-config"),
    Call::ConfigMap(KS, "datastorage-env"),
    Call::Services(KS),
];
const SEED_CONSUMED: &str = r#"Deployment kubernaut-system/gateway, volumes[0].configMap: ConfigMap "gateway-config", key "config.yaml": "http://datastorage.kubernaut-system.svc.cluster.local:8080" names Service "datastorage" in namespace "kubernaut-system", which does not exist; did you mean "data-storage-service"?"#;
const FLUENTD_MISSING: &str = r#"ConfigMap shop/config-observability, key "logging.yaml": "http://fluentd.logging.svc.cluster.local:24224" names Service "fluentd" in namespace "logging", which does not exist; create the Service or correct the name"#;

// The reference graph: what webhook configurations, APIServices, CRD
// conversions, Pod templates, HPAs and RBAC bindings name (sessions of
// test_data/sessions/graph/).
const CERT_MANAGER: &str = "graph/cert-manager-webhook.yml";
const CERT_MANAGER_SERVICES: &[Call] = &[Call::Services("cert-manager")];
const METRICS_SERVER: &str = "graph/kube-system-metrics-server.yml";
const KUBE_SYSTEM_SERVICES: &[Call] = &[Call::Services("kube-system")];
const WIDGET_WEBHOOK: &str = "graph/widget-system-webhook.yml";
const WIDGET_SYSTEM_SERVICES: &[Call] = &[Call::Services("widget-system")];
#[rustfmt::skip]
const SHOP_CLAIMS: &[Call] = &[Call::Names { api_version: "v1", kind: "PersistentVolumeClaim", namespace: "shop" }];
const POSTGRES_SERVICES: &str = "graph/shop-postgres-services.yml";
#[rustfmt::skip]
const SHOP_DEPLOYMENTS: &[Call] = &[Call::Names { api_version: "apps/v1", kind: "Deployment", namespace: "shop" }];
const SHOP_RBAC: &str = "graph/shop-rbac.yml";
/// A RoleBinding of shop: its ServiceAccount subjects, then its Role.
#[rustfmt::skip]
const SHOP_ACCOUNTS_AND_ROLES: &[Call] = &[
    Call::Names { api_version: "v1", kind: "ServiceAccount", namespace: "shop" },
    Call::Names { api_version: "rbac.authorization.k8s.io/v1", kind: "Role", namespace: "shop" },
];
const DEPLOYERS: &str = "graph/ci-ops-deployers.yml";
/// ClusterRoleBinding deployers: ServiceAccounts of ci then ops (namespace
/// order, not the order of the subjects), then every ClusterRole.
#[rustfmt::skip]
const DEPLOYER_LOOKUPS: &[Call] = &[
    Call::Names { api_version: "v1", kind: "ServiceAccount", namespace: "ci" },
    Call::Names { api_version: "v1", kind: "ServiceAccount", namespace: "ops" },
    Call::AllNames { api_version: "rbac.authorization.k8s.io/v1", kind: "ClusterRole" },
];

#[rustfmt::skip]
const CASES: &[Case] = &[
    // The seed scenario and its two fixes.
    reject("seed", "deployment_kubeconfig_host_path.json", SEED_WORKLOAD),
    accept("removed", "deployment_kubeconfig_removed.json"),
    accept("secret_mount", "deployment_kubeconfig_secret_mount.json"),
    // Every workload kind.
    reject("statefulset", "statefulset_kubeconfig_host_path.json", "(StatefulSet kubernaut-system/datastorage)"),
    reject("daemonset", "daemonset_kubeconfig_host_path.json", "(DaemonSet kubernaut-system/datastorage)"),
    reject("replicaset", "replicaset_kubeconfig_host_path.json", "(ReplicaSet kubernaut-system/datastorage)"),
    reject("job", "job_kubeconfig_host_path.json", "(Job kubernaut-system/datastorage)"),
    reject("cronjob", "cronjob_kubeconfig_host_path.json", "(CronJob kubernaut-system/datastorage)"),
    reject("replication_controller", "replicationcontroller_kubeconfig_host_path.json", "(ReplicationController kubernaut-system/datastorage)"),
    // Every container kind.
    reject("init_container", "pod_init_container_kubeconfig.json",
        r#"init container "wait-for-api" (Pod kubernaut-system/migrate-7f9c): KUBECONFIG path "/home/runner/.kube/config""#),
    reject("ephemeral_container", "pod_ephemeral_container_kubeconfig.json",
        r#"ephemeral container "debugger-8xz2k" (Pod kubernaut-system/gateway-6d9f7c9b8-x2lkq): KUBECONFIG path "/root/.kube/config""#),
    reject("pod_unknown_fields", "pod_unknown_fields_kubeconfig.json",
        r#"container "gateway" (Pod kubernaut-system/gateway-unknown-fields): KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" is not inside any volumeMount"#),
    // Value semantics.
    accept("later_duplicate_wins", "deployment_kubeconfig_duplicate_later_wins.json"),
    reject("expansion", "deployment_kubeconfig_expansion.json",
        r#"KUBECONFIG path "/home/jgil/.kube/gateway-e2e-config" (expanded from "$(HOME)/.kube/gateway-e2e-config")"#),
    reject("list_one_bad_path", "deployment_kubeconfig_list.json",
        r#"KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" is not inside"#),
    accept("sub_path", "deployment_kubeconfig_subpath.json"),
    reject("windows", "deployment_kubeconfig_windows.json",
        "is a Windows path, which never exists in a Linux container"),
    accept("empty_means_in_cluster", "deployment_kubeconfig_empty.json"),
    accept("value_from", "deployment_kubeconfig_value_from.json"),
    accept("value_from_warned", "deployment_kubeconfig_value_from.json")
        .settings("settings_warn_unresolved.json")
        .warnings(&[r#"container "datastorage" (Deployment kubernaut-system/datastorage): KUBECONFIG comes from valueFrom.configMapKeyRef and cannot be checked at admission"#]),
    // Volumes and settings.
    reject("host_path_volume", "deployment_kubeconfig_hostpath_volume.json",
        r#"is inside volumeMount "/root/.kube" of hostPath volume "host-kube" (node path "/home/runner/.kube"), which injects the node's credentials"#),
    accept("host_path_allowed", "deployment_kubeconfig_hostpath_volume.json").settings("settings_allow_host_path.json"),
    reject("image_path_rejected", "deployment_kubeconfig_image_path.json", "/opt/datastorage/kubeconfig"),
    accept("image_path_allowed", "deployment_kubeconfig_image_path.json").settings("settings_allowed_paths.json"),
    accept("other_variable_only", "deployment_kubeconfig_host_path.json").settings(r#"{"variables":["KUBE_CONFIG_PATH"]}"#),
    accept("remove_setting_leaves_good_object", "deployment_kubeconfig_secret_mount.json").settings("settings_remove_offending.json"),
    // Malformed and unexpected requests.
    reject("pod_without_spec", "pod_without_spec.json", "Pod kubernaut-system/no-spec: the Pod has no Pod spec at spec").code(400),
    reject("unsupported_kind", "service_unsupported_kind.json", "not Service; check the rules of the policy").code(400),
    reject("invalid_settings", "deployment_kubeconfig_removed.json",
        "the policy is misconfigured: invalid settings: unknown field `variable`")
        .settings("settings_invalid_unknown_field.json").code(500),
    reject("invalid_setting_values", "deployment_kubeconfig_removed.json",
        r#"the policy is misconfigured: variables: "1BAD" is not a valid environment variable name"#)
        .settings("settings_invalid_values.json").code(500),
    // ConfigMaps, Services from recorded sessions.
    reject("seed_missing_service", "configmap_dangling_service.json", SEED_CONFIGMAP).replay(S8080),
    accept("service_exists", "configmap_service_exists.json").replay(S8080),
    reject("fixed_name_wrong_port", "configmap_service_exists.json",
        r#"ConfigMap kubernaut-system/gateway-config, key "config.yaml": "http://data-storage-service.kubernaut-system.svc.cluster.local:8080" names Service "data-storage-service" in namespace "kubernaut-system", but port 8080 is not exposed: the Service exposes only port(s) 8081, 9181"#)
        .replay(S8081),
    accept("ports_not_checked", "configmap_service_exists.json").settings(r#"{"checkPorts":false}"#).replay(S8081),
    accept("warn_action", "configmap_dangling_service.json").settings("settings_warn.json").warnings(&[SEED_CONFIGMAP]).replay(S8080),
    accept("update_keeps_old_reference", "configmap_update_old_reference.json"),
    reject("update_adds_reference", "configmap_update_new_reference.json",
        r#"names Service "datastorage" in namespace "kubernaut-system", which does not exist; did you mean "data-storage-service"?"#)
        .replay(S8080),
    accept("delete", "configmap_delete.json"),
    accept("short_names_off", "configmap_short_names.json"),
    reject("short_names_on", "configmap_short_names.json",
        r#"key "audit_url": "http://datastorage:8080" names Service "datastorage" in namespace "kubernaut-system", which does not exist; did you mean "data-storage-service"?"#)
        .settings("settings_short_names.json").replay(S8080)
        .warnings(&[r#"key "holmesgpt_url": "http://holmesgpt-service:8090" names Service "holmesgpt-service" in namespace "kubernaut-system", which does not exist: the Pods' connections to it will fail"#]),
    // The host cannot list the Services.
    reject("host_error", "configmap_service_exists.json",
        r#"ConfigMap kubernaut-system/gateway-config: cannot verify the Services referenced in namespace "kubernaut-system" (http://data-storage-service.kubernaut-system.svc.cluster.local:8080, redis-master.kubernaut-system.svc.cluster.local:6379)"#)
        .replay(SERR),
    reject("host_error_quotes_the_host", "configmap_dangling_service.json", FORBIDDEN).replay(SERR),
    accept("host_error_allowed", "configmap_service_exists.json")
        .settings("settings_lookup_error_allow.json")
        .warnings(&[r#"cannot verify the Services referenced in namespace "kubernaut-system""#])
        .replay(SERR),
    accept("host_error_allowed_quotes_the_host", "configmap_dangling_service.json")
        .settings("settings_lookup_error_allow.json")
        .warnings(&[FORBIDDEN])
        .replay(SERR),
    // What a volume mount really puts at the KUBECONFIG path.
    reject("secret_mounted_at_the_path", "deployment_kubeconfig_secret_directory.json",
        r#"container "sync" (Deployment shop/inventory-sync): KUBECONFIG path "/etc/app/kubeconfig" is the directory where volume "kubeconfig" (Secret "warehouse-eu-kubeconfig") puts the Secret's keys, not a file: client-go fails with "is a directory"; point KUBECONFIG at "/etc/app/kubeconfig/<key>", or mount the key with subPath"#),
    accept("secret_key_sub_path_at_the_path", "deployment_kubeconfig_secret_subpath_file.json"),
    accept("secret_items_create_the_file", "deployment_kubeconfig_secret_items.json"),
    reject("secret_items_lack_the_file", "deployment_kubeconfig_secret_items_without_it.json",
        r#"KUBECONFIG path "/etc/app/kubeconfig" is inside volumeMount "/etc/app", but no item of volume "remote" (Secret "warehouse-eu-kubeconfig") creates it, so it will not exist in the container; the volume creates only: "/etc/app/ca.crt", "/etc/app/warehouse-eu/config""#),
    reject("below_host_path_file", "deployment_kubeconfig_below_hostpath_file.json",
        r#"KUBECONFIG path "/etc/app/kubeconfig/config" is inside volumeMount "/etc/app/kubeconfig" of hostPath volume "admin-conf" (node path "/etc/kubernetes/admin.conf"), which injects the node's credentials"#),
    reject("below_host_path_file_even_if_allowed", "deployment_kubeconfig_below_hostpath_file.json",
        r#"KUBECONFIG path "/etc/app/kubeconfig/config" lies below volumeMount "/etc/app/kubeconfig" of hostPath volume "admin-conf" of type File, which is a file, so nothing exists below it; point KUBECONFIG at "/etc/app/kubeconfig" if that file is the kubeconfig"#)
        .settings("settings_allow_host_path.json"),
    // DNS records: pod names, SRV names, cluster domains.
    reject("pod_name_behind_cluster_ip_service", "configmap_pod_hostname.json",
        r#"ConfigMap shop/storefront-proxy, key "upstream.conf": "web-0.nginx.shop.svc.cluster.local:80" names Service "nginx" in namespace "shop", but the Service is not headless: per-pod names such as "web-0" exist only behind a headless Service (clusterIP: None); use "nginx.shop.svc" to reach the Service, or make it headless"#)
        .session("services/shop-nginx-clusterip.yml", SHOP_SERVICES),
    accept("pod_name_behind_headless_service", "configmap_pod_hostname.json")
        .session("services/shop-nginx-headless.yml", SHOP_SERVICES),
    accept("srv_name_of_named_port", "configmap_srv_named_port.json").session(SHOP_API, SHOP_SERVICES),
    reject("srv_name_of_unnamed_port", "configmap_srv_named_port.json",
        r#"ConfigMap shop/edge-haproxy, key "haproxy.cfg": "_http._tcp.api.shop.svc.cluster.local" names Service "api" in namespace "shop", but the Service has no port named "http" with protocol TCP: SRV records exist only for named ports; it has no named ports"#)
        .session("services/shop-api-unnamed-port.yml", SHOP_SERVICES),
    reject("foreign_cluster_domain", "configmap_foreign_cluster_domain.json",
        r#"ConfigMap orders/order-events-consumer, key "BROKERS": "kafka-0.kafka-headless.kafka.svc.cluster.local:9092" uses the cluster domain "cluster.local", but this cluster's domain is "corp.internal": the query leaves cluster DNS and gets NXDOMAIN"#)
        .settings("settings_corp_cluster_domain.json"),
    accept("additional_cluster_domain", "configmap_foreign_cluster_domain.json")
        .settings("settings_corp_cluster_domain_serves_cluster_local.json")
        .session("services/kafka-headless.yml", &[Call::Services("kafka")]),
    // Comments and documentation keys: Service api on 8080 is the only
    // Service of shop.
    accept("commented_out_reference", "configmap_commented_reference.json").session(SHOP_API, SHOP_SERVICES),
    reject("uncommented_reference", "configmap_uncommented_reference.json",
        r#"ConfigMap shop/checkout-config, key "app.yaml": "http://example-svc.other.svc.cluster.local:8080" names Service "example-svc" in namespace "other", which does not exist; create the Service or correct the name"#)
        .session("services/other-empty-shop-api-8080.yml", &[Call::Services("other"), Call::Services("shop")]),
    accept("commented_out_nginx_upstream", "configmap_nginx_commented_upstream.json").session(SHOP_API, SHOP_SERVICES),
    reject("active_nginx_upstream", "configmap_nginx_active_upstream.json",
        r#"ConfigMap shop/api-gateway-nginx, key "nginx.conf": "api-canary.shop.svc.cluster.local:8080" names Service "api-canary" in namespace "shop", which does not exist"#)
        .session(SHOP_API, SHOP_SERVICES),
    accept("example_key_not_scanned", "configmap_example_key.json").session(SHOP_API, SHOP_SERVICES),
    reject("example_text_under_another_key", "configmap_example_outside_example_key.json", FLUENTD_MISSING)
        .session("services/logging-empty-shop-api-8080.yml", &[Call::Services("logging"), Call::Services("shop")]),
    reject("example_key_scanned_without_ignored_keys", "configmap_example_key.json",
        r#"key "_example": "http://fluentd.logging.svc.cluster.local:24224" names Service "fluentd" in namespace "logging", which does not exist"#)
        .settings(r#"{"ignoredKeys":[]}"#)
        .session("services/logging-empty-shop-api-8080.yml", &[Call::Services("logging"), Call::Services("shop")]),
    reject("reference_after_url_fragment", "configmap_url_fragment_reference.json",
        r#"ConfigMap shop/storefront-links, key "links.yaml": "http://api-docs.shop.svc.cluster.local:8080" names Service "api-docs" in namespace "shop", which does not exist"#)
        .session(SHOP_API, SHOP_SERVICES),
    reject("hash_inside_quotes", "configmap_hash_in_quotes_reference.json",
        r#"ConfigMap shop/checkout-alerts, key "alerts.yaml": "http://grafana.shop.svc.cluster.local:3000" names Service "grafana" in namespace "shop", which does not exist"#)
        .session(SHOP_API, SHOP_SERVICES),
    reject("json_value", "configmap_json_value_reference.json",
        r#"ConfigMap shop/checkout-settings, key "settings.json": "http://inventory.shop.svc.cluster.local:8080" names Service "inventory" in namespace "shop", which does not exist"#)
        .session(SHOP_API, SHOP_SERVICES),
    // Route backends (checkRoutes): Ingress, HTTPRoute, GRPCRoute.
    accept("ingress_backend_exists", "ingress_backend_exists.json").session(SHOP_API, SHOP_SERVICES),
    reject("ingress_backend_missing", "ingress_backend_missing.json",
        r#"Ingress shop/web, spec.rules[0].http.paths[0].backend.service: Service "apii" does not exist in namespace "shop"; did you mean "api"?"#)
        .session(SHOP_API, SHOP_SERVICES),
    accept("ingress_not_checked_without_check_routes", "ingress_backend_missing.json").settings(r#"{"checkRoutes":false}"#),
    reject("httproute_backend_wrong_port", "httproute_backend_wrong_port.json",
        r#"HTTPRoute shop/web, spec.rules[0].backendRefs[0]: Service "api" in namespace "shop" has no port 9090 (it exposes 8080)"#)
        .session(SHOP_API, SHOP_SERVICES),
    accept("grpcroute_backend_exists", "grpcroute_backend_exists.json").session(SHOP_API, SHOP_SERVICES),
    reject("ingress_backend_wrong_port_number", "ingress_backend_wrong_port_number.json",
        r#"Ingress shop/web, spec.rules[0].http.paths[0].backend.service: Service "api" in namespace "shop" has no port 9090 (it exposes 8080); requests routed to this backend get 503"#)
        .session(SHOP_API, SHOP_SERVICES),
    reject("ingress_backend_wrong_port_name", "ingress_backend_wrong_port_name.json",
        r#"Service "api" in namespace "shop" has no port named "grpc" (its named ports: "http")"#)
        .session(SHOP_API, SHOP_SERVICES),
    reject("ingress_default_backend_missing", "ingress_default_backend_missing.json",
        r#"Ingress shop/web, spec.defaultBackend.service: Service "default-http-backend" does not exist in namespace "shop""#)
        .session(SHOP_API, SHOP_SERVICES),
    accept("ingress_backend_external_name", "ingress_backend_external_name.json")
        .session("services/shop-api-legacy-external-name.yml", SHOP_SERVICES),
    reject("httproute_backend_missing", "httproute_backend_missing.json",
        r#"HTTPRoute shop/web, spec.rules[0].backendRefs[0]: Service "apii" does not exist in namespace "shop"; did you mean "api"?"#)
        .session(SHOP_API, SHOP_SERVICES),
    accept("httproute_backend_cross_namespace", "httproute_backend_cross_namespace.json")
        .session("services/backend-grpc-9090.yml", &[Call::Services("backend")]),
    accept("httproute_backend_other_kind", "httproute_backend_other_kind.json"),
    reject("grpcroute_backend_missing", "grpcroute_backend_missing.json",
        r#"GRPCRoute shop/web, spec.rules[0].backendRefs[0]: Service "grcp" does not exist in namespace "backend""#)
        .session("services/backend-grpc-9090.yml", &[Call::Services("backend")]),
    // What a Pod template names (checkWorkloadReferences).
    accept("workload_references_off_by_default", "deployment_gateway_consumes_config.json"),
    reject("consumed_config_names_missing_service", "deployment_gateway_consumes_config.json", SEED_CONSUMED)
        .settings(WORKLOAD).session("workload/gateway-datastorage-missing.yml", GATEWAY),
    accept("consumed_config_service_created", "deployment_gateway_consumes_config.json")
        .settings(WORKLOAD).session("workload/gateway-datastorage-exists.yml", GATEWAY),
    // Services named by env values, args and command (issue 18).
    accept("env_service_addresses_exist", "deployment_env_service_addresses.json")
        .settings(WORKLOAD).session("workload/shop-frontend-services.yml", SHOP_SERVICES),
    reject("env_service_address_typo", "deployment_env_service_typo.json",
        r#"container "server" (Deployment shop/frontend), env[3].value (variable "CART_SERVICE_ADDR"): "cartservce:7070" names Service "cartservce" in namespace "shop", which does not exist; did you mean "cartservice"?"#)
        .settings(WORKLOAD).session("workload/shop-frontend-services.yml", SHOP_SERVICES)
        .warnings(&[r#"container "server" (Deployment shop/frontend), env[5].value (variable "AI_SERVICE_URL"): "http://ai-service:5001" names Service "ai-service" in namespace "shop", which does not exist: the Pods' connections to it will fail"#]),
    accept("env_service_references_off_by_default", "deployment_env_service_typo.json"),
    reject("args_service_typo", "deployment_args_service_typo.json",
        r#"container "server" (Deployment shop/frontend), args[2]: "cartservce:7070" names Service "cartservce" in namespace "shop", which does not exist; did you mean "cartservice"?"#)
        .settings(WORKLOAD).session("workload/shop-frontend-services.yml", SHOP_SERVICES),
    reject("command_service_wrong_port", "deployment_command_service_wrong_port.json",
        r#"container "server" (Deployment shop/frontend), command[2]: "http://checkoutservice:5051" names Service "checkoutservice" in namespace "shop", but port 5051 is not exposed"#)
        .settings(WORKLOAD).session("workload/shop-frontend-services.yml", SHOP_SERVICES),
    accept("env_qualified_name_and_host_alias", "deployment_env_qualified_and_host_alias.json")
        .settings(WORKLOAD).session("workload/shop-frontend-services.yml", SHOP_SERVICES),
    accept("every_lookup_in_order", "deployment_gateway_consumes_config.json")
        .settings(SECRETS)
        .session("workload/gateway-every-lookup.yml", &[
            Call::ServiceAccount(KS, "gateway"), Call::ConfigMap(KS, "gateway-config"), Call::Secrets(KS), Call::Services(KS)]),
    reject("workload_lookup_error", "deployment_gateway_consumes_config.json",
        r#"Deployment kubernaut-system/gateway: cannot verify ServiceAccount "gateway" in namespace "kubernaut-system": error invoking host capability kubernetes.get_resource: Host error: Callback evaluation failure: kube::Client was not initialized properly; Deployment kubernaut-system/gateway: cannot verify ConfigMap "gateway-config" in namespace "kubernaut-system": error invoking host capability kubernetes.get_resource: Host error: Callback evaluation failure: kube::Client was not initialized properly"#)
        .settings(WORKLOAD)
        .session("workload/gateway-client-not-initialized.yml", &[Call::ServiceAccount(KS, "gateway"), Call::ConfigMap(KS, "gateway-config")]),
    accept("workload_lookup_error_allowed", "deployment_gateway_consumes_config.json")
        .settings("settings_workload_lookup_error_allow.json")
        .warnings(&[
            r#"Deployment kubernaut-system/gateway: cannot verify ServiceAccount "gateway" in namespace "kubernaut-system": "#,
            r#"Deployment kubernaut-system/gateway: cannot verify ConfigMap "gateway-config" in namespace "kubernaut-system": error invoking host capability kubernetes.get_resource: Host error: Callback evaluation failure: kube::Client was not initialized properly"#,
        ])
        .session("workload/gateway-client-not-initialized.yml", &[Call::ServiceAccount(KS, "gateway"), Call::ConfigMap(KS, "gateway-config")]),
    accept("update_adds_no_reference", "deployment_update_adds_no_reference.json").settings(SECRETS),
    reject("update_adds_missing_config_map", "deployment_update_adds_config_map.json",
        r#"container "gateway" (Deployment kubernaut-system/gateway), envFrom[0].configMapRef: ConfigMap "gateway-feature-flags" does not exist in namespace "kubernaut-system": the container cannot start (CreateContainerConfigError)"#)
        .settings(SECRETS)
        .session("workload/gateway-feature-flags-missing.yml", &[Call::ConfigMap(KS, "gateway-feature-flags")]),
    reject("config_map_missing", "deployment_config_map_missing.json",
        r#"container "manager" (Deployment kubernaut-system/notification-controller), envFrom[0].configMapRef: ConfigMap "notification-settings" does not exist in namespace "kubernaut-system": the container cannot start (CreateContainerConfigError); create it, or mark the reference optional: true"#)
        .settings(WORKLOAD)
        .session("workload/notification-settings-missing.yml", &[Call::ConfigMap(KS, "notification-settings")]),
    accept("config_map_missing_optional", "deployment_config_map_missing_optional.json")
        .settings(WORKLOAD)
        .session("workload/notification-settings-missing.yml", &[Call::ConfigMap(KS, "notification-settings")]),
    reject("config_map_key_missing", "pod_config_map_key_missing.json",
        r#"container "psql" (Pod kubernaut-system/psql-smoke-test), env[0].valueFrom.configMapKeyRef: ConfigMap "postgres-config" has no key "host" (it has "database", "hostname", "port", "sslmode")"#)
        .settings(WORKLOAD)
        .session("workload/postgres-config.yml", &[Call::ConfigMap(KS, "postgres-config")]),
    reject("kubeconfig_from_env_from_prefix", "deployment_kubeconfig_env_from_prefix.json",
        r#"container "datastorage" (Deployment kubernaut-system/datastorage): KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" (from ConfigMap "datastorage-e2e-env", key "CONFIG", envFrom[0].configMapRef) is not inside any volumeMount, so it will not exist in the container"#)
        .settings(WORKLOAD)
        .session("workload/datastorage-e2e-env.yml", &[
            Call::ServiceAccount(KS, "data-storage-sa"), Call::ConfigMap(KS, "datastorage-config"),
            Call::ConfigMap(KS, "datastorage-e2e-env"), Call::Services(KS)]),
    reject("kubeconfig_from_config_map_key_host_path", "deployment_kubeconfig_value_from.json",
        r#"container "datastorage" (Deployment kubernaut-system/datastorage): KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" (from ConfigMap "datastorage-env", key "kubeconfig", env[2].valueFrom.configMapKeyRef) is not inside any volumeMount, so it will not exist in the container"#)
        .settings(WORKLOAD).session("workload/datastorage-env-host-path.yml", DATASTORAGE_ENV),
    accept("kubeconfig_from_config_map_key_mounted", "deployment_kubeconfig_value_from.json")
        .settings(WORKLOAD).session("workload/datastorage-env-mounted.yml", DATASTORAGE_ENV),
    accept("references_exist_secrets_unchecked", "deployment_kubeconfig_removed.json")
        .settings(WORKLOAD).session("workload/datastorage.yml", DATASTORAGE),
    reject("service_account_missing", "deployment_kubeconfig_removed.json",
        r#"Deployment kubernaut-system/datastorage, serviceAccountName: ServiceAccount "data-storage-sa" does not exist in namespace "kubernaut-system": the API server refuses to create the Pods until it exists"#)
        .settings(WORKLOAD).session("workload/datastorage-sa-missing.yml", DATASTORAGE),
    accept("secrets_exist", "deployment_kubeconfig_removed.json")
        .settings(SECRETS).session("workload/datastorage-secrets.yml", DATASTORAGE_SECRETS),
    accept("secret_missing_waits", "deployment_kubeconfig_removed.json")
        .warnings(&[r#"Deployment kubernaut-system/datastorage, volumes[1].secret: Secret "datastorage-secret" does not exist in namespace "kubernaut-system" yet: the Pods wait in ContainerCreating until it exists"#])
        .settings(SECRETS).session("workload/datastorage-secret-missing.yml", DATASTORAGE_SECRETS),
    reject("secret_missing_denied", "deployment_kubeconfig_removed.json",
        r#"Deployment kubernaut-system/datastorage, volumes[1].secret: Secret "datastorage-secret" does not exist in namespace "kubernaut-system": the volume cannot be mounted"#)
        .settings(r#"{"checkWorkloadReferences": true, "checkSecretReferences": true, "missingSecrets": "deny"}"#)
        .session("workload/datastorage-secret-missing.yml", DATASTORAGE_SECRETS),
    reject("job_service_account_missing", "job_service_account_missing.json",
        r#"Job kubernaut-system/datastorage-migrate, serviceAccountName: ServiceAccount "datastorage-migrator" does not exist in namespace "kubernaut-system""#)
        .settings(WORKLOAD)
        .session("workload/datastorage-migrator-missing.yml", &[Call::ServiceAccount(KS, "datastorage-migrator")]),
    accept("default_service_account_not_looked_up", "job_service_account_default.json").settings(WORKLOAD),
    // The reference graph (sessions of test_data/sessions/graph/). Webhook,
    // APIService and conversion Services: the Service and its port (443
    // when left out) must exist.
    accept("validating_webhook_service_exists", "validatingwebhook_service_exists.json")
        .session(CERT_MANAGER, CERT_MANAGER_SERVICES),
    reject("validating_webhook_service_missing", "validatingwebhook_service_missing.json",
        r#"ValidatingWebhookConfiguration cert-manager-webhook, webhooks[0].clientConfig.service: Service "cert-manager-webhok" does not exist in namespace "cert-manager" (did you mean "cert-manager-webhook"?); the API server cannot call the webhook, so every request it matches fails (or skips the webhook with failurePolicy Ignore); create the Service or correct the name"#)
        .session(CERT_MANAGER, CERT_MANAGER_SERVICES),
    accept("validating_webhook_not_checked", "validatingwebhook_service_missing.json")
        .settings(r#"{"checkWebhookServices": false}"#),
    accept("mutating_webhook_service_exists", "mutatingwebhook_service_exists.json")
        .session(CERT_MANAGER, CERT_MANAGER_SERVICES),
    reject("mutating_webhook_service_wrong_port", "mutatingwebhook_service_wrong_port.json",
        r#"MutatingWebhookConfiguration cert-manager-webhook, webhooks[0].clientConfig.service: Service "cert-manager-webhook" in namespace "cert-manager" has no port 10250 (it exposes 443, 9402); the API server cannot call the webhook"#)
        .session(CERT_MANAGER, CERT_MANAGER_SERVICES),
    accept("apiservice_service_exists", "apiservice_service_exists.json")
        .session(METRICS_SERVER, KUBE_SYSTEM_SERVICES),
    accept("apiservice_service_missing_warns", "apiservice_service_missing.json")
        .session(METRICS_SERVER, KUBE_SYSTEM_SERVICES)
        .warnings(&[r#"APIService v1beta1.metrics.k8s.io, spec.service: Service "metric-server" does not exist in namespace "kube-system" (did you mean "metrics-server"?); the aggregated API is unavailable, and API discovery fails for every client; create the Service or correct the name"#]),
    reject("apiservice_service_missing_denied", "apiservice_service_missing.json",
        r#"APIService v1beta1.metrics.k8s.io, spec.service: Service "metric-server" does not exist in namespace "kube-system" (did you mean "metrics-server"?)"#)
        .settings(r#"{"missingExtensionServices": "deny"}"#)
        .session(METRICS_SERVER, KUBE_SYSTEM_SERVICES),
    accept("crd_conversion_service_exists", "crd_conversion_service_exists.json")
        .session(WIDGET_WEBHOOK, WIDGET_SYSTEM_SERVICES),
    accept("crd_conversion_service_missing_warns", "crd_conversion_service_missing.json")
        .session(WIDGET_WEBHOOK, WIDGET_SYSTEM_SERVICES)
        .warnings(&[r#"CustomResourceDefinition widgets.example.com, spec.conversion.webhook.clientConfig.service: Service "webhook-service" does not exist in namespace "widget-system" (did you mean "widget-webhook-service"?); the API server cannot convert the custom resources between versions, so requests for another version fail; create the Service or correct the name"#]),
    reject("crd_conversion_service_missing_denied", "crd_conversion_service_missing.json",
        r#"spec.conversion.webhook.clientConfig.service: Service "webhook-service" does not exist in namespace "widget-system""#)
        .settings(r#"{"missingExtensionServices": "deny"}"#)
        .session(WIDGET_WEBHOOK, WIDGET_SYSTEM_SERVICES),
    // Pod templates (checkWorkloadReferences): claims, named probe ports.
    accept("claim_exists", "deployment_claim_exists.json")
        .settings(WORKLOAD).session("graph/shop-claims.yml", SHOP_CLAIMS),
    reject("claim_missing", "deployment_claim_missing.json",
        r#"Deployment shop/media, spec.template.spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim "media-upload" does not exist in namespace "shop" (did you mean "media-uploads"?); its Pods stay Pending until the claim exists; create the PersistentVolumeClaim or correct the name"#)
        .settings(WORKLOAD).session("graph/shop-claims.yml", SHOP_CLAIMS),
    accept("claim_not_checked_by_default", "deployment_claim_missing.json"),
    accept("probe_port_declared", "deployment_probe_port_declared.json").settings(WORKLOAD),
    reject("probe_port_undeclared", "deployment_probe_port_undeclared.json",
        r#"Deployment shop/api, spec.template.spec.containers[0].readinessProbe.httpGet.port: container "api" has no port named "health" (it declares "http", "metrics"); the kubelet cannot run the probe, so it always fails; declare the port or correct the name"#)
        .settings(WORKLOAD),
    // Warned unless a setting denies: governing Services, scale targets,
    // binding roles and subjects.
    accept("governing_service_exists", "statefulset_governing_service_exists.json")
        .settings(WORKLOAD).session(POSTGRES_SERVICES, SHOP_SERVICES),
    accept("governing_service_missing_warns", "statefulset_governing_service_missing.json")
        .settings(WORKLOAD).session(POSTGRES_SERVICES, SHOP_SERVICES)
        .warnings(&[r#"StatefulSet shop/postgres, spec.serviceName: Service "postgresql-headless" does not exist in namespace "shop" (did you mean "postgres-headless"?); its Pods run, but their per-Pod DNS names (<pod>.<serviceName>) never resolve; create the Service or correct the name"#]),
    reject("governing_service_missing_denied", "statefulset_governing_service_missing.json",
        r#"StatefulSet shop/postgres, spec.serviceName: Service "postgresql-headless" does not exist in namespace "shop""#)
        .settings(r#"{"checkWorkloadReferences": true, "missingGoverningServices": "deny"}"#)
        .session(POSTGRES_SERVICES, SHOP_SERVICES),
    accept("scale_target_exists", "hpa_target_exists.json")
        .session("graph/shop-deployments.yml", SHOP_DEPLOYMENTS),
    accept("scale_target_missing_warns", "hpa_target_missing.json")
        .session("graph/shop-deployments.yml", SHOP_DEPLOYMENTS)
        .warnings(&[r#"HorizontalPodAutoscaler shop/storefront, spec.scaleTargetRef: Deployment "store-front" does not exist in namespace "shop" (did you mean "storefront"?); the autoscaler cannot read its scale (FailedGetScale) and never scales it; create the Deployment or correct the name"#]),
    reject("scale_target_missing_denied", "hpa_target_missing.json",
        r#"HorizontalPodAutoscaler shop/storefront, spec.scaleTargetRef: Deployment "store-front" does not exist in namespace "shop""#)
        .settings(r#"{"missingScaleTargets": "deny"}"#)
        .session("graph/shop-deployments.yml", SHOP_DEPLOYMENTS),
    accept("scale_target_statefulset_exists", "hpa_statefulset_target_exists.json")
        .session("graph/shop-statefulsets.yml", &[Call::Names { api_version: "apps/v1", kind: "StatefulSet", namespace: "shop" }]),
    // One pass over both kinds: Services first, then PersistentVolumeClaims.
    reject("governing_service_and_claim_missing", "statefulset_governing_service_and_claim_missing.json",
        r#"StatefulSet shop/postgres, spec.template.spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim "postgres-backups" does not exist in namespace "shop"; its Pods stay Pending"#)
        .settings(WORKLOAD)
        .session("graph/shop-postgres-services-and-claims.yml", &[
            Call::Services("shop"), Call::Names { api_version: "v1", kind: "PersistentVolumeClaim", namespace: "shop" }]),
    accept("role_exists", "rolebinding_role_exists.json").session(SHOP_RBAC, SHOP_ACCOUNTS_AND_ROLES),
    accept("role_missing_warns", "rolebinding_role_missing.json")
        .session(SHOP_RBAC, SHOP_ACCOUNTS_AND_ROLES)
        .warnings(&[r#"RoleBinding shop/api-config-reader, roleRef: Role "configmap-reader" does not exist in namespace "shop" (did you mean "config-reader"?); the binding grants nothing until it exists; create the Role or correct the name"#]),
    reject("role_missing_denied", "rolebinding_role_missing.json",
        r#"RoleBinding shop/api-config-reader, roleRef: Role "configmap-reader" does not exist in namespace "shop""#)
        .settings(r#"{"missingBindingReferences": "deny"}"#)
        .session(SHOP_RBAC, SHOP_ACCOUNTS_AND_ROLES),
    accept("cluster_role_exists", "clusterrolebinding_role_exists.json").session(DEPLOYERS, DEPLOYER_LOOKUPS),
    accept("cluster_role_missing_warns", "clusterrolebinding_role_missing.json")
        .session(DEPLOYERS, DEPLOYER_LOOKUPS)
        .warnings(&[r#"ClusterRoleBinding deployers, roleRef: ClusterRole "deployment-managers" does not exist (did you mean "deployment-manager"?); the binding grants nothing until it exists; create the ClusterRole or correct the name"#]),
    accept("subject_missing_warns", "clusterrolebinding_subject_missing.json")
        .session(DEPLOYERS, DEPLOYER_LOOKUPS)
        .warnings(&[r#"ClusterRoleBinding deployers, subjects[1]: ServiceAccount "gitlab-runner" does not exist in namespace "ci""#]),
    reject("subject_missing_denied", "clusterrolebinding_subject_missing.json",
        r#"ClusterRoleBinding deployers, subjects[1]: ServiceAccount "gitlab-runner" does not exist in namespace "ci" (did you mean "runner"?); the binding grants that ServiceAccount nothing until it exists; create the ServiceAccount or correct the name"#)
        .settings(r#"{"missingBindingReferences": "deny"}"#)
        .session(DEPLOYERS, DEPLOYER_LOOKUPS),
    accept("cluster_roles_unlistable_warns", "clusterrolebinding_role_exists.json")
        .session("graph/ci-ops-deployers-cluster-roles-forbidden.yml", DEPLOYER_LOOKUPS)
        .warnings(&[r#"ClusterRoleBinding deployers: cannot verify the ClusterRoles it references: error invoking host capability kubernetes.list_resources_all: Host error: Callback evaluation failure: Cannot list rbac.authorization.k8s.io/v1/ClusterRole: clusterroles.rbac.authorization.k8s.io is forbidden"#]),
    // What every cluster has is never looked up: NoHost fails any call.
    accept("built_in_cluster_role_and_default_account", "rolebinding_built_in_role.json"),
    accept("system_cluster_role", "clusterrolebinding_system_role.json")
        .settings(r#"{"missingBindingReferences": "deny"}"#),
];

/// Every fixture of `test_data/` has at least one row in [`CASES`].
#[test]
fn every_fixture_has_a_case() {
    let covered: BTreeSet<&str> = CASES.iter().map(|c| c.fixture).collect();
    let missing: Vec<String> = request_fixtures()
        .into_iter()
        .filter(|f| !covered.contains(f.as_str()))
        .collect();
    assert!(missing.is_empty(), "fixtures without a case: {missing:?}");
    let names: BTreeSet<&str> = CASES.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), CASES.len(), "case names must be unique");
}

/// Every session of `test_data/sessions/` (subdirectories included) is
/// replayed by at least one row of [`CASES`].
#[test]
fn every_session_has_a_case() {
    let covered: BTreeSet<&str> = CASES.iter().filter_map(|c| c.session).collect();
    let missing: Vec<String> = session_files()
        .into_iter()
        .filter(|f| !covered.contains(f.as_str()))
        .collect();
    assert!(missing.is_empty(), "sessions without a case: {missing:?}");
}

fn evaluate_case(c: &Case) -> (Evaluation, Option<ReplaySession>) {
    let request = read_json(c.fixture);
    let settings = settings_value(c.settings);
    match c.session {
        None => {
            let mut host = NoHost::new();
            let eval = policy()
                .validate(&request, &settings, &mut host)
                .unwrap_or_else(|e| panic!("{}: evaluation failed: {e:#}", c.name));
            assert!(host.violations().is_empty(), "{}", c.name);
            (eval, None)
        }
        Some(file) => {
            let mut session = session(file);
            let eval = policy()
                .validate(&request, &settings, &mut session)
                .unwrap_or_else(|e| panic!("{}: evaluation failed: {e:#}", c.name));
            (eval, Some(session))
        }
    }
}

#[test]
fn fixtures() {
    run_table(CASES, |c| c.name, check_case);
}

fn check_case(c: &Case) {
    let name = c.name;
    let (eval, session) = evaluate_case(c);
    let r = &eval.response;
    assert_eq!(r.accepted, c.accepted, "{name}: {r:?}");
    assert_eq!(r.code, c.code, "{name}: code of {r:?}");
    assert!(r.mutated_object.is_none(), "{name}: unexpected mutation");
    assert!(eval.patch.is_none(), "{name}: unexpected patch");
    assert!(r.audit_annotations.is_none(), "{name}");
    if c.accepted {
        assert_eq!(r.message, None, "{name}: an acceptance has no message");
    } else {
        let message = r.message.as_deref().unwrap_or_default();
        assert!(!message.is_empty(), "{name}: a rejection needs a message");
        assert!(
            message.contains(c.message),
            "{name}: message {message:?} lacks {:?}",
            c.message
        );
    }
    if c.warnings.is_empty() {
        assert_eq!(r.warnings, None, "{name}: unexpected warnings");
    } else {
        let warnings = r.warnings.clone().unwrap_or_default();
        assert_eq!(
            warnings.len(),
            c.warnings.len(),
            "{name}: warnings {warnings:?}"
        );
        for (warning, part) in warnings.iter().zip(c.warnings) {
            assert!(
                warning.contains(part),
                "{name}: warning {warning:?} lacks {part:?}"
            );
        }
    }
    // what kwctl prints / policy-server returns
    let ar = &eval.admission_response;
    assert_eq!(ar.allowed, c.accepted, "{name}");
    assert_eq!(ar.patch_type, None, "{name}");
    assert_eq!(
        ar.status.as_ref().and_then(|s| s.message.clone()),
        r.message,
        "{name}"
    );
    // host calls, in order, with their exact payloads (field masks
    // included); none for DELETE and UPDATEs that add no reference
    assert_calls(name, &eval, c.calls);
    if let Some(session) = session {
        assert_eq!(session.remaining(), 0, "{name}: exchanges left unreplayed");
        assert!(
            session.errors().is_empty(),
            "{name}: {:?}",
            session.errors()
        );
    }
    // a recorded Error answer reaches the guest as a host error
    if c.session == Some(SERR) {
        let error = eval.host_calls[0].error.as_deref().unwrap_or_default();
        assert!(
            error.starts_with("Callback evaluation failure: Cannot list v1/Service"),
            "{name}: {error}"
        );
    }
    for call in &eval.host_calls {
        if let Some(error) = &call.error {
            assert!(
                error.starts_with("Callback evaluation failure: "),
                "{name}: {error}"
            );
        }
    }
}

/// A warm instance (one wasm Store, as a policy-server worker keeps) gives
/// the same verdicts as fresh ones, twice over, whatever came before.
#[test]
fn warm_instance_gives_the_same_verdicts() {
    let mut instance = policy().instantiate(NoHost::new()).unwrap();
    for round in 0..2 {
        for c in CASES.iter().filter(|c| c.session.is_none()) {
            let eval = instance
                .validate(&read_json(c.fixture), &settings_value(c.settings))
                .unwrap_or_else(|e| panic!("{} (round {round}): {e:#}", c.name));
            let (fresh, _) = evaluate_case(c);
            assert_eq!(eval.response, fresh.response, "{} (round {round})", c.name);
        }
    }
    assert!(instance.with_host(|h| h.violations().is_empty()));
}

/// The policy built into the CLI (`Policy::builtin`, linked natively)
/// answers every row exactly as `policy.wasm` of the same commit does: the
/// same response, and the same host calls in the same order (each
/// replay session is replayed again, from the start, and used up).
#[test]
fn the_built_in_policy_gives_the_same_verdicts() {
    let builtin = Policy::builtin();
    run_table(
        CASES,
        |c| c.name,
        |c| {
            let (wasm, wasm_session) = evaluate_case(c);
            let request = read_json(c.fixture);
            let settings = settings_value(c.settings);
            let (native, native_session) = match c.session {
                None => {
                    let mut host = NoHost::new();
                    let eval = builtin.validate(&request, &settings, &mut host).unwrap();
                    assert!(host.violations().is_empty(), "{}", c.name);
                    (eval, None)
                }
                Some(file) => {
                    let mut session = session(file);
                    let eval = builtin.validate(&request, &settings, &mut session).unwrap();
                    (eval, Some(session))
                }
            };
            assert_eq!(native.response, wasm.response, "{}", c.name);
            let calls = |e: &Evaluation| -> Vec<(String, Value)> {
                e.host_calls
                    .iter()
                    .map(|h| (h.path(), h.payload.clone()))
                    .collect()
            };
            assert_eq!(calls(&native), calls(&wasm), "{}", c.name);
            assert_eq!(
                native_session.map(|s| s.remaining()),
                wasm_session.map(|s| s.remaining()),
                "{}",
                c.name
            );
        },
    );
    for &(source, ..) in SETTINGS {
        let settings = settings_value(source);
        assert_eq!(
            builtin.validate_settings(&settings).unwrap(),
            policy().validate_settings(&settings).unwrap(),
            "{source}"
        );
    }
    assert_eq!(
        builtin.protocol_version().unwrap(),
        policy().protocol_version().unwrap()
    );
}

// ---------------------------------------------------------------------------
// 2. Settings.
// ---------------------------------------------------------------------------

/// `(source, valid, parts of the message)`; `source` as [`Case::settings`]
/// (a file of `test_data/` or inline JSON).
#[rustfmt::skip]
const SETTINGS: &[(&str, bool, &[&str])] = &[
    ("settings_allow_host_path.json", true, &[]),
    ("settings_allowed_paths.json", true, &[]),
    ("settings_corp_cluster_domain.json", true, &[]),
    ("settings_corp_cluster_domain_serves_cluster_local.json", true, &[]),
    ("settings_default.json", true, &[]),
    ("settings_invalid_unknown_field.json", false, &["invalid settings: unknown field `variable`, expected one of `variables`"]),
    ("settings_invalid_values.json", false, &[
        r#"variables: "1BAD" is not a valid environment variable name"#,
        r#"allowedPaths: "relative/path" must be an absolute path"#,
        r#"clusterDomain: "Not_A_Domain" is not a DNS domain"#,
    ]),
    ("settings_lookup_error_allow.json", true, &[]),
    ("settings_remove_offending.json", true, &[]),
    ("settings_secret_references.json", true, &[]),
    ("settings_short_names.json", true, &[]),
    ("settings_warn.json", true, &[]),
    ("settings_warn_unresolved.json", true, &[]),
    ("settings_workload_lookup_error_allow.json", true, &[]),
    ("settings_workload_references.json", true, &[]),
    ("null", true, &[]),
    ("{}", true, &[]),
    (r#"{"variables":["KUBECONFIG","KUBE_CONFIG_PATH"],"allowedPaths":["/etc/kube"],
        "allowHostPathVolumes":true,"removeOffendingVariables":true,"warnOnUnresolvedValues":true,
        "action":"warn","clusterDomain":"corp.example.","checkShortNames":true,"checkPorts":false,
        "ignoredHosts":["*.legacy.svc.cluster.local"],"onLookupError":"allow","maxNamespacesPerRequest":3}"#, true, &[]),
    (r#"{"action":"block"}"#, false, &["action: unknown variant `block`, expected `deny` or `warn`"]),
    (r#"{"action":"Deny"}"#, false, &["unknown variant `Deny`"]),
    (r#"{"onLookupError":"ignore"}"#, false, &["unknown variant `ignore`, expected `deny` or `allow`"]),
    (r#"{"checkPorts":"yes"}"#, false, &[r#"checkPorts: invalid type: string "yes", expected a boolean"#]),
    (r#"{"variables":"KUBECONFIG"}"#, false, &[r#"invalid type: string "KUBECONFIG", expected a sequence"#]),
    (r#"{"variables":[]}"#, false, &["variables must name at least one environment variable"]),
    (r#"{"variables":["A=B"]}"#, false, &[r#"variables: "A=B" is not a valid environment variable name"#]),
    (r#"{"allowedPaths":["etc/kube"]}"#, false, &[r#"allowedPaths: "etc/kube" must be an absolute path"#]),
    (r#"{"clusterDomain":""}"#, false, &[r#"clusterDomain: "" is not a DNS domain"#]),
    (r#"{"ignoredHosts":[" "]}"#, false, &[r#"ignoredHosts: " " must be a host name pattern without spaces"#]),
    (r#"{"maxNamespacesPerRequest":0}"#, false, &["maxNamespacesPerRequest must be at least 1"]),
    (r#"{"maxNamespacesPerRequest":-1}"#, false, &["invalid value: integer `-1`"]),
    (r#"{"maxNamespacesPerRequest":1.5}"#, false, &["maxNamespacesPerRequest: invalid value: floating point `1.5`"]),
    (r#"{"additionalClusterDomains":["cluster.local","corp.internal."],"ignoredKeys":[]}"#, true, &[]),
    (r#"{"additionalClusterDomains":["corp_internal"]}"#, false,
        &[r#"additionalClusterDomains: "corp_internal" is not a DNS domain such as "cluster.local""#]),
    (r#"{"ignoredKeys":["_example",""]}"#, false, &["ignoredKeys: an empty pattern matches no key"]),
    (r#"{"checkSecretReferences":true}"#, false,
        &["checkSecretReferences needs checkWorkloadReferences: Secrets are checked as part of the workload check"]),
    (r#"{"checkWorkloadReferences":"yes"}"#, false, &[r#"invalid type: string "yes", expected a boolean"#]),
];

#[test]
fn every_settings_file_has_a_case() {
    let covered: BTreeSet<&str> = SETTINGS.iter().map(|s| s.0).collect();
    let missing: Vec<String> = settings_fixtures()
        .into_iter()
        .filter(|f| !covered.contains(f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "settings files without a case: {missing:?}"
    );
}

/// `validate_settings` (what kwctl and the controller call when loading
/// the policy), and the same settings inside a `validate` payload: valid
/// settings evaluate normally, invalid ones are a code-500 rejection with
/// the same message.
#[test]
fn settings() {
    run_table(
        SETTINGS,
        |s| s.0,
        |&(source, valid, parts)| {
            let settings = settings_value(source);
            let verdict = policy()
                .validate_settings(&settings)
                .unwrap_or_else(|e| panic!("{source}: validate_settings failed: {e:#}"));
            assert_eq!(verdict.valid, valid, "{source}: {verdict:?}");
            let message = verdict.message.clone().unwrap_or_default();
            if valid {
                assert_eq!(verdict.message, None, "{source}");
            }
            for part in parts {
                assert!(
                    message.contains(part),
                    "{source}: {message:?} lacks {part:?}"
                );
            }

            // a workload that names nothing to look up, whatever the settings
            let review = read_json("job_service_account_default.json");
            let eval = policy()
                .validate(&review, &settings, &mut NoHost::new())
                .unwrap_or_else(|e| panic!("{source}: validate failed: {e:#}"));
            let r = eval.response;
            assert_eq!(r.accepted, valid, "{source}: validate answered {r:?}");
            if !valid {
                assert_eq!(r.code, Some(500), "{source}");
                assert_eq!(
                    r.message,
                    Some(format!("the policy is misconfigured: {message}")),
                    "{source}"
                );
            }
        },
    );
}

/// What a host might hand `validate_settings` besides a JSON object.
#[test]
fn raw_settings_payloads_get_an_answer() {
    let nested = nested_arrays(10_000);
    #[rustfmt::skip]
    let cases: &[(&str, &[u8], bool, &str)] = &[
        ("empty means defaults", b"", true, ""),
        ("json null", b"null", true, ""),
        ("not json", b"variables: [KUBECONFIG]", false, "invalid settings"),
        ("array", b"[1]", false, "invalid settings: invalid type: sequence, expected a map of settings"),
        ("not utf-8", b"{\"variables\":[\"\xff\"]}", false, "settings are not UTF-8"),
        ("deeply nested", &nested, false, "invalid settings"),
    ];
    run_table(
        cases,
        |c| c.0,
        |&(name, payload, valid, part)| {
            let mut instance = policy().instantiate(NoHost::new()).unwrap();
            let raw = instance
                .call("validate_settings", payload)
                .unwrap_or_else(|e| panic!("{name}: the guest failed: {e:#}"));
            let verdict: SettingsVerdict = serde_json::from_slice(&raw)
                .unwrap_or_else(|e| panic!("{name}: {e}: {}", String::from_utf8_lossy(&raw)));
            assert_eq!(verdict.valid, valid, "{name}: {verdict:?}");
            let message = verdict.message.unwrap_or_default();
            assert!(message.contains(part), "{name}: {message:?} lacks {part:?}");
        },
    );
}

// ---------------------------------------------------------------------------
// 3. Mutation with removeOffendingVariables.
// ---------------------------------------------------------------------------

/// `(fixture, JSON pointer of the env array holding KUBECONFIG, start of
/// the warning)`.
#[rustfmt::skip]
const MUTATIONS: &[(&str, &str, &str)] = &[
    ("pod_unknown_fields_kubeconfig.json", "/spec/containers/0/env",
        r#"container "gateway" (Pod kubernaut-system/gateway-unknown-fields): removed KUBECONFIG"#),
    ("deployment_kubeconfig_host_path.json", "/spec/template/spec/containers/0/env",
        r#"container "datastorage" (Deployment kubernaut-system/datastorage): removed KUBECONFIG"#),
    ("cronjob_kubeconfig_host_path.json", "/spec/jobTemplate/spec/template/spec/containers/0/env",
        r#"container "datastorage" (CronJob kubernaut-system/datastorage): removed KUBECONFIG"#),
    ("pod_init_container_kubeconfig.json", "/spec/initContainers/0/env",
        r#"init container "wait-for-api" (Pod kubernaut-system/migrate-7f9c): removed KUBECONFIG"#),
];

#[test]
fn removal_mutates_only_the_offending_variable() {
    run_table(MUTATIONS, |m| m.0, check_removal);
}

fn check_removal(&(fixture, env_pointer, warning): &(&str, &str, &str)) {
    let review = read_json(fixture);
    let object = review["request"]["object"].clone();
    let settings = settings_value("settings_remove_offending.json");
    let eval = policy()
        .validate(&review, &settings, &mut NoHost::new())
        .unwrap_or_else(|e| panic!("{fixture}: {e:#}"));
    let r = &eval.response;
    assert!(r.accepted, "{fixture}: {r:?}");
    assert_eq!((r.message.as_deref(), r.code), (None, None), "{fixture}");

    // the mutated object is the same kind of object ...
    let mutated = r
        .mutated_object
        .clone()
        .unwrap_or_else(|| panic!("{fixture}: no mutated_object"));
    for field in ["apiVersion", "kind", "metadata", "status"] {
        assert_eq!(mutated[field], object[field], "{fixture}: {field}");
    }
    // ... and differs only by the KUBECONFIG entry of that env array
    let mut expected = object.clone();
    let env = expected
        .pointer_mut(env_pointer)
        .and_then(Value::as_array_mut)
        .unwrap_or_else(|| panic!("{fixture}: no env at {env_pointer}"));
    let before = env.len();
    env.retain(|e| e["name"] != "KUBECONFIG");
    assert_eq!(env.len() + 1, before, "{fixture}: one KUBECONFIG entry");
    assert_eq!(mutated, expected, "{fixture}: mutated object");

    // the JSON patch (policy-evaluator's diff) touches only that array:
    // `replace`s of the entries that shift up, and one `remove`
    let patch = eval
        .patch
        .clone()
        .unwrap_or_else(|| panic!("{fixture}: no patch"));
    let env_prefix = format!("{env_pointer}/");
    for op in &patch.0 {
        assert!(
            op.path().to_string().starts_with(&env_prefix),
            "{fixture}: patch op outside {env_pointer}: {op:?}"
        );
        assert!(
            matches!(op, PatchOperation::Remove(_) | PatchOperation::Replace(_)),
            "{fixture}: unexpected patch op {op:?}"
        );
    }
    let removes: Vec<_> = patch
        .0
        .iter()
        .filter(|op| matches!(op, PatchOperation::Remove(_)))
        .collect();
    assert_eq!(removes.len(), 1, "{fixture}: {patch:?}");
    assert_eq!(
        removes[0].path().to_string(),
        format!("{env_pointer}/{}", before - 1),
        "{fixture}: the last entry goes"
    );
    let mut patched = object.clone();
    json_patch::patch(&mut patched, &patch).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    assert_eq!(patched, expected, "{fixture}: patch applied to the object");
    // kwctl's / policy-server's AdmissionResponse carries it
    let ar = &eval.admission_response;
    assert!(ar.allowed, "{fixture}");
    assert_eq!(ar.patch_type.as_deref(), Some("JSONPatch"), "{fixture}");
    assert!(ar.patch.is_some(), "{fixture}");

    let warnings = r.warnings.clone().unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{fixture}: {warnings:?}");
    assert!(
        warnings[0].starts_with(warning),
        "{fixture}: {:?} does not start with {warning:?}",
        warnings[0]
    );
    assert!(
        warnings[0].contains("in-cluster ServiceAccount config"),
        "{fixture}: {:?}",
        warnings[0]
    );
    assert!(eval.host_calls.is_empty(), "{fixture}");
}

/// The exact patches: a trailing entry is one `remove`; an entry in the
/// middle of `env` is what policy-evaluator's diff makes of the shift.
#[test]
fn removal_patches_are_minimal() {
    #[rustfmt::skip]
    let cases = [
        ("pod_unknown_fields_kubeconfig.json", json!([
            {"op": "replace", "path": "/spec/containers/0/env/1/name", "value": "B"},
            {"op": "replace", "path": "/spec/containers/0/env/1/value", "value": "2"},
            {"op": "remove", "path": "/spec/containers/0/env/2"},
        ])),
        ("deployment_kubeconfig_host_path.json", json!([
            {"op": "remove", "path": "/spec/template/spec/containers/0/env/2"},
        ])),
        ("cronjob_kubeconfig_host_path.json", json!([
            {"op": "remove", "path": "/spec/jobTemplate/spec/template/spec/containers/0/env/2"},
        ])),
    ];
    run_table(
        &cases,
        |c| c.0,
        |(fixture, expected)| {
            let settings = settings_value("settings_remove_offending.json");
            let eval = policy()
                .validate(&read_json(fixture), &settings, &mut NoHost::new())
                .unwrap_or_else(|e| panic!("{fixture}: {e:#}"));
            let patch = serde_json::to_value(eval.patch.expect("a patch")).unwrap();
            assert_eq!(&patch, expected, "{fixture}");
        },
    );
}

#[test]
fn removal_keeps_unknown_fields() {
    let eval = policy()
        .validate(
            &read_json("pod_unknown_fields_kubeconfig.json"),
            &settings_value("settings_remove_offending.json"),
            &mut NoHost::new(),
        )
        .unwrap();
    let mutated = eval.response.mutated_object.unwrap();
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

/// Every KUBECONFIG entry of every offending container goes, in one
/// response; a good container is left alone.
#[test]
fn removal_of_duplicates_in_several_containers() {
    let mut review = read_json("deployment_kubeconfig_host_path.json");
    let containers = review
        .pointer_mut("/request/object/spec/template/spec/containers")
        .unwrap();
    let mut sidecar = containers[0].clone();
    sidecar["name"] = json!("sidecar");
    sidecar["env"]
        .as_array_mut()
        .unwrap()
        .insert(0, json!({"name": "KUBECONFIG", "value": "/tmp/first"}));
    let mut good = containers[0].clone();
    good["name"] = json!("good");
    good["env"] = json!([{"name": "KUBECONFIG", "value": "/etc/datastorage/kubeconfig"}]);
    containers
        .as_array_mut()
        .unwrap()
        .extend([sidecar, good.clone()]);
    let settings = settings_value("settings_remove_offending.json");
    let eval = policy()
        .validate(&review, &settings, &mut NoHost::new())
        .unwrap();
    let r = eval.response;
    assert!(r.accepted, "{r:?}");
    let mutated = r.mutated_object.unwrap();
    let containers = mutated.pointer("/spec/template/spec/containers").unwrap();
    for i in 0..2 {
        let names: Vec<&str> = containers[i]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["CONFIG_PATH", "POD_NAMESPACE"], "container {i}");
    }
    assert_eq!(containers[2], good);
    let warnings = r.warnings.unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with(r#"container "datastorage""#)
            && warnings[1].starts_with(r#"container "sidecar""#),
        "{warnings:?}"
    );
    for op in &eval.patch.unwrap().0 {
        assert!(op.path().to_string().contains("/env/"), "{op:?}");
    }
}

// ---------------------------------------------------------------------------
// 4. Host-capability failures.
// ---------------------------------------------------------------------------

fn error_of(err: &anyhow::Error) -> &EvaluationError {
    err.downcast_ref::<EvaluationError>()
        .unwrap_or_else(|| panic!("not an EvaluationError: {err:#}"))
}

fn service_list(items: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceList", "metadata": {"resourceVersion": "1"}, "items": items})
}

/// The request the policy sends, for hand-made sessions.
fn list_request(namespace: &str) -> KubernetesRequest {
    let payload = serde_json::to_vec(&list_services_payload(namespace)).unwrap();
    KubernetesRequest::from_host_call("list_resources_by_namespace", &payload)
        .unwrap()
        .unwrap()
}

/// A session that does not hold the exchange the policy needs makes the
/// evaluation fail: a missing recording can never pass silently.
#[test]
fn a_missing_exchange_fails_the_run() {
    let empty = service_list(json!([]));
    let mut unmasked = list_request("kubernaut-system");
    if let KubernetesRequest::KubernetesListResourceNamespace { field_masks, .. } = &mut unmasked {
        *field_masks = None;
    }
    let get = KubernetesRequest::get("v1", "Service", Some("kubernaut-system"), "datastorage");
    let svc = ClusterState::service("kubernaut-system", "datastorage", &[8080]);
    let cases: Vec<(&str, ReplaySession, &str)> = vec![
        (
            "empty session",
            ReplaySession::new(vec![]),
            "Was expecting nothing (the list of recorded responses is empty)",
        ),
        (
            "other namespace",
            ReplaySession::new(vec![Exchange::success(
                list_request("other-namespace"),
                &empty,
            )]),
            "Was expecting",
        ),
        (
            "no field masks",
            ReplaySession::new(vec![Exchange::success(unmasked, &empty)]),
            "Was expecting",
        ),
        (
            "get instead of list",
            ReplaySession::new(vec![Exchange::success(get, &svc)]),
            "Was expecting",
        ),
    ];
    run_table(
        &cases,
        |c| c.0,
        |(name, session, part)| {
            let mut session = session.clone();
            let review = read_json("configmap_dangling_service.json");
            let err = policy()
                .validate(&review, &json!({}), &mut session)
                .expect_err(name);
            let e = error_of(&err);
            assert_eq!(
                e.kind,
                EvaluationErrorKind::HostViolation,
                "{name}: {err:#}"
            );
            assert!(
                e.message.contains("Replay error: unexpected request"),
                "{name}: {}",
                e.message
            );
            let errors = session.errors();
            assert_eq!(errors.len(), 1, "{name}: {errors:?}");
            assert!(
                errors[0].starts_with("Replay error: unexpected request"),
                "{name}"
            );
            assert!(errors[0].contains(part), "{name}: {errors:?}");
            assert_eq!(session.remaining(), 0, "{name}");
        },
    );
}

/// A ConfigMap naming two namespaces with a session recorded for only one:
/// the first lookup replays, the second fails the run.
#[test]
fn a_session_lacking_the_second_namespace_fails_the_run() {
    let review = configmap_review(
        "kubernaut-system",
        json!({"a": "http://data-storage-service.kubernaut-system.svc:8080", "b": "postgres.db.svc:5432"}),
    );
    let db = service_list(json!([ClusterState::service("db", "postgres", &[5432])]));
    let mut only_db = ReplaySession::new(vec![Exchange::success(list_request("db"), &db)]);
    let err = policy()
        .validate(&review, &json!({}), &mut only_db)
        .unwrap_err();
    assert_eq!(error_of(&err).kind, EvaluationErrorKind::HostViolation);
    assert_eq!(only_db.errors().len(), 1, "{:?}", only_db.errors());
    assert!(
        only_db.errors()[0].contains("Was expecting nothing"),
        "{:?}",
        only_db.errors()
    );

    // namespaces are asked in alphabetical order: "db" before "kubernaut-system"
    let ks = service_list(json!([ClusterState::service(
        "kubernaut-system",
        "data-storage-service",
        &[8080]
    )]));
    let mut both = ReplaySession::new(vec![
        Exchange::success(list_request("db"), &db),
        Exchange::success(list_request("kubernaut-system"), &ks),
    ]);
    let eval = policy().validate(&review, &json!({}), &mut both).unwrap();
    assert!(eval.accepted(), "{:?}", eval.response);
    assert_lookups("both", &eval, &["db", "kubernaut-system"]);
    assert_eq!(both.remaining(), 0);
    assert!(both.errors().is_empty());
}

type HostFactory = Box<dyn Fn() -> Box<dyn HostCapabilities>>;

/// Every way a lookup can fail is a rejection (or, with `onLookupError:
/// allow`, a warning) naming the cause; never a guest error.
#[test]
fn host_errors_are_verdicts() {
    let review = read_json("configmap_service_exists.json");
    let recorded_error: HostFactory = Box::new(|| {
        Box::new(ReplaySession::new(vec![Exchange::error(
            list_request("kubernaut-system"),
            "etcdserver: request timed out",
        )]))
    });
    let garbage_answer: HostFactory = Box::new(|| {
        Box::new(ReplaySession::new(vec![Exchange {
            request: list_request("kubernaut-system"),
            response: ExchangeResponse::Success {
                payload: "<html>502 Bad Gateway</html>".into(),
            },
        }]))
    });
    let no_host: HostFactory = Box::new(|| Box::new(NoHost::new()));
    let no_capabilities = AccessControl::policy_server(&[("v1", "Service")], &[]);
    let no_resource = AccessControl::policy_server(&[("v1", "ConfigMap")], &["kubernetes/*"]);
    // (name, access control, host, part of the reason)
    #[rustfmt::skip]
    let cases: Vec<(&str, AccessControl, HostFactory, &str)> = vec![
        ("recorded error", AccessControl::default(), recorded_error,
            "Callback evaluation failure: etcdserver: request timed out"),
        ("unparsable answer", AccessControl::default(), garbage_answer, "expected value at line 1 column 1"),
        ("policy-server without hostCapabilities", no_capabilities, no_host,
            "Policy has not been granted access to the 'kubernetes/list_resources_by_namespace' host capability"),
        ("Service not in contextAwareResources", no_resource, Box::new(|| Box::new(NoHost::new())),
            "Policy has not been granted access to Kubernetes v1/Service resources"),
    ];
    run_table(
        &cases,
        |c| c.0,
        |(name, access, host, part)| {
            let policy = policy_with(access.clone());
            for (settings, accepted) in [
                (json!({}), false),
                (json!({"onLookupError": "allow"}), true),
            ] {
                let mut host = host();
                let eval = policy
                    .validate(&review, &settings, &mut host)
                    .unwrap_or_else(|e| panic!("{name}: {e:#}"));
                let r = &eval.response;
                assert_eq!(r.accepted, accepted, "{name} {settings}: {r:?}");
                let text = if accepted {
                    r.warnings.clone().unwrap_or_default().join("\n")
                } else {
                    r.message.clone().unwrap_or_default()
                };
                assert!(
                    text.contains(
                        r#"cannot verify the Services referenced in namespace "kubernaut-system""#
                    ),
                    "{name} {settings}: {text}"
                );
                assert!(
                    text.contains(part),
                    "{name} {settings}: {text:?} lacks {part:?}"
                );
                assert_eq!(eval.kubernetes_calls().count(), 1, "{name}");
                assert!(host.violations().is_empty(), "{name}");
            }
        },
    );
}

/// The workload check against the in-memory cluster, whose not-found
/// errors are generated (not recorded): each missing object is reported as
/// missing, never as a lookup error, and Secret contents never cross the
/// host boundary (the listing is masked to names).
#[test]
fn workload_references_against_a_cluster() {
    let review = read_json("deployment_gateway_consumes_config.json");
    let mut settings = settings_value(SECRETS);
    // a missing Secret rejects, as every other missing object here
    settings["missingSecrets"] = json!("deny");
    let config = json!({"config.yaml": "data_storage_url: http://data-storage-service.kubernaut-system.svc.cluster.local:8080\n"});
    let full = || {
        let mut cluster = ClusterState::new();
        cluster.add_service(KS, "data-storage-service", &[8080, 9090]);
        cluster.add(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "gateway", "namespace": KS}}));
        cluster.add(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "gateway-config", "namespace": KS}, "data": config}));
        cluster.add(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "quay-pull-secret", "namespace": KS},
            "data": {".dockerconfigjson": "eyJhdXRocyI6e319"}}),
        );
        cluster
    };
    let every_call: &[Call] = &[
        Call::ServiceAccount(KS, "gateway"),
        Call::ConfigMap(KS, "gateway-config"),
        Call::Secrets(KS),
        Call::Services(KS),
    ];
    #[rustfmt::skip]
    let cases: Vec<(&str, ClusterState, &[Call], Option<&str>)> = vec![
        ("everything exists", full(), every_call, None),
        ("no ServiceAccount", {
            let mut c = full();
            c.remove("v1", "ServiceAccount", Some(KS), "gateway");
            c
        }, every_call, Some(r#"serviceAccountName: ServiceAccount "gateway" does not exist in namespace "kubernaut-system""#)),
        ("no ConfigMap", {
            let mut c = full();
            c.remove("v1", "ConfigMap", Some(KS), "gateway-config");
            c
        }, &every_call[..3], Some(r#"volumes[0].configMap: ConfigMap "gateway-config" does not exist in namespace "kubernaut-system""#)),
        ("no pull Secret", {
            let mut c = full();
            c.remove("v1", "Secret", Some(KS), "quay-pull-secret");
            c
        }, every_call, Some(r#"imagePullSecrets[0]: Secret "quay-pull-secret" does not exist in namespace "kubernaut-system""#)),
        ("no Service", {
            let mut c = full();
            c.remove("v1", "Service", Some(KS), "data-storage-service");
            c
        }, every_call, Some(r#"names Service "data-storage-service" in namespace "kubernaut-system", which does not exist"#)),
    ];
    run_table(
        &cases,
        |c| c.0,
        |(name, cluster, calls, rejection)| {
            let mut host = e2e::RecordingHost::new(cluster.clone());
            let eval = policy()
                .validate(&review, &settings, &mut host)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            let r = &eval.response;
            match rejection {
                None => assert!(r.accepted && r.warnings.is_none(), "{name}: {r:?}"),
                Some(part) => {
                    let message = r.message.as_deref().unwrap_or_default();
                    assert!(!r.accepted, "{name}: {r:?}");
                    assert!(message.contains(part), "{name}: {message}");
                    assert!(!message.contains("cannot verify"), "{name}: {message}");
                }
            }
            assert_calls(name, &eval, calls);
            for exchange in host.exchanges() {
                if let ExchangeResponse::Success { payload } = &exchange.response {
                    assert!(!payload.contains("eyJhdXRocyI6e319"), "{name}: {payload}");
                }
            }
        },
    );
}

/// More namespaces than `maxNamespacesPerRequest`: no host call at all.
#[test]
fn too_many_namespaces_are_not_looked_up() {
    let data: serde_json::Map<String, Value> = (0..25)
        .map(|i| {
            (
                format!("k{i}"),
                json!(format!("http://api.ns-{i:02}.svc:80")),
            )
        })
        .collect();
    let review = configmap_review("team-a", Value::Object(data));
    let eval = policy()
        .validate(&review, &json!({}), &mut NoHost::new())
        .unwrap();
    assert!(!eval.accepted());
    let message = eval.response.message.unwrap();
    assert!(
        message.contains(
            "references Services in 25 namespaces, more than maxNamespacesPerRequest (20) allows"
        ),
        "{message}"
    );
    assert!(eval.host_calls.is_empty());

    let mut cluster = ClusterState::new();
    for i in 0..25 {
        cluster.add_service(&format!("ns-{i:02}"), "api", &[80]);
    }
    let eval = policy()
        .validate(
            &review,
            &json!({"maxNamespacesPerRequest": 25}),
            &mut cluster,
        )
        .unwrap();
    assert!(eval.accepted(), "{:?}", eval.response);
    let expected: Vec<String> = (0..25).map(|i| format!("ns-{i:02}")).collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_lookups("25 namespaces", &eval, &expected);
}

// ---------------------------------------------------------------------------
// 5. Hostile input straight into the guest.
// ---------------------------------------------------------------------------

/// A payload sent to the guest's `validate` as is (no host normalisation).
struct Hostile {
    name: &'static str,
    payload: fn() -> Vec<u8>,
    code: u16,
    message: &'static str,
}

#[rustfmt::skip]
const HOSTILE: &[Hostile] = &[
    Hostile { name: "garbage", payload: || b"\x00\xffnot json".to_vec(), code: 400,
        message: "cannot read the admission request" },
    Hostile { name: "empty payload", payload: Vec::new, code: 400,
        message: "cannot read the admission request: EOF while parsing" },
    Hostile { name: "empty object", payload: || b"{}".to_vec(), code: 400,
        message: "cannot read the admission request: missing field `request`" },
    Hostile { name: "json null", payload: || b"null".to_vec(), code: 400,
        message: "cannot read the admission request" },
    Hostile { name: "request is a string", payload: || br#"{"request":"x","settings":{}}"#.to_vec(), code: 400,
        message: "cannot read the admission request" },
    // The payload is read as one JSON value: a duplicate key keeps its last
    // value, as Go's encoding/json (the API server's) does.
    Hostile { name: "duplicate request: the last one is read",
        payload: || br#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[]}}},"request":{},"settings":{}}"#.to_vec(),
        code: 400, message: "the admission request has no kind" },
    Hostile { name: "kind is a string", code: 400, message: "cannot read the admission request",
        payload: || edited("deployment_kubeconfig_host_path.json", |r| r["kind"] = json!("Deployment")) },
    Hostile { name: "no kind", payload: || br#"{"request":{"operation":"CREATE","object":{}},"settings":{}}"#.to_vec(), code: 400,
        message: "the admission request has no kind" },
    Hostile { name: "invalid utf-8 in a string", payload: || configmap_with_raw_value(b"\"http://a.b.svc\xff\""), code: 400,
        message: "cannot read the admission request" },
    Hostile { name: "lone surrogate", payload: || configmap_with_raw_value(br#""\ud800""#), code: 400,
        message: "cannot read the admission request" },
    Hostile { name: "request of kind Service", payload: || edited("service_unsupported_kind.json", |_| {}), code: 400,
        message: "objects, not Service; check the rules of the policy" },
    Hostile { name: "Pod without spec", payload: || edited("pod_without_spec.json", |_| {}), code: 400,
        message: "Pod kubernaut-system/no-spec: the Pod has no Pod spec at spec" },
    Hostile { name: "Pod with null object", payload: || edited("pod_without_spec.json", |r| r["object"] = Value::Null), code: 400,
        message: "Pod kubernaut-system/no-spec: the Pod has no Pod spec at spec" },
    Hostile { name: "Deployment spec is a string", code: 400,
        payload: || edited("deployment_kubeconfig_host_path.json", |r| r["object"]["spec"]["template"]["spec"] = json!("x")),
        message: "Deployment kubernaut-system/datastorage: spec.template.spec of the Deployment is not an object" },
    Hostile { name: "containers is a map", code: 400,
        payload: || edited("deployment_kubeconfig_host_path.json", |r| r["object"]["spec"]["template"]["spec"]["containers"] = json!({"a": 1})),
        message: "Deployment kubernaut-system/datastorage: cannot read spec.template.spec of the Deployment" },
    Hostile { name: "env is a string", code: 400,
        payload: || edited("deployment_kubeconfig_host_path.json", |r| r["object"]["spec"]["template"]["spec"]["containers"][0]["env"] = json!("KUBECONFIG=/x")),
        message: "cannot read spec.template.spec of the Deployment" },
    Hostile { name: "env value is a number", code: 400,
        payload: || edited("deployment_kubeconfig_host_path.json", |r| r["object"]["spec"]["template"]["spec"]["containers"][0]["env"][2]["value"] = json!(42)),
        message: "cannot read spec.template.spec of the Deployment" },
    Hostile { name: "ConfigMap data is a string", code: 400,
        payload: || edited("configmap_dangling_service.json", |r| r["object"]["data"] = json!("x")),
        message: "ConfigMap kubernaut-system/gateway-config: data is not a map of strings" },
    Hostile { name: "ConfigMap data is an array", code: 400,
        payload: || edited("configmap_dangling_service.json", |r| r["object"]["data"] = json!(["http://datastorage.kubernaut-system.svc:8080"])),
        message: "ConfigMap kubernaut-system/gateway-config: data is not a map of strings" },
    Hostile { name: "Ingress rules is a map", code: 400,
        payload: || edited("ingress_backend_missing.json", |r| r["object"]["spec"]["rules"] = json!({"host": "a"})),
        message: "Ingress shop/web: spec.rules is not a list" },
    Hostile { name: "Ingress port number is a string", code: 400,
        payload: || edited("ingress_backend_missing.json", |r| r["object"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"] = json!("8080")),
        message: "Ingress shop/web: spec.rules[0].http.paths[0].backend.service.port.number is not a 32-bit integer" },
    Hostile { name: "HTTPRoute backendRef is a string", code: 400,
        payload: || edited("httproute_backend_wrong_port.json", |r| r["object"]["spec"]["rules"][0]["backendRefs"][0] = json!("api:9090")),
        message: "HTTPRoute shop/web: spec.rules[0].backendRefs[0] is not an object" },
    Hostile { name: "unknown settings in the payload", code: 500,
        payload: || with_settings(json!({"variable": ["KUBECONFIG"]})),
        message: "the policy is misconfigured: invalid settings: unknown field `variable`" },
    Hostile { name: "settings are a string", code: 500,
        payload: || with_settings(json!("removeOffendingVariables")),
        message: "the policy is misconfigured: invalid settings: invalid type: string" },
    Hostile { name: "settings are an array", code: 500,
        payload: || with_settings(json!([1])),
        message: "the policy is misconfigured: invalid settings: invalid type: sequence, expected a map of settings" },
    Hostile { name: "settings of the wrong type", code: 500,
        payload: || with_settings(json!({"variables": "KUBECONFIG"})),
        message: r#"the policy is misconfigured: invalid settings: variables: invalid type: string "KUBECONFIG", expected a sequence"# },
    Hostile { name: "invalid setting values", code: 500,
        payload: || with_settings(read_json("settings_invalid_values.json")),
        message: r#"the policy is misconfigured: variables: "1BAD" is not a valid environment variable name"# },
    // serde_json's recursion limit (128 levels) holds in every part of the
    // payload, settings included: validate_settings refuses such settings
    // before policy-server ever sends them.
    Hostile { name: "settings nested 10000 deep", code: 400, message: "cannot read the admission request: recursion limit exceeded",
        payload: || {
            let mut p = br#"{"request":{"operation":"CREATE","kind":{"kind":"Pod"},"object":{"spec":{"containers":[]}}},"settings":"#.to_vec();
            p.extend(nested_arrays(10_000));
            p.push(b'}');
            p
        } },
    Hostile { name: "10000 nested arrays in a ConfigMap", payload: || configmap_with_raw_value(&nested_arrays(10_000)), code: 400,
        message: "cannot read the admission request: recursion limit exceeded" },
    Hostile { name: "10000 nested objects in a Pod", payload: || pod_with_raw_field(&nested_objects(10_000)), code: 400,
        message: "cannot read the admission request: recursion limit exceeded" },
    Hostile { name: "unknown request field nested 100000 deep", code: 400, message: "cannot read the admission request: recursion limit exceeded",
        payload: || {
            let mut p = br#"{"request":"#.to_vec();
            p.extend(nested_objects(100_000));
            p.push(b'}');
            p
        } },
    Hostile { name: "the whole payload nested 100000 deep", payload: || nested_arrays(100_000), code: 400,
        message: "cannot read the admission request: recursion limit exceeded" },
    Hostile { name: "1 MiB of unclosed brackets", payload: || vec![b'['; 1 << 20], code: 400,
        message: "cannot read the admission request" },
];

/// Each hostile payload is answered with a rejection and a code, never a
/// guest error or trap, without any host call.
#[test]
fn hostile_payloads_get_a_clear_rejection() {
    run_table(
        HOSTILE,
        |h| h.name,
        |h| {
            let name = h.name;
            let (r, calls) = call_validate(name, &(h.payload)(), NoHost::new());
            assert!(!r.accepted, "{name}: {r:?}");
            assert_eq!(r.code, Some(h.code), "{name}: {r:?}");
            let message = r.message.clone().unwrap_or_default();
            assert!(
                message.contains(h.message),
                "{name}: {message:?} lacks {:?}",
                h.message
            );
            assert!(message.len() < 2_000, "{name}: {} bytes", message.len());
            assert!(r.mutated_object.is_none(), "{name}");
            assert_eq!(calls, 0, "{name}");
        },
    );
}

/// Payloads that are odd but harmless are accepted without comment.
#[test]
fn odd_but_harmless_payloads_are_accepted() {
    let minimal_pod = br#"{"request":{"operation":"CREATE","kind":{"kind":"Pod"},"object":{"spec":{"containers":[]}}}"#;
    let mut no_settings = minimal_pod.to_vec();
    no_settings.push(b'}');
    let mut null_settings = minimal_pod.to_vec();
    null_settings.extend_from_slice(br#","settings":null}"#);
    #[rustfmt::skip]
    let cases: &[(&str, Vec<u8>)] = &[
        ("no settings field", no_settings),
        ("settings null", null_settings),
        ("ConfigMap without data", edited("configmap_dangling_service.json", |r| {
            r["object"].as_object_mut().unwrap().remove("data");
        })),
        ("ConfigMap with null object", edited("configmap_dangling_service.json", |r| r["object"] = Value::Null)),
        ("ConfigMap value that is a number", edited("configmap_dangling_service.json", |r| r["object"]["data"] = json!({"port": 8080}))),
        ("ConfigMap reference only in binaryData", edited("configmap_dangling_service.json", |r| {
            r["object"]["binaryData"] = json!({"x": "aHR0cDovL2RhdGFzdG9yYWdlLmt1YmVybmF1dC1zeXN0ZW0uc3ZjOjgwODA="});
            r["object"].as_object_mut().unwrap().remove("data");
        })),
        ("100 nested objects in an unknown Pod field", pod_with_raw_field(&nested_objects(100))),
        ("status subresource of a Pod",
            br#"{"request":{"operation":"UPDATE","subResource":"status","kind":{"kind":"Pod"},"object":{"spec":"x"}},"settings":{}}"#.to_vec()),
        ("DELETE of a Deployment",
            br#"{"request":{"operation":"DELETE","kind":{"kind":"Deployment"},"object":null},"settings":{}}"#.to_vec()),
        ("CONNECT", br#"{"request":{"operation":"CONNECT","kind":{"kind":"PodExecOptions"}},"settings":{}}"#.to_vec()),
    ];
    run_table(
        cases,
        |c| c.0,
        |(name, payload)| {
            let (r, calls) = call_validate(name, payload, NoHost::new());
            assert!(r.accepted, "{name}: {r:?}");
            assert_eq!(r.message, None, "{name}");
            assert_eq!(r.code, None, "{name}");
            assert_eq!(r.warnings, None, "{name}");
            assert_eq!(calls, 0, "{name}");
        },
    );
}

/// 1 MiB of ConfigMap data (the Kubernetes limit) with thousands of Service
/// URLs over four namespaces: one host call per namespace, within a fuel
/// budget (see [`assert_within_budget`]).
#[test]
fn one_mebibyte_config_map() {
    let namespaces = ["ns-a", "ns-b", "ns-c", "ns-d"];
    let mut cluster = ClusterState::new();
    for ns in namespaces {
        cluster.add_service(ns, "redis-master", &[6379]);
        cluster.add_service(ns, "api", &[80, 443]);
    }
    let big = |missing: bool| {
        let mut text = String::with_capacity(1 << 20);
        let mut i = 0usize;
        while text.len() < (1 << 20) - 300 {
            let ns = namespaces[i % namespaces.len()];
            let line = match (i % 3, missing) {
                (0, true) => {
                    format!("svc_{i}: http://svc-{i}.{ns}.svc.cluster.local:8080/path # missing\n")
                }
                (0, false) | (1, _) => format!(
                    "redis_{i}: redis://redis-master.{ns}.svc.cluster.local:6379/{i} # filler text\n"
                ),
                _ => format!("api_{i}: https://api.{ns}.svc/v1/items?page={i}\n"),
            };
            text.push_str(&line);
            i += 1;
        }
        let review = configmap_review("team-a", json!({"config.yaml": text}));
        (payload_of(review, json!({})), i)
    };

    let (payload, lines) = big(false);
    assert!(payload.len() > 1 << 20 && lines > 10_000, "{lines} lines");
    let mut instance = metered_policy().instantiate(cluster.clone()).unwrap();
    let raw = instance.call("validate", &payload).expect("a verdict");
    let r: ValidationResponse = serde_json::from_slice(&raw).unwrap();
    assert!(r.accepted, "{r:?}");
    let calls = instance.take_host_calls();
    let asked: Vec<&Value> = calls.iter().map(|c| &c.payload).collect();
    let want: Vec<Value> = namespaces
        .iter()
        .map(|ns| list_services_payload(ns))
        .collect();
    assert_eq!(
        asked,
        want.iter().collect::<Vec<_>>(),
        "one call per namespace"
    );
    assert_within_budget("1 MiB, present", instance.fuel_consumed(), 360_000_000);

    // the same with thousands of missing Services: 20 spelled out, then a count
    let (payload, lines) = big(true);
    let mut instance = metered_policy().instantiate(cluster).unwrap();
    let raw = instance.call("validate", &payload).expect("a verdict");
    let r: ValidationResponse = serde_json::from_slice(&raw).unwrap();
    assert!(!r.accepted);
    let message = r.message.unwrap();
    let missing = lines.div_ceil(3);
    let tail = &message[message.len().saturating_sub(200)..];
    assert!(
        message.ends_with(&format!("; and {} more problem(s)", missing - 20)),
        "{tail}"
    );
    assert_eq!(message.matches("which does not exist").count(), 20);
    assert!(
        message.len() < 16 << 10,
        "message of {} bytes",
        message.len()
    );
    assert_eq!(instance.take_host_calls().len(), namespaces.len());
    assert_within_budget("1 MiB, missing", instance.fuel_consumed(), 500_000_000);
}

/// 1 MiB texts built to trip a scanner up: each is scanned within its fuel
/// budget, with a verdict and a message of bounded size.
#[test]
fn pathological_config_map_texts() {
    let mib = |unit: &str| unit.repeat((1 << 20) / unit.len());
    #[rustfmt::skip]
    let cases: Vec<(&str, String, u64)> = vec![
        // name, ConfigMap text, fuel budget
        ("dots", mib("."), 450_000_000),
        ("labels", mib("a."), 260_000_000),
        ("almost qualified", mib("a.b.svc.cluster."), 150_000_000),
        ("schemes", mib("http://"), 1_300_000_000),
        ("colons", mib(":"), 400_000_000),
        ("placeholders", mib("${"), 36_000_000),
        ("templates", mib("{{"), 40_000_000),
        ("dollar parens", mib("$("), 36_000_000),
        ("percent", mib("%("), 36_000_000),
        ("dashes", mib("-"), 36_000_000),
        ("long port", format!("http://api.ns-a.svc:{}", "9".repeat(1 << 20)), 80_000_000),
        ("long label", format!("http://{}.ns-a.svc:80", "a".repeat(1 << 20)), 210_000_000),
        ("short names", mib("http://a "), 1_800_000_000),
        ("many references", mib("http://api.ns-a.svc:81 "), 950_000_000),
    ];
    run_table(
        &cases,
        |c| c.0,
        |(name, text, budget)| check_config_map_text(name, text, *budget),
    );
}

fn check_config_map_text(name: &str, text: &str, budget: u64) {
    let mut cluster = ClusterState::new();
    cluster.add_service("ns-a", "api", &[80]);
    let review = configmap_review("ns-a", json!({"k": text}));
    let eval = metered_policy()
        .validate(&review, &json!({"checkShortNames": true}), &mut cluster)
        .unwrap_or_else(|e| panic!("{name}: no verdict: {e:#}"));
    assert_within_budget(name, eval.fuel, budget);
    assert!(eval.kubernetes_calls().count() <= 1, "{name}");
    for text in eval
        .response
        .message
        .iter()
        .chain(eval.response.warnings.iter().flatten())
    {
        assert!(
            text.len() < 16 << 10,
            "{name}: a text of {} bytes",
            text.len()
        );
    }
}

/// Workloads built to make the KUBECONFIG check work hard: each gets a
/// verdict within its fuel budget.
#[test]
fn pathological_workloads() {
    let many_paths = vec!["/a/b/c/config"; 500].join(":");
    let many_vars: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": "KUBECONFIG", "value": format!("/x/{i}")}))
        .collect();
    let many_mounts: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": format!("v{i}"), "mountPath": format!("/m/{i}")}))
        .collect();
    let chain: Vec<Value> = std::iter::once(json!({"name": "V0", "value": "/home"}))
        .chain(
            (1..5_000)
                .map(|i| json!({"name": format!("V{i}"), "value": format!("$(V{})/d", i - 1)})),
        )
        .chain(std::iter::once(
            json!({"name": "KUBECONFIG", "value": "$(V4999)/config"}),
        ))
        .collect();
    let kubeconfig = |value: &str| json!([{"name": "KUBECONFIG", "value": value}]);
    #[rustfmt::skip]
    let cases: Vec<(&str, Value, bool, u64)> = vec![
        // name, Pod, accepted, fuel budget
        ("500 paths in KUBECONFIG", pod_review(kubeconfig(&many_paths), json!([])), false, 14_000_000),
        ("20000 KUBECONFIG entries", pod_review(json!(many_vars), json!([])), false, 480_000_000),
        ("20000 volumeMounts", pod_review(kubeconfig("/m/19999/config"), json!(many_mounts)), true, 530_000_000),
        ("5000 chained expansions", pod_review(json!(chain), json!([])), false, 150_000_000),
        ("4096 dollar parens in another variable", pod_review(json!([{"name": "X", "value": "$(".repeat(4096)}]), json!([])), true, 2_100_000),
        ("20 levels of doubling expansions", pod_review(json!(doubling_chain(20)), json!([])), true, 850_000),
    ];
    run_table(
        &cases,
        |c| c.0,
        |(name, review, accepted, budget)| check_workload_verdict(name, review, *accepted, *budget),
    );
}

fn check_workload_verdict(name: &str, review: &Value, accepted: bool, budget: u64) {
    let eval = metered_policy()
        .validate(review, &json!({}), &mut NoHost::new())
        .unwrap_or_else(|e| panic!("{name}: no verdict: {e:#}"));
    let message = eval.response.message.as_deref().unwrap_or_default();
    assert_eq!(
        eval.accepted(),
        accepted,
        "{name}: {}",
        &message[..message.len().min(300)]
    );
    assert_within_budget(name, eval.fuel, budget);
    assert!(
        message.len() < 256 << 10,
        "{name}: message of {} bytes",
        message.len()
    );
}

/// The cost of a workload's env grows with its size, not faster: small
/// Pods built to blow up expansion or messages get a verdict within their
/// fuel budget (in production, a timeout would be a 500 from
/// policy-server, memory exhaustion a trap).
#[test]
fn env_cost_is_bounded() {
    let expanded_list = std::iter::once(json!({"name": "H", "value": "/h"}))
        .chain(std::iter::once(
            json!({"name": "KUBECONFIG", "value": vec!["$(H)/c"; 4_000].join(":")}),
        ))
        .collect::<Vec<_>>();
    #[rustfmt::skip]
    let cases: Vec<(&str, Value, bool, u64)> = vec![
        // name, Pod, accepted, fuel budget
        // 224 KB of env: 16000 findings, listed 20 at most
        ("16000 paths in KUBECONFIG", pod_review(json!([{"name": "KUBECONFIG", "value": vec!["/a/b/c/config"; 16_000].join(":")}]), json!([])), false, 410_000_000),
        // 28 KB of env: every finding would quote the whole written value
        ("4000 expanded paths in KUBECONFIG", pod_review(json!(expanded_list), json!([])), false, 250_000_000),
        // 256 KB in any variable: one search for `)` in all, not one per `$(`
        ("128Ki dollar parens in another variable", pod_review(json!([{"name": "X", "value": "$(".repeat(1 << 17)}]), json!([])), true, 19_000_000),
        // 1.8 KB: V(i) = $(V(i-1))$(V(i-1)) would reach 2^40 bytes
        ("40 levels of doubling expansions", pod_review(json!(doubling_chain(40)), json!([])), true, 1_400_000),
    ];
    run_table(
        &cases,
        |c| c.0,
        |(name, review, accepted, budget)| check_workload_verdict(name, review, *accepted, *budget),
    );
}

/// A dotted name longer than a DNS name can be (253 bytes) is not a
/// Service reference, so a 1 MiB run of labels never becomes a 1 MiB
/// message (or warning).
#[test]
fn long_dotted_runs_are_not_host_names() {
    let mib = |unit: &str| unit.repeat((1 << 20) / unit.len());
    #[rustfmt::skip]
    let cases = [
        // name, ConfigMap text, fuel budget
        ("svc labels", mib("x.svc."), 170_000_000),
        ("qualified names without separators", mib("a.b.svc.cluster.local"), 140_000_000),
    ];
    run_table(
        &cases,
        |c| c.0,
        |(name, text, budget)| check_config_map_text(name, text, *budget),
    );
}

// ---------------------------------------------------------------------------
// 6. Protocol version.
// ---------------------------------------------------------------------------

#[test]
fn protocol_version_is_v1() {
    assert_eq!(policy().protocol_version().unwrap(), "v1");
    let mut instance = policy().instantiate(NoHost::new()).unwrap();
    let raw = instance.call("protocol_version", b"").unwrap();
    assert_eq!(raw, br#""v1""#);
}

#[test]
fn an_unknown_operation_is_a_guest_error() {
    let mut instance = policy().instantiate(NoHost::new()).unwrap();
    let err = instance.call("mutate", b"{}").unwrap_err();
    assert_eq!(error_of(&err).kind, EvaluationErrorKind::Guest, "{err:#}");
    // and the instance keeps working
    assert_eq!(instance.protocol_version().unwrap(), "v1");
}

// ---------------------------------------------------------------------------
// 7. Cost bounds: fuel (see docs/development.md, "Cost bounds: fuel").
// ---------------------------------------------------------------------------

/// The compiled policy on the metered engine, loaded (and compiled) once
/// per test binary, before any fuel is counted.
fn metered_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let wasm = policy_path();
        Policy::load_metered(&wasm).unwrap_or_else(|e| panic!("{}: {e:#}", wasm.display()))
    })
}

/// The guest's `validate` consumed at most `budget` units of fuel. The
/// budgets of the hostile cases are about twice what they measured; the
/// message prints the measurement to set a new budget from (also printed
/// on success, with `--nocapture`).
fn assert_within_budget(name: &str, fuel: Option<u64>, budget: u64) {
    let fuel = fuel.unwrap_or_else(|| panic!("{name}: not evaluated on the metered engine"));
    eprintln!("{name}: {fuel} fuel (budget {budget})");
    assert!(
        fuel <= budget,
        "{name}: consumed {fuel} fuel, over its budget of {budget}; after a deliberate \
         change of the hot path, set the budget to about 2 x {fuel}"
    );
}

/// The meter is faithful: on every row of [`CASES`] (host calls answered by
/// its session), the metered engine and the production one
/// (wasmtime-provider) give byte-identical `validate` answers after
/// identical host calls and logs. And fuel is deterministic: a second
/// fresh metered instance consumes exactly as much.
#[test]
fn metered_and_production_engines_agree() {
    run_table(
        CASES,
        |c| c.name,
        |c| {
            let name = c.name;
            let payload =
                validate_payload(&read_json(c.fixture), &settings_value(c.settings)).unwrap();
            let run = |policy: &Policy| {
                let host: Box<dyn HostCapabilities + Send> = match c.session {
                    None => Box::new(NoHost::new()),
                    Some(file) => Box::new(session(file)),
                };
                let mut instance = policy.instantiate(host).unwrap();
                let raw = instance
                    .call("validate", &payload)
                    .unwrap_or_else(|e| panic!("{name}: no verdict: {e:#}"));
                let calls = instance.take_host_calls();
                let logs = instance.take_logs();
                (raw, calls, logs, instance.fuel_consumed())
            };
            let (raw, calls, logs, no_fuel) = run(policy());
            let (metered_raw, metered_calls, metered_logs, fuel) = run(metered_policy());
            assert_eq!(
                String::from_utf8_lossy(&metered_raw),
                String::from_utf8_lossy(&raw),
                "{name}: validate answers"
            );
            assert_eq!(metered_raw, raw, "{name}: validate answers, byte for byte");
            assert_eq!(metered_calls, calls, "{name}: host calls");
            assert_eq!(metered_logs, logs, "{name}: logs");
            assert_eq!(
                no_fuel, None,
                "{name}: the production engine counts no fuel"
            );
            let fuel = fuel.unwrap_or_else(|| panic!("{name}: no fuel counted"));
            assert!(fuel > 0, "{name}");
            let (_, _, _, again) = run(metered_policy());
            assert_eq!(again, Some(fuel), "{name}: the same evaluation, other fuel");
        },
    );
}

/// A hostile input whose size is a parameter: `build(n)` is the request at
/// size `n`, with its settings and the cluster that answers its host calls.
struct Shape {
    name: &'static str,
    /// The smaller size (the larger is `2 * n`), in the unit of the name.
    n: usize,
    build: fn(usize) -> (Value, Value, ClusterState),
}

/// A ConfigMap `ns-a/app-config` whose one key holds `unit` repeated to
/// `n` bytes, with short names checked; Service `ns-a/api` exposes 80.
fn repeated_text(unit: &str, n: usize) -> (Value, Value, ClusterState) {
    let mut text = unit.repeat(n / unit.len() + 1);
    text.truncate(n);
    let mut cluster = ClusterState::new();
    cluster.add_service("ns-a", "api", &[80]);
    cluster.add_service("b", "a", &[80]);
    cluster.add_service("y", "x", &[1]);
    let review = configmap_review("ns-a", json!({ "k": text }));
    (review, json!({"checkShortNames": true}), cluster)
}

fn pod_shape(env: Value, mounts: Value) -> (Value, Value, ClusterState) {
    (pod_review(env, mounts), json!({}), ClusterState::new())
}

/// A Deployment `team-a/d` of `n` containers like `make bench`'s: each sets
/// KUBECONFIG to a file of a Secret volume; with `check_workload`, each also
/// reads one of 8 ConfigMaps through `envFrom`, all present.
fn deployment_shape(n: usize, check_workload: bool) -> (Value, Value, ClusterState) {
    let containers: Vec<Value> = (0..n)
        .map(|i| {
            let mut c = json!({
                "name": format!("c-{i}"), "image": "registry.example.com/team/app:1.2.3",
                "env": [{"name": "KUBECONFIG", "value": "/var/run/kube/config"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "volumeMounts": [{"name": "kubeconfig", "mountPath": "/var/run/kube", "readOnly": true}],
            });
            if check_workload {
                c["envFrom"] = json!([{"configMapRef": {"name": format!("cfg-{}", i % 8)}}]);
            }
            c
        })
        .collect();
    let review = team_a_deployment(json!({"containers": containers,
        "volumes": [{"name": "kubeconfig", "secret": {"secretName": "kubeconfig"}}]}));
    let objects = (0..8).map(|i| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": format!("cfg-{i}"), "namespace": "team-a"},
               "data": {"URL": format!("http://svc-{i}.team-a.svc:8080")}})
    });
    let objects: Vec<Value> = std::iter::once(json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": "team-a"}}))
    .chain(objects)
    .collect();
    let mut cluster = ClusterState::with_objects(objects);
    for i in 0..8 {
        cluster.add_service("team-a", &format!("svc-{i}"), &[8080]);
    }
    let settings = json!({ "checkWorkloadReferences": check_workload });
    (review, settings, cluster)
}

/// A Deployment `team-a/d` with the workload check whose one container
/// has `env` (or `args`, with `args`) of `n` entries naming Services of
/// `team-a` (`svc-0` to `svc-7` on 8080) in every form: bare `host:port`,
/// lists, short and qualified URLs, a missing port, a typo, an absent name.
fn text_dense_shape(n: usize, args: bool) -> (Value, Value, ClusterState) {
    let forms = |i: usize| match i % 6 {
        0 => format!("svc-{}:8080", i % 8),
        1 => format!("svc-{}:8080,svc-{}.team-a:8080", i % 8, (i + 1) % 8),
        2 => format!("http://svc-{}:8080/path?q={i}", i % 8),
        3 => format!(
            "sh -c 'curl http://svc-{}.team-a.svc:8080/x && echo {i}'",
            i % 8
        ),
        4 => format!("svc-{}:9{:03}", i % 8, i % 1000),
        _ => format!("sv-{i}:8080"),
    };
    let mut container = json!({"name": "c", "image": "registry.example.com/team/app:1.2.3"});
    if args {
        container["args"] = (0..n)
            .map(|i| {
                json!(if i % 2 == 0 {
                    format!("--flag-{i}={}", forms(i / 2))
                } else {
                    "--next".to_string()
                })
            })
            .collect();
    } else {
        container["env"] = (0..n)
            .map(|i| json!({"name": format!("V_{i}"), "value": forms(i)}))
            .collect();
    }
    let review = team_a_deployment(json!({"containers": [container]}));
    let mut cluster = ClusterState::new();
    for i in 0..8 {
        cluster.add_service("team-a", &format!("svc-{i}"), &[8080]);
    }
    (review, json!({"checkWorkloadReferences": true}), cluster)
}

#[rustfmt::skip]
const SHAPES: &[Shape] = &[
    Shape { name: "bytes of a.a.a…", n: 64 << 10, build: |n| repeated_text("a.", n) },
    Shape { name: "bytes of .svc.svc…", n: 64 << 10, build: |n| repeated_text(".svc", n) },
    Shape { name: "bytes of ://://…", n: 64 << 10, build: |n| repeated_text("://", n) },
    Shape { name: "bytes of x.svc.x.svc…", n: 64 << 10, build: |n| repeated_text("x.svc.", n) },
    Shape { name: "bytes of one line of quotes, comments and references", n: 64 << 10,
        build: |n| repeated_text("'#' \"a # b\" http://a.b.svc/#/x x.y.svc:1 ", n) },
    Shape { name: "bytes of references to a missing port", n: 64 << 10,
        build: |n| repeated_text("http://api.ns-a.svc:81 ", n) },
    Shape { name: "bytes of short names", n: 64 << 10, build: |n| repeated_text("http://a ", n) },
    Shape { name: "bytes of $( in a ConfigMap", n: 64 << 10, build: |n| repeated_text("$(", n) },
    Shape { name: "lines of URLs over 4 namespaces", n: 1000, build: |n| {
        let namespaces = ["ns-a", "ns-b", "ns-c", "ns-d"];
        let text: String = (0..n)
            .map(|i| format!("svc_{i}: http://api.{}.svc.cluster.local:80/path # filler\n", namespaces[i % 4]))
            .collect();
        let mut cluster = ClusterState::new();
        for ns in namespaces {
            cluster.add_service(ns, "api", &[80]);
        }
        (configmap_review("ns-a", json!({ "config.yaml": text })), json!({}), cluster)
    } },
    Shape { name: "keys", n: 1000, build: |n| {
        let data: serde_json::Map<String, Value> = (0..n)
            .map(|i| (format!("key-{i:05}"), json!(format!("endpoint: http://api.ns-a.svc:80/{i}"))))
            .collect();
        let (_, settings, cluster) = repeated_text(".", 1);
        (configmap_review("ns-a", Value::Object(data)), settings, cluster)
    } },
    Shape { name: "KUBECONFIG entries", n: 2000, build: |n| pod_shape(
        (0..n).map(|i| json!({"name": "KUBECONFIG", "value": format!("/x/{i}")})).collect(), json!([])) },
    Shape { name: "paths in KUBECONFIG", n: 2000, build: |n| pod_shape(
        json!([{"name": "KUBECONFIG", "value": vec!["/a/b/c/config"; n].join(":")}]), json!([])) },
    Shape { name: "expanded paths in KUBECONFIG", n: 1000, build: |n| pod_shape(
        json!([{"name": "H", "value": "/h"}, {"name": "KUBECONFIG", "value": vec!["$(H)/c"; n].join(":")}]), json!([])) },
    Shape { name: "volumeMounts", n: 2000, build: |n| pod_shape(
        json!([{"name": "KUBECONFIG", "value": format!("/m/{}/config", n - 1)}]),
        (0..n).map(|i| json!({"name": format!("v{i}"), "mountPath": format!("/m/{i}")})).collect()) },
    Shape { name: "chained env entries", n: 250, build: |n| pod_shape(
        std::iter::once(json!({"name": "V0", "value": "/x"}))
            .chain((1..n).map(|i| json!({"name": format!("V{i}"), "value": format!("$(V{})/x", i - 1)})))
            .chain(std::iter::once(json!({"name": "KUBECONFIG", "value": format!("$(V{})", n - 1)})))
            .collect(),
        json!([{"name": "scratch", "mountPath": "/x"}])) },
    Shape { name: "bytes of $( in another variable", n: 64 << 10, build: |n| pod_shape(
        json!([{"name": "X", "value": "$(".repeat(n / 2)}]), json!([])) },
    Shape { name: "containers", n: 50, build: |n| deployment_shape(n, false) },
    Shape { name: "containers, workload check", n: 50, build: |n| deployment_shape(n, true) },
    Shape { name: "env values naming Services, workload check", n: 1000, build: |n| text_dense_shape(n, false) },
    Shape { name: "args naming Services, workload check", n: 1000, build: |n| text_dense_shape(n, true) },
    Shape { name: "backendRefs of an HTTPRoute, half of them missing", n: 1000, build: |n| {
        let refs: Vec<Value> = (0..n)
            .map(|i| json!({"name": if i % 2 == 0 { "api".to_string() } else { format!("api-{i}") }, "port": 80}))
            .collect();
        let mut cluster = ClusterState::new();
        cluster.add_service("ns-a", "api", &[80]);
        let review = json!({
            "uid": "route", "kind": {"group": "gateway.networking.k8s.io", "version": "v1", "kind": "HTTPRoute"},
            "resource": {"group": "gateway.networking.k8s.io", "version": "v1", "resource": "httproutes"},
            "operation": "CREATE", "namespace": "ns-a", "name": "web", "userInfo": {},
            "object": {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": "web", "namespace": "ns-a"},
                "spec": {"rules": [{"backendRefs": refs}]}},
        });
        (review, json!({}), cluster)
    } },
];

/// Cost is linear in the size of a hostile input: for each shape, twice
/// the input costs more fuel, and at most 2.2 times as much.
#[test]
fn cost_is_linear_in_the_input() {
    run_table(
        SHAPES,
        |s| s.name,
        |shape| {
            let fuel = |n: usize| {
                let (review, settings, mut cluster) = (shape.build)(n);
                let eval = metered_policy()
                    .validate(&review, &settings, &mut cluster)
                    .unwrap_or_else(|e| panic!("{} at {n}: no verdict: {e:#}", shape.name));
                eval.fuel.unwrap()
            };
            let (n, small, large) = (shape.n, fuel(shape.n), fuel(2 * shape.n));
            let ratio = large as f64 / small as f64;
            let name = shape.name;
            eprintln!(
                "{name}: {n} -> {small} fuel, {} -> {large} fuel, ratio {ratio:.3}",
                2 * n
            );
            assert!(
                large > small,
                "{name}: {} cost {large} fuel, no more than {n} ({small})",
                2 * n
            );
            assert!(
                large * 10 <= small * 22,
                "{name}: {n} cost {small} fuel, {} cost {large}: {ratio:.3} times as much, more than 2.2",
                2 * n
            );
        },
    );
}

// ---------------------------------------------------------------------------
// Helpers of this file.
// ---------------------------------------------------------------------------

fn policy_with(access: AccessControl) -> Policy {
    Policy::load(policy_path()).unwrap().with_access(access)
}

/// Sends `payload` to a fresh instance's `validate`; the answer must be a
/// ValidationResponse. Returns it with the number of host calls made.
fn call_validate<H: HostCapabilities + Send + 'static>(
    name: &str,
    payload: &[u8],
    host: H,
) -> (ValidationResponse, usize) {
    let mut instance = policy().instantiate(host).unwrap();
    let raw = instance
        .call("validate", payload)
        .unwrap_or_else(|e| panic!("{name}: no verdict, the guest failed: {e:#}"));
    let r: ValidationResponse = serde_json::from_slice(&raw).unwrap_or_else(|e| {
        panic!(
            "{name}: not a ValidationResponse ({e}): {}",
            String::from_utf8_lossy(&raw)
        )
    });
    let calls = instance.take_host_calls().len();
    assert!(
        instance.with_host(|h| h.violations().is_empty()),
        "{name}: unexpected host call"
    );
    (r, calls)
}

fn payload_of(request: Value, settings: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap()
}

/// The AdmissionRequest of a fixture with `edit` applied, as a payload.
fn edited(fixture: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut request = read_json(fixture)["request"].clone();
    edit(&mut request);
    payload_of(request, json!({}))
}

/// A good Deployment with `settings`.
fn with_settings(settings: Value) -> Vec<u8> {
    let request = read_json("deployment_kubeconfig_removed.json")["request"].clone();
    payload_of(request, settings)
}

/// A ConfigMap payload whose `data.k` is the raw JSON text `inner`.
fn configmap_with_raw_value(inner: &[u8]) -> Vec<u8> {
    let mut p = br#"{"request":{"uid":"u","kind":{"group":"","version":"v1","kind":"ConfigMap"},"operation":"CREATE","namespace":"n","object":{"metadata":{"name":"c"},"data":{"k":"#.to_vec();
    p.extend_from_slice(inner);
    p.extend_from_slice(br#"}}},"settings":{}}"#);
    p
}

/// A Pod payload whose `spec.futureField` is the raw JSON text `inner`.
fn pod_with_raw_field(inner: &[u8]) -> Vec<u8> {
    let mut p = br#"{"request":{"operation":"CREATE","kind":{"kind":"Pod"},"object":{"spec":{"containers":[],"futureField":"#.to_vec();
    p.extend_from_slice(inner);
    p.extend_from_slice(br#"}}},"settings":{}}"#);
    p
}

fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut v = vec![b'['; depth];
    v.extend(std::iter::repeat_n(b']', depth));
    v
}

fn nested_objects(depth: usize) -> Vec<u8> {
    let mut v = br#"{"a":"#.repeat(depth);
    v.push(b'1');
    v.extend(std::iter::repeat_n(b'}', depth));
    v
}

/// `V0=xx`, then `V(i)=$(V(i-1))$(V(i-1))`: `V(n-1)` is 2^n bytes.
fn doubling_chain(levels: usize) -> Vec<Value> {
    std::iter::once(json!({"name": "V0", "value": "xx"}))
        .chain(
            (1..levels).map(
                |i| json!({"name": format!("V{i}"), "value": format!("$(V{0})$(V{0})", i - 1)}),
            ),
        )
        .collect()
}

/// A Pod `team-a/p` with one container `app`.
fn pod_review(env: Value, mounts: Value) -> Value {
    json!({
        "uid": "p", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE", "namespace": "team-a", "name": "p", "userInfo": {},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a"},
            "spec": {"containers": [{"name": "app", "env": env, "volumeMounts": mounts}], "volumes": []}},
    })
}

/// A ConfigMap `<namespace>/app-config`.
/// The CREATE request of Deployment `team-a/d` whose Pod template has
/// `pod_spec`.
fn team_a_deployment(pod_spec: Value) -> Value {
    json!({
        "uid": "d", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "operation": "CREATE", "namespace": "team-a", "name": "d", "userInfo": {},
        "object": {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "team-a"},
            "spec": {"template": {"spec": pod_spec}}},
    })
}

fn configmap_review(namespace: &str, data: Value) -> Value {
    json!({
        "uid": "cm", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
        "resource": {"group": "", "version": "v1", "resource": "configmaps"},
        "operation": "CREATE", "namespace": namespace, "name": "app-config", "userInfo": {},
        "object": {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "app-config", "namespace": namespace}, "data": data},
    })
}
