"""input_problem: the module's own checks on a role's variables, with the variables' names in the message."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.inferops.kubernetes.plugins.filter.input_problem import input_problem

MODEL = {"name": "resnet", "pvc": "models", "path": "resnet"}
GOOD = {"name": "resnet", "runtime": "tensorflow_serving", "model": MODEL}


@pytest.mark.parametrize("options, message", [
    (GOOD, ""),
    (dict(GOOD, runtime=None), "missing required arguments: serving_runtime_runtime"),
    (dict(GOOD, runtime="tfserving"), "value of serving_runtime_runtime must be one of: tensorflow_serving, torchserve, triton, "
                                      "onnxruntime, kserve, got: tfserving"),
    (dict(GOOD, model={"pvc": "models"}), "missing required arguments: name found in serving_runtime_model"),
    (dict(GOOD, mode="render"), "serving_runtime_mode is render but all of the following are missing: serving_runtime_render_dir"),
    (dict(GOOD, model=dict(MODEL, storage_uri="gs://b/m")), "serving_runtime_model: both pvc and storage_uri are set. "
                                                            "Give one: pvc (with path) or storage_uri."),
    (dict(GOOD, gpu={"count": 2, "mig_profile": "1g.5gb", "product": "NVIDIA-A100-SXM4-80GB"}),
     "serving_runtime_gpu.mig_profile: a NVIDIA-A100-SXM4-80GB cannot be partitioned into 1g.5gb."),
])
def test_stack_options_are_checked_as_the_module_checks_them(options, message):
    problem = input_problem(options, "inference_stack", "serving_runtime_")
    assert problem.startswith(message) if message else problem == ""


def test_without_a_prefix_the_module_names_its_options():
    assert input_problem({"time_slicing": {"replicas": 0}}, "device_plugin").startswith("time_slicing.replicas: must be 1 or more")
    assert input_problem({"image": "nvcr.io/nvidia/k8s-device-plugin:v0.20.1"}, "device_plugin") == ""


@pytest.mark.parametrize("options, module, error", [
    ({}, "warmup", "module must be one of dcgm_exporter, device_plugin, inference_access, inference_autoscaling, inference_ingress, "
                   "inference_monitoring, inference_stack"),
    ([], "device_plugin", "expected a mapping of options"),
    ({"replicas": 2}, "device_plugin", "device_plugin has no option(s) replicas"),
])
def test_misuse_of_the_filter_is_an_error(options, module, error):
    with pytest.raises(AnsibleFilterError, match=error.replace("(", r"\(").replace(")", r"\)")):
        input_problem(options, module)
