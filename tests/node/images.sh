#!/usr/bin/env bash
# Container images for the real worker node, built on this machine without Docker or a registry:
# a Debian bookworm root (tests/hosts/debian.sh base) and pip's wheels, written as OCI image
# layouts by tests/node/oci.py, one tar archive per image, for `ctr -n k8s.io images import`.
#
#   localhost/inferops/python:3.11-bookworm       the base layer: Debian minbase, python3, user 1000
#   localhost/inferops/tritonserver:<pytriton>    the same base layer + /opt/site (tests/node/images/tritonserver.txt,
#                                                 on sys.path by a .pth file), tritonserver on PATH, Triton's python
#                                                 backend in its default directory /opt/tritonserver/backends/python
#   localhost/inferops/kserve-sklearn:<kserve>    the same base layer + /opt/site (tests/node/images/kserve-sklearn.txt:
#                                                 KServe's Python model server and scikit-learn) and the model class
#                                                 tests/runtimes/models/kserve_iris.py as /opt/inferops/kserve_sklearn.py,
#                                                 the entrypoint; a pod's args (--model_name, --model_dir, --http_port,
#                                                 --grpc_port: those of the collection's ServingRuntime) follow it
#   localhost/inferops/pause:3.10                 containerd's sandbox image: /pause (tests/node/go/pause), nothing else
#
#   images.sh build   build what is missing; write $INFEROPS_CLUSTER_DIR/images.json (name -> ref, digest,
#                     archive) and print its path
#   images.sh list    "name ref@digest" of the images the current inputs give (exit 1 when one is not built)
#   images.sh prune   remove cached images and layers the current inputs no longer give
#
# Cached outside the checkout in $INFEROPS_CACHE_DIR/images (default ~/.cache/inferops-kubernetes/images),
# keyed by the inputs: the base layer by its package list, this script and oci.py; the tritonserver
# and kserve-sklearn layers by that and their requirements file (and model class). A warm build takes about a second; a changed input
# rebuilds only the layers and images that depend on it. Needs root (the Debian root keeps its owners).
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$HERE/../.." && pwd)
INCLUDE=python3,libpython3.11,libstdc++6,ca-certificates
PYTHON=${PYTHON:-python3.11}
REQS=$HERE/images/tritonserver.txt
KSERVE_REQS=$HERE/images/kserve-sklearn.txt
KSERVE_MODEL=$ROOT_DIR/tests/runtimes/models/kserve_iris.py
CACHE=${INFEROPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops-kubernetes}/images
CLUSTER_DIR=${INFEROPS_CLUSTER_DIR:-$ROOT_DIR/.cluster}
PATH_DEFAULT=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PYTHON_REF=localhost/inferops/python:3.11-bookworm
TRITON_REPO=localhost/inferops/tritonserver
KSERVE_REPO=localhost/inferops/kserve-sklearn
SITE=/opt/site
TRITON_BIN=$SITE/pytriton/tritonserver/bin
TRITON_LIBS=$SITE/nvidia_pytriton.libs

log() { printf '[node-images] %s\n' "$*" >&2; }
fail() { log "error: $*"; exit 1; }

hash_of() { sha256sum | cut -c1-16; }

