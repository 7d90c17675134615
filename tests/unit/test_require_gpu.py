"""INFEROPS_REQUIRE_GPU=1 turns skipped GPU tests into failures (the hook in tests/conftest.py).

Runs pytest on tests/gpu in a subprocess, as a GPU-less CI machine would, once without and once
with the variable. On a machine where NVML works the GPU tests run for real, so there is no skip
to turn into a failure and this check has nothing to show.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _nvml_usable():
    try:
        import pynvml  # pylint: disable=import-outside-toplevel
        pynvml.nvmlInit()
    except Exception:  # pylint: disable=broad-except  # no package, no driver, no device: all the same here
        return False
    pynvml.nvmlShutdown()
    return True


def _run_gpu_tests(require):
    env = {k: v for k, v in os.environ.items() if k != "INFEROPS_REQUIRE_GPU"}
    if require:
        env["INFEROPS_REQUIRE_GPU"] = "1"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfEs", "tests/gpu"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    summary = proc.stdout.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    return proc, counts


@pytest.mark.skipif(_nvml_usable(), reason="NVML works here: the GPU tests run for real (tests/gpu/device_check.sh)")
def test_skipped_gpu_tests_fail_when_a_gpu_is_required():
    plain, plain_counts = _run_gpu_tests(require=False)
    assert plain.returncode == 0, plain.stdout[-3000:]
    assert plain_counts.get("skipped", 0) > 0 and not plain_counts.get("failed"), plain.stdout[-3000:]

    required, counts = _run_gpu_tests(require=True)
    assert required.returncode != 0, required.stdout[-3000:]
    assert not counts.get("skipped"), "INFEROPS_REQUIRE_GPU=1 still skipped: %s" % required.stdout[-3000:]
    assert counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0) == plain_counts["skipped"]
    assert "INFEROPS_REQUIRE_GPU=1, but this GPU test was skipped: no usable NVIDIA GPU" in required.stdout
