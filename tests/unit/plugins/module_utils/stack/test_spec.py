"""Validation of the inference stack spec: every bad input of bad_inputs.yaml, and what good input becomes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import deploy, spec as stack_spec

BASES = {
    "tensorflow_serving": {"model": {"name": "m", "pvc": "models", "path": "m"}},
    "torchserve": {"model": {"name": "m", "pvc": "models"}},
    "triton": {"model": {"name": "m", "pvc": "models", "backend": "onnxruntime"}},
    "onnxruntime": {"model": {"name": "m", "pvc": "models"}},
    "kserve": {"model": {"name": "m", "format": "sklearn", "storage_uri": "gs://bucket/m"}},
}
CASES = yaml.safe_load((Path(__file__).parent / "bad_inputs.yaml").read_text())


def params(base, **extra):
    """The base spec of runtime `base`, with extra options on top (which may change the runtime itself)."""
    result = dict(copy.deepcopy(BASES[base]), name="demo", runtime=base)
    result.update(copy.deepcopy(extra))
    return result


@pytest.mark.parametrize("runtime", sorted(BASES))
def test_every_base_spec_is_valid(runtime):
    spec, objects = deploy.plan(params(runtime))
    assert spec["runtime"] == runtime and objects


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_is_refused_with_field_and_fix(case):
    with pytest.raises(InputError) as error:
        deploy.plan(params(case["runtime"], **case["params"]))
    message = error.value.msg
    assert message.startswith(case["error"][0]), message
    for text in case["error"]:
        assert text in message, message


def test_gpu_count_becomes_equal_requests_and_limits_with_taint_toleration():
    spec = stack_spec.validate(params("triton", gpu={"count": 2, "product": "NVIDIA-H100-80GB-HBM3"}))
    assert spec["resources"]["limits"]["nvidia.com/gpu"] == spec["resources"]["requests"]["nvidia.com/gpu"] == 2
    assert spec["node_selector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}


def test_whole_float_gpu_count_is_accepted_as_int():
    spec = stack_spec.validate(params("triton", gpu={"count": 1.0}))
    assert spec["resources"]["limits"] == {"nvidia.com/gpu": 1}


def test_gpu_limit_only_in_resources_fills_the_request():
    spec = stack_spec.validate(params("triton", resources={"limits": {"nvidia.com/gpu": "1"}}))
    assert spec["resources"]["requests"]["nvidia.com/gpu"] == spec["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_mig_profile_mixed_strategy_requests_the_mig_resource():
    spec = stack_spec.validate(params("triton", gpu={"mig_profile": "1g.10gb", "product": "NVIDIA-A100-SXM4-80GB"}))
    assert spec["resources"]["limits"] == {"nvidia.com/mig-1g.10gb": 1}
    assert spec["gpu"]["mig_profile"] == "1g.10gb"


def test_mig_profile_single_strategy_selects_by_product_label():
    spec = stack_spec.validate(params("triton", gpu={"mig_profile": "1g.10gb", "mig_strategy": "single",
                                                     "product": "NVIDIA-A100-SXM4-80GB"}))
    assert spec["resources"]["limits"] == {"nvidia.com/gpu": 1}
    assert spec["node_selector"]["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb"


def test_time_sliced_resource():
    spec = stack_spec.validate(params("torchserve", gpu={"resource": "nvidia.com/gpu.shared"}))
    assert spec["resources"]["limits"] == {"nvidia.com/gpu.shared": 1}


def test_requests_equal_to_limits_and_below_are_accepted():
    spec = stack_spec.validate(params("triton", resources={"requests": {"cpu": "500m", "memory": "1Gi"},
                                                           "limits": {"cpu": 1, "memory": "1024Mi"}}))
    assert spec["resources"]["limits"]["cpu"] == "1"


def test_default_image_is_pinned_and_gpu_variant_follows_gpus():
    cpu = stack_spec.validate(params("tensorflow_serving"))["image"]
    gpu = stack_spec.validate(params("tensorflow_serving", gpu={"count": 1}))["image"]
    assert cpu.endswith(":2.18.0") and gpu.endswith(":2.18.0-gpu")
    for runtime in BASES:
        image = stack_spec.validate(params(runtime))["image"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image


def test_user_image_with_digest_is_accepted():
    image = "registry.example/tfs@sha256:" + "a" * 64
    assert stack_spec.validate(params("tensorflow_serving", image=image))["image"] == image


def test_tf_serving_version_policy_defaults():
    model = stack_spec.validate(params("tensorflow_serving"))["model"]
    assert (model["version_policy"], model["latest_versions"]) == ("latest", 1)
    model = stack_spec.validate(params("tensorflow_serving", model={"name": "m", "pvc": "p", "versions": [1, 2]}))["model"]
    assert (model["version_policy"], model["versions"]) == ("specific", [1, 2])


def test_kserve_pvc_becomes_pvc_uri_and_modes_default():
    spec = stack_spec.validate(params("kserve", model={"name": "m", "format": "sklearn", "pvc": "models", "path": "iris"}))
    assert spec["kserve"] == {"deployment_mode": "Standard", "protocol": "v1", "runtime": None, "canary_traffic_percent": None,
                              "max_replicas": 1, "scale_metric": None, "scale_target": None}
    assert spec["image"].endswith("sklearnserver:v0.17.0")


def test_kserve_existing_runtime_needs_no_image():
    spec = stack_spec.validate(params("kserve", model={"name": "m", "format": "onnx", "storage_uri": "s3://b/m"},
                                      kserve={"runtime": "kserve-tritonserver"}))
    assert spec["image"] is None


def test_mig_profile_nobody_advertises_is_a_warning_not_an_error():
    spec = stack_spec.validate(params("triton", gpu={"mig_profile": "3g.40gb"}))
    nodes = [{"metadata": {"labels": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}},
              "status": {"allocatable": {"nvidia.com/mig-1g.10gb": "16", "nvidia.com/mig-3g.40gb": "0"}}}]
    warnings = stack_spec.cluster_warnings(spec, nodes)
    assert len(warnings) == 1 and "MIG profile 3g.40gb" in warnings[0] and "Pending" in warnings[0]
    nodes[0]["status"]["allocatable"]["nvidia.com/mig-3g.40gb"] = "4"
    assert stack_spec.cluster_warnings(spec, nodes) == []


def test_unknown_product_is_a_warning():
    spec = stack_spec.validate(params("triton", gpu={"product": "NVIDIA-B200"}))
    nodes = [{"metadata": {"labels": {"nvidia.com/gpu.product": "Tesla-T4"}}, "status": {"allocatable": {"nvidia.com/gpu": "4"}}}]
    assert [w.split(":")[0] for w in stack_spec.cluster_warnings(spec, nodes)] == ["gpu.product"]


@pytest.mark.parametrize("text, value", [("500m", "0.5"), ("2", "2"), ("1Gi", "1073741824"), ("1e3", "1000"), ("1.5k", "1500")])
def test_quantities(text, value):
    assert stack_spec.parse_quantity("x", text) == stack_spec.Decimal(value)
