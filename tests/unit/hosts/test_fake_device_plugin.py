"""The stand-in device plugin of the mig Molecule scenario (tests/hosts/fake_device_plugin.py) counts
what it advertises from the fake NVML's MIG devices by itself; here its count and the collection's
advertised_resources, which the mig role waits on, must agree on the same GPUs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig import advertised_resources

ROOT = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("fake_device_plugin", ROOT / "tests" / "hosts" / "fake_device_plugin.py")
stand_in = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(stand_in)

SEVEN_SMALL = [["1g.10gb", start] for start in range(7)]
MIXED_SIZES = [["3g.40gb", 4], ["2g.20gb", 0], ["1g.10gb", 2]]


def _as_gpu_facts(state):
    return [{"index": i, "mig_mode": {"current": bool(g.get("mig"))},
             "mig_devices": [{"profile": profile} for profile, _start in g.get("instances", [])]}
            for i, g in enumerate(state["gpus"])]


@pytest.mark.parametrize("gpus, strategy, expected", [
    ([{"fixture": "a100-sxm4-80gb"}, {"fixture": "a100-sxm4-80gb"}], "mixed", {"nvidia.com/gpu": 2}),
    ([{"fixture": "a100-sxm4-80gb", "mig": True, "instances": SEVEN_SMALL}] * 2, "mixed", {"nvidia.com/mig-1g.10gb": 14}),
    ([{"fixture": "a100-sxm4-80gb", "mig": True, "instances": MIXED_SIZES}, {"fixture": "a100-sxm4-80gb"}], "mixed",
     {"nvidia.com/mig-3g.40gb": 1, "nvidia.com/mig-2g.20gb": 1, "nvidia.com/mig-1g.10gb": 1, "nvidia.com/gpu": 1}),
    ([{"fixture": "a100-sxm4-80gb", "mig": True, "instances": SEVEN_SMALL}] * 2, "single", {"nvidia.com/gpu": 14}),
    ([{"fixture": "a100-sxm4-80gb", "mig": True, "instances": SEVEN_SMALL}], "none", {"nvidia.com/gpu": 1}),
    ([{"fixture": "a100-sxm4-80gb", "mig": True, "instances": []}], "mixed", {}),
], ids=["mig-off", "all-1g.10gb", "mixed-sizes", "single", "none-ignores-mig", "mig-on-no-devices"])
def test_stand_in_and_advertised_resources_agree(tmp_path, gpus, strategy, expected):
    state = {"reset_applies_immediately": True, "gpus": gpus}
    path = tmp_path / "fake-nvml.json"
    path.write_text(json.dumps(state), encoding="utf-8")
    assert stand_in.resources_from_state(path, strategy) == expected
    assert {k: v for k, v in advertised_resources(_as_gpu_facts(state), strategy).items() if v} == expected
