"""gpu_facts and mig_config (check mode only) against the real NVML of a machine with an NVIDIA GPU.

Read-only: nothing here changes MIG mode or any other GPU setting. Skipped where NVML
cannot be initialised (no driver, no GPU), which is every CI machine; failed instead when
INFEROPS_REQUIRE_GPU=1 (tests/conftest.py), as on a machine that is meant to have a GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import pynvml
except ImportError as _exc:  # skipped below, as a gpu test, so that INFEROPS_REQUIRE_GPU=1 turns it into a failure
    pynvml = None
    _MISSING = "nvidia-ml-py is not installed (%s)" % _exc
else:
    _MISSING = None

ROOT = Path(__file__).resolve().parents[2]
MODULES = "ansible_collections.inferops.kubernetes.plugins.modules"


def _nvml_works():
    if _MISSING:
        return _MISSING
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return str(exc)
    pynvml.nvmlShutdown()
    return None


_REASON = _nvml_works()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(_REASON is not None, reason="no usable NVIDIA GPU: %s" % _REASON)]


def module(name, args, check_mode=False):
    payload = dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / ".tmp" / "collections"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "%s.%s" % (MODULES, name), json.dumps({"ANSIBLE_MODULE_ARGS": payload})],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    result = json.loads(proc.stdout)
    result["rc"] = proc.returncode
    out = os.environ.get("INFEROPS_GPU_RESULTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        with open(Path(out) / ("%s.jsonl" % name), "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"args": args, "check_mode": check_mode, "result": result}) + "\n")
    return result


def mig_state(facts):
    return [(g["mig_mode"], g["mig_devices"]) for g in facts["gpus"]]


@pytest.fixture(scope="module")
def facts():
    result = module("gpu_facts", {})
    assert result["rc"] == 0 and result["gpu_present"] is True, result
    return result


def test_gpu_facts_reads_the_device(facts):
    gpu = facts["gpus"][0]
    assert facts["driver_version"] and facts["cuda_driver_version"]
    assert gpu["uuid"].startswith("GPU-") and gpu["memory_total_mib"] > 1024
    assert gpu["pci_device_id"].endswith("10DE")
    if gpu["mig_capable"]:
        names = [p["name"] for p in gpu["mig_profiles"]]
        assert names, "a MIG-capable GPU reports its profiles through NVML"
        assert all(p["placements"] for p in gpu["mig_profiles"])
        full = max(gpu["mig_profiles"], key=lambda p: p["slices"])
        assert full["max_count"] == 1


def _smallest(gpu):
    return min(gpu["mig_profiles"], key=lambda p: (p["slices"], p["memory_mib"], p["name"]))


def test_mig_config_check_mode_plans_without_touching(facts):
    gpu = facts["gpus"][0]
    if not gpu["mig_capable"]:
        pytest.skip("GPU 0 (%s) does not support MIG" % gpu["name"])
    small = _smallest(gpu)
    layout = {"version": "v1", "mig-configs": {"all-small": [
        {"devices": [0], "mig-enabled": True, "mig-devices": {small["name"]: small["max_count"]}}]}}
    result = module("mig_config", {"layout": "all-small", "config": layout}, check_mode=True)
    assert result["rc"] == 0, result
    step = result["plan"][0]
    assert len(step["create"]) + len(step["keep"]) == small["max_count"]
    assert result["reset_required"] == []
    assert mig_state(module("gpu_facts", {})) == mig_state(facts)


def test_mig_config_rejects_impossible_layouts_on_the_real_device(facts):
    gpu = facts["gpus"][0]
    if not gpu["mig_capable"]:
        pytest.skip("GPU 0 (%s) does not support MIG" % gpu["name"])
    full = max(gpu["mig_profiles"], key=lambda p: p["slices"])
    cases = {
        "twice-full": ({full["name"]: 2}, "at most 1 per GPU"),
        "unknown": ({"9g.999gb": 1}, "has no MIG profile 9g.999gb; it supports: "),
    }
    for name, (devices, message) in cases.items():
        layout = {"version": "v1", "mig-configs": {name: [{"devices": [0], "mig-enabled": True, "mig-devices": devices}]}}
        result = module("mig_config", {"layout": name, "config": layout}, check_mode=True)
        assert result["rc"] == 1 and message in result["msg"], result
    out_of_range = {"version": "v1", "mig-configs": {"x": [{"devices": [len(facts["gpus"]) + 7], "mig-enabled": False}]}}
    result = module("mig_config", {"layout": "x", "config": out_of_range}, check_mode=True)
    assert result["rc"] == 1 and "out of range" in result["msg"]
    assert mig_state(module("gpu_facts", {})) == mig_state(facts)


def test_the_profile_table_for_no_device_matches_this_device(facts):
    # gpu/resources.KNOWN_PROFILES_WITHOUT_A_DEVICE stands in for NVML where no device is at hand (checking a
    # model service's gpu.mig_profile on the controller); on a real device the two must agree
    sys.path.insert(0, str(ROOT / ".tmp" / "collections"))
    from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu import resources  # pylint: disable=import-outside-toplevel
    from ansible_collections.inferops.kubernetes.plugins.module_utils.nodes.labels import labels_from_facts  # pylint: disable=import-outside-toplevel

    gpu = facts["gpus"][0]
    if not gpu["mig_capable"]:
        pytest.skip("GPU 0 (%s) does not support MIG" % gpu["name"])
    product = labels_from_facts(facts, "none", "facts")["nvidia.com/gpu.product"]
    family = resources.mig_family(product)
    assert family, "no table entry for %s (product label %s): add its profiles" % (gpu["name"], product)
    assert sorted(resources.KNOWN_PROFILES_WITHOUT_A_DEVICE[family]) == sorted(p["name"] for p in gpu["mig_profiles"])
    assert all(resources.classify(resources.mig_resource(p["name"])) == ("mig", p["name"]) for p in gpu["mig_profiles"])
