#!/usr/bin/env bats
# The policy on the real policy-server: `make e2e-tests` runs this file
# through e2e/real-hosts when policy-server is on PATH or
# ../shared/tools/kubewarden exists. Run from the repository root, after
# `make annotated-policy.wasm`.
#
# setup_file starts one policy-server on free loopback ports with a
# generated policies.yml (the policy in protect mode with default settings,
# with removeOffendingVariables, in monitor mode, with the workload check),
# without a cluster (--ignore-kubernetes-connection-failure: every
# Kubernetes host call fails with "kube::Client was not initialized
# properly") and with RUST_BACKTRACE=1, which makes that error carry a
# backtrace. It waits on the readiness port; the tests POST AdmissionReviews
# to /validate/<id>; teardown_file always stops the server (and `timeout`
# bounds its life should bats itself be killed).

bats_require_minimum_version 1.5.0

load helpers

# policies.yml: the policy under each id.
write_policies() {
  local module=file://${PWD}/annotated-policy.wasm
  # what the policy reads, and the host calls it makes (policy-server
  # denies every host call not listed, see docs/deploying.md)
  local access='
  contextAwareResources:
    - {apiVersion: v1, kind: Service}
    - {apiVersion: v1, kind: ConfigMap}
    - {apiVersion: v1, kind: ServiceAccount}
    - {apiVersion: v1, kind: Secret}
    - {apiVersion: v1, kind: PersistentVolumeClaim}
    - {apiVersion: v1, kind: ReplicationController}
    - {apiVersion: apps/v1, kind: Deployment}
    - {apiVersion: apps/v1, kind: StatefulSet}
    - {apiVersion: apps/v1, kind: ReplicaSet}
    - {apiVersion: rbac.authorization.k8s.io/v1, kind: Role}
    - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole}
  hostCapabilities: [kubernetes/get_resource, kubernetes/list_resources_by_namespace, kubernetes/list_resources_all]'
  cat <<EOF
protect:
  module: ${module}
  policyMode: protect
  allowedToMutate: false
  settings: {}${access}
mutate:
  module: ${module}
  policyMode: protect
  allowedToMutate: true
  settings: {removeOffendingVariables: true}${access}
mutate-not-allowed:
  module: ${module}
  policyMode: protect
  allowedToMutate: false
  settings: {removeOffendingVariables: true}${access}
monitor:
  module: ${module}
  policyMode: monitor
  allowedToMutate: false
  settings: {}${access}
workload:
  module: ${module}
  policyMode: protect
  allowedToMutate: false
  settings: {checkWorkloadReferences: true}${access}
workload-lookup-error-allow:
  module: ${module}
  policyMode: protect
  allowedToMutate: false
  settings: {checkWorkloadReferences: true, onLookupError: allow}${access}
EOF
}

# start_policy_server POLICIES LOG: starts policy-server in the background
# on free loopback ports (PS_PID, PS_PORT, PS_READINESS_PORT) and waits until
# it is ready; retries when a port was taken meanwhile.
start_policy_server() {
  local policies=$1 log=$2
  for _ in 1 2 3; do
    PS_PORT=$(free_port)
    PS_READINESS_PORT=$(free_port)
    [ "${PS_PORT}" != "${PS_READINESS_PORT}" ] || continue
    RUST_BACKTRACE=1 timeout 900 policy-server --addr 127.0.0.1 --port "${PS_PORT}" \
      --readiness-probe-port "${PS_READINESS_PORT}" --policies "${policies}" \
      --policies-download-dir "${BATS_FILE_TMPDIR}" --sigstore-cache-dir "${BATS_FILE_TMPDIR}/sigstore" \
      --ignore-kubernetes-connection-failure --log-no-color >"${log}" 2>&1 3>&- &
    PS_PID=$!
    if wait_for_http "http://127.0.0.1:${PS_READINESS_PORT}/readiness" "${PS_PID}" 120; then
      return 0
    fi
    stop_process "${PS_PID}"
    grep -q 'Address already in use' "${log}" || break
  done
  echo "policy-server did not get ready; its log:" >&2
  grep -v '^ ' "${log}" | tail -n 20 >&2
  return 1
}

