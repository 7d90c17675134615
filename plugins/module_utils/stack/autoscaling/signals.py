# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU-inference signals as PromQL, from each runtime's own metric names (stack/runtimes/).

Every query selects the service's pods by the labels Prometheus gives a scraped target (namespace
and pod, as a ServiceMonitor or PodMonitor of prometheus-operator sets them) and returns one
unlabelled sample. A query that finds no series returns nothing; KEDA's trigger is set to treat that
as an error (ignoreNullValues false), so a broken scrape is never read as an idle service.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Dict, Tuple

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import fail

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes.base import Runtime

# Long enough for rate() to see two samples at a 30 s or 60 s scrape interval.
RATE_WINDOW = "2m"


def pod_pattern(workload: str) -> str:
    """The names of a Deployment's pods (<deployment>-<replicaset hash>-<suffix>); PromQL anchors the regex,
    so a Deployment named <workload>-canary does not match."""
    return "%s-[a-z0-9]+-[a-z0-9]+" % re.escape(workload)


def selector(matchers: Dict[str, Tuple[str, str]]) -> str:
    return "{%s}" % ",".join("%s%s%s" % (label, op, json.dumps(value)) for label, (op, value) in matchers.items())


def query(signal: str, runtime: Runtime, namespace: str, workload: str, model_name: str, dcgm_label_prefix: str = "") -> Tuple[str, str]:
    """(PromQL, KEDA metricType) of a signal for the service's pods; refuses a signal the runtime cannot give.

    AverageValue queries return the sum over the pods (KEDA's HPA divides it by the replica count, so the
    target is per pod); Value queries return a service-wide figure that is compared with the target as is.
    """
    path = "keda.signals[%s]" % signal
    if signal in ("requests_per_second", "queue_time_ms"):
        if not runtime.request_counter:
            fail(path, "%s serves no request counter as the stack deploys it" % runtime.name,
                 "Use gpu_utilization or gpu_memory_used_mib, or a keda.queries entry on a metric your setup exports.")
        matchers = {"namespace": ("=", namespace), "pod": ("=~", pod_pattern(workload)),
                    runtime.model_label or "model": ("=", model_name)}
        requests = "sum(rate(%s%s[%s]))" % (runtime.request_counter, selector(matchers), RATE_WINDOW)
        if signal == "requests_per_second":
            return requests, "AverageValue"
        if not runtime.queue_time_counter_us:
            fail(path, "%s has no queue-time metric" % runtime.name,
                 "Use requests_per_second or gpu_utilization instead.")
        waited = "sum(rate(%s%s[%s]))" % (runtime.queue_time_counter_us, selector(matchers), RATE_WINDOW)
        # Mean queue time per request in ms. With no requests in the window the division has no sample
        # (the > 0 filter) and the `or` answers 0: an idle service has no queue. With no series at all both
        # sides are empty, which KEDA reports as an error.
        return "(%s / (%s > 0) / 1000) or (%s == 0)" % (waited, requests, requests), "Value"
    labels = {dcgm_label_prefix + "namespace": ("=", namespace), dcgm_label_prefix + "pod": ("=~", pod_pattern(workload))}
    if signal == "gpu_utilization":
        # a pod's GPUs averaged first, so a pod with two GPUs counts once
        return "sum(avg by (%spod) (%s%s))" % (dcgm_label_prefix, runtime.gpu_utilization_series, selector(labels)), "AverageValue"
    if signal == "gpu_memory_used_mib":
        return "sum(%s%s)" % (runtime.gpu_memory_used_series, selector(labels)), "AverageValue"
    fail(path, "unknown signal %r" % signal, "Use one of queue_time_ms, requests_per_second, gpu_utilization, gpu_memory_used_mib.")
