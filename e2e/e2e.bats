#!/usr/bin/env bats
# What only the real kwctl can show (see docs/development.md, "Where a test
# case lives"): that it loads the annotated module and its settings (and
# refuses invalid ones), prints our answers, applies our mutation patch,
# replays every recorded session of test_data/sessions/ (the last case
# checks that each has a case here), and runs the module pushed to an OCI
# registry on loopback. Every request fixture runs, with its verdict and
# host calls, on the compiled policy in e2e/tests/policy.rs; the rules and
# their wording are the unit tests'. `make e2e-tests` runs this file through
# e2e/real-hosts when kwctl is on PATH or ../shared/tools/kubewarden exists.
# Run from the repository root, after `make annotated-policy.wasm`.
#
# kwctl prints the AdmissionResponse on stdout and logs on stderr: verdicts
# and texts are read from stdout with jq, and every replay must match the
# recorded session exactly and use it up (kwctl only logs a mismatch, and
# the policy would turn it into an ordinary "cannot verify" rejection).

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
  command -v kwctl >/dev/null 2>&1 || {
    echo "kwctl is not on PATH (make e2e-tests unpacks it from ../shared/tools/kubewarden)" >&2
    return 1
  }
  [ -f annotated-policy.wasm ] || {
    echo "annotated-policy.wasm is missing: run make annotated-policy.wasm" >&2
    return 1
  }
}

