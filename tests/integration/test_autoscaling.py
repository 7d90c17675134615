"""inference_autoscaling against the real control plane: the API server's validation of autoscaling/v2, the
upstream KEDA v2.21.0 and KServe v0.17.0 CRD schemas, and the real HPA controller of kube-controller-manager.

No metrics API is served here (no metrics-server, no prometheus-adapter), so the HPA controller cannot scale:
what it proves is which metric it looked for, read back from its status conditions and events. No KEDA
operator runs: a ScaledObject is proven against the CRD schema only.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling import deploy
from k8s_helpers import assert_contains, run_module, wait_until

pytestmark = pytest.mark.integration

HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")
SCALED_OBJECT = ("keda.sh/v1alpha1", "ScaledObject")
TRIGGER_AUTH = ("keda.sh/v1alpha1", "TriggerAuthentication")
ISVC = ("serving.kserve.io/v1beta1", "InferenceService")
CLASS = "serving.kserve.io/autoscalerClass"

HPA_METRICS = [
    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "12Gi"}}},
    {"type": "Pods", "pods": {"metric": {"name": "inference_requests_per_second"}, "target": {"type": "AverageValue", "averageValue": "100"}}},
    {"type": "External", "external": {"metric": {"name": "inference_queue_depth", "selector": {"matchLabels": {"queue": "bert"}}},
                                      "target": {"type": "Value", "value": "50"}}},
    {"type": "Object", "object": {"metric": {"name": "requests_per_second"}, "target": {"type": "Value", "value": "2k"},
                                  "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "bert"}}},
]
KEDA = {
    "prometheus_address": "http://prometheus-operated.monitoring.svc:9090",
    "signals": [{"name": "queue_time_ms", "target": 50}, {"name": "gpu_utilization", "target": 80, "activation_target": 10}],
    "queries": [{"name": "backlog", "query": 'sum(nv_inference_pending_request_count{model="bert"})', "threshold": 20, "metric_type": "Value"}],
    "redis": {"address": "redis.queue.svc:6379", "list_name": "bert-requests", "list_length": 20, "password_secret": {"name": "redis-auth"}},
    "scaling_modifiers": {"formula": "gpu_utilization > 80 && queue_time_ms > 50 ? 2 : 1", "target": 1, "metric_type": "Value"},
    "fallback": {"replicas": 2},
}


def autoscale(kubeconfig, namespace, check_mode=False, **args):
    base = dict(name="bert", runtime="triton", max_replicas=4)
    base.update(args)
    return run_module("inference_autoscaling", dict(kubeconfig=kubeconfig, namespace=namespace, _ansible_diff=True, **base),
                      check_mode=check_mode)


def sent(namespace, **args):
    base = dict(name="bert", runtime="triton", max_replicas=4, namespace=namespace)
    base.update(args)
    return deploy.plan(base)[1]


def deployment(k8s, namespace, name):
    """A Deployment for the autoscaler to target (its pods are kwok's; the HPA controller only needs the scale)."""
    labels = {"app": name}
    k8s.resource("apps/v1", "Deployment").create(namespace=namespace, body={
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
            "containers": [{"name": "server", "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}},
    })


def four_steps(kubeconfig, k8s, namespace, kind, name, **args):
    """Check mode writes nothing, apply creates, then check mode and apply again change nothing."""
    dry = autoscale(kubeconfig, namespace, check_mode=True, **args)
    assert dry["rc"] == 0 and dry["changed"] is True, dry.get("msg")
    assert k8s.get(kind[0], kind[1], name, namespace) is None, "check mode wrote %s" % name
    first = autoscale(kubeconfig, namespace, **args)
    assert first["rc"] == 0 and first["changed"] is True, first.get("msg")
    again_dry = autoscale(kubeconfig, namespace, check_mode=True, **args)
    assert again_dry["rc"] == 0 and again_dry["changed"] is False, again_dry.get("diff")
    again = autoscale(kubeconfig, namespace, **args)
    assert again["rc"] == 0 and again["changed"] is False, again.get("diff")
    return first


def hpa_events(k8s, namespace, name):
    return [e for e in k8s.list("v1", "Event", namespace=namespace)
            if e["involvedObject"].get("kind") == "HorizontalPodAutoscaler" and e["involvedObject"].get("name") == name]


def test_hpa_is_stored_whole_and_the_hpa_controller_reads_each_metric(kubeconfig, k8s, namespace):
    deployment(k8s, namespace, "bert")
    args = dict(hpa={"metrics": HPA_METRICS}, min_replicas=1)
    result = four_steps(kubeconfig, k8s, namespace, HPA, "bert", **args)
    assert [o["ref"] for o in result["objects"]] == ["HorizontalPodAutoscaler %s/bert" % namespace]
    (hpa,) = sent(namespace, **args)
    stored = k8s.get(*HPA, "bert", namespace)
    assert_contains(stored, hpa, "HorizontalPodAutoscaler")
    assert stored["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600

    # The controller evaluates every metric; with no metrics API each fails, in an event that names the metric
    # (and the first in the ScalingActive condition): the metric type and name it parsed from the stored object.
    wanted = {"FailedGetResourceMetric": "cpu", "FailedGetPodsMetric": "inference_requests_per_second",
              "FailedGetExternalMetric": "inference_queue_depth", "FailedGetObjectMetric": "requests_per_second"}

    def seen():
        events = hpa_events(k8s, namespace, "bert")
        return all(any(e["reason"] == reason and name in e["message"] for e in events) for reason, name in wanted.items()) and events
    events = wait_until(seen, 90, "the HPA controller's events for each metric", interval=2)
    assert any(e["reason"] == "FailedGetResourceMetric" and "memory" in e["message"] for e in events)
    conditions = {c["type"]: c for c in k8s.get(*HPA, "bert", namespace)["status"].get("conditions") or []}
    assert conditions["AbleToScale"]["status"] == "True", conditions
    assert conditions["ScalingActive"]["status"] == "False"
    assert conditions["ScalingActive"]["reason"] == "FailedGetResourceMetric"
    assert "cpu" in conditions["ScalingActive"]["message"]


def test_pods_metric_alone_names_the_metric_in_the_scaling_condition(kubeconfig, k8s, namespace):
    deployment(k8s, namespace, "bert")
    result = autoscale(kubeconfig, namespace, hpa={"metrics": [HPA_METRICS[2]]})
    assert result["rc"] == 0, result.get("msg")

    def condition():
        status = (k8s.get(*HPA, "bert", namespace) or {}).get("status") or {}
        found = [c for c in status.get("conditions") or [] if c["type"] == "ScalingActive" and c["status"] == "False"]
        return found and found[0]
    active = wait_until(condition, 90, "the ScalingActive condition", interval=2)
    assert active["reason"] == "FailedGetPodsMetric"
    assert "inference_requests_per_second" in active["message"]


def test_scaled_object_and_trigger_authentication_pass_the_keda_crds_whole(kubeconfig, k8s, namespace, upstream_crds):
    result = four_steps(kubeconfig, k8s, namespace, SCALED_OBJECT, "bert", keda=KEDA)
    assert [o["ref"] for o in result["objects"]] == ["TriggerAuthentication %s/bert-redis" % namespace, "ScaledObject %s/bert" % namespace]
    for obj in sent(namespace, keda=KEDA):
        assert_contains(k8s.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], namespace), obj, obj["kind"])
    stored = k8s.get(*SCALED_OBJECT, "bert", namespace)
    assert all(t["metadata"].get("ignoreNullValues") == "false" for t in stored["spec"]["triggers"] if t["type"] == "prometheus")
    assert "password" not in stored["spec"]["triggers"][-1]["metadata"]


def test_switching_kinds_and_removal_leave_nothing_of_the_module(kubeconfig, k8s, namespace, upstream_crds):
    deployment(k8s, namespace, "bert")
    assert autoscale(kubeconfig, namespace, keda=KEDA)["rc"] == 0
    switched = autoscale(kubeconfig, namespace, hpa={"metrics": [HPA_METRICS[0]]})
    assert switched["rc"] == 0, switched.get("msg")
    assert sorted(switched["removed"]) == ["ScaledObject %s/bert" % namespace, "TriggerAuthentication %s/bert-redis" % namespace]
    assert k8s.get(*SCALED_OBJECT, "bert", namespace) is None and k8s.get(*TRIGGER_AUTH, "bert-redis", namespace) is None
    back = autoscale(kubeconfig, namespace, keda=dict(KEDA, redis=None))
    assert back["rc"] == 0 and back["removed"] == ["HorizontalPodAutoscaler %s/bert" % namespace], back
    gone = autoscale(kubeconfig, namespace, state="absent")
    assert gone["rc"] == 0 and gone["changed"] is True
    assert k8s.get(*SCALED_OBJECT, "bert", namespace) is None and k8s.get(*HPA, "bert", namespace) is None
    assert autoscale(kubeconfig, namespace, state="absent")["changed"] is False


def test_another_autoscaler_of_the_workload_is_refused_by_name_and_nothing_is_written(kubeconfig, k8s, namespace, upstream_crds):
    deployment(k8s, namespace, "bert")
    k8s.resource(*HPA).create(namespace=namespace, body={
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "legacy", "namespace": namespace},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "bert"}, "maxReplicas": 3,
                 "metrics": [HPA_METRICS[0]]}})
    result = autoscale(kubeconfig, namespace, keda=KEDA)
    assert result["rc"] != 0
    assert "HorizontalPodAutoscaler legacy" in result["msg"] and "Remove it first" in result["msg"]
    assert k8s.get(*SCALED_OBJECT, "bert", namespace) is None and k8s.get(*TRIGGER_AUTH, "bert-redis", namespace) is None