PYTRITON_VERSION=$(sed -n 's/^nvidia-pytriton==\([^ ;#]*\).*/\1/p' "$REQS")
[ -n "$PYTRITON_VERSION" ] || fail "$REQS pins no nvidia-pytriton==VERSION"
TRITON_REF=$TRITON_REPO:$PYTRITON_VERSION
KSERVE_VERSION=$(sed -n 's/^kserve==\([^ ;#]*\).*/\1/p' "$KSERVE_REQS")
[ -n "$KSERVE_VERSION" ] || fail "$KSERVE_REQS pins no kserve==VERSION"
KSERVE_REF=$KSERVE_REPO:$KSERVE_VERSION
BASE_KEY=$({ echo "$INCLUDE"; cat "$HERE/images.sh" "$HERE/oci.py"; } | hash_of)
TRITON_KEY=$({ echo "$BASE_KEY"; cat "$REQS"; } | hash_of)
KSERVE_KEY=$({ echo "$BASE_KEY"; cat "$KSERVE_REQS" "$KSERVE_MODEL"; } | hash_of)
BASE_LAYER=$CACHE/layers/base-$BASE_KEY.tar
TRITON_LAYER=$CACHE/layers/tritonserver-$TRITON_KEY.tar
KSERVE_LAYER=$CACHE/layers/kserve-sklearn-$KSERVE_KEY.tar
PYTHON_ARCHIVE=$CACHE/python-$BASE_KEY.tar
TRITON_ARCHIVE=$CACHE/tritonserver-$TRITON_KEY.tar
KSERVE_ARCHIVE=$CACHE/kserve-sklearn-$KSERVE_KEY.tar
PAUSE_REF=localhost/inferops/pause:3.10
# the pause binary is built from Go (cached by tools.sh); the same sources give the same bytes
TOOLS=$("$HERE/tools.sh")
PAUSE_KEY=$({ sha256sum <"$TOOLS/pause"; cat "$HERE/images.sh" "$HERE/oci.py"; } | hash_of)
PAUSE_ARCHIVE=$CACHE/pause-$PAUSE_KEY.tar

# an archive counts as built once its manifest digest is written beside it
built() { [ -f "$1" ] && [ -s "$1.digest" ]; }

# base_layer: the Debian root as one layer, with what an image does not need taken out
base_layer() {
  [ -f "$BASE_LAYER" ] && return
  local tar root
  if ! tar=$("$ROOT_DIR/tests/hosts/debian.sh" base "$INCLUDE"); then
    fail "the Debian base root ($INCLUDE) could not be made: debootstrap failed (tests/hosts/debian.sh base)"
  fi
  root=$WORK/base
  mkdir "$root"
  tar -C "$root" -xf "$tar"
  log "base layer: stripping the root, adding user 1000, byte-compiling Python"
  # Device nodes come from the runtime; apt's lists and caches, logs, docs (but for the
  # copyright files), manuals and translations are not used by a container.
  find "$root/dev" "$root/run" "$root/tmp" "$root/var/lib/apt/lists" "$root/var/cache/apt" \
    "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" \
    -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  find "$root/var/log" "$root/var/cache/ldconfig" -type f -delete
  find "$root/var/cache/debconf" -name '*-old' -delete
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
  # Written by the runtime when a container starts: not the build machine's.
  : >"$root/etc/resolv.conf"
  echo localhost >"$root/etc/hostname"
  if [ -f "$root/etc/machine-id" ]; then : >"$root/etc/machine-id"; fi
  # The pods run as uid 1000 with a read-only root; HOME is /tmp, their writable emptyDir.
  echo "inferops:x:1000:1000:inferops:/tmp:/usr/sbin/nologin" >>"$root/etc/passwd"
  echo "inferops:x:1000:" >>"$root/etc/group"
  echo "inferops:*:19500:0:99999:7:::" >>"$root/etc/shadow"
  echo "inferops:*::" >>"$root/etc/gshadow"
  # Debian's .pyc files are checked against their source's mtime, which the layer sets to one
  # value for every file: compile them again as unchecked-hash pycs, by the root's own python,
  # so that a read-only container never recompiles the standard library in memory.
  find "$root/usr" -name __pycache__ -type d -prune -exec rm -rf {} +
  if ! chroot "$root" /usr/bin/python3 -m compileall -q --invalidation-mode unchecked-hash \
    /usr/lib/python3.11 /usr/lib/python3/dist-packages /usr/share/python3 >&2; then
    fail "byte-compiling the base root's Python (chroot python3 -m compileall) failed"
  fi
  # what the tritonserver layer's wheels must fit: this root's Python and glibc
  mkdir -p "$CACHE/layers"
  dpkg_version() { awk -v p="$1" '$1 == "Package:" { hit = ($2 == p) } hit && $1 == "Version:" { print $2; exit }' \
    "$root/var/lib/dpkg/status"; }
  {
    echo "PYTHON_VERSION=$(dpkg_version python3.11 | cut -d. -f1,2)"
    echo "GLIBC_VERSION=$(dpkg_version libc6 | cut -d- -f1)"
  } >"$BASE_LAYER.env"
  python3 "$HERE/oci.py" layer "$root" "$BASE_LAYER" >/dev/null
  rm -rf "$root"
}

