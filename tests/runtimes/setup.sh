#!/usr/bin/env bash
# Builds the runtimes venv (.tmp/runtimes-venv) from requirements-runtimes.txt and makes sure
# a Java >= 17 runtime is present for TorchServe. Idempotent: when the venv was built from the
# same requirements file and java is there, it returns at once.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-python3.11}
VENV="$ROOT/.tmp/runtimes-venv"
REQ="$ROOT/requirements-runtimes.txt"
STAMP="$VENV/.installed"

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
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
fi

want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

echo "building $VENV from requirements-runtimes.txt"
t0=$SECONDS
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r "$REQ"
echo "$want" >"$STAMP"
echo "runtimes venv ready in $((SECONDS - t0))s ($(du -sh "$VENV" | cut -f1))"
