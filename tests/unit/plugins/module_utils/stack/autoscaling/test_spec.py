"""Validation of the autoscaling spec: every bad input of bad_inputs.yaml, the defaults that protect users,
and the module's own option checks through the role's preflight filter."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.filter.input_problem import input_problem
from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling import deploy

KEDA_BASE = {
    "name": "bert", "namespace": "serving", "runtime": "triton", "max_replicas": 4,
    "keda": {"prometheus_address": "http://prometheus.monitoring:9090",
             "signals": [{"name": "gpu_utilization", "target": 80}, {"name": "queue_time_ms", "target": 50}]},
}
HPA_BASE = {
    "name": "bert", "namespace": "serving", "runtime": "triton", "max_replicas": 4,
    "hpa": {"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
}
CASES = yaml.safe_load((Path(__file__).parent / "bad_inputs.yaml").read_text())


def merged(base, extra):
    result = copy.deepcopy(base)
    for key, value in copy.deepcopy(extra).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = dict(result[key], **value)
        else:
            result[key] = value
    return result


def options(case):
    base = HPA_BASE if case.get("base") == "hpa" else KEDA_BASE
    given = merged(base, case["params"])
    if case.get("runtime"):
        given["runtime"] = case["runtime"]
    return given


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_is_refused_with_the_field_and_the_fix(case):
    with pytest.raises(InputError) as raised:
        deploy.plan(options(case))
    for text in case["error"]:
        assert text in raised.value.msg


def test_inline_password_is_not_repeated_in_the_message():
    case = next(c for c in CASES if c["id"] == "redis-password-inline")
    with pytest.raises(InputError) as raised:
        deploy.plan(options(case))
    assert "hunter2" not in raised.value.msg


@pytest.mark.parametrize("case", [c for c in CASES if c["id"] in ("min-above-max", "redis-password-inline")], ids=lambda c: c["id"])
def test_role_preflight_refuses_the_same_input_in_the_roles_names(case):
    problem = input_problem(options(case), "inference_autoscaling", "autoscaling_")
    assert problem.startswith("autoscaling_" + case["error"][0])


def test_good_input_passes_the_role_preflight():
    assert input_problem(copy.deepcopy(KEDA_BASE), "inference_autoscaling", "autoscaling_") == ""


def test_scale_down_waits_for_the_model_to_load_by_default():
    spec = deploy.plan(dict(HPA_BASE, startup_timeout=900))[0]
    assert spec["hpa"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 900
    spec = deploy.plan(dict(KEDA_BASE, startup_timeout=900))[0]
    assert spec["keda"]["cooldown_period"] == 900
    assert spec["keda"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 900


def test_a_longer_window_than_the_api_allows_is_capped_with_a_warning():
    spec = deploy.plan(dict(HPA_BASE, startup_timeout=5000))[0]
    assert spec["hpa"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 3600
    assert any("at most 3600" in w for w in spec["warnings"])


def test_fallback_is_always_set_and_keeps_what_runs():
    spec = deploy.plan(dict(KEDA_BASE, min_replicas=2))[0]
    assert spec["keda"]["fallback"] == {"failure_threshold": 3, "replicas": 2, "behavior": "currentReplicasIfHigher"}


def test_scale_to_zero_when_allowed_warns_about_cold_starts():
    spec = deploy.plan(dict(KEDA_BASE, min_replicas=0, allow_scale_to_zero=True))[0]
    assert spec["min_replicas"] == 0
    assert any("cold start" in w for w in spec["warnings"])
    assert spec["keda"]["fallback"]["replicas"] == 1


@pytest.mark.parametrize("runtime, workload", [("triton", "bert"), ("kserve", "bert-predictor")])
def test_the_target_is_the_stacks_workload(runtime, workload):
    keda = {"prometheus_address": "http://p:9090", "signals": [{"name": "requests_per_second", "target": 100}]}
    spec = deploy.plan(dict(KEDA_BASE, runtime=runtime, keda=keda))[0]
    assert spec["target"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload}


def test_an_explicit_target_wins():
    spec = deploy.plan(dict(KEDA_BASE, target={"name": "bert-canary", "kind": "StatefulSet"}))[0]
    assert spec["target"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "bert-canary"}


def test_state_absent_needs_no_autoscaler():
    spec, objects = deploy.plan({"name": "bert", "runtime": "triton", "state": "absent"})
    assert spec["autoscaler"] is None and objects == []


def test_state_absent_still_refuses_both():
    with pytest.raises(InputError):
        deploy.plan(dict(KEDA_BASE, hpa=HPA_BASE["hpa"], state="absent"))
