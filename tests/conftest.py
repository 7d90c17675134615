"""Make the checkout importable as ansible_collections.inferops.kubernetes, wherever it is cloned;
with INFEROPS_REQUIRE_GPU=1, a skipped GPU test is a failure."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".tmp" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "inferops" / "kubernetes"

if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(ROOT, target_is_directory=True)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))

# tests/unit/fake_pynvml.py, the stand-in for NVML, imported by name from the unit tests
UNIT = str(ROOT / "tests" / "unit")
if UNIT not in sys.path:
    sys.path.insert(0, UNIT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
    """On a machine that must have a GPU (INFEROPS_REQUIRE_GPU=1), a `gpu` test that skips (no NVML,
    no driver, no device) fails instead: a GPU run that tested nothing must not look green."""
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and os.environ.get("INFEROPS_REQUIRE_GPU") == "1" and item.get_closest_marker("gpu")
            and not hasattr(report, "wasxfail")):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
        # a skip at setup (a skipif mark) becomes an error, a skip inside the test a failure: both fail the run
        report.outcome = "failed"
        report.longrepr = "INFEROPS_REQUIRE_GPU=1, but this GPU test was skipped: %s" % reason
