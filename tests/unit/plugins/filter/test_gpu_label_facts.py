"""The gpu_label_facts filter, as a playbook's template calls it."""

from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.inferops.kubernetes.plugins.filter.gpu_label_facts import FilterModule

FACTS = json.loads((Path(__file__).resolve().parents[3] / "fixtures/nvml/h200-gpu-facts.json").read_text())


def test_filter_keeps_what_the_labels_need():
    trimmed = FilterModule().filters()["gpu_label_facts"](FACTS)
    assert trimmed == {"gpu_present": True, "driver_version": FACTS["driver_version"], "cuda_driver_version": FACTS["cuda_driver_version"],
                       "gpus": [{"name": "NVIDIA H200", "memory_total_mib": 143771, "mig_capable": True, "mig_devices": [], "mig_profiles": []}]}
