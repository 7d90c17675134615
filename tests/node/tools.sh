#!/usr/bin/env bash
# Build the real node's small Go programs (tests/node/go: the STAND-IN device plugin, the STAND-IN
# DCGM exporter, the pause process of the sandbox image, cri-reset), or reuse the cached build. The cache key is the hash
# of their sources and the Go version, so a change to one of them rebuilds them.
# Prints the binary directory on stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$HERE/go
CACHE_ROOT=${INFEROPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops-kubernetes}
command -v go >/dev/null 2>&1 || { echo "error: the real node's tools are built with Go (go >= 1.26.0 on PATH)" >&2; exit 3; }
KEY=$( (cd "$SRC" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print0 | sort -z | xargs -0 sha256sum; go env GOVERSION) | sha256sum | cut -c1-16)
BIN=$CACHE_ROOT/bin/node-tools-$KEY
WANT=(device-plugin pause cri-reset dcgm-exporter-standin)

complete() {
  local b
  for b in "${WANT[@]}"; do [ -x "$BIN/$b" ] || return 1; done
}

if ! complete; then
  mkdir -p "$CACHE_ROOT/bin"
  exec 9>"$CACHE_ROOT/node-tools.lock"
  flock 9
  if ! complete; then
    OUT=$(mktemp -d "$CACHE_ROOT/bin/node-tools.XXXXXX")
    trap 'rm -rf "$OUT"' EXIT
    (cd "$SRC" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w" -o "$OUT/" ./...) >&2
    rm -rf "$BIN"
    mv "$OUT" "$BIN"
    trap - EXIT
  fi
fi
echo "$BIN"
