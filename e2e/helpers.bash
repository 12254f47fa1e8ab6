# Shared by e2e/e2e.bats and e2e/policy-server.bats (`load helpers`).

# Loopback only. kwctl and policy-server try to download Sigstore trust data
# from the Internet at start-up and go on without it when that fails: send
# every non-loopback HTTP(S) request to a closed loopback port, so nothing
# leaves the machine and nothing waits on DNS. No cluster either: the hosts
# never read the developer's kubeconfig or an in-cluster config.
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9
export https_proxy=${HTTPS_PROXY} http_proxy=${HTTP_PROXY}
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export KUBECONFIG=/nonexistent/kubeconfig
unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
# policy-server reads NO_COLOR as its --log-no-color flag and refuses "1".
unset NO_COLOR

# jq with e2e/jsonpatch.jq (pointer_path, at_pointer, jsonpatch) included.
jq_patch() {
  jq -L "${BATS_TEST_DIRNAME}" "include \"jsonpatch\"; $1" "${@:2}"
}

# A loopback TCP port nothing listens on, below Linux's ephemeral range.
free_port() {
  local port
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      echo "${port}"
      return 0
    fi
  done
  echo "no free loopback port found" >&2
  return 1
}

# wait_for_http URL PID SECONDS: until URL answers 2xx; fails when the
# process PID exits first or SECONDS pass.
wait_for_http() {
  local url=$1 pid=$2 seconds=$3 deadline
  deadline=$((SECONDS + seconds))
  until curl -sf -o /dev/null --max-time 2 "${url}"; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      echo "process ${pid} exited before ${url} answered" >&2
      return 1
    fi
    if [ "${SECONDS}" -ge "${deadline}" ]; then
      echo "${url} did not answer within ${seconds} s" >&2
      return 1
    fi
    sleep 0.1
  done
}

# stop_process PID: SIGTERM, then SIGKILL after 5 s; returns once it is gone.
stop_process() {
  local pid=$1
  [ -n "${pid}" ] || return 0
  kill "${pid}" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "${pid}" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "${pid}" 2>/dev/null || true
}
