#!/usr/bin/env bash
# The real node's tiny model and the volume it is served from.
#
#   models.sh apply NAMESPACE [CLAIM]   write the model repository under the node's state, create the
#                                       namespace if missing, a hostPath PersistentVolume on the real
#                                       node and the claim CLAIM (default: models) bound to it
#   models.sh delete NAMESPACE [CLAIM]  delete that claim and its volume (the files stay)
#
# The model (models/linear_model.py, Triton's python backend) is y = x @ W + b with W and b from
# linear.json, versions 1 and 2 differing in b. Version 3 is a model that cannot load: its model.py
# is there but its weights are not (the tests' crash loop). The repository is <dir>/linear/<version>/.
# Prints the host directory of the repository.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${INFEROPS_CLUSTER_DIR:-$ROOT/.cluster}
KUBECONFIG_PATH=$STATE/kubeconfig
REPO=$STATE/node/models
kubectl_() { "$("$ROOT/tests/cluster/build.sh")/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

files() {
  local v
  for v in 1 2; do
    mkdir -p "$REPO/linear/$v"
    cp "$HERE/models/linear_model.py" "$REPO/linear/$v/model.py"
    printf '{"W": [[1, 0], [0, 1], [1, 1], [2, -1]], "b": [0.5, %s]}\n' "$([ "$v" = 1 ] && echo -0.5 || echo 1.5)" \
      >"$REPO/linear/$v/linear.json"
  done
  mkdir -p "$REPO/linear/3"
  cp "$HERE/models/linear_model.py" "$REPO/linear/3/model.py"
  rm -f "$REPO/linear/3/linear.json"
  # the server runs as uid 1000
  chmod -R a+rX "$REPO"
}

volume_name() { echo "inferops-models-$1-$2"; }

apply() {
  local ns=$1 claim=${2:-models} pv
  pv=$(volume_name "$ns" "$claim")
  files
  kubectl_ get namespace "$ns" >/dev/null 2>&1 || kubectl_ create namespace "$ns" >/dev/null
  kubectl_ apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  labels: {app.kubernetes.io/part-of: inferops-local-cluster}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadOnlyMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: inferops-local
  claimRef: {namespace: $ns, name: $claim}
  hostPath: {path: "$REPO", type: Directory}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions: [{key: inferops.io/node, operator: In, values: [real]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $claim, namespace: $ns}
spec:
  accessModes: [ReadOnlyMany]
  storageClassName: inferops-local
  volumeName: $pv
  resources: {requests: {storage: 1Gi}}
YAML
  echo "$REPO"
}

delete() {
  local ns=$1 claim=${2:-models}
  kubectl_ delete pvc -n "$ns" "$claim" --ignore-not-found --wait=false >/dev/null
  kubectl_ delete pv "$(volume_name "$ns" "$claim")" --ignore-not-found --wait=false >/dev/null
}

case "${1:-}" in
  apply) [ -n "${2:-}" ] || { echo "usage: $0 apply NAMESPACE [CLAIM]" >&2; exit 2; }; apply "$2" "${3:-models}" ;;
  delete) [ -n "${2:-}" ] || { echo "usage: $0 delete NAMESPACE [CLAIM]" >&2; exit 2; }; delete "$2" "${3:-models}" ;;
  *) echo "usage: $0 apply|delete NAMESPACE [CLAIM]" >&2; exit 2 ;;
esac
