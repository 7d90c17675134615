# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PromQL of one model service's recording and alerting rules, from its runtime's own series (stack/runtimes/).

Series are selected the way the autoscaling signals select them (stack/autoscaling/signals.py): the target
labels `namespace` and `pod` that a ServiceMonitor or PodMonitor of prometheus-operator gives every scraped
series, the pods named after the service's Deployment, and the runtime's model label. GPU series are
dcgm-exporter's, attributed to the pod holding the GPU, and are joined to the service on that pod label.
Every rule written here carries the label `inferops_service`, so the alerts read the service's own records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling.signals import RATE_WINDOW, pod_pattern, selector

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes.base import Runtime

# Long enough that a 5-minute alert does not fire on one slow request.
SLOW_WINDOW = "5m"
# kube-state-metrics writes a resource name with its dots and slashes as underscores.
KSM_GPU_RESOURCE = "nvidia_com_gpu"

RPS = "inferops:requests_per_second:rate%s" % RATE_WINDOW
QUEUE_MS = "inferops:queue_time_ms:mean%s" % RATE_WINDOW
GPU_UTIL = "inferops:gpu_utilization:avg"
GPU_MEMORY = "inferops:gpu_memory_used_mib:sum"
LATENCY_P99 = "inferops:request_latency_seconds:p99_%s" % SLOW_WINDOW
LATENCY_MEAN = "inferops:request_latency_seconds:mean%s" % SLOW_WINDOW
ERROR_RATIO = "inferops:error_ratio:rate%s" % SLOW_WINDOW


def _rate(counters: Tuple[str, ...], matchers: Dict[str, Tuple[str, str]], window: str, by: str) -> str:
    """The summed rate of one counter, or of several added up. Not one selector on __name__: rate() drops the
    name, and two counters with the same labels then collide (promtool showed it). A counter with no series
    yet (Triton's failures before the first one) counts as 0 rather than emptying the sum."""
    rates = ["sum by (%s) (rate(%s%s[%s]))" % (by, counter, selector(matchers), window) for counter in counters]
    if len(rates) == 1:
        return rates[0]
    return "(%s)" % " + ".join([rates[0]] + ["(%s or %s * 0)" % (other, rates[0]) for other in rates[1:]])


