#!/usr/bin/env bash
# Checks the images of tests/node/images.sh without containerd (root; about a minute):
#   1. each archive, unpacked with tar, read by a reader of its own (not oci.py): the digests and
#      sizes in index.json and the manifest are those of the blobs, diff_ids those of the layers;
#   2. each image's layers extracted into a root under a temporary directory and run the way its
#      pod runs: uid 1000, the root read-only, /tmp and /dev/shm writable tmpfs, the image config's
#      Env and WorkingDir and nothing else, in a mount namespace of its own (its mounts go with it);
#   3. python: the standard library loads from its .pyc files (none stale) and imports ssl;
#      tritonserver: the pod's command on a copy of the runtime tests' python-backend model
#      (tests/runtimes/models/make_models.py, run by the runtimes venv), listening on 127.0.0.1
#      only, answers one inference with the model's known output;
#      kserve-sklearn: the image's entrypoint with the collection's ServingRuntime args on the runtime
#      tests' scikit-learn model answers V1 predictions with iris's own labels.
#
#   check_images.sh    (INFEROPS_RUNTIMES_PYTHON: the runtimes venv's python; ports 8000-8004, or
#                       INFEROPS_CHECK_HTTP_PORT and the four after it)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$HERE/../.." && pwd)
RUNTIMES_PYTHON=${INFEROPS_RUNTIMES_PYTHON:-$ROOT_DIR/.tmp/runtimes-venv/bin/python}
HTTP_PORT=${INFEROPS_CHECK_HTTP_PORT:-8000}

log() { printf '[node-images-check] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# the part that runs inside its own mount namespace: run_in_root NAME CMD...
if [ "${1:-}" = --in-namespace ]; then
  shift
  name=$1 work=$2
  shift 2
  root=$work/$name/root
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount -t sysfs -o ro sysfs "$root/sys"
  mount -t tmpfs -o mode=755,nosuid tmpfs "$root/dev"
  for dev in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r node major minor <<<"$dev"
    mknod -m 666 "$root/dev/$node" c "$major" "$minor"
  done
  mkdir "$root/dev/shm"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
  # the model, read-only where the pod has it: Triton's /models, KServe's /mnt/models
  models=/models
  [ "$name" = kserve-sklearn ] && models=/mnt/models
  if [ -d "$work/models/$name" ]; then
    mkdir -p "$root$models"
    mount --bind "$work/models/$name" "$root$models"
    mount -o remount,bind,ro "$root$models"
  fi
  mount -o remount,bind,ro "$root"
  mapfile -t env <"$work/$name/env"
  workdir=$(cat "$work/$name/workdir")
  # shellcheck disable=SC2016
  exec env -i "${env[@]}" chroot "$root" /usr/bin/setpriv --reuid 1000 --regid 1000 --clear-groups \
    /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"
fi

[ "$(id -u)" = 0 ] || { log "needs root (chroot, mounts)"; exit 3; }
[ -x "$RUNTIMES_PYTHON" ] || fail "no runtimes venv python at $RUNTIMES_PYTHON (make runtimes-venv) to make the model"
manifest=$("$HERE/images.sh" build)
WORK=$(mktemp -d /tmp/inferops-images-check.XXXXXX)
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# 1. the layout, read by its own code
for name in python tritonserver kserve-sklearn; do
  archive=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["archive"])' "$manifest" "$name")
  mkdir -p "$WORK/$name/layout" "$WORK/$name/root"
  tar -C "$WORK/$name/layout" -xf "$archive"
  python3 - "$manifest" "$name" "$WORK/$name" <<'PY' || fail "$name: the OCI layout does not hold together"
import hashlib, json, os, sys

images, name, work = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
want = images[name]
layout = os.path.join(work, "layout")

def blob(descriptor, media_type):
    assert descriptor["mediaType"] == media_type, (descriptor["mediaType"], media_type)
    algorithm, hexdigest = descriptor["digest"].split(":")
    path = os.path.join(layout, "blobs", algorithm, hexdigest)
    data = open(path, "rb").read()
    assert hashlib.sha256(data).hexdigest() == hexdigest, "digest of " + path
    assert len(data) == descriptor["size"], "size of " + path
    return path, data

