"""The TypedDicts of device_plugin/shapes.py against what validate() really returns."""

from __future__ import annotations

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin import manifests as dp
from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin import shapes


@pytest.mark.parametrize("options", [{}, {"time_slicing": {"replicas": 4}, "mig_strategy": "mixed"}], ids=["defaults", "time-sliced"])
def test_validate_returns_the_shape_of_device_plugin_spec(options):
    spec = dp.validate(options)
    assert set(spec) == shapes.DevicePluginSpec.__required_keys__
    if spec["time_slicing"] is not None:
        assert set(spec["time_slicing"]) == shapes.TimeSlicing.__required_keys__
    else:
        assert not options
