#!/usr/bin/env bash
# Build the local control plane from Go modules, or reuse the cached build.
#
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
#   kubelet (the real worker node, tests/node/node.sh)               <- k8s.io/kubernetes
#   etcd                                                              <- go.etcd.io/etcd/server/v3
#   kwok, kwokctl                                                     <- sigs.k8s.io/kwok
#
#   build.sh kserve: KServe's controller manager (the InferenceService, ServingRuntime, TrainedModel
#   and InferenceGraph controllers and KServe's webhooks), github.com/kserve/kserve/cmd/manager
#   at crds.env's KSERVE_VERSION, the release whose CRDs the tests install; run by
#   tests/cluster/kserve.sh for the tests that need a real KServe controller.
#
#   build.sh prometheus: Prometheus and promtool, github.com/prometheus/prometheus cmd/prometheus and
#   cmd/promtool at versions.env's PROMETHEUS_VERSION, built with the tag remove_all_sd (static and
#   file service discovery only: the tests write their scrape targets) and without builtinassets (no web
#   UI; the HTTP API is all the tests read). For the monitoring tests (tests/integration/test_dcgm_exporter.py).
#
# Everything comes from the Go module proxy. Binaries land in a cache
# directory outside the checkout, keyed by the pinned versions, so a fresh
# clone on the same machine reuses them. Prints the binary directory on stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
# shellcheck source-path=SCRIPTDIR source=versions.env
. "$HERE/versions.env"
# shellcheck source=crds.env
# shellcheck source-path=SCRIPTDIR source=crds.env
. "$HERE/crds.env"
TARGET=${1:-controlplane}
case "$TARGET" in
  controlplane | kserve | prometheus) ;;
  *) echo "usage: $0 [controlplane|kserve|prometheus]" >&2; exit 2 ;;
esac

log() { printf '[cluster-build] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<'EOF'
error: the Go toolchain (go >= 1.26.0) is not on PATH.
  The local control plane is built from Go modules. Either install Go 1.26 or
  newer and re-run, or run the integration tests against an existing cluster:
    INFEROPS_KUBECONFIG=/path/to/kubeconfig make test
EOF
  exit 3
fi

CACHE_ROOT=${INFEROPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops-kubernetes}
if [ "$TARGET" = kserve ]; then
  KEY="kserve-${KSERVE_VERSION}_$(go env GOOS)-$(go env GOARCH)"
  WANT=(manager)
elif [ "$TARGET" = prometheus ]; then
  KEY="prometheus-${PROMETHEUS_VERSION}_$(go env GOOS)-$(go env GOARCH)"
  WANT=(prometheus promtool)
else
  KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_$(go env GOOS)-$(go env GOARCH)"
  WANT=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet etcd kwok kwokctl)
fi
BIN="$CACHE_ROOT/bin/$KEY"

complete() {
  local b
  for b in "${WANT[@]}"; do [ -x "$BIN/$b" ] || return 1; done
}

if complete; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$CACHE_ROOT/bin"
# one lock for every target: two Go builds at once would only share the same two cores
exec 9>"$CACHE_ROOT/build.lock"
flock 9
if complete; then  # another process finished the build while we waited
  echo "$BIN"
  exit 0
fi

WORK=$(mktemp -d "$CACHE_ROOT/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/out"
mkdir -p "$OUT"
export CGO_ENABLED=0 GOFLAGS="-trimpath" GOTOOLCHAIN=local

# wrapper_module DIR MODULE VERSION PKG...: a throwaway module that requires
# MODULE@VERSION and imports the main packages, so `go mod tidy` resolves them.
wrapper_module() {
  local dir=$1 mod=$2 ver=$3
  shift 3
  mkdir -p "$dir"
  {
    echo "module inferops.local/controlplane"
    echo
    echo "go 1.26.0"
  } >"$dir/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    local p
    for p in "$@"; do echo "	_ \"$p\""; done
    echo ")"
  } >"$dir/tools.go"
  (cd "$dir" && go mod edit -require="$mod@$ver")
}

# JSON from the go command is read with python3 (on every machine that runs this collection).
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# replaces staging|carried: of the replace directives of a `go mod edit -json` document, those that
# point into ./staging (printed as the module path), or those to a published module version, which a
# module that requires this one must carry over as they are (printed as `go mod edit` flags,
# -replace=OLD=NEW@VERSION). A dependency's replace directives do not apply to the module that requires it.
replaces() {
  python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old, new = r["Old"]["Path"], r["New"]
    if sys.argv[1] == "staging" and new["Path"].startswith("./staging/"):
        print(old)
    elif sys.argv[1] == "carried" and not new["Path"].startswith("./") and new.get("Version"):
        print("-replace=%s=%s@%s" % (old, new["Path"], new["Version"]))
' "$1"
}

# upstream_gomod DIR MODULE VERSION: the path of MODULE@VERSION's own go.mod, downloaded from DIR's module
upstream_gomod() { (cd "$1" && go mod download -json "$2@$3" | json_field GoMod); }

