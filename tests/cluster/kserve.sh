#!/usr/bin/env bash
# KServe's controller manager on the local cluster, for the tests that need a real one
# (tests/integration/test_real_node_kserve.py): the binary of github.com/kserve/kserve/cmd/manager at
# crds.env's KSERVE_VERSION (tests/cluster/build.sh kserve), run as a local process with the admin
# kubeconfig, its webhooks registered by URL on 127.0.0.1.
#
#   kserve.sh up       build (or take from cache) the manager, write its configuration and webhook
#                      registrations, start it and wait until its webhook server answers
#   kserve.sh down     stop it and remove its webhook registrations (its state stays)
#   kserve.sh status   say whether it runs
#
# No KServe controller runs otherwise: the rest of the suite tests that an InferenceService is
# stored and validated with none there. KServe's webhooks are registered only for namespaces labelled
# inferops.io/kserve=local, so a manager that died (or was never stopped) cannot block other
# tests' writes. Needs the cluster up (tests/cluster/cluster.sh up).
#
# Network: the manager talks to the API server on 127.0.0.1. Its webhook server listens on
# INFEROPS_KSERVE_WEBHOOK_PORT (default 19443; controller-runtime binds every local address and
# KServe has no flag to narrow it), its health endpoint on 127.0.0.1 only, its metrics are off.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NAME=${INFEROPS_CLUSTER_NAME:-inferops}
CLUSTER=${INFEROPS_CLUSTER_DIR:-$ROOT/.cluster}
KUBECONFIG_PATH=$CLUSTER/kubeconfig
PKI=$CLUSTER/kwok/clusters/$NAME/pki
STATE=$CLUSTER/kserve
WEBHOOK_PORT=${INFEROPS_KSERVE_WEBHOOK_PORT:-19443}
HEALTH_ADDR=127.0.0.1:${INFEROPS_KSERVE_HEALTH_PORT:-19444}
NAMESPACE=kserve
REGISTRATION=inferops-local-kserve
NAMESPACE_LABEL=inferops.io/kserve
READY_TIMEOUT=${INFEROPS_KSERVE_READY_TIMEOUT:-120}
# shellcheck source=crds.env
# shellcheck source-path=SCRIPTDIR source=crds.env
. "$HERE/crds.env"

log() { printf '[kserve] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

kubectl_() { "$("$HERE/build.sh")/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

pid() { [ -f "$STATE/manager.pid" ] && cat "$STATE/manager.pid"; }
running() {
  local p
  p=$(pid) || return 1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -q manager "/proc/$p/cmdline" 2>/dev/null
}
healthy() { curl -fsS --max-time 2 "http://$HEALTH_ADDR/readyz" >/dev/null 2>&1; }

# the webhook server's certificate, for 127.0.0.1, signed by the cluster's CA (the caBundle below);
# controller-runtime reads it from $TMPDIR/k8s-webhook-server/serving-certs
certificate() {
  local dir=$STATE/tmp/k8s-webhook-server/serving-certs
  mkdir -p "$dir"
  if [ -f "$dir/tls.crt" ] && openssl verify -CAfile "$PKI/ca.crt" "$dir/tls.crt" >/dev/null 2>&1; then return; fi
  openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/tls.key" -subj "/CN=kserve-webhook.inferops.local" \
    -out "$STATE/webhook.csr" 2>/dev/null
  openssl x509 -req -in "$STATE/webhook.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 365 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') -out "$dir/tls.crt" 2>/dev/null
}

# webhook NAME PATH: one entry of a webhook configuration, by URL on 127.0.0.1
webhook() {
  cat <<EOF
  - name: $1.inferops-local.kserve.io
    admissionReviewVersions: [v1, v1beta1]
    sideEffects: None
    failurePolicy: Fail
    clientConfig: {url: "https://127.0.0.1:$WEBHOOK_PORT$2", caBundle: "$CA_BUNDLE"}
    namespaceSelector: {matchLabels: {$NAMESPACE_LABEL: local}}
EOF
}

# The controller's configuration: the Standard (plain Deployment) mode, no ingress object (the tests
# reach a model through its Service), and what KServe's pod mutator reads for every pod it mutates.
# No agent, batcher, logger or storage-initializer container is injected for a pvc:// model without
# a logger or batcher: their images are named but never pulled.
configuration() {
  CA_BUNDLE=$(base64 -w0 <"$PKI/ca.crt")
  cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $NAMESPACE, labels: {app.kubernetes.io/part-of: inferops-local-cluster}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: inferenceservice-config, namespace: $NAMESPACE}
data:
  deploy: '{"defaultDeploymentMode": "Standard"}'
  ingress: '{"ingressGateway": "$NAMESPACE/none", "ingressDomain": "inferops.local", "disableIngressCreation": true, "disableIstioVirtualHost": true}'
  explainers: '{}'
  storageInitializer: '{"image": "docker.io/kserve/storage-initializer:$KSERVE_VERSION", "memoryRequest": "100Mi", "memoryLimit": "1Gi", "cpuRequest": "100m", "cpuLimit": "1"}'
  credentials: '{"storageSpecSecretName": "storage-config"}'
  agent: '{"image": "docker.io/kserve/agent:$KSERVE_VERSION", "memoryRequest": "100Mi", "memoryLimit": "1Gi", "cpuRequest": "100m", "cpuLimit": "1"}'
  batcher: '{"image": "docker.io/kserve/agent:$KSERVE_VERSION", "memoryRequest": "1Gi", "memoryLimit": "1Gi", "cpuRequest": "1", "cpuLimit": "1"}'
  logger: '{"image": "docker.io/kserve/agent:$KSERVE_VERSION", "memoryRequest": "100Mi", "memoryLimit": "1Gi", "cpuRequest": "100m", "cpuLimit": "1", "defaultUrl": "http://127.0.0.1:9"}'
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: $REGISTRATION, labels: {app.kubernetes.io/part-of: inferops-local-cluster}}
webhooks:
$(webhook inferenceservice-defaulter /mutate-serving-kserve-io-v1beta1-inferenceservice)
    rules: [{apiGroups: [serving.kserve.io], apiVersions: [v1beta1], operations: [CREATE, UPDATE], resources: [inferenceservices]}]
$(webhook pod-mutator /mutate-pods)
    reinvocationPolicy: IfNeeded
    objectSelector: {matchExpressions: [{key: serving.kserve.io/inferenceservice, operator: Exists}]}
    rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: $REGISTRATION, labels: {app.kubernetes.io/part-of: inferops-local-cluster}}
