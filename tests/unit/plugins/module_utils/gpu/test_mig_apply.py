"""mig_apply.run on the fake pynvml (real A100 / H100 profiles): check mode, apply, busy GPUs, pending resets."""

from __future__ import annotations

import fake_pynvml
import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig import LayoutError, select_layout
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig_apply import run


def layout(devices, enabled=True):
    return select_layout({"version": "v1", "mig-configs": {"x": [{"devices": "all", "mig-enabled": enabled, "mig-devices": devices}]}}, "x")


def test_check_mode_plans_and_changes_nothing():
    host = fake_pynvml.FakePynvml(fake_pynvml.gpu("a100-sxm4-80gb", mig=True))
    result = run(host, layout({"1g.10gb": 7}), check_mode=True, allow_busy=False)
    assert result["changed"] and len(result["plan"][0]["create"]) == 7
    assert result["diff"]["after"]["gpu0"]["instances"] == ["1g.10gb@%d" % i for i in range(7)]
    assert host.mutations == []


def test_apply_then_second_run_changes_nothing():
    host = fake_pynvml.FakePynvml(fake_pynvml.gpu("h100-sxm5-80gb", mig=True, instances=[("7g.80gb", 0)]))
    first = run(host, layout({"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2}), check_mode=False, allow_busy=False)
    assert first["changed"] and first["reset_required"] == []
    assert host.mutations  # the 7g instance went, four came
    count = len(host.mutations)
    second = run(host, layout({"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2}), check_mode=False, allow_busy=False)
    assert second["changed"] is False and len(host.mutations) == count


def test_busy_gpu_is_refused_before_anything_changes():
    host = fake_pynvml.FakePynvml(fake_pynvml.gpu("a100-sxm4-80gb", mig=True, instances=[("7g.80gb", 0)], processes=[4242]))
    with pytest.raises(LayoutError, match="GPU 0 has running processes"):
        run(host, layout({"1g.10gb": 7}), check_mode=False, allow_busy=False)
    assert host.mutations == []
    # told to go ahead anyway, the driver itself refuses to destroy an instance in use: said plainly
    with pytest.raises(LayoutError, match=r"GPU 0: NVML refused the change \(NVML_ERROR_IN_USE\)"):
        run(host, layout({"1g.10gb": 7}), check_mode=False, allow_busy=True)


def test_mig_mode_waiting_for_a_reset_is_reported():
    host = fake_pynvml.FakePynvml(fake_pynvml.gpu("a100-sxm4-80gb", mig=False), reset_applies_immediately=False)
    result = run(host, layout({"1g.10gb": 7}), check_mode=False, allow_busy=False)
    assert result["reset_required"] == [0]
    assert not any("CreateGpuInstance" in str(m) for m in host.mutations)  # no instance before the reset
