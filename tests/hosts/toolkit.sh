#!/usr/bin/env bash
# Build the NVIDIA container toolkit's binaries (nvidia-ctk, nvidia-container-runtime,
# nvidia-cdi-hook) from github.com/NVIDIA/nvidia-container-toolkit at the pinned version,
# or reuse the cached build. Prints the binary directory on stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
# shellcheck source-path=SCRIPTDIR source=versions.env
. "$HERE/versions.env"

if ! command -v go >/dev/null 2>&1; then
  echo "error: the Go toolchain is not on PATH; the toolkit's binaries are built from its Go module." >&2
  exit 3
fi

CACHE_ROOT=${INFEROPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops-kubernetes}
BIN="$CACHE_ROOT/toolkit/${NVIDIA_CONTAINER_TOOLKIT_VERSION}_$(go env GOOS)-$(go env GOARCH)"
WANT=(nvidia-ctk nvidia-container-runtime nvidia-cdi-hook)

complete() {
  local b
  for b in "${WANT[@]}"; do [ -x "$BIN/$b" ] || return 1; done
}

if ! complete; then
  mkdir -p "$CACHE_ROOT/toolkit"
  exec 9>"$CACHE_ROOT/toolkit/build.lock"
  flock 9
  if ! complete; then
    echo "[toolkit] building nvidia-container-toolkit $NVIDIA_CONTAINER_TOOLKIT_VERSION" >&2
    WORK=$(mktemp -d "$CACHE_ROOT/toolkit/build.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    pkgs=()
    for b in "${WANT[@]}"; do
      pkgs+=("github.com/NVIDIA/nvidia-container-toolkit/cmd/$b@$NVIDIA_CONTAINER_TOOLKIT_VERSION")
    done
    # cgo stays on: the toolkit loads libnvidia-ml through dlopen
    GOBIN="$WORK/bin" GOFLAGS="-trimpath" GOTOOLCHAIN=local go install \
      -ldflags "-X github.com/NVIDIA/nvidia-container-toolkit/internal/info.version=${NVIDIA_CONTAINER_TOOLKIT_VERSION#v}" \
      "${pkgs[@]}" >&2
    mkdir -p "$(dirname "$BIN")"
    rm -rf "$BIN"
    mv "$WORK/bin" "$BIN"
  fi
fi
echo "$BIN"