webhooks:
$(webhook inferenceservice-validator /validate-serving-kserve-io-v1beta1-inferenceservice)
    rules: [{apiGroups: [serving.kserve.io], apiVersions: [v1beta1], operations: [CREATE, UPDATE], resources: [inferenceservices]}]
$(webhook servingruntime-validator /validate-serving-kserve-io-v1alpha1-servingruntime)
    rules: [{apiGroups: [serving.kserve.io], apiVersions: [v1alpha1], operations: [CREATE, UPDATE], resources: [servingruntimes]}]
$(webhook clusterservingruntime-validator /validate-serving-kserve-io-v1alpha1-clusterservingruntime)
    rules: [{apiGroups: [serving.kserve.io], apiVersions: [v1alpha1], operations: [CREATE, UPDATE], resources: [clusterservingruntimes]}]
EOF
}

unregister() {
  kubectl_ delete mutatingwebhookconfiguration,validatingwebhookconfiguration "$REGISTRATION" \
    --ignore-not-found >/dev/null 2>&1 || true
}

up() {
  if [ ! -f "$KUBECONFIG_PATH" ] || ! kubectl_ get --raw /readyz >/dev/null 2>&1; then
    die "the local cluster is not running (tests/cluster/cluster.sh up)"
  fi
  [ -f "$PKI/ca.key" ] || die "no cluster CA at $PKI (tests/cluster/cluster.sh up)"
  local bin
  bin=$("$HERE/build.sh" kserve) || die "KServe's manager could not be built (tests/cluster/build.sh kserve)"
  mkdir -p "$STATE"
  if running && healthy; then
    log "manager running (pid $(pid))"
    return
  fi
  stop_manager
  certificate
  configuration | kubectl_ apply -f - >/dev/null
  : >"$STATE/manager.log"
  # POD_NAMESPACE: where KServe reads inferenceservice-config; TMPDIR: where its webhook server
  # finds the certificate
  KUBECONFIG=$KUBECONFIG_PATH POD_NAMESPACE=$NAMESPACE TMPDIR=$STATE/tmp \
    setsid "$bin/manager" --metrics-addr=0 --health-probe-addr="$HEALTH_ADDR" --webhook-port="$WEBHOOK_PORT" \
    --leader-elect=false >>"$STATE/manager.log" 2>&1 </dev/null &
  echo $! >"$STATE/manager.pid"
  local deadline=$((SECONDS + READY_TIMEOUT))
  until healthy; do
    if ! running; then
      tail -n 20 "$STATE/manager.log" >&2 || true
      die "KServe's manager exited (log: $STATE/manager.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$STATE/manager.log" >&2 || true
      die "KServe's manager was not ready within ${READY_TIMEOUT}s (log: $STATE/manager.log)"
    fi
    sleep 0.5
  done
  log "manager $KSERVE_VERSION ready (pid $(pid)); webhooks on https://127.0.0.1:$WEBHOOK_PORT for namespaces labelled $NAMESPACE_LABEL=local"
}

stop_manager() {
  local p
  if running; then
    p=$(pid)
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  fi
  rm -f "$STATE/manager.pid"
}

down() {
  # nothing to do where kserve.sh up never ran (and no build to start for kubectl)
  [ -d "$STATE" ] || return 0
  # the registrations go first: no write waits on a webhook that is going away
  if [ -f "$KUBECONFIG_PATH" ] && kubectl_ get --raw /readyz >/dev/null 2>&1; then unregister; fi
  stop_manager
}

status() {
  if running && healthy; then
    log "manager running (pid $(pid)), log: $STATE/manager.log"
  else
    log "manager not running"
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
