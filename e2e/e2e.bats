#!/usr/bin/env bats
# The key cases of e2e/tests/*.rs, for the real kwctl (`make e2e-tests` runs
# this file when kwctl is on PATH). Run from the repository root, after
# `make annotated-policy.wasm`.
#
# kwctl prints the AdmissionResponse on stdout and logs on stderr: verdicts
# and texts are read from stdout with jq, and every replay must match the
# recorded session exactly and use it up (kwctl only logs a mismatch, and
# the policy would turn it into an ordinary "cannot verify" rejection).

bats_require_minimum_version 1.5.0

# kwctl run ARGS... annotated-policy.wasm: $output is stdout, $stderr stderr.
evaluate() {
  run --separate-stderr kwctl run "$@" annotated-policy.wasm
  echo "stdout = ${output}"
  echo "stderr = $(grep -Ev '^ +|^$|Stack backtrace|Caused by' <<<"${stderr}")"
  [ "$status" -eq 0 ]
  [[ "${stderr}" != *"Replay error"* ]]
  [[ "${stderr}" != *"have not been replayed"* ]]
}

# evaluate with the recorded host answers of test_data/sessions/SESSION.
replay() {
  local session=$1
  shift
  evaluate --allow-context-aware \
    --replay-host-capabilities-interactions "test_data/sessions/${session}" "$@"
}

allowed() { [ "$(jq -r .allowed <<<"${output}")" = true ]; }
denied() { [ "$(jq -r .allowed <<<"${output}")" = false ]; }
# The rejection message contains every argument.
says() {
  local part
  for part in "$@"; do
    jq -e --arg part "${part}" '.status.message | contains($part)' <<<"${output}" >/dev/null
  done
}
# Some warning contains every argument.
warns() {
  local part
  for part in "$@"; do
    jq -e --arg part "${part}" '[.warnings[]? | contains($part)] | any' <<<"${output}" >/dev/null
  done
}
no_warnings() { [ "$(jq -c .warnings <<<"${output}")" = null ]; }

# --- KUBECONFIG paths ------------------------------------------------------

@test "seed Deployment with a host-path KUBECONFIG is rejected" {
  evaluate --request-path test_data/deployment_kubeconfig_host_path.json
  denied
  says '"/Users/jgil/.kube/gateway-e2e-config"' 'is not inside any volumeMount, so it will not exist in the container'
}

@test "the same Deployment without KUBECONFIG is accepted" {
  evaluate --request-path test_data/deployment_kubeconfig_removed.json
  allowed
  no_warnings
}

@test "the same Deployment with the kubeconfig mounted from a Secret is accepted" {
  evaluate --request-path test_data/deployment_kubeconfig_secret_mount.json
  allowed
}

@test "a kubeconfig on a hostPath volume is rejected" {
  evaluate --request-path test_data/deployment_kubeconfig_hostpath_volume.json
  denied
  says 'hostPath volume "host-kube"' "injects the node's credentials"
}

@test "KUBECONFIG naming the directory a Secret volume is mounted at is rejected" {
  evaluate --request-path test_data/deployment_kubeconfig_secret_directory.json
  denied
  says 'KUBECONFIG path "/etc/app/kubeconfig" is the directory where volume "kubeconfig"' \
    "puts the Secret's keys, not a file" 'point KUBECONFIG at "/etc/app/kubeconfig/<key>"'
}

@test "the same path mounted with subPath is accepted" {
  evaluate --request-path test_data/deployment_kubeconfig_secret_subpath_file.json
  allowed
}

@test "a Secret volume whose items create the kubeconfig file is accepted" {
  evaluate --request-path test_data/deployment_kubeconfig_secret_items.json
  allowed
}

@test "a Secret volume whose items do not create the kubeconfig file is rejected, naming the files" {
  evaluate --request-path test_data/deployment_kubeconfig_secret_items_without_it.json
  denied
  says 'no item of volume "remote"' 'the volume creates only: "/etc/app/ca.crt", "/etc/app/warehouse-eu/config"'
}

@test "a path below a hostPath volume of type File is rejected even when hostPath volumes are allowed" {
  evaluate --settings-path test_data/settings_allow_host_path.json \
    --request-path test_data/deployment_kubeconfig_below_hostpath_file.json
  denied
  says 'lies below volumeMount "/etc/app/kubeconfig"' 'of type File, which is a file'
}

@test "removeOffendingVariables mutates instead of rejecting" {
  evaluate --settings-path test_data/settings_remove_offending.json \
    --request-path test_data/pod_unknown_fields_kubeconfig.json
  allowed
  [ "$(jq -r .patchType <<<"${output}")" = JSONPatch ]
  warns 'removed KUBECONFIG'
}

@test "unknown settings are refused" {
  run kwctl run --settings-path test_data/settings_invalid_unknown_field.json \
    --request-path test_data/deployment_kubeconfig_removed.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -ne 0 ]
  [[ "${output}" == *'unknown field `variable`'* ]]
}