assert json.load(open(os.path.join(layout, "oci-layout"))) == {"imageLayoutVersion": "1.0.0"}
index = json.load(open(os.path.join(layout, "index.json")))
assert index["schemaVersion"] == 2 and len(index["manifests"]) == 1
entry = index["manifests"][0]
assert entry["digest"] == want["digest"], (entry["digest"], want["digest"])
assert entry["annotations"]["io.containerd.image.name"] == want["ref"]
assert entry["annotations"]["org.opencontainers.image.ref.name"] == want["ref"].rsplit(":", 1)[1]
manifest = json.loads(blob(entry, "application/vnd.oci.image.manifest.v1+json")[1])
config = json.loads(blob(manifest["config"], "application/vnd.oci.image.config.v1+json")[1])
assert (config["architecture"], config["os"]) == ("amd64", "linux")
layers = [blob(layer, "application/vnd.oci.image.layer.v1.tar")[0] for layer in manifest["layers"]]
assert config["rootfs"]["diff_ids"] == [layer["digest"] for layer in manifest["layers"]]
with open(os.path.join(work, "layers"), "w") as out:
    out.write("".join(path + "\n" for path in layers))
with open(os.path.join(work, "env"), "w") as out:
    out.write("".join(env + "\n" for env in config["config"]["Env"]))
with open(os.path.join(work, "workdir"), "w") as out:
    out.write(config["config"].get("WorkingDir", "/"))
print("%s %s: %d layers %s" % (name, want["ref"], len(layers), " ".join(l["digest"][7:19] for l in manifest["layers"])))
PY
  # 2. the root, from the layers in order (the images have no whiteouts)
  while read -r layer; do
    if tar -tf "$layer" | grep '\.wh\.' >/dev/null; then fail "$name: a layer has whiteout entries, which this check does not apply"; fi
    tar -C "$WORK/$name/root" -xf "$layer"
  done <"$WORK/$name/layers"
done

in_root() { unshare --mount --propagation private "$HERE/check_images.sh" --in-namespace "$@"; }

# wait_ready NAME URL LOG SECONDS: until URL answers, while $SERVER lives, at most SECONDS
wait_ready() {
  local started=$SECONDS
  until curl -sf "$2" >/dev/null; do
    kill -0 "$SERVER" 2>/dev/null || { cat "$3" >&2; fail "$1 exited"; }
    [ $((SECONDS - started)) -lt "$4" ] || { cat "$3" >&2; fail "$1 not ready in $4 s"; }
    sleep 1
  done
  log "$1 ready in $((SECONDS - started)) s (uid 1000, read-only root)"
}

# 3. python: every module imported from its .pyc, none stale, on the read-only root
out=$(in_root python "$WORK" python3 -v -c 'import json, ssl, urllib.request; print("ok", ssl.OPENSSL_VERSION)' 2>&1) \
  || { echo "$out" >&2; fail "python: python3 does not run as uid 1000 on the read-only root"; }
if grep -E 'bytecode is stale|could not create' <<<"$out" >&2; then fail "python: .pyc files are stale or written"; fi
grep -q '^ok OpenSSL' <<<"$out" || { echo "$out" >&2; fail "python: no ok line"; }
log "python: $(grep -c '^# code object from' <<<"$out") modules loaded from .pyc, none stale; $(grep '^ok' <<<"$out")"

# tritonserver: numpy and onnxruntime from /opt/site's .pyc files, then the pod's command
out=$(in_root tritonserver "$WORK" python3 -v -c 'import numpy, onnxruntime; print("ok", numpy.__version__, onnxruntime.__version__)' 2>&1) \
  || { echo "$out" >&2; fail "tritonserver: numpy and onnxruntime do not import as uid 1000 on the read-only root"; }
if grep -E 'bytecode is stale|could not create' <<<"$out" >&2; then fail "tritonserver: .pyc files are stale or written"; fi
log "tritonserver: $(grep '^ok' <<<"$out")"

log "making the python-backend model with $RUNTIMES_PYTHON"
(cd "$ROOT_DIR/tests/runtimes/models" && "$RUNTIMES_PYTHON" -c \
  'import sys; from pathlib import Path; import make_models; make_models.triton_repository(Path(sys.argv[1]), warmup=True)' \
  "$WORK/models/tritonserver")