t0=$(date +%s)

# finish: move the finished binaries into the cache and print their directory
finish() {
  local b
  for b in "${WANT[@]}"; do [ -x "$OUT/$b" ] || { log "missing $b after build"; exit 1; }; done
  rm -rf "$BIN"
  mv "$OUT" "$BIN"
  log "built in $(( $(date +%s) - t0 ))s -> $BIN"
  echo "$BIN"
}

# --- KServe --------------------------------------------------------------
if [ "$TARGET" = kserve ]; then
  log "kserve $KSERVE_VERSION (cmd/manager)"
  D="$WORK/kserve"
  wrapper_module "$D" github.com/kserve/kserve "$KSERVE_VERSION" github.com/kserve/kserve/cmd/manager
  # KServe's own replace pins, carried over from its downloaded go.mod
  KSERVE_GOMOD=$(upstream_gomod "$D" github.com/kserve/kserve "$KSERVE_VERSION")
  mapfile -t EDITS < <(go mod edit -json "$KSERVE_GOMOD" | replaces carried)
  if [ "${#EDITS[@]}" -gt 0 ]; then (cd "$D" && go mod edit "${EDITS[@]}"); fi
  (cd "$D" && go mod tidy >&2 && go build -ldflags "-s -w" -o "$OUT/manager" github.com/kserve/kserve/cmd/manager)
  finish
  exit 0
fi

# --- Prometheus ----------------------------------------------------------
if [ "$TARGET" = prometheus ]; then
  log "prometheus $PROMETHEUS_VERSION (cmd/prometheus, cmd/promtool; tags remove_all_sd)"
  D="$WORK/prometheus"
  wrapper_module "$D" github.com/prometheus/prometheus "$PROMETHEUS_VERSION" \
    github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
  PROM_GOMOD=$(upstream_gomod "$D" github.com/prometheus/prometheus "$PROMETHEUS_VERSION")
  mapfile -t EDITS < <(go mod edit -json "$PROM_GOMOD" | replaces carried)
  if [ "${#EDITS[@]}" -gt 0 ]; then (cd "$D" && go mod edit "${EDITS[@]}"); fi
  # the module's v0.3MM.P is Prometheus 3.MM.P
  PROM_RELEASE=${PROMETHEUS_VERSION#v0.}
  PROM_RELEASE="3.$((${PROM_RELEASE%%.*} - 300)).${PROM_RELEASE#*.}"
  (cd "$D" && go mod tidy >&2 && go build -tags remove_all_sd \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROM_RELEASE" -o "$OUT/" \
    github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool)
  finish
  exit 0
fi

# --- kwok ----------------------------------------------------------------
log "kwok $KWOK_VERSION"
D="$WORK/kwok"
wrapper_module "$D" sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
(cd "$D" && go mod tidy >&2 && go build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" -o "$OUT/" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl)

# --- etcd ----------------------------------------------------------------
log "etcd $ETCD_VERSION"
D="$WORK/etcd"
wrapper_module "$D" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3
(cd "$D" && go mod tidy >&2 && go build -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3)

# --- kubernetes ----------------------------------------------------------
log "kubernetes $K8S_VERSION"
D="$WORK/k8s"
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet)
PKGS=()
for c in "${K8S_CMDS[@]}"; do PKGS+=("k8s.io/kubernetes/cmd/$c"); done
wrapper_module "$D" k8s.io/kubernetes "$K8S_VERSION" "${PKGS[@]}"
# k8s.io/kubernetes points every staging module (k8s.io/api, k8s.io/client-go, ...)
# at ./staging/src. Outside its repository each one maps to its published tag
# v0.<minor>.<patch>. The list comes from the downloaded go.mod, not from here.
K8S_GOMOD=$(upstream_gomod "$D" k8s.io/kubernetes "$K8S_VERSION")
STAGING_TAG="v0.${K8S_VERSION#v1.}"
mapfile -t STAGING < <(go mod edit -json "$K8S_GOMOD" | replaces staging)
[ "${#STAGING[@]}" -gt 0 ] || { log "no staging replaces found in $K8S_GOMOD"; exit 1; }
log "mapping ${#STAGING[@]} staging modules to $STAGING_TAG"
EDITS=()
for m in "${STAGING[@]}"; do EDITS+=("-replace=$m=$m@$STAGING_TAG"); done
# carry any non-staging replace of the upstream go.mod over as it is
mapfile -t CARRIED < <(go mod edit -json "$K8S_GOMOD" | replaces carried)
EDITS+=("${CARRIED[@]}")
(cd "$D" && go mod edit "${EDITS[@]}" && go mod tidy >&2)
MINOR=${K8S_VERSION#v1.}
MINOR=${MINOR%%.*}
VFLAGS=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  VFLAGS+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
(cd "$D" && go build -ldflags "-s -w$VFLAGS" -o "$OUT/" "${PKGS[@]}")
finish