# site_install REQS LAYER: LAYER/opt/site from REQS's pinned wheels, byte-compiled, on the image's
# sys.path through a .pth file; sets PYTHON_VERSION
site_install() {
  local reqs=$1 layer=$2 GLIBC_VERSION host_version minor
  # shellcheck disable=SC1090
  . "$BASE_LAYER.env"
  if [ -z "$PYTHON_VERSION" ] || [ -z "$GLIBC_VERSION" ]; then
    fail "$BASE_LAYER.env names no Python or glibc version"
  fi
  command -v "$PYTHON" >/dev/null 2>&1 || fail "$PYTHON (pip for the image layers) is not on PATH"
  host_version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  # pyc files are compiled here by $PYTHON: the same minor version keeps the same bytecode magic
  [ "$host_version" = "$PYTHON_VERSION" ] || fail "$PYTHON is Python $host_version; the image's is $PYTHON_VERSION"
  # Wheels for the image's Python and glibc, whatever this machine's are: cp311, manylinux up to glibc 2.36.
  local platforms=()
  for minor in $(seq "${GLIBC_VERSION#2.}" -1 17); do platforms+=(--platform "manylinux_2_${minor}_x86_64"); done
  platforms+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
  log "$(basename "$layer") layer: pip install -r ${reqs#"$ROOT_DIR"/} (Python $PYTHON_VERSION, glibc $GLIBC_VERSION wheels)"
  if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location --root-user-action=ignore \
    --no-deps --only-binary=:all: --no-compile --target "$layer$SITE" \
    --implementation cp --python-version "$PYTHON_VERSION" --abi "cp${PYTHON_VERSION/./}" "${platforms[@]}" \
    -r "$reqs" >&2; then
    fail "pip install -r $reqs failed (with $PYTHON)"
  fi
  # console scripts carry this machine's interpreter path in their #! line
  rm -rf "${layer:?}$SITE/bin"
  if ! "$PYTHON" -m compileall -q -j 0 --invalidation-mode unchecked-hash -d "$SITE" "$layer$SITE" >&2; then
    fail "byte-compiling $SITE ($PYTHON -m compileall) failed"
  fi
  # A .pth file in the site directory Debian's python3.11 reads puts /opt/site on sys.path, for
  # python3 and for Triton's python backend stub alike: the stub starts its embedded Python in
  # isolated mode and ignores PYTHONPATH (the model saw sys.path without it).
  local dist_packages=$layer/usr/local/lib/python$PYTHON_VERSION/dist-packages
  mkdir -p "$dist_packages"
  echo "$SITE" >"$dist_packages/inferops-site.pth"
}

# triton_layer: /opt/site from pinned wheels, and Triton's default backend directory
triton_layer() {
  [ -f "$TRITON_LAYER" ] && return
  local PYTHON_VERSION layer=$WORK/tritonserver
  site_install "$REQS" "$layer"
  local dist=$layer$SITE/pytriton/tritonserver
  local stub=$dist/python_backend_stubs/$PYTHON_VERSION/triton_python_backend_stub
  [ -x "$dist/bin/tritonserver" ] || fail "nvidia-pytriton's wheel has no tritonserver/bin/tritonserver"
  [ -f "$stub" ] || fail "nvidia-pytriton's wheel has no python backend stub for Python $PYTHON_VERSION"
  # Triton's default backend directory, laid out the way pytriton prepares one
  mkdir -p "$layer/opt/tritonserver/backends"
  cp -a "$dist/backends/python" "$layer/opt/tritonserver/backends/python"
  install -m 755 "$stub" "$layer/opt/tritonserver/backends/python/triton_python_backend_stub"
  mkdir -p "$CACHE/layers"
  python3 "$HERE/oci.py" layer "$layer" "$TRITON_LAYER" >/dev/null
  rm -rf "$layer"
}