@test "an unsupported kind gets a clear rejection" {
  evaluate --request-path test_data/service_unsupported_kind.json
  denied
  says 'not Service; check the rules of the policy'
  [ "$(jq -r .status.code <<<"${output}")" = 400 ]
}

# --- Service references in ConfigMaps --------------------------------------

@test "seed ConfigMap naming a missing Service is rejected with a suggestion" {
  replay services-data-storage-8080.yml --request-path test_data/configmap_dangling_service.json
  denied
  says 'names Service "datastorage" in namespace "kubernaut-system", which does not exist' \
    'did you mean "data-storage-service"?'
}

@test "ConfigMap naming an existing Service on an exposed port is accepted" {
  replay services-data-storage-8080.yml --request-path test_data/configmap_service_exists.json
  allowed
}

@test "ConfigMap naming a port the Service does not expose is rejected" {
  replay services-data-storage-8081-only.yml --request-path test_data/configmap_service_exists.json
  denied
  says 'but port 8080 is not exposed: the Service exposes only port(s) 8081, 9181'
}

@test "a host error is a rejection saying the references could not be verified" {
  replay services-host-error.yml --request-path test_data/configmap_service_exists.json
  denied
  says 'cannot verify the Services referenced in namespace "kubernaut-system"' \
    'Callback evaluation failure: Cannot list v1/Service'
}

@test "onLookupError allow accepts with a warning" {
  replay services-host-error.yml --settings-path test_data/settings_lookup_error_allow.json \
    --request-path test_data/configmap_service_exists.json
  allowed
  warns 'cannot verify the Services referenced in namespace "kubernaut-system"'
}

@test "a pod name behind a ClusterIP Service is rejected" {
  replay services/shop-nginx-clusterip.yml --request-path test_data/configmap_pod_hostname.json
  denied
  says '"web-0.nginx.shop.svc.cluster.local:80" names Service "nginx"' 'the Service is not headless'
}

@test "a pod name behind a headless Service is accepted" {
  replay services/shop-nginx-headless.yml --request-path test_data/configmap_pod_hostname.json
  allowed
}

@test "an SRV name of a named port is accepted" {
  replay services/shop-api-8080.yml --request-path test_data/configmap_srv_named_port.json
  allowed
}

@test "an SRV name of a port without that name is rejected" {
  replay services/shop-api-unnamed-port.yml --request-path test_data/configmap_srv_named_port.json
  denied
  says 'the Service has no port named "http" with protocol TCP' 'SRV records exist only for named ports'
}

@test "a name under another cluster domain is rejected without any lookup" {
  # no --allow-context-aware: a lookup would fail and say "cannot verify"
  evaluate --settings-path test_data/settings_corp_cluster_domain.json \
    --request-path test_data/configmap_foreign_cluster_domain.json
  denied
  says 'uses the cluster domain "cluster.local", but this cluster'"'"'s domain is "corp.internal"' 'NXDOMAIN'
  [[ "${output}" != *"cannot verify"* ]]
}

@test "the same name is accepted when additionalClusterDomains lists cluster.local" {
  replay services/kafka-headless.yml \
    --settings-path test_data/settings_corp_cluster_domain_serves_cluster_local.json \
    --request-path test_data/configmap_foreign_cluster_domain.json
  allowed
}

@test "a reference in a YAML comment is not checked" {
  replay services/shop-api-8080.yml --request-path test_data/configmap_commented_reference.json
  allowed
}

@test "the same reference outside the comment is checked and rejected" {
  replay services/other-empty-shop-api-8080.yml --request-path test_data/configmap_uncommented_reference.json
  denied
  says 'names Service "example-svc" in namespace "other", which does not exist'
}

@test "a commented-out nginx upstream is not checked" {
  replay services/shop-api-8080.yml --request-path test_data/configmap_nginx_commented_upstream.json
  allowed
}

@test "the active nginx upstream is rejected" {
  replay services/shop-api-8080.yml --request-path test_data/configmap_nginx_active_upstream.json
  denied
  says 'names Service "api-canary" in namespace "shop", which does not exist'
}

@test "the _example documentation key is not scanned" {
  replay services/shop-api-8080.yml --request-path test_data/configmap_example_key.json
  allowed
}

@test "the same text under another key is scanned and rejected" {
  replay services/logging-empty-shop-api-8080.yml --request-path test_data/configmap_example_outside_example_key.json
  denied
  says 'key "logging.yaml"' 'names Service "fluentd" in namespace "logging", which does not exist'
}

@test "a reference after a URL fragment, after a # in quotes, and in JSON are checked" {
  replay services/shop-api-8080.yml --request-path test_data/configmap_url_fragment_reference.json
  denied
  says 'names Service "api-docs" in namespace "shop", which does not exist'
  replay services/shop-api-8080.yml --request-path test_data/configmap_hash_in_quotes_reference.json
  denied
  says 'names Service "grafana" in namespace "shop", which does not exist'
  replay services/shop-api-8080.yml --request-path test_data/configmap_json_value_reference.json
  denied
  says 'names Service "inventory" in namespace "shop", which does not exist'
}

# --- What a Pod template names (checkWorkloadReferences) -------------------

