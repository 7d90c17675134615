"""The PromQL of each signal, per runtime: the runtime's real metric names, and a query that parses."""

from __future__ import annotations

import promql_parser
import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling import signals

TRITON_QUEUE = (
    '(sum(rate(nv_inference_queue_duration_us{namespace="serving",pod=~"bert-[a-z0-9]+-[a-z0-9]+",model="bert"}[2m])) / '
    '(sum(rate(nv_inference_request_success{namespace="serving",pod=~"bert-[a-z0-9]+-[a-z0-9]+",model="bert"}[2m])) > 0) / 1000) or '
    '(sum(rate(nv_inference_request_success{namespace="serving",pod=~"bert-[a-z0-9]+-[a-z0-9]+",model="bert"}[2m])) == 0)'
)


def test_triton_queue_time_is_mean_queue_wait_per_request_in_ms():
    query, metric_type = signals.query("queue_time_ms", runtimes.get("triton"), "serving", "bert", "bert")
    assert query == TRITON_QUEUE
    assert metric_type == "Value"


@pytest.mark.parametrize("runtime, series", [
    ("triton", ("nv_inference_request_success", 'model="m"')),
    ("onnxruntime", ("nv_inference_request_success", 'model="m"')),
    ("torchserve", ("ts_inference_requests_total", 'model_name="m"')),
    ("kserve", ("request_predict_seconds_count", 'model_name="m"')),
])
def test_requests_per_second_reads_the_runtimes_request_counter(runtime, series):
    query, metric_type = signals.query("requests_per_second", runtimes.get(runtime), "ns", "svc", "m")
    assert all(part in query for part in series)
    assert metric_type == "AverageValue"
    promql_parser.parse(query)


def test_torchserve_queue_time_reads_its_queue_latency_counter():
    query = signals.query("queue_time_ms", runtimes.get("torchserve"), "ns", "svc", "m")[0]
    assert "ts_queue_latency_microseconds" in query and "ts_inference_requests_total" in query
    promql_parser.parse(query)


@pytest.mark.parametrize("signal, series", [("gpu_utilization", "DCGM_FI_DEV_GPU_UTIL"), ("gpu_memory_used_mib", "DCGM_FI_DEV_FB_USED")])
@pytest.mark.parametrize("runtime", sorted(runtimes.RUNTIMES))
def test_gpu_signals_read_dcgm_for_every_runtime(runtime, signal, series):
    query, metric_type = signals.query(signal, runtimes.get(runtime), "ns", "svc", "m")
    assert series in query and 'namespace="ns"' in query
    assert metric_type == "AverageValue"
    promql_parser.parse(query)


def test_dcgm_label_prefix_renames_the_pod_labels():
    query = signals.query("gpu_utilization", runtimes.get("triton"), "ns", "svc", "m", dcgm_label_prefix="exported_")[0]
    assert query == 'sum(avg by (exported_pod) (DCGM_FI_DEV_GPU_UTIL{exported_namespace="ns",exported_pod=~"svc-[a-z0-9]+-[a-z0-9]+"}))'


def test_pod_pattern_does_not_match_a_longer_deployment_name():
    import re
    pattern = re.compile("^%s$" % signals.pod_pattern("bert"))
    assert pattern.match("bert-7d9f8c6b5-x2x9k")
    assert not pattern.match("bert-canary-7d9f8c6b5-x2x9k")


def test_model_name_is_quoted_as_a_promql_string():
    query = signals.query("requests_per_second", runtimes.get("triton"), "ns", "svc", 'a"b')[0]
    assert 'model="a\\"b"' in query
    promql_parser.parse(query)