# kserve_layer: /opt/site with KServe's model server and scikit-learn, and the model class
kserve_layer() {
  [ -f "$KSERVE_LAYER" ] && return
  local PYTHON_VERSION layer=$WORK/kserve-sklearn
  site_install "$KSERVE_REQS" "$layer"
  install -D -m 644 "$KSERVE_MODEL" "$layer/opt/inferops/kserve_sklearn.py"
  mkdir -p "$CACHE/layers"
  python3 "$HERE/oci.py" layer "$layer" "$KSERVE_LAYER" >/dev/null
  rm -rf "$layer"
}

# image ARCHIVE NAME TAG LAYER... -- OCI.PY-OPTIONS...: the archive and its digest beside it
image() {
  local archive=$1 name=$2 tag=$3 layers=()
  shift 3
  while [ "$1" != "--" ]; do layers+=(--layer "$1"); shift; done
  shift
  log "image $name:$tag"
  python3 "$HERE/oci.py" image "$archive" --name "$name" --tag "$tag" "${layers[@]}" "$@" >"$WORK/digest"
  mv "$WORK/digest" "$archive.digest"
}

python_image() {
  built "$PYTHON_ARCHIVE" && return
  base_layer
  image "$PYTHON_ARCHIVE" "${PYTHON_REF%:*}" "${PYTHON_REF##*:}" "$BASE_LAYER" -- \
    --env "PATH=$PATH_DEFAULT" --env HOME=/tmp --env LANG=C.UTF-8 --env PYTHONDONTWRITEBYTECODE=1 \
    --workdir /tmp --user 1000:1000 --cmd '["python3"]'
}

triton_image() {
  built "$TRITON_ARCHIVE" && return
  base_layer
  triton_layer
  image "$TRITON_ARCHIVE" "$TRITON_REPO" "$PYTRITON_VERSION" "$BASE_LAYER" "$TRITON_LAYER" -- \
    --env "PATH=$TRITON_BIN:$PATH_DEFAULT" --env "LD_LIBRARY_PATH=$TRITON_LIBS" \
    --env HOME=/tmp --env LANG=C.UTF-8 --env PYTHONDONTWRITEBYTECODE=1 \
    --workdir /tmp --user 1000:1000 --cmd '["tritonserver", "--model-repository=/models"]'
}

kserve_image() {
  built "$KSERVE_ARCHIVE" && return
  base_layer
  kserve_layer
  # Unbuffered, so that the model's log lines reach the container log as they are written.
  image "$KSERVE_ARCHIVE" "$KSERVE_REPO" "$KSERVE_VERSION" "$BASE_LAYER" "$KSERVE_LAYER" -- \
    --env "PATH=$PATH_DEFAULT" --env HOME=/tmp --env LANG=C.UTF-8 --env PYTHONDONTWRITEBYTECODE=1 \
    --env PYTHONUNBUFFERED=1 --workdir /tmp --user 1000:1000 \
    --entrypoint '["python3", "/opt/inferops/kserve_sklearn.py"]'
}

pause_image() {
  built "$PAUSE_ARCHIVE" && return
  mkdir -p "$WORK/pause" "$CACHE/layers"
  install -m 755 "$TOOLS/pause" "$WORK/pause/pause"
  python3 "$HERE/oci.py" layer "$WORK/pause" "$WORK/pause-layer.tar" >/dev/null
  image "$PAUSE_ARCHIVE" "${PAUSE_REF%:*}" "${PAUSE_REF##*:}" "$WORK/pause-layer.tar" -- \
    --user 65535:65535 --cmd '["/pause"]'
}