chmod -R a+rX "$WORK/models"

for port in "$HTTP_PORT" $((HTTP_PORT + 1)) $((HTTP_PORT + 2)) $((HTTP_PORT + 3)) $((HTTP_PORT + 4)); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then fail "port $port on 127.0.0.1 is taken"; fi
done
# started directly (not through in_root, a function, which & would run in a subshell): $! is the
# process that becomes tritonserver, every step after unshare being an exec
unshare --mount --propagation private "$HERE/check_images.sh" --in-namespace tritonserver "$WORK" \
  tritonserver --model-repository=/models --http-port="$HTTP_PORT" \
  --grpc-port=$((HTTP_PORT + 1)) --metrics-port=$((HTTP_PORT + 2)) --strict-readiness=true --exit-on-error=true \
  --http-address=127.0.0.1 --grpc-address=127.0.0.1 --metrics-address=127.0.0.1 >"$WORK/triton.log" 2>&1 &
SERVER=$!
base=http://127.0.0.1:$HTTP_PORT
wait_ready tritonserver "$base/v2/health/ready" "$WORK/triton.log" 180
answer=$(curl -sf -H 'Content-Type: application/json' "$base/v2/models/linear/infer" \
  -d '{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}') \
  || { cat "$WORK/triton.log" >&2; fail "the inference request failed"; }
# y = x W + B with W = [[1, 0], [0, 1], [1, 1], [2, -1]], B = [0.5, -0.5]
python3 -c 'import json, sys; out = json.loads(sys.argv[1])["outputs"][0]; assert out["name"] == "y" and out["data"] == [12.5, 0.5], out' \
  "$answer" || fail "unexpected answer: $answer"
log "inference: $answer"
kill "$SERVER"
wait "$SERVER" || true
SERVER=

# kserve-sklearn: KServe's model server with the ServingRuntime's args (the image's entrypoint first)
log "making the scikit-learn model with $RUNTIMES_PYTHON"
(cd "$ROOT_DIR/tests/runtimes/models" && "$RUNTIMES_PYTHON" -c \
  'import sys; from pathlib import Path; import make_models; make_models.sklearn_model(Path(sys.argv[1]))' \
  "$WORK/models/kserve-sklearn")
chmod -R a+rX "$WORK/models"
entrypoint=$(python3 -c 'import json, sys
layout = sys.argv[1] + "/layout"
index = json.load(open(layout + "/index.json"))
blob = lambda d: json.load(open(layout + "/blobs/sha256/" + d["digest"][7:]))
print(" ".join(blob(blob(index["manifests"][0])["config"])["config"]["Entrypoint"]))' "$WORK/kserve-sklearn")
# shellcheck disable=SC2086  # the entrypoint's words
unshare --mount --propagation private "$HERE/check_images.sh" --in-namespace kserve-sklearn "$WORK" \
  $entrypoint --model_name=iris --model_dir=/mnt/models --http_port=$((HTTP_PORT + 3)) --grpc_port=$((HTTP_PORT + 4)) \
  >"$WORK/kserve.log" 2>&1 &
SERVER=$!
base=http://127.0.0.1:$((HTTP_PORT + 3))
wait_ready kserve-sklearn "$base/v1/models/iris" "$WORK/kserve.log" 120
# rows 0, 50 and 100 of iris: classes 0, 1 and 2
answer=$(curl -sf -H 'Content-Type: application/json' "$base/v1/models/iris:predict" \
  -d '{"instances": [[5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5]]}') \
  || { cat "$WORK/kserve.log" >&2; fail "the prediction request failed"; }
python3 -c 'import json, sys; assert json.loads(sys.argv[1]) == {"predictions": [0, 1, 2]}' "$answer" \
  || fail "unexpected answer: $answer"
grep -q 'inferops-sklearn: predicted 3 rows' "$WORK/kserve.log" || { cat "$WORK/kserve.log" >&2; fail "no prediction line in the server's log"; }
log "prediction: $answer"
kill "$SERVER"
wait "$SERVER" || true
SERVER=
log "ok"
