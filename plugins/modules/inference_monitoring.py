#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: inference_monitoring
short_description: Scrape one model service's metrics and write its recording rules and alerts (prometheus-operator)
version_added: 0.1.0
description:
  - Writes the monitoring objects of one model service that M(inferops.kubernetes.inference_stack) deployed (or any workload
    named like it) with server-side apply under its own field manager; check mode is a server-side dry run.
  - A C(monitoring.coreos.com/v1) ServiceMonitor on the runtime's metrics port of the stack's Service (Triton, ONNX Runtime,
    TorchServe), or a PodMonitor on the predictor pods where the Service has no metrics port (KServe, whose controller writes
    the predictor Service); C(honorLabels) is off so that the target's C(namespace) and C(pod) labels attribute every series.
  - A PrometheusRule with recording rules that feed the autoscaling signals (requests per second per pod, queue time, GPU
    utilisation and memory per service) from the runtime's own series, and alerts on latency above O(latency_slo_ms) (p99 from
    a histogram where the runtime has one, else the mean from counters), error ratio, GPU memory near full, XID errors, pods
    pending for GPUs (kube-state-metrics) and a scaling series gone missing; plus O(extra_rules).
  - Refused before anything is written, each with the fix, among others, empty O(prometheus_labels), a scrape timeout above
    the interval, a runtime without a known metrics endpoint and no O(metrics_port) (TensorFlow Serving as the stack runs it),
    extra rules whose PromQL does not parse, and a cluster that does not serve prometheus-operator's kinds.
author:
  - inferops.kubernetes maintainers (@inferops)
requirements:
  - promql-parser (checks every PromQL expression)
options:
  name:
    description:
      - Name of the model service (as O(inferops.kubernetes.inference_stack#module:name)), and of the monitor and the PrometheusRule.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the model service; the objects are written there.
    type: str
    default: default
  runtime:
    description:
      - The service's serving runtime; it decides the metrics endpoint and the series the rules read.
    type: str
    required: true
    choices: [tensorflow_serving, torchserve, triton, onnxruntime, kserve]
  model_name:
    description:
      - The model's name as the runtime labels its series; defaults to O(name).
    type: str
  prometheus_labels:
    description:
      - Labels put on every object so that your Prometheus selects them (its C(serviceMonitorSelector), C(podMonitorSelector)
        and C(ruleSelector)); kube-prometheus-stack selects by C(release=<its release name>). Required unless O(state=absent).
    type: dict
    default: {}
  scrape_interval:
    description:
      - How often Prometheus scrapes the service, a Prometheus duration.
    type: str
    default: 30s
  scrape_timeout:
    description:
      - How long one scrape may take, a Prometheus duration not longer than O(scrape_interval).
    type: str
    default: 10s
  metrics_port:
    description:
      - The port serving the metrics, where the runtime's is not the one to use, or the runtime has none known (TensorFlow
        Serving started with a monitoring configuration of your own). A Service port name for a ServiceMonitor; a container
        port name or number for a PodMonitor (KServe).
    type: str
  metrics_path:
    description:
      - The HTTP path of the metrics; defaults to the runtime's (V(/metrics)).
    type: str
  rules:
    description:
      - Write the service's recording and alerting rules.
    type: bool
    default: true
  gpu:
    description:
      - Whether the service runs on GPUs; with V(false) the rules on dcgm-exporter's series (GPU utilisation and memory, XID errors,
        pending for GPUs, the GPU series gone) are left out.
    type: bool
    default: true
  latency_slo_ms:
    description:
      - The latency objective in milliseconds; above it for O(alert_for), C(InferenceLatencyAboveSLO) fires.
    type: float
    default: 500.0
  error_ratio:
    description:
      - The share of failed requests (between 0 and 1) above which C(InferenceErrorRatioHigh) fires.
    type: float
    default: 0.05
  gpu_memory_full_ratio:
    description:
      - The share of a GPU's framebuffer memory in use (between 0 and 1) above which C(InferenceGPUMemoryNearFull) fires.
    type: float
    default: 0.95
  alert_for:
    description:
      - How long a condition must hold before an alert fires (C(for)), a Prometheus duration; XID errors fire at once.
    type: str
    default: 5m
  pending_for:
    description:
      - How long a pod waits for a GPU before C(InferencePodsPendingForGPU) fires.
    type: str
    default: 10m
  dcgm_label_prefix:
    description:
      - Prefix of the pod attribution labels on dcgm-exporter's series; V(exported_) where its scrape does not honour them.
    type: str
    default: ""
  extra_rules:
    description:
      - Your own rules, as in a Prometheus rules file (C(record) or C(alert), C(expr), C(for), C(keep_firing_for), C(labels),
        C(annotations)), written in a group of their own. Each C(expr) must parse.
    type: list
    elements: dict
    default: []
  labels:
    description:
      - Extra labels on the objects.
    type: dict
    default: {}
