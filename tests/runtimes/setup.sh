#!/usr/bin/env bash
# Builds the runtimes venv (cached outside the checkout, linked as .tmp/runtimes-venv) from
# requirements-runtimes.txt, and makes sure
# a Java >= 17 runtime is present for TorchServe. Idempotent: when the venv was built from the
# same requirements file and java is there, it returns at once.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-python3.11}
VENV="$ROOT/.tmp/runtimes-venv"
REQ="$ROOT/requirements-runtimes.txt"

java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ -n "$major" ] && [ "$major" -ge 17 ]
}

if ! java_ok; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: TorchServe needs Java 17; install openjdk-17-jre-headless (or run this script as root)" >&2
    exit 1
  fi
  echo "installing openjdk-17-jre-headless"
  export DEBIAN_FRONTEND=noninteractive
  # the real node may be installing containerd at the same time: wait for dpkg's lock
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
fi

want=$(sha256sum "$REQ" | cut -d' ' -f1)
# The venv (6 GB: PyPI's torch brings its CUDA libraries) lives outside the checkout, keyed by
# the requirements, like the control plane's binaries: a fresh clone on the same machine links
# it instead of building it again. .tmp/runtimes-venv is the link.
CACHE_ROOT=${INFEROPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops-kubernetes}
BUILT="$CACHE_ROOT/runtimes-venv/$("$PYTHON" -c 'import sys; print("py%d.%d" % sys.version_info[:2])')-${want:0:16}"

if ! { [ -f "$BUILT/.installed" ] && [ "$(cat "$BUILT/.installed")" = "$want" ]; }; then
  mkdir -p "$CACHE_ROOT/runtimes-venv"
  exec 9>"$CACHE_ROOT/runtimes-venv/build.lock"
  flock 9
  if ! { [ -f "$BUILT/.installed" ] && [ "$(cat "$BUILT/.installed")" = "$want" ]; }; then
    echo "building $BUILT from requirements-runtimes.txt"
    t0=$SECONDS
    rm -rf "$BUILT"
    "$PYTHON" -m venv "$BUILT"
    "$BUILT/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r "$REQ"
    echo "$want" >"$BUILT/.installed"
    echo "runtimes venv ready in $((SECONDS - t0))s ($(du -sh "$BUILT" | cut -f1))"
  fi
fi

mkdir -p "$(dirname "$VENV")"
if [ "$(readlink "$VENV" 2>/dev/null)" != "$BUILT" ]; then
  rm -rf "$VENV"
  ln -s "$BUILT" "$VENV"
fi

# Packages taken without their dependencies (requirements-runtimes-nodeps.txt), cached beside the
# venv by their pins and linked as .tmp/runtimes-nodeps: TF Serving's config schema, with protobuf from the venv.
NODEPS="$ROOT/requirements-runtimes-nodeps.txt"
pins=$(sha256sum "$NODEPS" | cut -d' ' -f1)
NODEPS_BUILT="$CACHE_ROOT/runtimes-nodeps/${pins:0:16}"
if [ ! -f "$NODEPS_BUILT/.installed" ]; then
  rm -rf "$NODEPS_BUILT"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: --no-deps --target "$NODEPS_BUILT" -r "$NODEPS"
  touch "$NODEPS_BUILT/.installed"
fi
if [ "$(readlink "$ROOT/.tmp/runtimes-nodeps" 2>/dev/null)" != "$NODEPS_BUILT" ]; then
  rm -rf "$ROOT/.tmp/runtimes-nodeps"
  ln -s "$NODEPS_BUILT" "$ROOT/.tmp/runtimes-nodeps"
fi
