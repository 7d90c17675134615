"""MIG planning against the profiles a real H200 reported through NVML (tests/fixtures/nvml)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig import LayoutError, plan, select_layout

FACTS = json.loads((Path(__file__).resolve().parents[4] / "fixtures" / "nvml" / "h200-gpu-facts.json").read_text())


def layout(devices, enabled=True, **extra):
    return select_layout({"version": "v1", "mig-configs": {"x": [dict({"devices": "all", "mig-enabled": enabled, "mig-devices": devices}, **extra)]}}, "x")


def gpus_after(step, gpu):
    """The GPU as it would read after the step was applied (MIG on, instances as planned)."""
    done = copy.deepcopy(gpu)
    done["mig_mode"] = {"current": True, "pending": True}
    done["mig_devices"] = [
        {"gpu_instance_id": n + 1, "profile": i["profile"], "placement": i["placement"], "uuids": ["MIG-%d" % n]}
        for n, i in enumerate(step["keep"] + step["create"])
    ]
    return [done]


def test_real_profiles_are_used_not_a_table():
    names = sorted(p["name"] for p in FACTS["gpus"][0]["mig_profiles"])
    assert names == ["1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"]


def test_h200_balanced_layout_fits_and_converges():
    wanted = layout({"3g.71gb": 1, "2g.35gb": 1, "1g.18gb": 2})
    (step,) = plan(wanted, FACTS["gpus"])
    assert step["changed"] and step["mig_mode"] == {"current": False, "desired": True}
    assert sorted(i["profile"] for i in step["create"]) == ["1g.18gb", "1g.18gb", "2g.35gb", "3g.71gb"]
    spots = sorted((i["placement"]["start"], i["placement"]["start"] + i["placement"]["size"]) for i in step["create"])
    assert all(a[1] <= b[0] for a, b in zip(spots, spots[1:])), spots  # no two instances overlap
    (again,) = plan(wanted, gpus_after(step, FACTS["gpus"][0]))
    assert again["changed"] is False and again["create"] == [] and again["destroy"] == []


def test_h200_changing_one_instance_keeps_the_rest():
    (step,) = plan(layout({"1g.18gb": 7}), FACTS["gpus"])
    state = gpus_after(step, FACTS["gpus"][0])
    (edit,) = plan(layout({"1g.18gb": 5, "1g.35gb": 1}), state)
    assert len(edit["keep"]) == 5 and [i["profile"] for i in edit["create"]] == ["1g.35gb"]
    assert len(edit["destroy"]) == 2


@pytest.mark.parametrize("devices, message", [
    ({"7g.141gb": 2}, "7g.141gb at most 1 per GPU"),
    ({"1g.10gb": 1}, "has no MIG profile 1g.10gb; it supports: 1g.18gb, 1g.18gb+me, 1g.35gb, 2g.35gb"),
    ({"4g.71gb": 1, "3g.71gb": 1, "1g.18gb": 1}, "do not fit together"),
    ({"3g.71gb": 2, "1g.18gb": 1}, "do not fit together"),
])
def test_h200_impossible_layouts(devices, message):
    with pytest.raises(LayoutError, match=message.replace("+", r"\+")):
        plan(layout(devices), FACTS["gpus"])