# kwctl run ARGS... MODULE (default annotated-policy.wasm): $output is
# stdout, $stderr stderr.
evaluate() {
  run --separate-stderr kwctl run "$@" "${MODULE:-annotated-policy.wasm}"
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
no_warnings() { [ "$(jq -c .warnings <<<"${output}")" = null ]; }
# Exactly one warning per argument, in order, each containing it.
warns() {
  jq -e '(.warnings | length) == ($ARGS.positional | length)
    and ([.warnings, $ARGS.positional] | transpose | all(. as [$warning, $part] | $warning | contains($part)))' \
    --args "$@" <<<"${output}" >/dev/null
}

# check_removal FIXTURE ENV_POINTER WARNING_START: with
# removeOffendingVariables the request is accepted with a JSONPatch that,
# decoded and applied to the object, removes the KUBECONFIG entry of the env
# array at ENV_POINTER and changes nothing else; one warning says so. The
# decoded patch is left in $patch.
check_removal() {
  local fixture=test_data/$1 env=$2 warning=$3 patched expected
  evaluate --settings-path test_data/settings_remove_offending.json --request-path "${fixture}"
  allowed
  [ "$(jq -r .patchType <<<"${output}")" = JSONPatch ]
  [ "$(jq -c .status <<<"${output}")" = null ]
  patch=$(jq -r .patch <<<"${output}" | base64 -d)
  echo "patch = ${patch}"
  # replace and remove operations inside that env array only, one remove
  jq -e --arg env "${env}/" 'all(.[]; (.path | startswith($env)) and (.op == "replace" or .op == "remove"))
    and ([.[] | select(.op == "remove")] | length) == 1' <<<"${patch}" >/dev/null
  patched=$(jq_patch '.request.object | jsonpatch($patch)' --argjson patch "${patch}" "${fixture}")
  expected=$(jq_patch '.request.object | pointer_path($env) as $p | (getpath($p) | length) as $before
    | setpath($p; getpath($p) | map(select(.name != "KUBECONFIG")))
    | if (getpath($p) | length) == $before - 1 then . else error("not exactly one KUBECONFIG entry") end' \
    --arg env "${env}" "${fixture}")
  jq -n -e '$patched == $expected' --argjson patched "${patched}" --argjson expected "${expected}" >/dev/null
  jq -e --arg w "${warning}" '(.warnings | length) == 1 and (.warnings[0] | startswith($w))' \
    <<<"${output}" >/dev/null
}

# settings_refused MESSAGE_START... -- KWCTL_SETTINGS_ARGS...: kwctl exits
# with an error listing exactly these messages (validate_settings joins them
# with "; "), each starting as given, and evaluates nothing.
settings_refused() {
  local expected=()
  while [ "$1" != -- ]; do
    expected+=("$1")
    shift
  done
  shift
  run --separate-stderr kwctl run "$@" --request-path test_data/deployment_kubeconfig_removed.json \
    annotated-policy.wasm
  echo "status = ${status}, stdout = ${output}"
  [ "$status" -ne 0 ]
  [ -z "${output}" ]
  local reported
  reported=$(sed -n 's/^Error: Provided settings are not valid: //p' <<<"${stderr}")
  echo "reported = ${reported}"
  jq -n -e --arg reported "${reported}" '($reported | split("; ")) as $r
    | ($r | length) == ($ARGS.positional | length)
    and ([$r, $ARGS.positional] | transpose | all(. as [$message, $start] | $message | startswith($start)))' \
    --args "${expected[@]}" >/dev/null
}

# --- The annotated module, its settings and its answers --------------------

@test "seed Deployment with a host-path KUBECONFIG is rejected" {
  evaluate --request-path test_data/deployment_kubeconfig_host_path.json
  denied
  says 'container "datastorage" (Deployment kubernaut-system/datastorage): KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" is not inside any volumeMount'
}

@test "removeOffendingVariables: the patch removes only KUBECONFIG and keeps unknown fields" {
  check_removal pod_unknown_fields_kubeconfig.json /spec/containers/0/env \
    'container "gateway" (Pod kubernaut-system/gateway-unknown-fields): removed KUBECONFIG'
  # the entries after it shift up: two replaces and the last entry removed
  jq -e '. == [
      {"op": "replace", "path": "/spec/containers/0/env/1/name", "value": "B"},
      {"op": "replace", "path": "/spec/containers/0/env/1/value", "value": "2"},
      {"op": "remove", "path": "/spec/containers/0/env/2"}]' <<<"${patch}" >/dev/null
}

@test "unknown settings are refused" {
  settings_refused 'invalid settings: unknown field `variable`, expected one of `variables`, `allowedPaths`' \
    -- --settings-path test_data/settings_invalid_unknown_field.json
}

@test "invalid setting values are refused, each with its own message" {
  settings_refused 'variables: "1BAD" is not a valid environment variable name' \
    'allowedPaths: "relative/path" must be an absolute path' \
    'clusterDomain: "Not_A_Domain" is not a DNS domain' \
    -- --settings-path test_data/settings_invalid_values.json
  settings_refused 'invalid settings: action: unknown variant `block`, expected `deny` or `warn`' \
    -- --settings-json '{"action": "block"}'
  settings_refused 'maxNamespacesPerRequest must be at least 1' -- --settings-json '{"maxNamespacesPerRequest": 0}'
  settings_refused 'checkSecretReferences needs checkWorkloadReferences' \
    -- --settings-json '{"checkSecretReferences": true}'
  settings_refused 'ignoredKeys: an empty pattern matches no key' -- --settings-json '{"ignoredKeys": ["_example", ""]}'
}

@test "every valid settings file of test_data/ is accepted" {
  local settings
  for settings in test_data/settings_*.json; do
    case "${settings}" in *_invalid_*) continue ;; esac
    echo "settings: ${settings}"
    # a DELETE is accepted without a check under any of them
    evaluate --settings-path "${settings}" --request-path test_data/configmap_delete.json
    allowed
    no_warnings
  done
}

@test "an unsupported kind gets a clear rejection" {
  evaluate --request-path test_data/service_unsupported_kind.json
  denied
  says 'not Service; check the rules of the policy'
  [ "$(jq -r .status.code <<<"${output}")" = 400 ]
}

# --- Every replay session: Service lists for ConfigMaps --------------------