setup_file() {
  if ! command -v policy-server >/dev/null 2>&1; then
    export PS_MISSING=1
    return 0
  fi
  [ -f annotated-policy.wasm ] || {
    echo "annotated-policy.wasm is missing: run make annotated-policy.wasm" >&2
    return 1
  }
  write_policies >"${BATS_FILE_TMPDIR}/policies.yml"
  export PS_LOG=${BATS_FILE_TMPDIR}/policy-server.log
  start_policy_server "${BATS_FILE_TMPDIR}/policies.yml" "${PS_LOG}"
  export PS_PID PS_PORT PS_READINESS_PORT
}

teardown_file() {
  stop_process "${PS_PID:-}"
}

setup() {
  [ -z "${PS_MISSING:-}" ] ||
    skip "policy-server is not on PATH (make e2e-tests unpacks it from ../shared/tools/kubewarden)"
}

teardown() {
  stop_process "${INVALID_PID:-}"
  if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${PS_LOG:-}" ]; then
    echo "--- end of the policy-server log"
    grep -v '^ ' "${PS_LOG}" | tail -n 10
  fi
}

# post POLICY_ID FIXTURE: POSTs test_data/FIXTURE (an AdmissionReview) to
# /validate/POLICY_ID; $code is the HTTP status, $output the body.
post() {
  local body=${BATS_TEST_TMPDIR}/body
  code=$(curl -sS --max-time 30 -o "${body}" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@test_data/$2" "http://127.0.0.1:${PS_PORT}/validate/$1")
  output=$(cat "${body}")
  echo "POST /validate/$1 test_data/$2: HTTP ${code} ${output}"
}

# review POLICY_ID FIXTURE: post, expecting an AdmissionReview that answers
# the request's uid; $response is its response.
review() {
  post "$@"
  [ "${code}" = 200 ]
  jq -e --slurpfile request "test_data/$2" '.apiVersion == "admission.k8s.io/v1" and .kind == "AdmissionReview"
    and .response.uid == $request[0].request.uid' <<<"${output}" >/dev/null
  response=$(jq -c .response <<<"${output}")
}

allowed() { [ "$(jq -r .allowed <<<"${response}")" = true ]; }
denied() { [ "$(jq -r .allowed <<<"${response}")" = false ]; }
message_is() { [ "$(jq -r .status.message <<<"${response}")" = "$1" ]; }
# message_starts_ends START [END]: the message starts with START and ends with END.
message_starts_ends() {
  jq -e --arg prefix "$1" --arg suffix "${2:-}" '.status.message | startswith($prefix) and endswith($suffix)' \
    <<<"${response}" >/dev/null
}
no_patch() { [ "$(jq -c '[.patch, .patchType]' <<<"${response}")" = '[null,null]' ]; }
warnings_are() { jq -e '.warnings == $ARGS.positional' --args "$@" <<<"${response}" >/dev/null; }
no_warnings() { [ "$(jq -c .warnings <<<"${response}")" = null ]; }
# Messages and warnings are one line each, with no backtrace in them.
clean_texts() {
  jq -e '[.status.message?, .warnings[]?] | map(select(. != null))
    | all(contains("\n") or test("backtrace"; "i") | not)' <<<"${response}" >/dev/null
}

# The seed message by its identity: its full text is asserted in the unit
# tests of the KUBECONFIG check.
SEED_MESSAGE='container "datastorage" (Deployment kubernaut-system/datastorage): KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" is not inside any volumeMount'
HOST_DOWN='error invoking host capability kubernetes.list_resources_by_namespace: Host error: Callback evaluation failure: kube::Client was not initialized properly'
GET_DOWN='error invoking host capability kubernetes.get_resource: Host error: Callback evaluation failure: kube::Client was not initialized properly'

# --- protect mode, default settings ------------------------------------------

@test "protect: the seed Deployment is rejected with the policy's message" {
  review protect deployment_kubeconfig_host_path.json
  denied
  message_starts_ends "${SEED_MESSAGE}"
  clean_texts
  [ "$(jq -c .status.code <<<"${response}")" = null ]
  no_patch
  no_warnings
}

@test "protect: the same Deployment without KUBECONFIG is accepted" {
  review protect deployment_kubeconfig_removed.json
  allowed
  no_patch
  no_warnings
}

@test "protect: a request of a kind the policy does not handle is a 400 rejection" {
  review protect service_unsupported_kind.json
  denied
  [ "$(jq -c .status.code <<<"${response}")" = 400 ]
  jq -e '.status.message | contains("not Service; check the rules of the policy")' <<<"${response}" >/dev/null
}

@test "protect: every request fixture gets a verdict in one clean line, never an internal error" {
  local file
  for file in test_data/*.json; do
    case "${file}" in test_data/settings_*) continue ;; esac
    review protect "${file#test_data/}"
    clean_texts
    [ "$(jq -r '.status.code // 0' <<<"${response}")" != 500 ]
    jq -e '.status.message // "" | contains("internal server error") | not' <<<"${response}" >/dev/null
  done
}

@test "an unknown policy id is a 404" {
  post no-such-policy deployment_kubeconfig_host_path.json
  [ "${code}" = 404 ]
}

# --- removeOffendingVariables, allowedToMutate: true -------------------------

# patched_is FIXTURE ENV_POINTER: the base64 JSONPatch of $response, decoded
# and applied to the request's object, removes exactly the KUBECONFIG entry
# of the env array at ENV_POINTER.
patched_is() {
  local fixture=test_data/$1 env=$2 patch patched expected
  [ "$(jq -r .patchType <<<"${response}")" = JSONPatch ]
  patch=$(jq -r .patch <<<"${response}" | base64 -d)
  echo "patch = ${patch}"
  patched=$(jq_patch '.request.object | jsonpatch($patch)' --argjson patch "${patch}" "${fixture}")
  expected=$(jq_patch '.request.object | pointer_path($env) as $p | (getpath($p) | length) as $before
    | setpath($p; getpath($p) | map(select(.name != "KUBECONFIG")))
    | if (getpath($p) | length) == $before - 1 then . else error("not exactly one KUBECONFIG entry") end' \
    --arg env "${env}" "${fixture}")
  jq -n -e '$patched == $expected' --argjson patched "${patched}" --argjson expected "${expected}" >/dev/null
}

@test "mutate: the seed Deployment is accepted with a patch removing only KUBECONFIG, and a warning" {
  review mutate deployment_kubeconfig_host_path.json
  allowed
  [ "$(jq -c .status <<<"${response}")" = null ]
  patched_is deployment_kubeconfig_host_path.json /spec/template/spec/containers/0/env
  [ "$(jq -r .patch <<<"${response}" | base64 -d)" = '[{"op":"remove","path":"/spec/template/spec/containers/0/env/2"}]' ]
  jq -e '(.warnings | length) == 1
    and (.warnings[0] | startswith("container \"datastorage\" (Deployment kubernaut-system/datastorage): removed KUBECONFIG"))' \
    <<<"${response}" >/dev/null
}

@test "mutate without allowedToMutate: policy-server rejects the patched request" {
  review mutate-not-allowed deployment_kubeconfig_host_path.json
  denied
  message_is 'Request rejected by policy mutate-not-allowed. The policy attempted to mutate the request, but it is currently configured to not allow mutations.'
  no_patch
}

# --- monitor mode -------------------------------------------------------------

@test "monitor: every request fixture is let through, without message or patch" {
  local file
  for file in test_data/*.json; do
    case "${file}" in test_data/settings_*) continue ;; esac
    review monitor "${file#test_data/}"
    allowed
    [ "$(jq -c '[.status, .patch, .patchType]' <<<"${response}")" = '[null,null,null]' ]
  done
  # what protect mode rejects
  review protect deployment_kubeconfig_host_path.json
  denied
  review monitor deployment_kubeconfig_host_path.json
  allowed
}

# --- the Kubernetes client is down ---------------------------------------------

@test "client down: a ConfigMap is rejected saying its Services cannot be verified, in one clean line" {
  review protect configmap_dangling_service.json
  denied
  message_is "ConfigMap kubernaut-system/gateway-config: cannot verify the Services referenced in namespace \"kubernaut-system\" (http://datastorage.kubernaut-system.svc.cluster.local:8080, redis-master.kubernaut-system.svc.cluster.local:6379): ${HOST_DOWN}"
  clean_texts
  # the host's error did carry a backtrace (RUST_BACKTRACE=1): the server
  # logs the failed host call with it
  sed 's/\x1b\[[0-9;]*m//g' "${PS_LOG}" |
    grep -A2 'operation="list_resources_by_namespace" error=kube::Client was not initialized properly' |
    grep -q '^Stack backtrace:'
}

@test "client down: the workload check rejects, naming what it cannot verify, in one clean line" {
  review workload deployment_gateway_consumes_config.json
  denied
  clean_texts
  message_is "Deployment kubernaut-system/gateway: cannot verify ServiceAccount \"gateway\" in namespace \"kubernaut-system\": ${GET_DOWN}; Deployment kubernaut-system/gateway: cannot verify ConfigMap \"gateway-config\" in namespace \"kubernaut-system\": ${GET_DOWN}"
}

@test "client down: onLookupError allow accepts the workload with clean warnings" {
  review workload-lookup-error-allow deployment_gateway_consumes_config.json
  allowed
  no_patch
  clean_texts
  warnings_are "Deployment kubernaut-system/gateway: cannot verify ServiceAccount \"gateway\" in namespace \"kubernaut-system\": ${GET_DOWN}" \
    "Deployment kubernaut-system/gateway: cannot verify ConfigMap \"gateway-config\" in namespace \"kubernaut-system\": ${GET_DOWN}"
}

@test "client down: the workload check still rejects a host-path KUBECONFIG for what it is" {
  review workload deployment_kubeconfig_host_path.json
  denied
  clean_texts
  # first, and then what could not be verified
  message_starts_ends "${SEED_MESSAGE}" "; Deployment kubernaut-system/datastorage: cannot verify ServiceAccount \"data-storage-sa\" in namespace \"kubernaut-system\": ${GET_DOWN}; Deployment kubernaut-system/datastorage: cannot verify ConfigMap \"datastorage-config\" in namespace \"kubernaut-system\": ${GET_DOWN}"
}

@test "client down: a webhook configuration is rejected saying its Services cannot be verified" {
  review protect validatingwebhook_service_exists.json
  denied
  clean_texts
  message_is "ValidatingWebhookConfiguration cert-manager-webhook: cannot verify the Services it references in namespace \"cert-manager\": ${HOST_DOWN}"
}

@test "client down: a ClusterRoleBinding is accepted with a warning per lookup, list_resources_all included" {
  review protect clusterrolebinding_role_exists.json
  allowed
  no_patch
  clean_texts
  # in the order of the binding's fields: roleRef, subjects[0] (ops), subjects[1] (ci)
  warnings_are "ClusterRoleBinding deployers: cannot verify the ClusterRoles it references: ${HOST_DOWN/list_resources_by_namespace/list_resources_all}" \
    "ClusterRoleBinding deployers: cannot verify the ServiceAccounts it references in namespace \"ops\": ${HOST_DOWN}" \
    "ClusterRoleBinding deployers: cannot verify the ServiceAccounts it references in namespace \"ci\": ${HOST_DOWN}"
}

# --- invalid settings ------------------------------------------------------------

@test "invalid settings: policy-server refuses to start, saying which settings are wrong" {
  local dir=${BATS_TEST_TMPDIR}
  printf '%s\n' 'invalid:' "  module: file://${PWD}/annotated-policy.wasm" '  policyMode: protect' \
    '  settings: {variables: ["1BAD"], allowedPaths: [relative/path]}' >"${dir}/policies.yml"
  RUST_BACKTRACE=1 timeout 120 policy-server --addr 127.0.0.1 --port "$(free_port)" \
    --readiness-probe-port "$(free_port)" --policies "${dir}/policies.yml" \
    --policies-download-dir "${dir}" --sigstore-cache-dir "${dir}/sigstore" \
    --ignore-kubernetes-connection-failure --log-no-color >"${dir}/log" 2>&1 3>&- &
  INVALID_PID=$!
  local status=0
  wait "${INVALID_PID}" || status=$?
  INVALID_PID=
  grep -v '^ ' "${dir}/log" | tail -n 5
  [ "${status}" -ne 0 ] && [ "${status}" -ne 124 ]
  grep -qxF 'Error: Policy settings are invalid: variables: "1BAD" is not a valid environment variable name; allowedPaths: "relative/path" must be an absolute path' "${dir}/log"
}
