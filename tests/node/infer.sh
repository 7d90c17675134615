#!/usr/bin/env bash
# One inference through a model Service of the local cluster, the end of `make run`:
#
#   infer.sh NAMESPACE SERVICE [MODEL]
#
# The request goes to the API server on 127.0.0.1, whose service proxy sends it to a ready endpoint
# of the Service (a pod on the real node). It sends x = [1, 2, 3, 4] to the harness's linear model
# (tests/node/models.sh) and prints the server's answer and the y = x @ W + b the weights give.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${INFEROPS_CLUSTER_DIR:-$ROOT/.cluster}
NS=${1:?usage: infer.sh NAMESPACE SERVICE [MODEL]}
SVC=${2:?usage: infer.sh NAMESPACE SERVICE [MODEL]}
MODEL=${3:-linear}
KUBECTL=$("$ROOT/tests/cluster/build.sh")/kubectl
BODY=$(mktemp)
trap 'rm -f "$BODY"' EXIT
echo '{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}' >"$BODY"

echo "POST /v2/models/$MODEL/infer through service $NS/$SVC (the API server's service proxy), x = [1, 2, 3, 4]"
answer=$("$KUBECTL" --kubeconfig "$STATE/kubeconfig" create --raw \
  "/api/v1/namespaces/$NS/services/$SVC:http/proxy/v2/models/$MODEL/infer" -f "$BODY")
echo "answer: $answer"
python3 - "$answer" "$STATE/node/models/$MODEL/1/linear.json" <<'PY'
import json, sys
y = json.loads(sys.argv[1])["outputs"][0]["data"]
w = json.load(open(sys.argv[2]))
x = [1, 2, 3, 4]
want = [sum(x[i] * w["W"][i][j] for i in range(4)) + w["b"][j] for j in range(2)]
print("y = x @ W + b from the model's weights: %s; the server's y: %s" % (want, y))
sys.exit(0 if all(abs(a - b) < 1e-5 for a, b in zip(want, y)) else 1)
PY