extends_documentation_fragment:
  - inferops.kubernetes.k8s_auth
  - inferops.kubernetes.k8s_apply
  - inferops.kubernetes.k8s_apply.STATE
  - inferops.kubernetes.attributes
  - inferops.kubernetes.attributes.ACTION_GROUP
attributes:
  idempotent:
    support: full
notes:
  - Needs prometheus-operator's CRDs. The GPU rules need the DCGM exporter with its pod mapping
    (M(inferops.kubernetes.dcgm_exporter)); the pending alert needs kube-state-metrics.
seealso:
  - name: Monitoring in this collection
    description: docs/monitoring.md, every default and each generated rule.
    link: https://github.com/inferops/kubernetes/blob/main/docs/monitoring.md
"""

EXAMPLES = r"""
- name: Monitor a Triton service for kube-prometheus-stack, with a 200 ms latency objective
  inferops.kubernetes.inference_monitoring:
    name: bert
    namespace: serving
    runtime: triton
    prometheus_labels: {release: kube-prometheus-stack}
    latency_slo_ms: 200

- name: A KServe service (a PodMonitor on the predictor pods) with a rule of your own
  inferops.kubernetes.inference_monitoring:
    name: iris
    namespace: serving
    runtime: kserve
    gpu: false
    prometheus_labels: {release: kube-prometheus-stack}
    extra_rules:
      - alert: IrisSlowPreprocess
        expr: histogram_quantile(0.9, sum by (le) (rate(request_preprocess_seconds_bucket{namespace="serving"}[5m]))) > 0.1
        for: 10m

- name: Take the monitoring objects back
  inferops.kubernetes.inference_monitoring:
    name: bert
    namespace: serving
    runtime: triton
    state: absent
"""

RETURN = r"""
objects:
  description:
    - Each object applied, whether it changed and whether it was created; with O(state=absent), those deleted or withdrawn from.
  returned: always
  type: list
  elements: dict
  sample: [{"ref": "ServiceMonitor serving/bert", "changed": true, "created": true}]
alerts:
  description: The names of the alerts written for the runtime (those whose series it serves).
  returned: always
  type: list
  elements: str
records:
  description: The names of the recording rules written.
  returned: always
  type: list
  elements: str
removed:
  description: This module's objects of the service that the spec no longer has (the other monitor kind), removed.
  returned: when O(state=present)
  type: list
  elements: str
kept:
  description: With O(state=absent), objects left in place and why.
  returned: when O(state=absent)
  type: list
  elements: str
diff:
  description: Before and after of each changed object, without server bookkeeping.
  returned: in diff mode, when changed
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import api_argument_spec, run_api_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.monitoring import options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.monitoring.deploy import run_inference_monitoring


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(**options.ARGUMENT_SPEC), supports_check_mode=True)
    run_api_module(module, lambda client: run_inference_monitoring(client, module))


if __name__ == "__main__":
    main()
