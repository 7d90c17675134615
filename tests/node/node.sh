#!/usr/bin/env bash
# The local cluster's one real worker node: a kubelet built from k8s.io/kubernetes at the control
# plane's version (tests/cluster/build.sh), containerd and runc from Debian's packages, the CNI
# bridge from Debian's containernetworking-plugins, images built here (tests/node/images.sh), and a
# STAND-IN device plugin that advertises nvidia.com/gpu (tests/node/go/device-plugin).
#
#   node.sh up      start containerd, import the images, start the kubelet and the stand-in plugin,
#                   wait for the node to be Ready with its GPUs (fails with the kubelet's last log
#                   lines, never hangs)
#   node.sh stop    stop every pod (CNI teardown), the kubelet, the plugin and containerd; keep state
#   node.sh down    stop, unmount and delete the node's state
#   node.sh status  whether it runs
#
# Called by tests/cluster/cluster.sh with the cluster's KUBECONFIG and PKI directory. Network: the
# kubelet listens on 127.0.0.1 only and the API server reaches it there (the node is named
# 127.0.0.1, as Kubernetes' own hack/local-up-cluster.sh names its node); pods get addresses on the
# node's bridge and no route beyond it; containerd's registry traffic goes to a closed port on
# 127.0.0.1, so an image that is not imported fails to pull instead of leaving this machine.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CLUSTER_STATE=${INFEROPS_CLUSTER_DIR:-$ROOT/.cluster}
STATE=$CLUSTER_STATE/node
KUBECONFIG_PATH=${KUBECONFIG_PATH:-$CLUSTER_STATE/kubeconfig}
PKI=${INFEROPS_CLUSTER_PKI:-}

NODE_NAME=${INFEROPS_NODE_NAME:-127.0.0.1}
KUBELET_PORT=${INFEROPS_KUBELET_PORT:-10250}
GPUS=${INFEROPS_NODE_GPUS:-4}
# Pods' addresses: a /24 on the node's own bridge. No default route is given to pods.
POD_SUBNET=${INFEROPS_POD_SUBNET:-10.88.0.0/24}
BRIDGE=${INFEROPS_NODE_BRIDGE:-inferops0}
# The kubelet binary: the one tests/cluster/build.sh built, unless a test names another.
KUBELET_BIN=${INFEROPS_KUBELET_BIN:-}
TAINT_KEY=inferops.io/real-node
SANDBOX_IMAGE=localhost/inferops/pause:3.10
READY_TIMEOUT=${INFEROPS_NODE_READY_TIMEOUT:-120}
DEBIAN_PACKAGES=(containerd runc containernetworking-plugins)
CNI_BIN=/usr/lib/cni

SOCK=$STATE/containerd/containerd.sock

log() { printf '[node] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

bin_dir() { "$ROOT/tests/cluster/build.sh"; }
kubectl_() { "$(bin_dir)/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }

pid_alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

# last_lines NAME: the end of a component's log, for a failure message.
last_lines() {
  printf '[node] last lines of %s:\n' "$STATE/logs/$1.log" >&2
  tail -n "${2:-25}" "$STATE/logs/$1.log" 2>/dev/null | sed 's/^/    /' >&2 || true
}

packages() {
  local missing=() p
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return
  [ "$(id -u)" = 0 ] || die "the real node needs ${missing[*]} (Debian packages); install them or run as root"
  log "installing ${missing[*]} from Debian's packages"
  # the test command may be installing Java for the runtimes at the same time: wait for dpkg's lock
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Unix sockets have a 108-byte path limit; a deep checkout would fail later with a puzzling error.
check_paths() {
  local longest=$STATE/kubelet/root/pod-resources/kubelet.sock
  [ "${#longest}" -lt 100 ] || die "the node's state path is too long for a unix socket (${#longest} bytes: $longest);
  set INFEROPS_CLUSTER_DIR to a shorter directory"
}

overlay_works() {
  local t
  t=$(mktemp -d "$STATE/overlay-probe.XXXXXX")
  mkdir -p "$t/l" "$t/u" "$t/w" "$t/m"
  if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
    umount "$t/m"
    rm -rf "$t"
    return 0
  fi
  rm -rf "$t"
  return 1
}

write_configs() {
  local snapshotter=overlayfs
  if ! overlay_works; then
    snapshotter=native
    log "overlayfs cannot be mounted under $STATE: containerd uses the native snapshotter (slower, more disk)"
  fi
  mkdir -p "$STATE/containerd" "$STATE/cni/net.d" "$STATE/kubelet" "$STATE/logs" "$STATE/pods-logs"
  cat >"$STATE/containerd/config.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE"
  # Inside this machine's container a process may not lower its OOM score: without this every
  # sandbox fails with runc's "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snapshotter"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$STATE/cni/net.d"
EOF
  # bridge + host-local: an address on the node's bridge, the bridge's address as gateway, and no
  # route beyond the subnet (no default route, no masquerade): pods reach nothing off this node.
  cat >"$STATE/cni/net.d/10-inferops.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "inferops",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_SUBNET"}]], "routes": [],
              "dataDir": "$STATE/cni/ipam"}},
    {"type": "loopback"}
  ]
}
EOF
  : >"$STATE/kubelet/resolv.conf"
  cat >"$STATE/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