def service_rules(runtime: Runtime, spec: Dict[str, Any]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(recording rules, alerting rules) of the service, as Prometheus rule dicts; a rule whose series the
    runtime does not serve is left out (spec.py tells the user which)."""
    namespace, workload, model = spec["namespace"], spec["workload"], spec["model_name"]
    own = {"inferops_service": spec["name"]}
    pods = {"namespace": ("=", namespace), "pod": ("=~", pod_pattern(workload))}
    per_model = dict(pods, **{runtime.model_label or "model": ("=", model)})
    prefix = spec["dcgm_label_prefix"]
    gpus = {prefix + "namespace": ("=", namespace), prefix + "pod": ("=~", pod_pattern(workload))}
    mine = selector({"namespace": ("=", namespace), "inferops_service": ("=", spec["name"])})
    records: List[Dict[str, Any]] = []
    alerts: List[Dict[str, Any]] = []

    def record(name: str, expr: str) -> None:
        records.append({"record": name, "expr": expr, "labels": dict(own)})

    def alert(name: str, expr: str, wait: str, severity: str, summary: str) -> None:
        alerts.append({"alert": name, "expr": expr, "for": wait, "labels": dict(own, severity=severity),
                       "annotations": {"summary": summary, "description": "%s (model service %s/%s, runtime %s)" % (
                           summary, namespace, spec["name"], runtime.name)}})

    if runtime.request_counter:
        record(RPS, _rate((runtime.request_counter,), per_model, RATE_WINDOW, "namespace, pod"))
        if runtime.queue_time_counter_us:
            record(QUEUE_MS, "%s / (%s > 0) / 1000" % (_rate((runtime.queue_time_counter_us,), per_model, RATE_WINDOW, "namespace"),
                                                       _rate((runtime.request_counter,), per_model, RATE_WINDOW, "namespace")))
    if runtime.latency_histogram_s:
        record(LATENCY_P99, "histogram_quantile(0.99, %s)" % _rate((runtime.latency_histogram_s + "_bucket",), per_model, SLOW_WINDOW, "namespace, le"))
        latency, how = LATENCY_P99, "p99 latency"
    elif runtime.latency_counter_us and (runtime.attempt_counters or runtime.request_counter):
        attempts: Tuple[str, ...] = runtime.attempt_counters or (str(runtime.request_counter),)
        record(LATENCY_MEAN, "%s / (%s > 0) / 1e6" % (_rate((runtime.latency_counter_us,), per_model, SLOW_WINDOW, "namespace"),
                                                      _rate(attempts, per_model, SLOW_WINDOW, "namespace")))
        latency, how = LATENCY_MEAN, "mean latency (the runtime serves no latency histogram)"
    else:
        latency = ""
    if latency:
        alert("InferenceLatencyAboveSLO", "%s%s * 1000 > %s" % (latency, mine, _number(spec["latency_slo_ms"])), spec["alert_for"], "warning",
              "%s above the %s ms SLO" % (how, _number(spec["latency_slo_ms"])))
    if runtime.failure_counter and runtime.attempt_counters:
        record(ERROR_RATIO, "%s / (%s > 0)" % (_rate((runtime.failure_counter,), per_model if runtime.failure_per_model else pods, SLOW_WINDOW, "namespace"),
                                               _rate(runtime.attempt_counters, per_model, SLOW_WINDOW, "namespace")))
        alert("InferenceErrorRatioHigh", "%s%s > %s" % (ERROR_RATIO, mine, _number(spec["error_ratio"])), spec["alert_for"], "warning",
              "more than %s of requests fail" % _number(spec["error_ratio"]))
    if spec["gpu"]:
        by_pod = "%snamespace, %spod" % (prefix, prefix)
        record(GPU_UTIL, "avg by (%snamespace) (avg by (%s) (%s%s))" % (prefix, by_pod, runtime.gpu_utilization_series, selector(gpus)))
        record(GPU_MEMORY, "sum by (%snamespace) (%s%s)" % (prefix, runtime.gpu_memory_used_series, selector(gpus)))
        used = "%s%s" % (runtime.gpu_memory_used_series, selector(gpus))
        alert("InferenceGPUMemoryNearFull", "max by (%s, gpu) (%s / (%s + %s%s)) > %s" % (
            by_pod, used, used, runtime.gpu_memory_free_series, selector(gpus), _number(spec["gpu_memory_full_ratio"])),
            spec["alert_for"], "warning", "a GPU's memory is more than %s full" % _number(spec["gpu_memory_full_ratio"]))
        alert("InferenceGPUXidError", "max by (%s, gpu) (%s%s) > 0" % (by_pod, runtime.gpu_xid_series, selector(gpus)), "0m", "critical",
              "a GPU reported an XID error (DCGM_FI_DEV_XID_ERRORS holds its number)")
        pending = dict(pods, phase=("=", "Pending"))
        requests = dict(pods, resource=("=", KSM_GPU_RESOURCE))
        alert("InferencePodsPendingForGPU", "(max by (namespace, pod) (kube_pod_status_phase%s) == 1) and on (namespace, pod) "
              "(sum by (namespace, pod) (kube_pod_container_resource_requests%s) > 0)" % (selector(pending), selector(requests)),
              spec["pending_for"], "warning", "a pod of the service waits for a GPU")
    # the series the autoscaling signals read: gone, a scaler reads an error (KEDA) or nothing (HPA)
    watched = [(runtime.request_counter, per_model)] if runtime.request_counter else []
    if spec["gpu"]:
        watched.append((runtime.gpu_utilization_series, gpus))
    for series, matchers in watched:
        alerts.append({"alert": "InferenceScalingMetricAbsent", "expr": "absent(%s%s)" % (series, selector(matchers)), "for": spec["alert_for"],
                       "labels": dict(own, severity="warning", metric=series),
                       "annotations": {"summary": "no %s series of the service's pods" % series,
                                       "description": "Prometheus has no %s for model service %s/%s: its autoscaling signal is gone "
                                                      "(scrape, exporter or pod attribution broken)." % (series, namespace, spec["name"])}})
    return records, alerts


def _number(value: float) -> str:
    """A threshold as PromQL and a message read it: 500.0 -> '500', 0.05 -> '0.05'."""
    return ("%f" % value).rstrip("0").rstrip(".")
