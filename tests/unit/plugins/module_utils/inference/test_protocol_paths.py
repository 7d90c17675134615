"""The REST path grammar of inference/protocols.py: one function per path, used by the requests and the stack alike."""

from __future__ import annotations

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.inference import protocols as p


@pytest.mark.parametrize("path, expected", [
    (p.v1_model_path("resnet"), "/v1/models/resnet"),
    (p.v1_model_path("resnet", 2), "/v1/models/resnet/versions/2"),
    (p.v1_predict_path("resnet"), "/v1/models/resnet:predict"),
    (p.v1_predict_path("resnet", 2), "/v1/models/resnet/versions/2:predict"),
    (p.v2_model_ready_path("bert"), "/v2/models/bert/ready"),
    (p.v2_model_ready_path("bert", "3"), "/v2/models/bert/versions/3/ready"),
    (p.v2_infer_path("bert"), "/v2/models/bert/infer"),
    (p.v2_infer_path("bert", 3), "/v2/models/bert/versions/3/infer"),
    (p.torchserve_predict_path("densenet"), "/predictions/densenet"),
    (p.torchserve_predict_path("densenet", "2.0"), "/predictions/densenet/2.0"),
    (p.V2_HEALTH_READY, "/v2/health/ready"),
    (p.V2_HEALTH_LIVE, "/v2/health/live"),
    (p.TORCHSERVE_PING, "/ping"),
])
def test_paths(path, expected):
    assert path == expected


def test_names_the_stack_accepts_pass_unchanged_and_others_are_encoded():
    assert p.v2_infer_path("bert-base_v1.2") == "/v2/models/bert-base_v1.2/infer"
    assert p.v1_predict_path("a/b c") == "/v1/models/a%2Fb%20c:predict"


@pytest.mark.parametrize("protocol, payload, path", [
    ("tf_serving", [[1.0]], p.v1_predict_path("m", 4)),
    ("v2", [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}], p.v2_infer_path("m", 4)),
    ("torchserve", {"data": 1}, p.torchserve_predict_path("m", 4)),
])
def test_requests_use_the_path_functions(protocol, payload, path):
    assert p.build_request(protocol, model="m", version=4, payload=payload)["path"] == path


def test_health_paths_use_the_path_functions():
    assert p.health_path("tf_serving", "m", 4) == p.v1_model_path("m", 4)
    assert p.health_path("kserve_v1", "m", 4) == p.v1_model_path("m")
    assert p.health_path("triton", "m") == p.v2_model_ready_path("m")
    assert p.health_path("torchserve", "m") == p.TORCHSERVE_PING
