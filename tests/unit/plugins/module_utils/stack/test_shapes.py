"""The TypedDicts of stack/shapes.py against what validate() really returns, for every runtime.

mypy checks validate()'s own dict against StackSpec, but the model and warmup parts are built key by key
and cast: only running validate() shows whether their keys and the TypedDicts still agree.
"""

from __future__ import annotations

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import spec as stack_spec
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import shapes

SIDECAR_WARMUP = {"count": 2, "body": {"instances": [[1.0]]}}
TRITON_WARMUP = {"inputs": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}]}
TRITON_OUTPUTS = [{"name": "y", "data_type": "TYPE_FP32", "dims": [-1]}]
CASES = {
    "tensorflow_serving": ({"name": "m", "pvc": "models", "path": "m", "versions": [1, 2]}, SIDECAR_WARMUP),
    "torchserve": ({"name": "m", "pvc": "models"}, SIDECAR_WARMUP),
    "triton": ({"name": "m", "pvc": "models", "backend": "onnxruntime", "outputs": TRITON_OUTPUTS}, TRITON_WARMUP),
    "onnxruntime": ({"name": "m", "pvc": "models"}, TRITON_WARMUP),
    "kserve": ({"name": "m", "format": "sklearn", "storage_uri": "gs://bucket/m"}, SIDECAR_WARMUP),
}


def assert_fits(value, typed_dict):
    """value has every required key of typed_dict and no key it does not name."""
    keys = set(value)
    assert typed_dict.__required_keys__ <= keys, "missing: %s" % sorted(typed_dict.__required_keys__ - keys)
    assert keys <= typed_dict.__required_keys__ | typed_dict.__optional_keys__, \
        "not in %s: %s" % (typed_dict.__name__, sorted(keys - typed_dict.__required_keys__ - typed_dict.__optional_keys__))


@pytest.mark.parametrize("runtime", sorted(CASES))
@pytest.mark.parametrize("with_extras", [False, True], ids=["minimal", "gpu-and-warmup"])
def test_validate_returns_the_shape_of_stack_spec(runtime, with_extras):
    model, warmup = CASES[runtime]
    params = {"name": "demo", "runtime": runtime, "model": model}
    if with_extras:
        params.update(gpu={"count": 1}, warmup=warmup)
    spec = stack_spec.validate(params)
    assert_fits(spec, shapes.StackSpec)
    assert_fits(spec["model"], shapes.ModelSpec)
    assert_fits(spec["kserve"], shapes.KserveSpec)
    for tensor in spec["model"]["inputs"] + spec["model"]["outputs"]:
        assert_fits(tensor, shapes.TensorSpec)
    if with_extras:
        assert_fits(spec["gpu"], shapes.GpuSpec)
        assert_fits(spec["warmup"], shapes.WarmupSpec)
        for tensor in spec["warmup"].get("inputs", []):
            assert_fits(tensor, shapes.TensorSpec)
    else:
        assert spec["gpu"] is None and spec["warmup"] is None


def test_the_optional_model_keys_belong_to_their_runtimes():
    optional = {
        runtime: sorted(set(stack_spec.validate({"name": "demo", "runtime": runtime, "model": model})["model"])
                        & shapes.ModelSpec.__optional_keys__)
        for runtime, (model, _warmup) in CASES.items()
    }
    assert optional == {"tensorflow_serving": [], "torchserve": ["mar_file", "version"], "triton": [], "onnxruntime": [],
                        "kserve": ["format", "format_version"]}
