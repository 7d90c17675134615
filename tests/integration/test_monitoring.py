"""inference_monitoring against real parts: promtool (`promtool check rules`, and `promtool test rules` unit tests
where each alert fires on series that should trigger it and stays silent on series that should not), and the
real API server with the upstream prometheus-operator v0.94.1 CRDs (the objects stored whole; the ServiceMonitor's
selector, matched by the API server, finding the Service inference_stack built, whose port it names).

promtool comes from `tests/cluster/build.sh prometheus` (cached beside the control plane): a missing or failing
build fails these tests, it does not skip them. No Prometheus scrapes a real model server here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import monitoring as builders
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.monitoring import deploy
from k8s_helpers import ROOT, assert_contains, run_module

pytestmark = pytest.mark.integration

API = "monitoring.coreos.com/v1"
LABELS = {"release": "kube-prometheus-stack"}
NS = "serving"
PROMTOOL_RUNTIMES = ["triton", "torchserve", "kserve"]


def planned(runtime, namespace=NS, **extra):
    return deploy.plan(dict({"name": "bert", "namespace": namespace, "runtime": runtime, "prometheus_labels": LABELS}, **extra))


@pytest.fixture(scope="module")
def promtool():
    bin_dir = subprocess.run([str(ROOT / "tests" / "cluster" / "build.sh"), "prometheus"], capture_output=True, text=True, check=True).stdout.strip()
    path = Path(bin_dir) / "promtool"
    assert path.is_file(), "tests/cluster/build.sh prometheus printed %s, which has no promtool" % bin_dir
    return str(path)


def _rules_file(tmp_path, runtime, **extra):
    spec, objects = planned(runtime, **extra)
    rules = tmp_path / ("%s-rules.yaml" % runtime)
    rules.write_text(yaml.safe_dump({"groups": objects[-1]["spec"]["groups"]}))
    return spec, rules


@pytest.mark.parametrize("runtime", [name for name in runtimes.RUNTIMES if runtimes.get(name).metrics])
def test_promtool_checks_every_rule_group(promtool, tmp_path, runtime):
    extra = [{"alert": "BertDown", "expr": 'up{namespace="serving"} == 0', "for": "2m", "labels": {"severity": "page"}},
             {"record": "serving:up:sum", "expr": "sum by (namespace) (up)"}]
    rules = _rules_file(tmp_path, runtime, extra_rules=extra)[1]
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout


# --- promtool test rules: series of one service, pod P of its Deployment; each case is (alert, firing series, silent series)

def _pod(runtime):
    return "bert%s-5d8f9c7b6-x2x4q" % runtimes.get(runtime).workload_suffix


def _series(name, labels, values):
    return {"series": "%s{%s}" % (name, ",".join('%s="%s"' % item for item in labels.items())), "values": values}


def _per_minute(total):
    """A counter growing by total each minute, for 20 minutes."""
    return "0+%gx20" % total


def _cases(runtime):
    facts = runtimes.get(runtime)
    pod = {"namespace": NS, "pod": _pod(runtime)}
    model = dict(pod, **{facts.model_label: "bert"})
    gpu = dict(pod, gpu="0", UUID="GPU-0", Hostname="node-1")
    cases = {}
    if facts.latency_histogram_s:
        bucket = facts.latency_histogram_s + "_bucket"

        def latency(above_one_half):
            # 60 requests a minute: all under 0.1 s, or all between 0.5 and 1 s (p99 about 0.995 s)
            counts = {"0.1": 0 if above_one_half else 60, "0.5": 0 if above_one_half else 60, "1": 60, "+Inf": 60}
            return [_series(bucket, dict(model, le=le), _per_minute(n)) for le, n in counts.items()]
        cases["InferenceLatencyAboveSLO"] = (latency(True), latency(False), {"namespace": NS})
    else:
        attempts = facts.attempt_counters or (facts.request_counter,)

        def latency(slow):
            # 60 requests a minute taking 1 s, or 0.1 s, each
            return [_series(facts.latency_counter_us, model, _per_minute(60 * (1e6 if slow else 1e5))),
                    _series(attempts[0], model, _per_minute(60))] + [_series(other, model, _per_minute(0)) for other in attempts[1:]]
        cases["InferenceLatencyAboveSLO"] = (latency(True), latency(False), {"namespace": NS})
    if facts.failure_counter:
        where = model if facts.failure_per_model else dict(pod, Level="Host", Hostname="node-1")

        def errors(failing):
            failures = 12 if failing else 0
            counted = [_series(facts.failure_counter, where, _per_minute(failures))]
            # 60 requests a minute in all (the failures included where the attempts count them)
            first = 60 - (failures if facts.failure_counter in facts.attempt_counters else 0)
            counted.append(_series(facts.attempt_counters[0], model, _per_minute(first)))
            counted += [_series(other, model, _per_minute(0)) for other in facts.attempt_counters[1:] if other != facts.failure_counter]
            return counted
        cases["InferenceErrorRatioHigh"] = (errors(True), errors(False), {"namespace": NS})

    def memory(used):
        return [_series(facts.gpu_memory_used_series, gpu, "%dx20" % used), _series(facts.gpu_memory_free_series, gpu, "%dx20" % (80000 - used))]
    cases["InferenceGPUMemoryNearFull"] = (memory(79000), memory(40000), dict(pod, gpu="0"))
    cases["InferenceGPUXidError"] = ([_series(facts.gpu_xid_series, gpu, "79x20")], [_series(facts.gpu_xid_series, gpu, "0x20")], dict(pod, gpu="0"))
    ksm = dict(pod, uid="0f1e", container="server", node="")

    def pending(resource):
        return [_series("kube_pod_status_phase", dict(pod, uid="0f1e", phase="Pending"), "1x20"),
                _series("kube_pod_container_resource_requests", dict(ksm, resource=resource, unit="integer"), "1x20")]
    cases["InferencePodsPendingForGPU"] = (pending("nvidia_com_gpu"), pending("cpu"), dict(pod))
    present = [_series(facts.request_counter, model, _per_minute(60)), _series(facts.gpu_utilization_series, gpu, "50x20")]
    # a series of another Deployment's pods (bert-canary) is not the service's: its metric is still missing
    canary = [_series(s["series"].split("{")[0], dict(model, pod="bert-canary-5d8f9c7b6-x2x4q"), "1x20") for s in present]
    cases["InferenceScalingMetricAbsent"] = (canary, present, None)
    return cases


def _expected(spec, alert, labels):
    """The alerts promtool must see firing: every rule of that name, with its own labels and annotations."""
    found = []
    for rule in spec["alerting_rules"]:
        if rule["alert"] != alert:
            continue
        if labels is None:  # absent(): the labels of the selector's equality matchers
            facts = runtimes.get(spec["runtime"])
            labels = {"namespace": NS, facts.model_label: "bert"} if rule["labels"]["metric"] == facts.request_counter else {"namespace": NS}
            found.append({"exp_labels": dict(labels, **rule["labels"]), "exp_annotations": rule["annotations"]})
            labels = None
            continue
        found.append({"exp_labels": dict(labels, **rule["labels"]), "exp_annotations": rule["annotations"]})
    assert found, "no alert %s written" % alert
    return found


@pytest.mark.parametrize("runtime", PROMTOOL_RUNTIMES)
def test_promtool_each_alert_fires_on_its_condition_and_stays_silent_otherwise(promtool, tmp_path, runtime):
    spec, rules = _rules_file(tmp_path, runtime)
    tests = []
    cases = _cases(runtime)
    assert set(cases) == {r["alert"] for r in spec["alerting_rules"]}, "an alert of the runtime has no promtool case"
    for alert, (firing, silent, labels) in cases.items():
        tests.append({"interval": "1m", "input_series": firing,
                      "alert_rule_test": [{"eval_time": "15m", "alertname": alert, "exp_alerts": _expected(spec, alert, labels)}]})
        tests.append({"interval": "1m", "input_series": silent,
                      "alert_rule_test": [{"eval_time": "15m", "alertname": alert, "exp_alerts": []}]})
    unit = tmp_path / "test.yaml"
    unit.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "1m", "tests": tests}))
    run = subprocess.run([promtool, "test", "rules", str(unit)], capture_output=True, text=True, check=False, cwd=str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr


def test_promtool_recording_rules_give_the_autoscaling_signals(promtool, tmp_path):
    """Requests per second per pod, queue time and GPU utilisation per service, from Triton's own series; a pod of
    another Deployment (bert-canary) counts in none of them."""
    spec, rules = _rules_file(tmp_path, "triton")
    pod, canary = _pod("triton"), "bert-canary-5d8f9c7b6-x2x4q"
    model = {"namespace": NS, "pod": pod, "model": "bert"}
    series = [
        _series("nv_inference_request_success", model, _per_minute(120)),
        _series("nv_inference_queue_duration_us", model, _per_minute(120 * 25000)),  # 25 ms a request
        _series("nv_inference_request_success", dict(model, pod=canary), _per_minute(6000)),
        _series("DCGM_FI_DEV_GPU_UTIL", {"namespace": NS, "pod": pod, "gpu": "0"}, "80x20"),
        _series("DCGM_FI_DEV_GPU_UTIL", {"namespace": NS, "pod": pod, "gpu": "1"}, "60x20"),
        _series("DCGM_FI_DEV_GPU_UTIL", {"namespace": NS, "pod": "bert-7c9d8e6f5-abcde", "gpu": "0"}, "50x20"),
        _series("DCGM_FI_DEV_GPU_UTIL", {"namespace": NS, "pod": canary, "gpu": "0"}, "0x20"),
    ]
    own = {"namespace": NS, "inferops_service": "bert"}
    checks = [
        ("inferops:requests_per_second:rate2m", [dict(own, pod=pod)], 2),
        ("inferops:queue_time_ms:mean2m", [own], 25),
        ("inferops:gpu_utilization:avg", [own], 60),  # the first pod's two GPUs average 70, the second 50
    ]
    tests = [{"interval": "1m", "input_series": series, "promql_expr_test": [
        {"expr": name, "eval_time": "10m", "exp_samples": [{"labels": "%s{%s}" % (name, ",".join('%s="%s"' % i for i in sorted(lab.items()))), "value": value}
                                                           for lab in labels]}
        for name, labels, value in checks]}]
    assert {check[0] for check in checks} <= {r["record"] for r in spec["recording_rules"]}
    unit = tmp_path / "records.yaml"
    unit.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "1m", "tests": tests}))
    run = subprocess.run([promtool, "test", "rules", str(unit)], capture_output=True, text=True, check=False, cwd=str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr


# --- the real API server with prometheus-operator's CRDs

def monitoring(kubeconfig, namespace, check_mode=False, **args):
    base = dict(name="densenet", runtime="torchserve", prometheus_labels=LABELS)
    base.update(args)
    return run_module("inference_monitoring", dict(kubeconfig=kubeconfig, namespace=namespace, _ansible_diff=True, **base), check_mode=check_mode)


def _selector(match_labels):
    return ",".join("%s=%s" % item for item in sorted(match_labels.items()))


def test_objects_stored_whole_select_the_stacks_service_and_are_idempotent(kubeconfig, k8s, namespace, upstream_crds):
    stack = run_module("inference_stack", dict(
        kubeconfig=kubeconfig, namespace=namespace, name="densenet", runtime="torchserve", wait=False,
        model={"name": "densenet", "storage_uri": "https://models.example.com/densenet161.mar"}))
    assert stack["rc"] == 0, stack.get("msg")
    dry = monitoring(kubeconfig, namespace, check_mode=True)
    assert dry["rc"] == 0 and dry["changed"] is True, dry.get("msg")
    assert k8s.get(API, "ServiceMonitor", "densenet", namespace) is None and k8s.get(API, "PrometheusRule", "densenet", namespace) is None
    first = monitoring(kubeconfig, namespace)
    assert first["rc"] == 0 and first["changed"] is True, first.get("msg")
    assert [o["ref"] for o in first["objects"]] == ["ServiceMonitor %s/densenet" % namespace, "PrometheusRule %s/densenet" % namespace]
    sent = deploy.plan(dict(name="densenet", namespace=namespace, runtime="torchserve", prometheus_labels=LABELS))[1]
    for obj in sent:
        assert_contains(k8s.get(API, obj["kind"], "densenet", namespace), obj, obj["kind"])
    # the API server, not our builder, says which Services the selector matches: the stack's, and its port is there
    monitor = k8s.get(API, "ServiceMonitor", "densenet", namespace)
    matched = k8s.list("v1", "Service", namespace=namespace, label_selector=_selector(monitor["spec"]["selector"]["matchLabels"]))
    assert [s["metadata"]["name"] for s in matched] == ["densenet"]
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in matched[0]["spec"]["ports"]}
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [namespace]
    assert all(monitor["metadata"]["labels"][k] == v for k, v in LABELS.items())
    again_dry = monitoring(kubeconfig, namespace, check_mode=True)
    assert again_dry["rc"] == 0 and again_dry["changed"] is False, again_dry.get("diff")
    again = monitoring(kubeconfig, namespace)
    assert again["rc"] == 0 and again["changed"] is False, again.get("diff")
    gone_dry = monitoring(kubeconfig, namespace, check_mode=True, state="absent")
    assert gone_dry["changed"] is True and k8s.get(API, "ServiceMonitor", "densenet", namespace) is not None
    gone = monitoring(kubeconfig, namespace, state="absent")
    assert gone["rc"] == 0 and gone["changed"] is True
    assert k8s.get(API, "ServiceMonitor", "densenet", namespace) is None and k8s.get(API, "PrometheusRule", "densenet", namespace) is None
    assert monitoring(kubeconfig, namespace, state="absent")["changed"] is False


def test_kserve_pod_monitor_is_stored_whole_and_replaces_a_service_monitor(kubeconfig, k8s, namespace, upstream_crds):
    extra = [{"alert": "IrisSlowPreprocess", "expr": 'histogram_quantile(0.9, sum by (le) (rate(request_preprocess_seconds_bucket[5m]))) > 0.1',
              "for": "10m", "labels": {"severity": "page"}, "annotations": {"summary": "slow preprocessing"}}]
    assert monitoring(kubeconfig, namespace, name="iris", runtime="triton")["rc"] == 0
    result = monitoring(kubeconfig, namespace, name="iris", runtime="kserve", extra_rules=extra)
    assert result["rc"] == 0, result.get("msg")
    assert result["removed"] == ["ServiceMonitor %s/iris" % namespace]
    sent = deploy.plan(dict(name="iris", namespace=namespace, runtime="kserve", prometheus_labels=LABELS, extra_rules=extra))[1]
    for obj in sent:
        assert_contains(k8s.get(API, obj["kind"], "iris", namespace), obj, obj["kind"])
    assert k8s.get(API, "ServiceMonitor", "iris", namespace) is None
    stored = k8s.get(API, "PodMonitor", "iris", namespace)
    assert stored["spec"]["podMetricsEndpoints"][0]["portNumber"] == 8080


def test_bad_input_writes_nothing(kubeconfig, k8s, namespace, upstream_crds):
    for args, text in [(dict(prometheus_labels={}), "prometheus_labels: empty"),
                       (dict(runtime="tensorflow_serving"), "--monitoring_config_file"),
                       (dict(extra_rules=[{"alert": "Broken", "expr": "sum(rate(x[5m])"}]), "extra_rules[0].expr: the query does not parse"),
                       (dict(scrape_interval="15s", scrape_timeout="30s"), "scrape_timeout: 30s is longer")]:
        result = monitoring(kubeconfig, namespace, **args)
        assert result["rc"] != 0 and text in result["msg"], result.get("msg")
    for kind in builders.KINDS:
        assert k8s.list(API, kind, namespace=namespace) == []
