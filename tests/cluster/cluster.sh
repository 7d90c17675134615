#!/usr/bin/env bash
# The local control plane: real kube-apiserver, kube-controller-manager,
# kube-scheduler and etcd run as local processes by `kwokctl --runtime binary`,
# with the simulated GPU fleet of fleet.yaml as kwok nodes.
#
#   cluster.sh up          build (or take from cache) the binaries, start the cluster, apply the fleet
#   cluster.sh stop        stop the cluster's processes, keep its state (up restarts it)
#   cluster.sh down        stop the cluster and delete its state
#   cluster.sh status      say whether it runs, and list the nodes
#   cluster.sh kubeconfig  print the kubeconfig path
#
# State lives in $INFEROPS_CLUSTER_DIR (default: .cluster/ in the checkout);
# the kubeconfig is $INFEROPS_CLUSTER_DIR/kubeconfig.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NAME=${INFEROPS_CLUSTER_NAME:-inferops}
STATE=${INFEROPS_CLUSTER_DIR:-$ROOT/.cluster}
KUBECONFIG_PATH=$STATE/kubeconfig
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
export KWOK_WORKDIR=$STATE/kwok

log() { printf '[cluster] %s\n' "$*" >&2; }

bin_dir() { "$HERE/build.sh"; }

kubectl_() { "$(bin_dir)/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

api_ready() {
  [ -f "$KUBECONFIG_PATH" ] && kubectl_ get --raw /readyz >/dev/null 2>&1
}

exists() { [ -d "$KWOK_WORKDIR/clusters/$NAME" ]; }

up() {
  local bin
  bin=$(bin_dir)
  mkdir -p "$STATE"
  if exists && api_ready; then
    log "cluster $NAME already running"
  elif exists; then
    log "starting the stopped cluster $NAME"
    "$bin/kwokctl" start cluster --name "$NAME" --wait 120s >&2
  else
    log "creating cluster $NAME (kube-apiserver $("$bin/kube-apiserver" --version 2>/dev/null | awk '{print $2}'))"
    # --kubeconfig points kwokctl at our own file, so the user's ~/.kube/config is never touched.
    "$bin/kwokctl" create cluster \
      --name "$NAME" \
      --runtime binary \
      --kubeconfig "$KUBECONFIG_PATH" \
      --kube-apiserver-binary "$bin/kube-apiserver" \
      --kube-controller-manager-binary "$bin/kube-controller-manager" \
      --kube-scheduler-binary "$bin/kube-scheduler" \
      --etcd-binary "$bin/etcd" \
      --kwok-controller-binary "$bin/kwok" \
      --kube-authorization \
      --kube-audit-policy "$HERE/audit-policy.yaml" \
      --disable-qps-limits \
      --wait 120s >&2
  fi
  for _ in $(seq 1 120); do
    api_ready && break
    sleep 0.5
  done
  api_ready || { log "the API server did not become ready; logs: $KWOK_WORKDIR/clusters/$NAME/logs"; exit 1; }
  "$PYTHON" "$HERE/fleet.py" apply --kubeconfig "$KUBECONFIG_PATH"
  log "ready; kubeconfig: $KUBECONFIG_PATH"
}

stop() {
  if exists; then
    "$(bin_dir)/kwokctl" stop cluster --name "$NAME" >&2
  fi
}

down() {
  if exists; then
    "$(bin_dir)/kwokctl" delete cluster --name "$NAME" --kubeconfig "$KUBECONFIG_PATH" >&2
  fi
  rm -f "$KUBECONFIG_PATH"
  log "cluster $NAME deleted"
}

status() {
  if exists && api_ready; then
    log "cluster $NAME running; kubeconfig: $KUBECONFIG_PATH"
    kubectl_ get nodes -L nvidia.com/gpu.product,nvidia.com/mig.strategy
  elif exists; then
    log "cluster $NAME exists but is stopped (cluster.sh up starts it)"
    return 1
  else
    log "no cluster $NAME (cluster.sh up creates it)"
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  stop) stop ;;
  down) down ;;
  status) status ;;
  kubeconfig) echo "$KUBECONFIG_PATH" ;;
  *) echo "usage: $0 up|stop|down|status|kubeconfig" >&2; exit 2 ;;
esac
