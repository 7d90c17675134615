"""Validation of inference_ingress options: every bad input of bad_inputs.yaml, and what good input becomes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import spec as ingress_spec

BASE = {"name": "resnet", "namespace": "models", "runtime": "triton", "hosts": ["resnet.example.com"], "ingress": {"class_name": "nginx"}}
CASES = yaml.safe_load((Path(__file__).parent / "bad_inputs.yaml").read_text())


def params(**extra):
    result = copy.deepcopy(BASE)
    result.update(copy.deepcopy(extra))
    return result


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_names_the_option_and_the_fix(case):
    with pytest.raises(InputError) as raised:
        ingress_spec.validate(params(**case["params"]))
    message = raised.value.msg
    assert message.startswith(case["error"][0]), message
    for part in case["error"][1:]:
        assert part in message, message


@pytest.mark.parametrize("runtime, paths, services, service, ports", [
    ("tensorflow_serving", ["/v1/models"], ["tensorflow.serving.PredictionService", "tensorflow.serving.ModelService"], "resnet",
     {"http": 8501, "grpc": 8500}),
    ("torchserve", ["/predictions"], ["org.pytorch.serve.grpc.inference.InferenceAPIsService"], "resnet", {"http": 8080, "grpc": 7070}),
    ("triton", ["/v2/models"], ["inference.GRPCInferenceService"], "resnet", {"http": 8000, "grpc": 8001}),
    ("onnxruntime", ["/v2/models"], ["inference.GRPCInferenceService"], "resnet", {"http": 8000, "grpc": 8001}),
    ("kserve", ["/v1/models", "/v2/models"], [], "resnet-predictor", {"http": 80}),
])
def test_each_runtime_routes_its_own_paths_to_its_service(runtime, paths, services, service, ports):
    spec = ingress_spec.validate(params(runtime=runtime))
    assert spec["backend"] == {"service": service, "ports": ports, "paths": paths, "grpc_services": services}
    assert spec["protocols"] == (["http", "grpc"] if services else ["http"])


def test_defaults():
    spec = ingress_spec.validate(params())
    assert spec["ingress"]["nginx"] is True
    assert spec["ingress"]["proxy_body_size"] == "64m" and spec["ingress"]["timeout_s"] == 300
    assert spec["tls"]["mode"] == "none" and spec["tls"]["secret_name"] == "resnet-tls"
    assert spec["openshift_route"] == "auto" and spec["gateway"] is None


def test_another_class_gets_no_nginx_annotations_unless_asked():
    assert ingress_spec.validate(params(ingress={"class_name": "traefik"}))["ingress"]["nginx"] is False
    assert ingress_spec.validate(params(ingress={"class_name": "nginx-internal", "nginx": True}))["ingress"]["nginx"] is True


def test_gateway_namespace_defaults_to_the_services():
    spec = ingress_spec.validate(params(gateway={"name": "gw"}))
    assert spec["gateway"] == {"name": "gw", "namespace": "models", "section_name": None}


def test_renumbered_ports_and_wildcard_hosts():
    spec = ingress_spec.validate(params(ports={"http": 9000, "grpc": None}, hosts=["*.models.example.com", "a.example.com"]))
    assert spec["backend"]["ports"] == {"http": 9000, "grpc": 8001}
    assert spec["hosts"] == ["*.models.example.com", "a.example.com"]


def test_cert_manager_issuer_defaults():
    spec = ingress_spec.validate(params(tls={"mode": "cert_manager", "issuer": {"name": "le"}}))
    assert spec["tls"]["issuer"] == {"name": "le", "kind": "Issuer", "group": "cert-manager.io"}


@pytest.mark.parametrize("extra", [
    {},
    {"tls": {"mode": "self_signed"}, "gateway": {"name": "gw"}},
    {"tls": {"mode": "cert_manager", "issuer": {"name": "le"}}, "ingress": {"class_name": "traefik", "annotations": {"a/b": "c"}}},
])
def test_a_plain_dict_and_the_same_dict_filled_in_by_the_argument_spec_give_the_same_spec(extra):
    """The module hands over every option, nested defaults filled in; the role's preflight hands over what is set."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import options
    given = params(**extra)
    filled = ArgumentSpecValidator(options.ARGUMENT_SPEC).validate(copy.deepcopy(given))
    assert not filled.error_messages
    assert ingress_spec.validate(given) == ingress_spec.validate(filled.validated_parameters)
