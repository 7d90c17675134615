"""The autoscaling builders: what the HPA, ScaledObject, TriggerAuthentication and KServe annotation hold."""

from __future__ import annotations

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling import deploy

BASE = {"name": "bert", "namespace": "serving", "runtime": "triton", "max_replicas": 4}
PROMETHEUS = "http://prometheus.monitoring:9090"


def build(**options):
    return deploy.plan(dict(BASE, **options))[1]


def test_hpa_holds_the_metrics_and_a_scale_down_window_of_the_load_time():
    metrics = [
        {"type": "Pods", "pods": {"metric": {"name": "inference_requests_per_second"}, "target": {"type": "AverageValue", "averageValue": 100}}},
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "12Gi"}}},
    ]
    (hpa,) = build(min_replicas=2, hpa={"metrics": metrics, "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0}}})
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["kind"] == "HorizontalPodAutoscaler"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "bert"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    # a number becomes the quantity string the API stores
    assert hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "100"
    assert hpa["spec"]["behavior"] == {"scaleUp": {"stabilizationWindowSeconds": 0}, "scaleDown": {"stabilizationWindowSeconds": 600}}
    assert hpa["metadata"]["labels"]["app.kubernetes.io/component"] == "autoscaler"


def test_scaled_object_never_reads_an_empty_result_as_zero():
    (scaled,) = build(keda={"prometheus_address": PROMETHEUS, "signals": [{"name": "gpu_utilization", "target": 80, "activation_target": 5}],
                            "queries": [{"name": "backlog", "query": "sum(queue_depth)", "threshold": 10.5, "metric_type": "Value"}]})
    spec = scaled["spec"]
    assert [t["name"] for t in spec["triggers"]] == ["gpu_utilization", "backlog"]
    for trigger in spec["triggers"]:
        assert trigger["type"] == "prometheus"
        assert trigger["metadata"]["ignoreNullValues"] == "false"
        assert trigger["metadata"]["serverAddress"] == PROMETHEUS
    assert spec["triggers"][0]["metadata"]["threshold"] == "80"
    assert spec["triggers"][0]["metadata"]["activationThreshold"] == "5"
    assert spec["triggers"][1]["metadata"]["threshold"] == "10.5"
    assert spec["triggers"][1]["metricType"] == "Value"
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 1, "behavior": "currentReplicasIfHigher"}
    assert spec["cooldownPeriod"] == 600 and spec["pollingInterval"] == 30
    assert spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600


def test_redis_password_goes_through_a_trigger_authentication():
    auth, scaled = build(keda={"redis": {"address": "redis.queue:6379", "list_name": "jobs", "list_length": 20,
                                         "password_secret": {"name": "redis-auth"}}})
    assert auth["kind"] == "TriggerAuthentication" and auth["metadata"]["name"] == "bert-redis"
    assert auth["spec"] == {"secretTargetRef": [{"parameter": "password", "name": "redis-auth", "key": "password"}]}
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger == {"type": "redis", "name": "redis_list", "authenticationRef": {"name": "bert-redis"},
                       "metadata": {"address": "redis.queue:6379", "listName": "jobs", "listLength": "20"}}


def test_scaling_modifiers_combine_two_triggers():
    (scaled,) = build(keda={"prometheus_address": PROMETHEUS,
                            "signals": [{"name": "gpu_utilization", "target": 80}, {"name": "queue_time_ms", "target": 50}],
                            "scaling_modifiers": {"formula": "gpu_utilization > 80 && queue_time_ms > 50 ? 2 : 1", "target": 1,
                                                  "metric_type": "Value"}})
    assert scaled["spec"]["advanced"]["scalingModifiers"] == {
        "formula": "gpu_utilization > 80 && queue_time_ms > 50 ? 2 : 1", "target": "1", "metricType": "Value"}


def test_kserve_targets_the_predictor_and_annotates_only_the_class():
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import autoscaling
    spec, (hpa,) = deploy.plan(dict(BASE, runtime="kserve", hpa={"metrics": [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}))
    assert hpa["spec"]["scaleTargetRef"]["name"] == "bert-predictor"
    assert autoscaling.kserve_annotation(spec) == {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "bert", "namespace": "serving", "annotations": {"serving.kserve.io/autoscalerClass": "external"}}}