all_built() { built "$PYTHON_ARCHIVE" && built "$TRITON_ARCHIVE" && built "$KSERVE_ARCHIVE" && built "$PAUSE_ARCHIVE"; }

manifest() {
  local out=$CLUSTER_DIR/images.json
  mkdir -p "$CLUSTER_DIR"
  printf '{\n  "python": {"ref": "%s", "digest": "%s", "archive": "%s"},\n  "tritonserver": {"ref": "%s", "digest": "%s", "archive": "%s"},\n  "kserve-sklearn": {"ref": "%s", "digest": "%s", "archive": "%s"},\n  "pause": {"ref": "%s", "digest": "%s", "archive": "%s"}\n}\n' \
    "$PYTHON_REF" "$(cat "$PYTHON_ARCHIVE.digest")" "$PYTHON_ARCHIVE" \
    "$TRITON_REF" "$(cat "$TRITON_ARCHIVE.digest")" "$TRITON_ARCHIVE" \
    "$KSERVE_REF" "$(cat "$KSERVE_ARCHIVE.digest")" "$KSERVE_ARCHIVE" \
    "$PAUSE_REF" "$(cat "$PAUSE_ARCHIVE.digest")" "$PAUSE_ARCHIVE" >"$out.part"
  mv "$out.part" "$out"
  echo "$out"
}

build() {
  if ! all_built; then
    [ "$(id -u)" = 0 ] || { log "needs root to build (debootstrap, a root that keeps its owners, chroot)"; exit 3; }
    mkdir -p "$CACHE"
    exec 9>"$CACHE/build.lock"
    flock 9
    # what an earlier build left when it was stopped: only a holder of the lock makes these
    rm -rf "$CACHE"/work.*
    WORK=$(mktemp -d "$CACHE/work.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    python_image
    triton_image
    kserve_image
    pause_image
  fi
  manifest
}

list() {
  local missing=0
  if built "$PYTHON_ARCHIVE"; then echo "python $PYTHON_REF@$(cat "$PYTHON_ARCHIVE.digest")"; else missing=1; fi
  if built "$TRITON_ARCHIVE"; then echo "tritonserver $TRITON_REF@$(cat "$TRITON_ARCHIVE.digest")"; else missing=1; fi
  if built "$KSERVE_ARCHIVE"; then echo "kserve-sklearn $KSERVE_REF@$(cat "$KSERVE_ARCHIVE.digest")"; else missing=1; fi
  if built "$PAUSE_ARCHIVE"; then echo "pause $PAUSE_REF@$(cat "$PAUSE_ARCHIVE.digest")"; else missing=1; fi
  [ "$missing" = 0 ] || { log "not built for the current inputs: run $0 build"; exit 1; }
}

prune() {
  [ -d "$CACHE" ] || return 0
  exec 9>"$CACHE/build.lock"
  flock 9
  local f keep
  keep=" $BASE_LAYER $BASE_LAYER.env $TRITON_LAYER $PYTHON_ARCHIVE $PYTHON_ARCHIVE.digest $TRITON_ARCHIVE $TRITON_ARCHIVE.digest $KSERVE_LAYER $KSERVE_ARCHIVE $KSERVE_ARCHIVE.digest $PAUSE_ARCHIVE $PAUSE_ARCHIVE.digest "
  for f in "$CACHE"/*.tar "$CACHE"/*.digest "$CACHE"/layers/*; do
    [ -e "$f" ] || continue
    case "$keep" in *" $f "*) ;; *) log "removing $f"; rm -rf "$f" ;; esac
  done
}

case "${1:-}" in
  build) build ;;
  list) list ;;
  prune) prune ;;
  *) echo "usage: $0 build|list|prune" >&2; exit 2 ;;
esac
