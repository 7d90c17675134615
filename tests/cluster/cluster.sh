#!/usr/bin/env bash
# The local control plane: real kube-apiserver, kube-controller-manager,
# kube-scheduler and etcd run as local processes by `kwokctl --runtime binary`,
# with the simulated GPU fleet of fleet.yaml as kwok nodes, and one real worker node
# (tests/node/node.sh: kubelet, containerd, CNI bridge, stand-in GPUs) that runs real containers.
# KServe's controller manager (kserve.sh) is started only by the tests that need it; stop and down stop it too.
#
#   cluster.sh up          build (or take from cache) the binaries, start the cluster, apply the
#                          fleet, start the real node
#   cluster.sh stop        stop the cluster's processes and the real node, keep their state (up restarts them)
#   cluster.sh down        stop the cluster and delete its state
#   cluster.sh status      say whether it runs, and list the nodes
#   cluster.sh kubeconfig  print the kubeconfig path
#
# State lives in $INFEROPS_CLUSTER_DIR (default: .cluster/ in the checkout);
# the kubeconfig is $INFEROPS_CLUSTER_DIR/kubeconfig.
# INFEROPS_REAL_NODE: auto (default: the real node starts when this runs as root, which containerd
# needs), 1 (it must start), 0 (simulated fleet only).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NAME=${INFEROPS_CLUSTER_NAME:-inferops}
STATE=${INFEROPS_CLUSTER_DIR:-$ROOT/.cluster}
KUBECONFIG_PATH=$STATE/kubeconfig
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
export KWOK_WORKDIR=$STATE/kwok
PKI=$KWOK_WORKDIR/clusters/$NAME/pki
REAL_NODE=${INFEROPS_REAL_NODE:-auto}

log() { printf '[cluster] %s\n' "$*" >&2; }

bin_dir() { "$HERE/build.sh"; }

kubectl_() { "$(bin_dir)/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

api_ready() {
  [ -f "$KUBECONFIG_PATH" ] && kubectl_ get --raw /readyz >/dev/null 2>&1
}

exists() { [ -d "$KWOK_WORKDIR/clusters/$NAME" ]; }

# The kwokctl configuration the cluster is created with. kwok fakes only the nodes of the simulated
# fleet (annotated by fleet.py), not the real node's; the API server presents the admin certificate
# to kubelets, so that logs, exec and port-forward reach the real node.
kwokctl_config() {
  cat <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
componentsPatches:
  - name: kwok-controller
    extraArgs:
      - {key: manage-all-nodes, value: "false", override: true}
      - {key: manage-nodes-with-annotation-selector, value: "kwok.x-k8s.io/node=fake"}
  - name: kube-apiserver
    extraArgs:
      - {key: kubelet-client-certificate, value: "$PKI/admin.crt"}
      - {key: kubelet-client-key, value: "$PKI/admin.key"}
EOF
}

# real_node: whether this run starts the real node (INFEROPS_REAL_NODE, see the header).
real_node() {
  case "$REAL_NODE" in
    0) return 1 ;;
    1) return 0 ;;
    auto)
      [ "$(id -u)" = 0 ] && return 0
      log "not root: the cluster runs without the real node (INFEROPS_REAL_NODE=1 makes that an error)"
      return 1 ;;
    *) log "INFEROPS_REAL_NODE=$REAL_NODE: use auto, 1 or 0"; exit 2 ;;
  esac
}

node_() { INFEROPS_CLUSTER_DIR=$STATE KUBECONFIG_PATH=$KUBECONFIG_PATH INFEROPS_CLUSTER_PKI=$PKI "$HERE/../node/node.sh" "$@"; }

up() {
  local bin
  bin=$(bin_dir)
  mkdir -p "$STATE"
  local config
  config=$(kwokctl_config)
  if exists && [ "$(cat "$STATE/kwokctl.yaml" 2>/dev/null)" != "$config" ]; then
    # created by an older version of this script: its settings only apply at creation
    log "cluster $NAME was created with other settings: creating it again"
    down
  fi
  if exists && api_ready; then
    log "cluster $NAME already running"
  elif exists; then
    log "starting the stopped cluster $NAME"
    "$bin/kwokctl" start cluster --name "$NAME" --wait 120s >&2
  else
    log "creating cluster $NAME (kube-apiserver $("$bin/kube-apiserver" --version 2>/dev/null | awk '{print $2}'))"
    # --kubeconfig points kwokctl at our own file, so the user's ~/.kube/config is never touched.
    printf '%s\n' "$config" >"$STATE/kwokctl.yaml"
    "$bin/kwokctl" create cluster \
      --name "$NAME" \
      --config "$STATE/kwokctl.yaml" \
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
  if real_node; then node_ up; fi
  log "ready; kubeconfig: $KUBECONFIG_PATH"
}

# KServe's controller manager, when a test started it (kserve.sh), stops with the cluster
kserve_down() { INFEROPS_CLUSTER_DIR=$STATE "$HERE/kserve.sh" down || true; }

stop() {
  kserve_down
  node_ stop
  if exists; then
    "$(bin_dir)/kwokctl" stop cluster --name "$NAME" >&2
  fi
}

down() {
  kserve_down
  node_ down
  if exists; then
    "$(bin_dir)/kwokctl" delete cluster --name "$NAME" --kubeconfig "$KUBECONFIG_PATH" >&2
  fi
  rm -f "$KUBECONFIG_PATH" "$STATE/kwokctl.yaml"
  log "cluster $NAME deleted"
}

status() {
  if exists && api_ready; then
    log "cluster $NAME running; kubeconfig: $KUBECONFIG_PATH"
    kubectl_ get nodes -L nvidia.com/gpu.product,nvidia.com/mig.strategy,inferops.io/node
    node_ status || true
    if [ -f "$STATE/kserve/manager.pid" ]; then INFEROPS_CLUSTER_DIR=$STATE "$HERE/kserve.sh" status || true; fi
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