@test "seed ConfigMap naming a missing Service is rejected with a suggestion" {
  replay services-data-storage-8080.yml --request-path test_data/configmap_dangling_service.json
  denied
  says 'names Service "datastorage" in namespace "kubernaut-system", which does not exist' \
    'did you mean "data-storage-service"?'
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

@test "a name under cluster.local is accepted when additionalClusterDomains lists it" {
  replay services/kafka-headless.yml \
    --settings-path test_data/settings_corp_cluster_domain_serves_cluster_local.json \
    --request-path test_data/configmap_foreign_cluster_domain.json
  allowed
}

@test "a reference outside a YAML comment is checked and rejected" {
  replay services/other-empty-shop-api-8080.yml --request-path test_data/configmap_uncommented_reference.json
  denied
  says 'names Service "example-svc" in namespace "other", which does not exist'
}

@test "example text outside the _example key is scanned and rejected" {
  replay services/logging-empty-shop-api-8080.yml --request-path test_data/configmap_example_outside_example_key.json
  denied
  says 'key "logging.yaml"' 'names Service "fluentd" in namespace "logging", which does not exist'
}

# --- Every replay session: what a Pod template names (checkWorkloadReferences)

@test "workload: a consumed ConfigMap naming a missing Service is rejected with a suggestion" {
  replay workload/gateway-datastorage-missing.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_gateway_consumes_config.json
  denied
  says 'volumes[0].configMap: ConfigMap "gateway-config", key "config.yaml"' \
    'names Service "datastorage" in namespace "kubernaut-system", which does not exist' \
    'did you mean "data-storage-service"?'
}

@test "workload: the Gateway Deployment is accepted once the Service exists" {
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

@test "workload: a missing Secret is a warning that the Pods wait, with checkSecretReferences" {
  replay workload/datastorage-secret-missing.yml --settings-path test_data/settings_secret_references.json \
    --request-path test_data/deployment_kubeconfig_removed.json
  allowed
  jq -e '(.warnings | length) == 1 and (.warnings[0] | contains("volumes[1].secret: Secret \"datastorage-secret\" does not exist in namespace \"kubernaut-system\" yet: the Pods wait"))' \
    <<<"${output}" >/dev/null
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

@test "workload: an UPDATE looks up only the ConfigMap it adds" {
  replay workload/gateway-feature-flags-missing.yml --settings-path test_data/settings_secret_references.json \
    --request-path test_data/deployment_update_adds_config_map.json
  denied
  says 'ConfigMap "gateway-feature-flags" does not exist in namespace "kubernaut-system"'
}

@test "workload: Secrets that exist are accepted with checkSecretReferences" {
  replay workload/datastorage-secrets.yml --settings-path test_data/settings_secret_references.json \
    --request-path test_data/deployment_kubeconfig_removed.json
  allowed
  no_warnings
}

@test "workload: a Job running as a missing ServiceAccount is rejected" {
  replay workload/datastorage-migrator-missing.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/job_service_account_missing.json
  denied
  says 'Job kubernaut-system/datastorage-migrate, serviceAccountName: ServiceAccount "datastorage-migrator" does not exist in namespace "kubernaut-system"'
}

@test "workload: a typo in a bare host:port env value is rejected, an absent optional Service warned" {
  replay workload/shop-frontend-services.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_env_service_typo.json
  denied
  says 'env[3].value (variable "CART_SERVICE_ADDR"): "cartservce:7070" names Service "cartservce" in namespace "shop", which does not exist' \
    'did you mean "cartservice"?'
  jq -e '(.warnings | length) == 1 and (.warnings[0] | contains("(variable \"AI_SERVICE_URL\"): \"http://ai-service:5001\" names Service \"ai-service\""))' \
    <<<"${output}" >/dev/null
}

# --- Every replay session: the reference graph (test_data/sessions/graph/) ----

@test "graph: a ValidatingWebhookConfiguration whose Service exists is accepted" {
  replay graph/cert-manager-webhook.yml --request-path test_data/validatingwebhook_service_exists.json
  allowed
  no_warnings
}

@test "graph: a ValidatingWebhookConfiguration naming a missing Service is rejected with a suggestion" {
  replay graph/cert-manager-webhook.yml --request-path test_data/validatingwebhook_service_missing.json
  denied
  says 'ValidatingWebhookConfiguration cert-manager-webhook, webhooks[0].clientConfig.service: Service "cert-manager-webhok" does not exist in namespace "cert-manager" (did you mean "cert-manager-webhook"?)' \
    'the API server cannot call the webhook'
}

@test "graph: a MutatingWebhookConfiguration calling a port the Service does not expose is rejected" {
  replay graph/cert-manager-webhook.yml --request-path test_data/mutatingwebhook_service_wrong_port.json
  denied
  says 'Service "cert-manager-webhook" in namespace "cert-manager" has no port 10250 (it exposes 443, 9402)'
}

@test "graph: an APIService whose Service exists is accepted" {
  replay graph/kube-system-metrics-server.yml --request-path test_data/apiservice_service_exists.json
  allowed
  no_warnings
}

@test "graph: an APIService naming a missing Service is warned about" {
  replay graph/kube-system-metrics-server.yml --request-path test_data/apiservice_service_missing.json
  allowed
  warns 'APIService v1beta1.metrics.k8s.io, spec.service: Service "metric-server" does not exist in namespace "kube-system" (did you mean "metrics-server"?); the aggregated API is unavailable'
}

@test "graph: an APIService naming a missing Service is rejected with missingExtensionServices: deny" {
  replay graph/kube-system-metrics-server.yml --request-path test_data/apiservice_service_missing.json \
    --settings-json '{"missingExtensionServices": "deny"}'
  denied
  says 'APIService v1beta1.metrics.k8s.io, spec.service: Service "metric-server" does not exist in namespace "kube-system" (did you mean "metrics-server"?)' \
    'the aggregated API is unavailable'
}

@test "graph: a CRD whose conversion webhook Service exists is accepted" {
  replay graph/widget-system-webhook.yml --request-path test_data/crd_conversion_service_exists.json
  allowed
  no_warnings
}

@test "graph: a CRD whose conversion webhook Service is missing is warned about" {
  replay graph/widget-system-webhook.yml --request-path test_data/crd_conversion_service_missing.json
  allowed
  warns 'spec.conversion.webhook.clientConfig.service: Service "webhook-service" does not exist in namespace "widget-system" (did you mean "widget-webhook-service"?)'
}

@test "graph: a CRD whose conversion webhook Service is missing is rejected with missingExtensionServices: deny" {
  replay graph/widget-system-webhook.yml --request-path test_data/crd_conversion_service_missing.json \
    --settings-json '{"missingExtensionServices": "deny"}'
  denied
  says 'spec.conversion.webhook.clientConfig.service: Service "webhook-service" does not exist in namespace "widget-system" (did you mean "widget-webhook-service"?)'
}

@test "graph: a Deployment whose PersistentVolumeClaim exists is accepted" {
  replay graph/shop-claims.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_claim_exists.json
  allowed
  no_warnings
}

@test "graph: a Deployment naming a missing PersistentVolumeClaim is rejected" {
  replay graph/shop-claims.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_claim_missing.json
  denied
  says 'volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim "media-upload" does not exist in namespace "shop" (did you mean "media-uploads"?)' \
    'its Pods stay Pending until the claim exists'
}

@test "graph: a probe on a declared named port is accepted without a host call" {
  evaluate --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_probe_port_declared.json
  allowed
  no_warnings
}

@test "graph: a probe on an undeclared named port is rejected without a host call" {
  evaluate --settings-path test_data/settings_workload_references.json \
    --request-path test_data/deployment_probe_port_undeclared.json
  denied
  says 'readinessProbe.httpGet.port: container "api" has no port named "health" (it declares "http", "metrics")' \
    'the kubelet cannot run the probe, so it always fails'
}

@test "graph: a StatefulSet whose governing Service exists is accepted" {
  replay graph/shop-postgres-services.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/statefulset_governing_service_exists.json
  allowed
  no_warnings
}

@test "graph: a missing governing Service is a warning, or a rejection with missingGoverningServices deny" {
  replay graph/shop-postgres-services.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/statefulset_governing_service_missing.json
  allowed
  warns 'StatefulSet shop/postgres, spec.serviceName: Service "postgresql-headless" does not exist in namespace "shop" (did you mean "postgres-headless"?)'
  replay graph/shop-postgres-services.yml \
    --settings-json '{"checkWorkloadReferences": true, "missingGoverningServices": "deny"}' \
    --request-path test_data/statefulset_governing_service_missing.json
  denied
  says 'spec.serviceName: Service "postgresql-headless" does not exist in namespace "shop"'
}

@test "graph: an HPA whose scale target exists is accepted" {
  replay graph/shop-deployments.yml --request-path test_data/hpa_target_exists.json
  allowed
  no_warnings
}

@test "graph: a missing HPA scale target is a warning, or a rejection with missingScaleTargets deny" {
  replay graph/shop-deployments.yml --request-path test_data/hpa_target_missing.json
  allowed
  warns 'HorizontalPodAutoscaler shop/storefront, spec.scaleTargetRef: Deployment "store-front" does not exist in namespace "shop" (did you mean "storefront"?)'
  replay graph/shop-deployments.yml --settings-json '{"missingScaleTargets": "deny"}' \
    --request-path test_data/hpa_target_missing.json
  denied
  says 'spec.scaleTargetRef: Deployment "store-front" does not exist in namespace "shop"'
}

@test "graph: an HPA scaling a StatefulSet that exists is accepted" {
  replay graph/shop-statefulsets.yml --request-path test_data/hpa_statefulset_target_exists.json
  allowed
  no_warnings
}

@test "graph: a StatefulSet's Services, then its claims, are listed once each" {
  replay graph/shop-postgres-services-and-claims.yml --settings-path test_data/settings_workload_references.json \
    --request-path test_data/statefulset_governing_service_and_claim_missing.json
  denied
  says 'StatefulSet shop/postgres, spec.template.spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim "postgres-backups" does not exist in namespace "shop"'
  no_warnings
}

@test "graph: a RoleBinding whose Role and ServiceAccount exist is accepted" {
  replay graph/shop-rbac.yml --request-path test_data/rolebinding_role_exists.json
  allowed
  no_warnings
}

@test "graph: a RoleBinding to a missing Role is a warning, or a rejection with missingBindingReferences deny" {
  replay graph/shop-rbac.yml --request-path test_data/rolebinding_role_missing.json
  allowed
  warns 'RoleBinding shop/api-config-reader, roleRef: Role "configmap-reader" does not exist in namespace "shop" (did you mean "config-reader"?)'
  replay graph/shop-rbac.yml --settings-json '{"missingBindingReferences": "deny"}' \
    --request-path test_data/rolebinding_role_missing.json
  denied
  says 'roleRef: Role "configmap-reader" does not exist in namespace "shop"'
}

@test "graph: a ClusterRoleBinding whose ClusterRole (list_resources_all) and ServiceAccounts exist is accepted" {
  replay graph/ci-ops-deployers.yml --request-path test_data/clusterrolebinding_role_exists.json
  allowed
  no_warnings
}

@test "graph: a ClusterRoleBinding to a missing ClusterRole is a warning" {
  replay graph/ci-ops-deployers.yml --request-path test_data/clusterrolebinding_role_missing.json
  allowed
  warns 'ClusterRoleBinding deployers, roleRef: ClusterRole "deployment-managers" does not exist (did you mean "deployment-manager"?)'
}

@test "graph: a missing ServiceAccount subject is rejected with missingBindingReferences deny" {
  replay graph/ci-ops-deployers.yml --settings-json '{"missingBindingReferences": "deny"}' \
    --request-path test_data/clusterrolebinding_subject_missing.json
  denied
  says 'ClusterRoleBinding deployers, subjects[1]: ServiceAccount "gitlab-runner" does not exist in namespace "ci"' \
    'the binding grants that ServiceAccount nothing until it exists'
}

@test "graph: ClusterRoles the host may not list only warn for a binding" {
  replay graph/ci-ops-deployers-cluster-roles-forbidden.yml --request-path test_data/clusterrolebinding_role_exists.json
  allowed
  warns 'ClusterRoleBinding deployers: cannot verify the ClusterRoles it references: error invoking host capability kubernetes.list_resources_all'
}

@test "graph: built-in roles and the default ServiceAccount are accepted without a host call" {
  evaluate --request-path test_data/rolebinding_built_in_role.json
  allowed
  no_warnings
  evaluate --settings-json '{"missingBindingReferences": "deny"}' \
    --request-path test_data/clusterrolebinding_system_role.json
  allowed
  no_warnings
}

# --- The module from an OCI registry -----------------------------------------

teardown() {
  stop_process "${REGISTRY_PID:-}"
}

@test "route: an Ingress backend naming a missing Service is rejected with a suggestion" {
  replay services/shop-api-8080.yml --request-path test_data/ingress_backend_missing.json
  denied
  says 'spec.rules[0].http.paths[0].backend.service: Service "apii" does not exist in namespace "shop"; did you mean "api"?'
}

@test "route: an HTTPRoute backendRef to a port the Service does not expose is rejected" {
  replay services/shop-api-8080.yml --request-path test_data/httproute_backend_wrong_port.json
  denied
  says 'Service "api" in namespace "shop" has no port 9090 (it exposes 8080)'
}

@test "route: an Ingress backend on an ExternalName Service accepts any port" {
  replay services/shop-api-legacy-external-name.yml --request-path test_data/ingress_backend_external_name.json
  allowed
  no_warnings
}

@test "route: an HTTPRoute backendRef to a Service of another namespace is judged there" {
  replay services/backend-grpc-9090.yml --request-path test_data/httproute_backend_cross_namespace.json
  allowed
  no_warnings
}

@test "the module pushed to a registry on loopback runs from registry://" {
  command -v docker-registry >/dev/null 2>&1 ||
    skip "docker-registry is not installed (apt-get install docker-registry): no OCI registry to push to"
  local dir=${BATS_TEST_TMPDIR} port reference
  port=$(free_port)
  printf '%s\n' 'version: 0.1' 'log: {level: error}' "storage: {filesystem: {rootdirectory: ${dir}/registry}}" \
    "http: {addr: \"127.0.0.1:${port}\"}" >"${dir}/registry.yml"
  docker-registry serve "${dir}/registry.yml" >"${dir}/registry.log" 2>&1 3>&- &
  REGISTRY_PID=$!
  wait_for_http "http://127.0.0.1:${port}/v2/" "${REGISTRY_PID}" 30
  # plain HTTP on loopback; kwctl's policy store kept out of the user's
  printf 'insecure_sources: ["127.0.0.1:%s"]\n' "${port}" >"${dir}/sources.yml"
  export XDG_CACHE_HOME=${dir}/cache
  local uri=registry://127.0.0.1:${port}/dangling-references/dangling-references-policy:v0.0.0-e2e

  run --separate-stderr kwctl push --output json --sources-path "${dir}/sources.yml" annotated-policy.wasm "${uri}"
  echo "push: ${output}"
  [ "$status" -eq 0 ]
  reference=$(jq -r .immutable_ref <<<"${output}")
  [[ "${reference}" == "127.0.0.1:${port}/dangling-references/dangling-references-policy@sha256:"* ]]

  # by tag: pulled into the store byte for byte, same verdict
  MODULE=${uri} evaluate --sources-path "${dir}/sources.yml" \
    --request-path test_data/deployment_kubeconfig_host_path.json
  denied
  says 'KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" is not inside any volumeMount'
  cmp annotated-policy.wasm \
    "${XDG_CACHE_HOME}/kubewarden/store/registry/127.0.0.1:${port}/dangling-references/dangling-references-policy:v0.0.0-e2e"
  # by digest, with a replayed session, and with settings
  MODULE=registry://${reference} replay services-data-storage-8080.yml --sources-path "${dir}/sources.yml" \
    --request-path test_data/configmap_dangling_service.json
  denied
  says 'names Service "datastorage" in namespace "kubernaut-system", which does not exist'
  MODULE=registry://${reference} evaluate --sources-path "${dir}/sources.yml" \
    --settings-path test_data/settings_remove_offending.json \
    --request-path test_data/deployment_kubeconfig_host_path.json
  allowed
  [ "$(jq -r .patch <<<"${output}" | base64 -d)" = '[{"op":"remove","path":"/spec/template/spec/containers/0/env/2"}]' ]
}

# --- Coverage ------------------------------------------------------------------

@test "every replay session of test_data/ has a case in this file" {
  local file missing=()
  while IFS= read -r file; do
    # as the first argument of replay: preceded by a space
    grep -qF " ${file#test_data/sessions/}" "${BATS_TEST_FILENAME}" || missing+=("${file}")
  done < <(find test_data/sessions -type f -name '*.yml' | sort)
  echo "without a case: ${missing[*]}"
  [ "${#missing[@]}" -eq 0 ]
}