def test_bad_input_writes_nothing(kubeconfig, k8s, namespace, upstream_crds):
    result = autoscale(kubeconfig, namespace, keda=dict(KEDA, cooldown_period=30))
    assert result["rc"] != 0 and "keda.cooldown_period" in result["msg"]
    both = autoscale(kubeconfig, namespace, keda=KEDA, hpa={"metrics": [HPA_METRICS[0]]})
    assert both["rc"] != 0 and both["msg"].startswith("hpa: given with keda")
    inline = autoscale(kubeconfig, namespace, keda=dict(KEDA, redis=dict(KEDA["redis"], password="s3cret-never-shown")))
    assert inline["rc"] != 0 and inline["msg"].startswith("keda.redis.password:")
    assert "s3cret-never-shown" not in json.dumps(inline), "the refused password is in the module's result"
    assert k8s.list(*SCALED_OBJECT, namespace=namespace) == [] and k8s.list(*HPA, namespace=namespace) == []


def test_kserve_gets_only_the_external_class_under_the_modules_own_manager(kubeconfig, k8s, namespace, upstream_crds):
    stack = dict(name="iris", runtime="kserve", model={"name": "iris", "format": "sklearn", "storage_uri": "gs://bucket/iris"})
    assert run_module("inference_stack", dict(stack, kubeconfig=kubeconfig, namespace=namespace))["rc"] == 0
    before = k8s.get(*ISVC, "iris", namespace)
    args = dict(name="iris", runtime="kserve", hpa={"metrics": [HPA_METRICS[0]]})
    result = autoscale(kubeconfig, namespace, **args)
    assert result["rc"] == 0, result.get("msg")
    assert result["target"] == "Deployment %s/iris-predictor" % namespace
    isvc = k8s.get(*ISVC, "iris", namespace)
    assert isvc["metadata"]["annotations"][CLASS] == "external"
    assert isvc["spec"] == before["spec"], "the stack's fields changed"
    managers = {e["manager"]: e for e in isvc["metadata"]["managedFields"] if not e.get("subresource")}
    assert CLASS in str(managers[deploy.FIELD_MANAGER]["fieldsV1"])
    assert CLASS not in str(managers["inferops.kubernetes"]["fieldsV1"])
    assert k8s.get(*HPA, "iris", namespace)["spec"]["scaleTargetRef"]["name"] == "iris-predictor"
    # the stack applied again keeps the annotation (it is not the stack's) and reports no change
    again = run_module("inference_stack", dict(stack, kubeconfig=kubeconfig, namespace=namespace))
    assert again["rc"] == 0 and again["changed"] is False
    assert autoscale(kubeconfig, namespace, **args)["changed"] is False
    gone = autoscale(kubeconfig, namespace, name="iris", runtime="kserve", state="absent")
    assert gone["rc"] == 0, gone.get("msg")
    isvc = k8s.get(*ISVC, "iris", namespace)
    assert CLASS not in (isvc["metadata"].get("annotations") or {})
    assert isvc["spec"] == before["spec"]
    assert k8s.get(*HPA, "iris", namespace) is None


