"""The inference_access spec: defaults, presets, least-privilege rules and every refusal (bad_inputs.yaml)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access import options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access.spec import PRESETS, VERBS, validate

BASE = {"name": "resnet", "runtime": "triton"}
BAD_INPUTS = yaml.safe_load((Path(__file__).parent / "bad_inputs.yaml").read_text())


def merged(base, extra):
    result = copy.deepcopy(base)
    result.update(extra)
    return result


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c["message"][:60] for c in BAD_INPUTS])
def test_bad_input_is_refused_naming_the_option(case):
    with pytest.raises(InputError) as err:
        validate(merged(BASE, case["options"]))
    assert err.value.msg.startswith(case["message"]), err.value.msg
    # "<option path>: <problem>. <fix>."
    assert re.match(r"^\S+: .+\. [A-Z].*\.$", err.value.msg, re.S), err.value.msg


def test_defaults_write_an_account_without_token_and_no_rules():
    spec = validate(BASE)
    assert spec["service_account"] == "resnet" and spec["service_account_token"] is False
    assert spec["rules"] == []
    policy = spec["network_policy"]
    assert policy["ingress_namespaces"] == ["ingress-nginx"]
    assert policy["prometheus"] == {"namespace": "monitoring", "pod_labels": {"app.kubernetes.io/name": "prometheus"}}
    assert policy["dns"] == {"namespace": "kube-system", "pod_labels": {"k8s-app": "kube-dns"}}
    assert policy["egress"] == []


def test_preset_grants_get_list_watch_on_pods_and_services():
    spec = validate(merged(BASE, {"rbac": {"presets": ["read_pods_and_services"]}}))
    assert spec["rules"] == [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list", "watch"]}]


def test_presets_are_the_choices_of_the_option():
    assert sorted(PRESETS) == sorted(options.PRESET_CHOICES)


def test_rules_are_written_as_rbac_spells_them():
    spec = validate(merged(BASE, {"rbac": {"rules": [
        {"api_groups": [""], "resources": ["configmaps"], "verbs": ["get"], "resource_names": ["routing"]},
        {"api_groups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "update"], "resource_names": None},
    ]}}))
    assert spec["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["routing"]},
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "update"]},
    ]


def test_wildcards_pass_only_when_allowed():
    rule = {"api_groups": ["*"], "resources": ["*"], "verbs": ["*"]}
    with pytest.raises(InputError, match="set allow_wildcards: true in rbac"):
        validate(merged(BASE, {"rbac": {"rules": [rule]}}))
    spec = validate(merged(BASE, {"rbac": {"rules": [rule], "allow_wildcards": True}}))
    assert spec["rules"] == [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]


@pytest.mark.parametrize("verb", VERBS)
def test_every_known_verb_is_accepted(verb):
    spec = validate(merged(BASE, {"rbac": {"rules": [{"api_groups": [""], "resources": ["pods"], "verbs": [verb]}]}}))
    assert spec["rules"][0]["verbs"] == [verb]


def test_egress_blocks_and_exclusions():
    spec = validate(merged(BASE, {"network_policy": {"egress": [
        {"cidr": "10.20.0.0/16", "exclude": ["10.20.5.0/24"], "ports": [9000, 9001]},
        {"cidr": "2001:db8::/64", "protocol": "UDP"},
    ]}}))
    assert spec["network_policy"]["egress"] == [
        {"cidr": "10.20.0.0/16", "exclude": ["10.20.5.0/24"], "ports": [9000, 9001], "protocol": "TCP"},
        {"cidr": "2001:db8::/64", "exclude": [], "ports": [443], "protocol": "UDP"},
    ]


def test_disabled_policy_and_runtime_without_metrics():
    assert validate(merged(BASE, {"network_policy": {"enabled": False}}))["network_policy"] is None
    # the stack runs TF Serving without its monitoring config: no metrics port, so no Prometheus rule
    assert validate(merged(BASE, {"runtime": "tensorflow_serving"}))["network_policy"]["prometheus"] is None
    assert validate(merged(BASE, {"network_policy": {"prometheus_namespace": ""}}))["network_policy"]["prometheus"] is None


def test_named_account_and_token():
    spec = validate(merged(BASE, {"service_account": "model-reader", "service_account_token": True}))
    assert spec["service_account"] == "model-reader" and spec["service_account_token"] is True


def test_kserve_ports_follow_the_ports_option():
    assert validate({"name": "iris", "runtime": "kserve", "ports": {"http": 9080}})["ports"] == {"http": 9080, "grpc": 8081}


def filled(argument_spec, params):
    """params as AnsibleModule hands them over: every option present, nested defaults filled in."""
    result = ArgumentSpecValidator(argument_spec).validate(copy.deepcopy(params))
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


PLAIN_INPUTS = [
    BASE,
    merged(BASE, {"rbac": {"rules": [{"api_groups": [""], "resources": ["pods"], "verbs": ["get"]}]}}),
    merged(BASE, {"network_policy": {"egress": [{"cidr": "10.0.0.0/8"}]}, "rbac": {"presets": ["read_pods_and_services"]}}),
]


@pytest.mark.parametrize("params", PLAIN_INPUTS)
def test_spec_applies_the_argument_spec_defaults(params):
    assert validate(params) == validate(filled(options.ACCESS_OPTIONS, params))


def test_default_check_finds_a_difference():
    changed = copy.deepcopy(options.ACCESS_OPTIONS)
    changed["network_policy"]["options"]["egress"]["options"]["ports"]["default"] = [9000]
    params = PLAIN_INPUTS[2]
    assert validate(params) != validate(filled(changed, params))
