"""The device plugin's vocabulary: resource names, MIG profile names, and the table for when no device is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu import resources
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import classify


@pytest.mark.parametrize(
    "name, expected",
    [
        ("nvidia.com/gpu", ("gpu", None)),
        ("nvidia.com/gpu.shared", ("shared", None)),
        ("nvidia.com/mig-1g.10gb", ("mig", "1g.10gb")),
        ("nvidia.com/mig-1g.10gb+me", ("mig", "1g.10gb+me")),
        ("nvidia.com/mig-3g.40gb.shared", ("shared", "3g.40gb")),
        ("nvidia.com/mig-1c.3g.20gb", ("mig", "1c.3g.20gb")),
        ("cpu", None),
        ("amd.com/gpu", None),
        ("nvidia.com/gpux", None),
        ("nvidia.com/mig-half", None),
        ("nvidia.com/mig-1g.10gb.extra", None),
    ],
)
def test_classify(name, expected):
    assert classify(name) == expected


@pytest.mark.parametrize("profile, gpu_instance", [
    ("1g.10gb", True), ("1g.10gb+me", True), ("1g.12gb-me", True), ("1g.10gb+me.all", True), ("7g.141gb", True),
    ("1c.3g.40gb", False), ("half", False), ("1g", False),
])
def test_profile_names(profile, gpu_instance):
    assert bool(resources.GPU_INSTANCE_PROFILE.match(profile)) is gpu_instance
    assert bool(resources.PROFILE_NAME.match(profile)) is (gpu_instance or profile.startswith("1c."))


def test_the_table_for_no_device_holds_each_profile_once_per_model():
    for model, profiles in resources.KNOWN_PROFILES_WITHOUT_A_DEVICE.items():
        assert len(set(profiles)) == len(profiles), model
        assert all(resources.GPU_INSTANCE_PROFILE.match(p) for p in profiles), model


def test_mig_resource_names_classify_back():
    assert classify(resources.mig_resource("3g.40gb")) == ("mig", "3g.40gb")


@pytest.mark.parametrize("product, family", [
    ("NVIDIA-A100-SXM4-80GB", "A100-80GB"), ("NVIDIA-A100-PCIE-40GB", "A100-40GB"), ("NVIDIA-H100-80GB-HBM3", "H100-80GB"),
    ("NVIDIA-H100-NVL", "H100-94GB"), ("NVIDIA-H200", "H200"), ("NVIDIA-A30", "A30"), ("Tesla-T4", None), ("NVIDIA-L4", None),
])
def test_mig_family_of_product_labels(product, family):
    assert resources.mig_family(product) == family


FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "nvml"


@pytest.mark.parametrize("fixture, family", [
    ("a100-sxm4-40gb.yaml", "A100-40GB"), ("a100-sxm4-80gb.yaml", "A100-80GB"), ("h100-sxm5-80gb.yaml", "H100-80GB"),
])
def test_the_table_matches_what_nvml_reports_for_the_models_we_have_data_of(fixture, family):
    # the NVML data of tests/fixtures/nvml (real devices' profile lists) is the reference the table answers to
    data = yaml.safe_load((FIXTURES / fixture).read_text(encoding="utf-8"))
    nvml = sorted(p["name"].replace("MIG ", "") for p in data["gpu_instance_profiles"])
    assert sorted(resources.KNOWN_PROFILES_WITHOUT_A_DEVICE[family]) == nvml


def test_the_table_matches_the_profiles_a_real_h200_reported():
    facts = json.loads((FIXTURES / "h200-gpu-facts.json").read_text(encoding="utf-8"))
    reported = sorted(p["name"] for p in facts["gpus"][0]["mig_profiles"])
    assert sorted(resources.KNOWN_PROFILES_WITHOUT_A_DEVICE["H200"]) == reported
