#!/usr/bin/env bats
# The key cases of e2e/tests/*.rs, for the real kwctl (`make e2e-tests` runs
# this file when kwctl is on PATH). Run from the repository root.

@test "seed Deployment with a host-path KUBECONFIG is rejected" {
  run kwctl run --request-path test_data/deployment_kubeconfig_host_path.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":false.*') -ne 0 ]
  [ $(expr "$output" : '.*is not inside any volumeMount, so it will not exist in the container.*') -ne 0 ]
}

@test "the same Deployment without KUBECONFIG is accepted" {
  run kwctl run --request-path test_data/deployment_kubeconfig_removed.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":true.*') -ne 0 ]
}

@test "the same Deployment with the kubeconfig mounted from a Secret is accepted" {
  run kwctl run --request-path test_data/deployment_kubeconfig_secret_mount.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":true.*') -ne 0 ]
}

@test "a kubeconfig on a hostPath volume is rejected" {
  run kwctl run --request-path test_data/deployment_kubeconfig_hostpath_volume.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":false.*') -ne 0 ]
  [ $(expr "$output" : '.*injects the node.s credentials.*') -ne 0 ]
}

@test "removeOffendingVariables mutates instead of rejecting" {
  run kwctl run --settings-path test_data/settings_remove_offending.json \
    --request-path test_data/pod_unknown_fields_kubeconfig.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":true.*') -ne 0 ]
  [ $(expr "$output" : '.*JSONPatch.*') -ne 0 ]
}

@test "unknown settings are refused" {
  run kwctl run --settings-path test_data/settings_invalid_unknown_field.json \
    --request-path test_data/deployment_kubeconfig_removed.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -ne 0 ]
  [ $(expr "$output" : '.*unknown field.*') -ne 0 ]
}

@test "an unsupported kind gets a clear rejection" {
  run kwctl run --request-path test_data/service_unsupported_kind.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":false.*') -ne 0 ]
  [ $(expr "$output" : '.*not Service.*') -ne 0 ]
}

@test "seed ConfigMap naming a missing Service is rejected with a suggestion" {
  run kwctl run --allow-context-aware \
    --replay-host-capabilities-interactions test_data/sessions/services-data-storage-8080.yml \
    --request-path test_data/configmap_dangling_service.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":false.*') -ne 0 ]
  [ $(expr "$output" : '.*did you mean .*data-storage-service.*') -ne 0 ]
}

@test "ConfigMap naming an existing Service on an exposed port is accepted" {
  run kwctl run --allow-context-aware \
    --replay-host-capabilities-interactions test_data/sessions/services-data-storage-8080.yml \
    --request-path test_data/configmap_service_exists.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":true.*') -ne 0 ]
}

@test "ConfigMap naming a port the Service does not expose is rejected" {
  run kwctl run --allow-context-aware \
    --replay-host-capabilities-interactions test_data/sessions/services-data-storage-8081-only.yml \
    --request-path test_data/configmap_service_exists.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":false.*') -ne 0 ]
  [ $(expr "$output" : '.*port 8080 is not exposed.*8081, 9181.*') -ne 0 ]
}

@test "a host error is a rejection saying the references could not be verified" {
  run kwctl run --allow-context-aware \
    --replay-host-capabilities-interactions test_data/sessions/services-host-error.yml \
    --request-path test_data/configmap_service_exists.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":false.*') -ne 0 ]
  [ $(expr "$output" : '.*cannot verify the Services.*') -ne 0 ]
}

@test "onLookupError allow accepts with a warning" {
  run kwctl run --allow-context-aware --settings-path test_data/settings_lookup_error_allow.json \
    --replay-host-capabilities-interactions test_data/sessions/services-host-error.yml \
    --request-path test_data/configmap_service_exists.json annotated-policy.wasm
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":true.*') -ne 0 ]
  [ $(expr "$output" : '.*warnings.*cannot verify.*') -ne 0 ]
}