def test_the_stack_keeps_the_count_the_hpa_set_when_applied_again(kubeconfig, k8s, namespace):
    # the model service from inference_stack (its pods are kwok's, on the simulated H100 nodes), then an HPA
    # whose minimum is above the stack's replicas: the real HPA controller raises the count to it
    stack = dict(kubeconfig=kubeconfig, namespace=namespace, name="resnet", runtime="tensorflow_serving", replicas=1,
                 model={"name": "resnet", "storage_uri": "gs://inferops-example-models/resnet"}, gpu={"count": 1})
    first = run_module("inference_stack", stack)
    assert first["rc"] == 0, first.get("msg")
    hpa = autoscale(kubeconfig, namespace, name="resnet", runtime="tensorflow_serving", min_replicas=2, max_replicas=3,
                    startup_timeout=60, hpa={"metrics": HPA_METRICS[:1]})
    assert hpa["rc"] == 0, hpa.get("msg")
    wait_until(lambda: k8s.get("apps/v1", "Deployment", "resnet", namespace)["spec"]["replicas"] == 2, 90,
               "the HPA controller to raise the Deployment to minReplicas 2")
    managers = {e["manager"] for e in k8s.get("apps/v1", "Deployment", "resnet", namespace)["metadata"]["managedFields"]
                if "f:replicas" in json.dumps(e.get("fieldsV1", {}))}
    assert "kube-controller-manager" in managers, managers
    # applied again with replicas 1: no conflict, nothing changed, the count stays the autoscaler's, and the user is told
    for check_mode in (True, False):
        again = run_module("inference_stack", stack, check_mode=check_mode)
        assert again["rc"] == 0 and again["changed"] is False, again.get("msg") or again.get("diff")
        assert ("HorizontalPodAutoscaler resnet scales Deployment resnet (now 2 replicas), so replicas 1 is not applied"
                in json.dumps(again.get("warnings"))), again.get("warnings")
    assert k8s.get("apps/v1", "Deployment", "resnet", namespace)["spec"]["replicas"] == 2
