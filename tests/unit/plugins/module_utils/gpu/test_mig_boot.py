"""The boot-time re-apply and the resources a layout gives a node, on the fake NVML (real A100 80GB data)."""

from __future__ import annotations

import io
import json

import pytest

from fake_pynvml import FakePynvml, gpu

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig import LayoutError, advertised_resources
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig_boot import main
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.nvml import read_facts

LAYOUTS = """
version: v1
mig-configs:
  all-1g.10gb:
    - devices: all
      mig-enabled: true
      mig-devices:
        "1g.10gb": 7
  mixed:
    - devices: [0]
      mig-enabled: true
      mig-devices:
        "3g.40gb": 2
    - devices: [1]
      mig-enabled: false
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(LAYOUTS, encoding="utf-8")
    return str(path)


def _boot(config, fake, layout="all-1g.10gb"):
    out = io.StringIO()
    code = main(["--config", config, "--layout", layout], pynvml=fake, out=out)
    return code, json.loads(out.getvalue())


def test_after_a_reboot_the_instances_come_back(config):
    # a reboot keeps MIG mode and loses the instances
    fake = FakePynvml(gpu("a100-sxm4-80gb", mig=True), gpu("a100-sxm4-80gb", mig=True))
    code, result = _boot(config, fake)
    assert code == 0 and result["changed"]
    facts = read_facts(fake)
    assert [sorted(d["profile"] for d in g["mig_devices"]) for g in facts["gpus"]] == [["1g.10gb"] * 7] * 2
    assert advertised_resources(facts["gpus"], "mixed") == {"nvidia.com/mig-1g.10gb": 14}
    assert advertised_resources(facts["gpus"], "single") == {"nvidia.com/gpu": 14}
    # the next boot of the same layout finds nothing to do
    code, result = _boot(config, fake)
    assert code == 0 and not result["changed"]


def test_mig_mode_waiting_for_a_reset_exits_2(config):
    fake = FakePynvml(gpu("a100-sxm4-80gb"), gpu("a100-sxm4-80gb"))
    code, result = _boot(config, fake)
    assert code == 2 and result["reset_required"] == [0, 1]


def test_a_bad_layout_or_a_missing_file_exits_1(config, tmp_path):
    fake = FakePynvml(gpu("a100-sxm4-80gb", mig=True))
    code, result = _boot(config, fake, layout="no-such-layout")
    assert code == 1 and "no-such-layout" in result["msg"]
    code, result = _boot(str(tmp_path / "missing.yaml"), fake)
    assert code == 1 and "cannot be read" in result["msg"]
    assert fake.mutations == []


def test_a_driver_that_is_not_loaded_exits_1(config):
    code, result = _boot(config, FakePynvml("a100-sxm4-80gb", driver_loaded=False))
    assert code == 1 and result["failed"]


def test_resources_per_strategy():
    fake = FakePynvml(gpu("a100-sxm4-80gb", mig=True, instances=[("3g.40gb", 0), ("3g.40gb", 4)]), gpu("a100-sxm4-80gb"))
    gpus = read_facts(fake)["gpus"]
    assert advertised_resources(gpus, "mixed") == {"nvidia.com/mig-3g.40gb": 2, "nvidia.com/gpu": 1}
    assert advertised_resources(gpus, "none") == {"nvidia.com/gpu": 2}
    with pytest.raises(LayoutError, match="GPU 1 has MIG disabled"):
        advertised_resources(gpus, "single")
    mixed_profiles = FakePynvml(gpu("a100-sxm4-80gb", mig=True, instances=[("3g.40gb", 0), ("1g.10gb", 4)]))
    with pytest.raises(LayoutError, match="1g.10gb, 3g.40gb"):
        advertised_resources(read_facts(mixed_profiles)["gpus"], "single")
    with pytest.raises(LayoutError, match="mig_strategy"):
        advertised_resources(gpus, "MIXED")
