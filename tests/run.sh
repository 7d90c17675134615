#!/usr/bin/env bash
# The whole test suite: the linters (ansible-lint, mypy, changelog fragments, ansible-test sanity, in
# the background while the cluster starts), the unit tests, then integration tests with pytest against
# the local control plane (or INFEROPS_KUBECONFIG).
# Every stage runs; the exit status is non-zero when any stage failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.tmp/collections"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"

failed=()
stage() {
  local name=$1
  shift
  printf '\n=== %s\n' "$name"
  local t0=$SECONDS
  if "$@"; then
    printf '=== %s: ok (%ss)\n' "$name" $((SECONDS - t0))
  else
    printf '=== %s: FAILED (%ss)\n' "$name" $((SECONDS - t0))
    failed+=("$name")
  fi
}

# Network-bound set-up runs in the background while the control plane builds (CPU-bound) and the
# linters run: the runtimes venv (PyPI) and the real node's images (Debian's mirror, PyPI). Each is
# cached and returns at once when warm; its stage below waits for it and shows its log.
mkdir -p .tmp/logs
tests/runtimes/setup.sh >.tmp/logs/runtimes-setup.log 2>&1 &
runtimes_setup=$!
images_setup=""
if [ -z "${INFEROPS_KUBECONFIG:-}" ] && [ "$(id -u)" = 0 ]; then
  tests/node/images.sh build >.tmp/logs/images-build.log 2>&1 &
  images_setup=$!
fi
# The linters need no cluster: they run in the background while the control plane starts (mostly
# waiting on its processes), each stage's output kept in their log, which their stage below shows.
# shellcheck disable=SC2317  # called in the background below
linters() {
  local rc=0 t0
  for check in "ansible-lint (production profile)|ansible-lint" \
               "mypy (strict on the access layer)|env MYPYPATH=$ANSIBLE_COLLECTIONS_PATH mypy -p ansible_collections.inferops.kubernetes.plugins.module_utils" \
               "changelog fragments|antsibull-changelog lint" \
               "ansible-test sanity|tests/sanity.sh"; do
    if [ "${check%%|*}" = "ansible-test sanity" ]; then
      # sanity may apt-get install shellcheck: not while the runtimes' set-up may be running apt-get too
      while kill -0 "$runtimes_setup" 2>/dev/null; do sleep 2; done
    fi
    t0=$SECONDS
    printf '\n--- %s\n' "${check%%|*}"
    if ${check#*|}; then
      printf -- '--- %s: ok (%ss)\n' "${check%%|*}" $((SECONDS - t0))
    else
      printf -- '--- %s: FAILED (%ss)\n' "${check%%|*}" $((SECONDS - t0))
      rc=1
    fi
  done
  return "$rc"
}
linters >.tmp/logs/linters.log 2>&1 &
linters_run=$!

# waited NAME PID LOG: the background job's exit status, with its log
# shellcheck disable=SC2317  # called through stage
waited() {
  local rc=0
  wait "$2" || rc=$?
  cat "$3"
  return "$rc"
}

started_cluster=""
if [ -n "${INFEROPS_KUBECONFIG:-}" ]; then
  [ -f "$INFEROPS_KUBECONFIG" ] || { echo "INFEROPS_KUBECONFIG=$INFEROPS_KUBECONFIG: no such file" >&2; exit 2; }
  echo "integration tests use the cluster of INFEROPS_KUBECONFIG=$INFEROPS_KUBECONFIG"
else
  if ! command -v go >/dev/null 2>&1; then
    cat >&2 <<'EOF'
error: the Go toolchain (go >= 1.26.0) is not on PATH, and INFEROPS_KUBECONFIG is not set.
  The integration tests need a cluster. Either install Go 1.26 or newer, from which the
  local control plane is built, or point the tests at an existing cluster (kind, k3d, ...):
    INFEROPS_KUBECONFIG=$HOME/.kube/config make test
EOF
    exit 3
  fi
  if ! tests/cluster/cluster.sh status >/dev/null 2>&1; then
    started_cluster=yes
  fi
  t0=$SECONDS
  tests/cluster/build.sh >/dev/null || { echo "error: the local control plane could not be built" >&2; exit 1; }
  # Prometheus and promtool, for the DCGM exporter's scrape test (tests/integration/test_dcgm_exporter.py):
  # built in the background while the cluster starts and the linters run; cached, so a warm run returns at once
  tests/cluster/build.sh prometheus >.tmp/logs/prometheus-build.log 2>&1 &
  prometheus_build=$!
  kserve_build=""
  if [ -n "$images_setup" ]; then
    # KServe's controller manager, for the real node's KServe test (tests/cluster/kserve.sh): built in
    # the background while the cluster starts and the linters run; cached, so a warm run returns at once
    tests/cluster/build.sh kserve >.tmp/logs/kserve-build.log 2>&1 &
    kserve_build=$!
    # the real node imports the images: their background build finishes first (cluster.sh would
    # otherwise wait on its lock)
    stage "real node images (tests/node/images.sh build)" waited images "$images_setup" .tmp/logs/images-build.log
  fi
  tests/cluster/cluster.sh up || { echo "error: the local control plane did not start" >&2; exit 1; }
  echo "control plane ready in $((SECONDS - t0))s"
  export INFEROPS_KUBECONFIG
  INFEROPS_KUBECONFIG=$(tests/cluster/cluster.sh kubeconfig)
  # Tests that need the local cluster's own parts (its audit log) fail instead of skipping.
  export INFEROPS_LOCAL_CLUSTER=1
fi

# shellcheck disable=SC2317  # shellcheck 0.9 does not see that the EXIT trap below calls it
cleanup() {
  # A cluster this run started is stopped again (its state is kept, so the next run restarts it
  # in seconds); one that was already running is left as it was.
  if [ -n "$started_cluster" ]; then
    tests/cluster/cluster.sh stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

stage "linters: ansible-lint, mypy, changelog fragments, ansible-test sanity" waited linters "$linters_run" .tmp/logs/linters.log
# The unit tests need no cluster and share no state: two workers.
stage "unit tests (pytest -n 2)" pytest -q -p no:cacheprovider -n 2 tests/unit
stage "runtimes venv (real inference servers for tests/runtimes)" waited runtimes "$runtimes_setup" .tmp/logs/runtimes-setup.log
if [ -n "${prometheus_build:-}" ]; then
  stage "Prometheus and promtool (tests/cluster/build.sh prometheus)" waited prometheus "$prometheus_build" .tmp/logs/prometheus-build.log
fi
if [ -n "${kserve_build:-}" ]; then
  stage "KServe controller manager (tests/cluster/build.sh kserve)" waited kserve "$kserve_build" .tmp/logs/kserve-build.log
fi
if [ "${#failed[@]}" -gt 0 ]; then
  printf '\nFAILED stages so far: %s\n' "${failed[*]}"
fi
# pytest runs last so that its summary closes the output.
printf '\n=== pytest (integration + real node + real runtimes + GPU)\n'
pytest -p no:cacheprovider tests/integration tests/node tests/runtimes tests/gpu
rc=$?
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'FAILED stages: %s\n' "${failed[*]}"
  exit 1
fi
exit $rc