# The API server presents the cluster's admin certificate (kube-apiserver --kubelet-client-certificate);
# the kubelet trusts the cluster CA and asks the API server whether the caller may do what it asks.
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
# cgroup v1 on these machines, no systemd
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: "unix://$SOCK"
podLogsDir: "$STATE/pods-logs"
# Pods get no nameserver: nothing they could look up is reachable anyway.
resolvConf: "$STATE/kubelet/resolv.conf"
maxPods: 30
# Disk thresholds low enough that a busy build machine does not evict the test pods, and image GC
# off, so that the imported images (which cannot be pulled again) stay.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Only pods that ask for the real node land on it: everything else stays on the simulated fleet.
registerWithTaints:
  - {key: "$TAINT_KEY", value: "true", effect: NoSchedule}
EOF
}

node_kubeconfig() {
  if [ -z "$PKI" ] || [ ! -f "$PKI/ca.key" ]; then
    die "INFEROPS_CLUSTER_PKI must name the cluster's PKI directory (ca.crt, ca.key)"
  fi
  local pki=$STATE/kubelet/pki
  mkdir -p "$pki"
  if [ ! -f "$pki/node.crt" ] || ! openssl verify -CAfile "$PKI/ca.crt" "$pki/node.crt" >/dev/null 2>&1; then
    # The Node authorizer and NodeRestriction know a kubelet by this identity.
    openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/node.key" -subj "/O=system:nodes/CN=system:node:$NODE_NAME" \
      -out "$pki/node.csr" 2>/dev/null
    openssl x509 -req -in "$pki/node.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 365 \
      -out "$pki/node.crt" 2>/dev/null
  fi
  local server
  server=$(kubectl_ config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  cat >"$STATE/kubelet/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster: {server: "$server", certificate-authority: "$PKI/ca.crt"}
users:
  - name: kubelet
    user: {client-certificate: "$pki/node.crt", client-key: "$pki/node.key"}
contexts:
  - name: kubelet
    context: {cluster: local, user: kubelet}
current-context: kubelet
EOF
}

# start NAME COMMAND...: a background process with its pid file and log.
start() {
  local name=$1
  shift
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

stop_process() {
  local name=$1 pid
  pid_alive "$name" || { rm -f "$STATE/$name.pid"; return 0; }
  pid=$(cat "$STATE/$name.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name ($pid) did not stop in 10s: killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/$name.pid"
}

start_containerd() {
  if pid_alive containerd && ctr_ version >/dev/null 2>&1; then return; fi
  # Registry traffic goes to a closed port on 127.0.0.1: a missing image fails to pull, and no
  # request leaves this machine.
  start containerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
    containerd --config "$STATE/containerd/config.toml"
  for _ in $(seq 1 60); do
    ctr_ version >/dev/null 2>&1 && return
    pid_alive containerd || break
    sleep 0.5
  done
  last_lines containerd
  die "containerd did not start"
}

# image_list MANIFEST: name<TAB>ref<TAB>digest<TAB>archive per image of images.sh's manifest
image_list() {
  python3 -c '
import json, sys
for name, image in sorted(json.load(open(sys.argv[1])).items()):
    print("\t".join([name, image["ref"], image["digest"], image["archive"]]))
' "$1"
}

import_images() {
  local manifest name ref digest archive
  manifest=$("$HERE/images.sh" build)
  while IFS=$'\t' read -r name ref digest archive; do
    if ctr_ images ls -q "name==$ref" | grep -x "$ref" >/dev/null && \
       [ "$(ctr_ images ls "name==$ref" | awk 'NR==2 {print $3}')" = "$digest" ]; then
      continue
    fi
    log "importing $ref ($name)"
    ctr_ images import "$archive" >/dev/null || die "importing $archive into containerd failed"
    ctr_ images ls -q "name==$ref" | grep -x "$ref" >/dev/null || die "$archive did not give the image $ref"
  done < <(image_list "$manifest")
  # The CRI finds an image by the references it has: a pod that names REPO:TAG@DIGEST is looked up
  # as REPO@DIGEST, which an import does not create (a pull would).
  while IFS=$'\t' read -r name ref digest archive; do
    ctr_ images ls -q | grep -x "${ref%:*}@$digest" >/dev/null || ctr_ images tag "$ref" "${ref%:*}@$digest" >/dev/null
  done < <(image_list "$manifest")
}

node_field() { kubectl_ get node "$NODE_NAME" -o jsonpath="$1" 2>/dev/null; }

# Ready as reported by this kubelet run: a status written before a restart does not count.
node_ready() {
  [ "$(node_field '{.status.conditions[?(@.type=="Ready")].status}')" = True ] &&
    [ ! "$(node_field '{.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}')" \< "$(cat "$STATE/kubelet.started")" ]
}
gpus_advertised() { [ "$(node_field '{.status.allocatable.nvidia\.com/gpu}')" = "$GPUS" ]; }

# wait_for WHAT TIMEOUT CHECK: until the function CHECK succeeds; fails at once if the kubelet exits
wait_for() {
  local what=$1 timeout=$2 check=$3
  for _ in $(seq 1 $((timeout * 2))); do
    pid_alive kubelet || { last_lines kubelet 40; die "the kubelet exited while waiting for $what"; }
    if "$check"; then return 0; fi
    sleep 0.5
  done
  last_lines kubelet 40
  die "the node did not get $what within ${timeout}s"
}

up() {
  [ "$(id -u)" = 0 ] || die "the real node needs root (containerd, mounts, network namespaces)"
  mkdir -p "$STATE"
  check_paths
  packages
  local bin tools
  bin=$(bin_dir)
  tools=$("$HERE/tools.sh")
  write_configs
  node_kubeconfig
  start_containerd
  import_images
  local kubelet=${KUBELET_BIN:-$bin/kubelet}
  if ! pid_alive kubelet; then
    date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE/kubelet.started"
    log "starting the kubelet ($("$kubelet" --version 2>/dev/null | awk '{print $2}')) as node $NODE_NAME"
    start kubelet "$kubelet" --config "$STATE/kubelet/config.yaml" --kubeconfig "$STATE/kubelet/kubeconfig" \
      --root-dir "$STATE/kubelet/root" --cert-dir "$STATE/kubelet/pki" --hostname-override "$NODE_NAME" \
      --node-labels "inferops.io/node=real,nvidia.com/gpu.product=INFEROPS-STAND-IN" --v 1
  fi
  wait_for "Ready" "$READY_TIMEOUT" node_ready
  if ! pid_alive device-plugin; then
    # The kubelet serves device plugin registration at a fixed path, whatever its --root-dir.
    start device-plugin "$tools/device-plugin" --plugin-dir /var/lib/kubelet/device-plugins --devices "$GPUS"
  fi
  wait_for "$GPUS nvidia.com/gpu (stand-in device plugin)" 60 gpus_advertised
  log "node $NODE_NAME ready: $GPUS stand-in nvidia.com/gpu, taint $TAINT_KEY=true:NoSchedule; logs in $STATE/logs"
}

reset_pods() {
  if pid_alive containerd && ctr_ version >/dev/null 2>&1; then
    "$("$HERE/tools.sh")/cri-reset" --endpoint "unix://$SOCK" >/dev/null || log "some pod sandboxes were not removed"
  fi
}

stop() {
  # The kubelet first, so that it does not restart the pods the reset stops.
  stop_process device-plugin
  stop_process kubelet
  reset_pods
  stop_process containerd
}

unmount_under() {
  local m
  # deepest first
  awk -v s="$1" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

down() {
  [ -d "$STATE" ] || return 0
  stop
  unmount_under "$STATE"
  rm -rf "$STATE"
  # the Node object goes with it, when the API server is there to ask
  if [ -f "$KUBECONFIG_PATH" ]; then
    kubectl_ delete node "$NODE_NAME" --ignore-not-found --request-timeout=10s >/dev/null 2>&1 || true
  fi
  ip link delete "$BRIDGE" 2>/dev/null || true
  log "node $NODE_NAME's state deleted"
}

status() {
  if pid_alive kubelet && pid_alive containerd; then
    log "node $NODE_NAME runs (kubelet pid $(cat "$STATE/kubelet.pid"), containerd pid $(cat "$STATE/containerd.pid"))"
  elif [ -d "$STATE" ]; then
    log "node $NODE_NAME is stopped (cluster.sh up starts it)"
    return 1
  else
    log "no real node (cluster.sh up creates it)"
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  stop) stop ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|stop|down|status" >&2; exit 2 ;;
esac
