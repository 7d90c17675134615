"""Validation of the monitoring spec: every bad input of bad_inputs.yaml, the defaults users rely on, and the
module's own checks through the role's preflight filter."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.filter.input_problem import input_problem
from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.monitoring import deploy

BASE = {"name": "bert", "namespace": "serving", "runtime": "triton", "prometheus_labels": {"release": "kube-prometheus-stack"}}
CASES = yaml.safe_load((Path(__file__).parent / "bad_inputs.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_is_refused_with_the_field_and_the_fix(case):
    with pytest.raises(InputError) as raised:
        deploy.plan(dict(copy.deepcopy(BASE), **case["params"]))
    for text in case["error"]:
        assert text in raised.value.msg


def test_removal_needs_no_selector_labels():
    spec, objects = deploy.plan(dict(BASE, prometheus_labels={}, state="absent"))
    assert objects == [] and spec["name"] == "bert"


def test_tf_serving_with_its_metrics_endpoint_given_is_monitored_on_the_service():
    spec, objects = deploy.plan(dict(BASE, runtime="tensorflow_serving", metrics_port="http", metrics_path="/monitoring/prometheus/metrics"))
    assert spec["endpoint"] == {"kind": "ServiceMonitor", "port": "http", "path": "/monitoring/prometheus/metrics"}
    # it has no request counter known to the collection: only the GPU rules and alerts
    assert [o["kind"] for o in objects] == ["ServiceMonitor", "PrometheusRule"]
    assert all(r.get("record", "").startswith("inferops:gpu") for r in spec["recording_rules"])


def test_scrape_timeout_equal_to_the_interval_is_accepted():
    spec = deploy.plan(dict(BASE, scrape_interval="1m", scrape_timeout="60s"))[0]
    assert spec["scrape_timeout"] == "60s"


def test_no_rules_and_no_extra_rules_write_no_prometheus_rule():
    objects = deploy.plan(dict(BASE, rules=False))[1]
    assert [o["kind"] for o in objects] == ["ServiceMonitor"]
    objects = deploy.plan(dict(BASE, rules=False, extra_rules=[{"record": "serving:up:sum", "expr": "sum(up)"}]))[1]
    assert [g["name"] for g in objects[1]["spec"]["groups"]] == ["inferops.serving.bert.extra"]


def test_without_gpus_no_rule_reads_dcgm_series():
    spec = deploy.plan(dict(BASE, gpu=False))[0]
    assert not any("DCGM" in r["expr"] or "nvidia_com_gpu" in r["expr"] for r in spec["recording_rules"] + spec["alerting_rules"])


def test_the_roles_preflight_names_the_roles_variable():
    problem = input_problem(dict(BASE, prometheus_labels={}), "inference_monitoring", prefix="serving_runtime_monitoring_")
    assert problem.startswith("serving_runtime_monitoring_prometheus_labels: empty")
    assert input_problem(BASE, "inference_monitoring") == ""


def test_a_runtime_without_a_known_metrics_endpoint_needs_one_given(monkeypatch):
    class Quiet(runtimes.get("triton").__class__):
        name = "quiet"
        metrics = None
        metrics_fix = None
    monkeypatch.setitem(runtimes.RUNTIMES, "quiet", Quiet())
    with pytest.raises(InputError, match=r"^metrics_port: quiet has no known metrics endpoint and none was given\. Give metrics_port"):
        deploy.plan(dict(BASE, runtime="quiet"))
    spec = deploy.plan(dict(BASE, runtime="quiet", metrics_port="http"))[0]
    assert spec["endpoint"] == {"kind": "ServiceMonitor", "port": "http", "path": "/metrics"}
