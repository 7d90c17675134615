#!/usr/bin/env bash
# Run on a machine with an NVIDIA GPU: the marked GPU tests against the real NVML, read-only,
# with nvidia-smi's own view beside them for comparison. Needs the test dependencies in
# .tmp/gpu-deps (make gpu-deps) when the machine has no package index.
# Results go to $OUT (default .tmp/gpu-results).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-.tmp/gpu-results}
mkdir -p "$OUT" .tmp/collections/ansible_collections/inferops
ln -sfn "$PWD" .tmp/collections/ansible_collections/inferops/kubernetes
PY=${PYTHON:-python3}
{
  "$PY" --version
  nvidia-smi -L
  nvidia-smi --query-gpu=index,name,pci.device_id,memory.total,mig.mode.current,mig.mode.pending,driver_version --format=csv
  # read-only listings of the GPU instance profiles and their placements
  nvidia-smi mig -lgip
  nvidia-smi mig -lgipp
} >"$OUT/nvidia-smi.txt" 2>&1
cat "$OUT/nvidia-smi.txt"
export PYTHONPATH="$PWD/.tmp/gpu-deps${PYTHONPATH:+:$PYTHONPATH}"
# This script is for machines that have a GPU: a GPU test that skips is a failure here.
INFEROPS_REQUIRE_GPU=${INFEROPS_REQUIRE_GPU:-1} INFEROPS_GPU_RESULTS="$OUT" "$PY" -m pytest -p no:cacheprovider -v -rs tests/gpu 2>&1 | tee "$OUT/pytest.txt"
exit "${PIPESTATUS[0]}"