@test "workload: a consumed ConfigMap naming a missing Service is rejected with a suggestion" {
  replay workload/gateway-datastorage-missing.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_gateway_consumes_config.json
  denied
  says 'volumes[0].configMap: ConfigMap "gateway-config", key "config.yaml"' \
    'names Service "datastorage" in namespace "kubernaut-system", which does not exist' \
    'did you mean "data-storage-service"?'
}

@test "workload: the same Deployment is accepted once the Service exists" {
  replay workload/gateway-datastorage-exists.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_gateway_consumes_config.json
  allowed
  no_warnings
}

@test "workload: ServiceAccount, ConfigMap, Secret names and Services are looked up in this order" {
  replay workload/gateway-every-lookup.yml --settings-path test_data/settings_secret_references.json \
    --request-path test_data/deployment_gateway_consumes_config.json
  allowed
}

@test "workload: a missing ConfigMap (the host's not-found error) is rejected" {
  replay workload/notification-settings-missing.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_config_map_missing.json
  denied
  says 'envFrom[0].configMapRef: ConfigMap "notification-settings" does not exist in namespace "kubernaut-system"' \
    'CreateContainerConfigError'
  [[ "${output}" != *"cannot verify"* ]]
}

@test "workload: a missing optional ConfigMap is accepted" {
  replay workload/notification-settings-missing.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_config_map_missing_optional.json
  allowed
  no_warnings
}

@test "workload: a missing ConfigMap key is rejected, naming the keys there are" {
  replay workload/postgres-config.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/pod_config_map_key_missing.json
  denied
  says 'ConfigMap "postgres-config" has no key "host"' '(it has "database", "hostname", "port", "sslmode")'
}

@test "workload: KUBECONFIG formed by envFrom with a prefix is checked" {
  replay workload/datastorage-e2e-env.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_kubeconfig_env_from_prefix.json
  denied
  says 'KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" (from ConfigMap "datastorage-e2e-env", key "CONFIG"' \
    'is not inside any volumeMount'
}

@test "workload: KUBECONFIG from a configMapKeyRef holding a host path is rejected" {
  replay workload/datastorage-env-host-path.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_kubeconfig_value_from.json
  denied
  says '(from ConfigMap "datastorage-env", key "kubeconfig", env[2].valueFrom.configMapKeyRef)' 'is not inside any volumeMount'
}

@test "workload: KUBECONFIG from a configMapKeyRef holding a mounted path is accepted" {
  replay workload/datastorage-env-mounted.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_kubeconfig_value_from.json
  allowed
}

@test "workload: a missing ServiceAccount is rejected" {
  replay workload/datastorage-sa-missing.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_kubeconfig_removed.json
  denied
  says 'ServiceAccount "data-storage-sa" does not exist in namespace "kubernaut-system"'
}

@test "workload: the default ServiceAccount is never looked up" {
  # no --allow-context-aware: a lookup would fail and say "cannot verify"
  evaluate --settings-path test_data/settings_workload_references.json \
    --request-path test_data/job_service_account_default.json
  allowed
  no_warnings
}

@test "workload: a missing Secret is rejected with checkSecretReferences" {
  replay workload/datastorage-secret-missing.yml --settings-path test_data/settings_secret_references.json \
    --request-path test_data/deployment_kubeconfig_removed.json
  denied
  says 'volumes[1].secret: Secret "datastorage-secret" does not exist in namespace "kubernaut-system"'
}

@test "workload: Secrets are not looked up without checkSecretReferences" {
  replay workload/datastorage.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_kubeconfig_removed.json
  allowed
}

@test "workload: a lookup error is a rejection saying what could not be verified" {
  replay workload/gateway-client-not-initialized.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_gateway_consumes_config.json
  denied
  says 'cannot verify ServiceAccount "gateway" in namespace "kubernaut-system"' \
    'cannot verify ConfigMap "gateway-config" in namespace "kubernaut-system"' \
    'Callback evaluation failure: kube::Client was not initialized properly'
}

@test "workload: onLookupError allow accepts a lookup error with warnings" {
  replay workload/gateway-client-not-initialized.yml \
    --settings-path test_data/settings_workload_lookup_error_allow.json \
    --request-path test_data/deployment_gateway_consumes_config.json
  allowed
  warns 'cannot verify ServiceAccount "gateway"' 'kube::Client was not initialized properly'
  warns 'cannot verify ConfigMap "gateway-config"'
}

@test "workload: an UPDATE that adds no reference makes no lookup" {
  # no --allow-context-aware: a lookup would fail and say "cannot verify"
  evaluate --settings-path test_data/settings_secret_references.json \
    --request-path test_data/deployment_update_adds_no_reference.json
  allowed
  no_warnings
}

@test "workload: an UPDATE looks up only the ConfigMap it adds" {
  replay workload/gateway-feature-flags-missing.yml --settings-path test_data/settings_secret_references.json \
    --request-path test_data/deployment_update_adds_config_map.json
  denied
  says 'ConfigMap "gateway-feature-flags" does not exist in namespace "kubernaut-system"'
}
