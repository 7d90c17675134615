"""The monitoring objects of every runtime: each PromQL expression parses (promql-parser), each rule reads the
runtime's own series, and the monitor is the kind the runtime's Service allows."""

from __future__ import annotations

import promql_parser
import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.monitoring import deploy

MONITORED = [name for name in runtimes.RUNTIMES if runtimes.get(name).metrics]


def plan(runtime, **extra):
    return deploy.plan(dict({"name": "bert", "namespace": "serving", "runtime": runtime, "prometheus_labels": {"release": "kps"}}, **extra))


def expressions(spec):
    return [r["expr"] for r in spec["recording_rules"] + spec["alerting_rules"]]


@pytest.mark.parametrize("runtime", MONITORED)
@pytest.mark.parametrize("prefix", ["", "exported_"])
def test_every_expression_parses(runtime, prefix):
    spec = plan(runtime, dcgm_label_prefix=prefix)[0]
    assert expressions(spec)
    for expr in expressions(spec):
        promql_parser.parse(expr)


@pytest.mark.parametrize("runtime", MONITORED)
def test_rules_read_the_runtimes_own_series(runtime):
    facts = runtimes.get(runtime)
    spec = plan(runtime)[0]
    text = "\n".join(expressions(spec))
    for series in (facts.request_counter, facts.gpu_utilization_series, facts.gpu_memory_used_series, facts.gpu_xid_series):
        assert series in text
    # the pods of the service's own Deployment, anchored: not bert-canary's
    workload = "bert\\\\-predictor" if runtime == "kserve" else "bert"  # re.escape'd, then JSON-quoted
    assert 'pod=~"%s-[a-z0-9]+-[a-z0-9]+"' % workload in text
    assert '%s="bert"' % facts.model_label in text
    names = {r["alert"] for r in spec["alerting_rules"]}
    assert {"InferenceLatencyAboveSLO", "InferenceGPUMemoryNearFull", "InferenceGPUXidError", "InferencePodsPendingForGPU",
            "InferenceScalingMetricAbsent"} <= names
    assert ("InferenceErrorRatioHigh" in names) == bool(facts.failure_counter)


def test_kserve_latency_is_a_p99_from_its_histogram_and_the_others_a_mean():
    kserve = plan("kserve")[0]
    triton = plan("triton")[0]
    assert any(e.startswith("histogram_quantile(0.99,") and "request_predict_seconds_bucket" in e for e in expressions(kserve))
    assert not any("histogram_quantile" in e for e in expressions(triton))
    assert any(r["record"] == "inferops:request_latency_seconds:mean5m" for r in triton["recording_rules"])


@pytest.mark.parametrize("runtime, kind", [("triton", "ServiceMonitor"), ("onnxruntime", "ServiceMonitor"),
                                           ("torchserve", "ServiceMonitor"), ("kserve", "PodMonitor")])
def test_the_monitor_kind_follows_the_runtimes_service(runtime, kind):
    objects = plan(runtime)[1]
    assert objects[0]["kind"] == kind
    endpoints = objects[0]["spec"]["endpoints" if kind == "ServiceMonitor" else "podMetricsEndpoints"]
    assert endpoints[0]["honorLabels"] is False and endpoints[0]["path"] == "/metrics"


def test_extra_rules_are_written_in_a_group_of_their_own():
    extra = [{"alert": "BertDown", "expr": 'up{namespace="serving"} == 0', "for": "2m", "labels": {"severity": "page"}}]
    objects = plan("triton", extra_rules=extra)[1]
    groups = objects[1]["spec"]["groups"]
    assert [g["name"] for g in groups] == ["inferops.serving.bert", "inferops.serving.bert.extra"]
    assert groups[1]["rules"] == extra
