#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: inference_autoscaling
short_description: Autoscale one model service with an HPA (autoscaling/v2) or a KEDA ScaledObject
version_added: 0.1.0
description:
  - Writes the autoscaler of one model service that M(inferops.kubernetes.inference_stack) deployed (or any workload
    named like it) with server-side apply under its own field manager; check mode is a server-side dry run.
  - "O(hpa): an C(autoscaling/v2) HorizontalPodAutoscaler with Resource (cpu, memory), Pods, Object or External metrics
    and a scale-down stabilization window of at least O(startup_timeout)."
  - "O(keda): a C(keda.sh/v1alpha1) ScaledObject with Prometheus triggers (from O(keda.signals), per runtime, or your own
    O(keda.queries)), a Redis list trigger whose password comes from a Secret through a TriggerAuthentication, a
    fallback replica count, scaling modifiers and a scale-down window of at least O(startup_timeout)."
  - Every Prometheus trigger sets C(ignoreNullValues) to V(false), so a query that returns nothing is an error that
    KEDA answers with the fallback, never a zero that scales the service down.
  - With O(runtime=kserve) the target is the predictor Deployment C(<name>-predictor), and the InferenceService gets
    only the annotation C(serving.kserve.io/autoscalerClass=external), so that KServe removes its own HPA; O(state=absent)
    withdraws it.
  - Refused before anything is written, each with the fix, among others, an HPA and KEDA together, C(nvidia.com/gpu)
    as an HPA Resource metric, O(min_replicas) above O(max_replicas), scale to zero without O(allow_scale_to_zero), an
    inline Redis password, a PromQL query that does not parse, a cooldown or stabilization window shorter than
    O(startup_timeout); and, in the cluster, an HPA or ScaledObject of someone else that already scales the workload.
  - Switching between O(hpa) and O(keda) removes this module's previous autoscaler in the same run.
author:
  - inferops.kubernetes maintainers (@inferops)
requirements:
  - promql-parser (checks every PromQL query)
options:
  name:
    description:
      - Name of the model service (as O(inferops.kubernetes.inference_stack#module:name)), and of the HPA or ScaledObject.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the service.
    type: str
    default: default
  runtime:
    description:
      - The service's serving runtime; chooses the metric names of O(keda.signals) and, for V(kserve), the target.
    type: str
    required: true
    choices: [tensorflow_serving, torchserve, triton, onnxruntime, kserve]
  model_name:
    description:
      - The model's name as the runtime labels its metrics. Defaults to O(name).
    type: str
  target:
    description:
      - The workload to scale. Defaults to the Deployment O(name) (C(<name>-predictor) for V(kserve)).
    type: dict
    suboptions:
      api_version:
        description: Its apiVersion.
        type: str
        default: apps/v1
      kind:
        description: Its kind.
        type: str
        default: Deployment
      name:
        description: Its name.
        type: str
        required: true
  min_replicas:
    description:
      - The fewest replicas. V(0) (scale to zero, KEDA only) needs O(allow_scale_to_zero).
    type: int
    default: 1
  max_replicas:
    description:
      - The most replicas. Required with O(state=present).
    type: int
  allow_scale_to_zero:
    description:
      - Accept O(min_replicas=0) and its GPU cold starts (node, image, model load) with O(keda).
    type: bool
    default: false
  startup_timeout:
    description:
      - Seconds the model takes to load, as given to inference_stack. The scale-down stabilization window and KEDA's
        cooldown default to it and may not be shorter.
    type: int
    default: 600
  hpa:
    description:
      - An C(autoscaling/v2) HorizontalPodAutoscaler. Not together with O(keda).
    type: dict
    suboptions:
      metrics:
        description:
          - "Metrics as C(autoscaling/v2) MetricSpec, for example
            V({type: Pods, pods: {metric: {name: inference_requests_per_second}, target: {type: AverageValue, averageValue: '100'}}})."
        type: list
        elements: dict
        required: true
      behavior:
        description:
          - C(scaleUp) and C(scaleDown) as C(autoscaling/v2) writes them. C(scaleDown.stabilizationWindowSeconds) defaults
            to O(startup_timeout).
        type: dict
  keda:
    description:
      - A KEDA ScaledObject. Not together with O(hpa).
    type: dict
    suboptions:
      polling_interval:
        description: Seconds between KEDA's checks of the triggers.
        type: int
        default: 30
      cooldown_period:
        description:
          - Seconds after the last active trigger before KEDA scales to O(min_replicas=0). Defaults to O(startup_timeout)
            and may not be shorter.
        type: int
      prometheus_address:
        description: The Prometheus server's URL, for O(keda.signals) and O(keda.queries).
        type: str
      signals:
        description:
          - GPU-inference signals the module turns into Prometheus queries from the runtime's metric names
            (docs/autoscaling.md lists each query). Each becomes a trigger named after the signal.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description:
              - V(queue_time_ms) (mean time a request waits in the server's queue), V(requests_per_second) (per pod),
                V(gpu_utilization) (percent, per pod, from the DCGM exporter), V(gpu_memory_used_mib) (per pod).
            type: str
            required: true
            choices: [queue_time_ms, requests_per_second, gpu_utilization, gpu_memory_used_mib]
          target:
            description: The value at which to add replicas.
            type: float
            required: true
          activation_target:
            description: The value above which KEDA wakes the service from zero.
            type: float
      queries:
        description: Prometheus triggers on your own queries.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The trigger's name (lower case, digits, V(_)), for O(keda.scaling_modifiers.formula).
            type: str
            required: true
          query:
            description: The PromQL query; it must parse.
            type: str
            required: true
          threshold:
            description: The target value.
            type: float
            required: true
          activation_threshold:
            description: The value above which KEDA wakes the service from zero.
            type: float
          metric_type:
            description: V(AverageValue) divides the result by the replicas, V(Value) does not.
            type: str
            choices: [AverageValue, Value]
            default: AverageValue
      redis:
        description: A Redis list trigger (a request queue), named V(redis_list).
        type: dict
        suboptions:
          address:
            description: "V(HOST:PORT) of the Redis server."
            type: str
            required: true
          list_name:
            description: The list that holds the waiting requests.
            type: str
            required: true
          list_length:
            description: Waiting items per replica.
            type: int
            default: 5
          activation_list_length:
            description: Items above which KEDA wakes the service from zero.
            type: int
          database_index:
            description: The Redis database.
            type: int
          enable_tls:
            description: Talk TLS to Redis.
            type: bool
            default: false
          password_secret:
            description: The Secret (in O(namespace)) and key holding the Redis password, read through a TriggerAuthentication.
            type: dict
            suboptions:
              name:
                description: The Secret's name.
                type: str
                required: true
              key:
                description: The key in the Secret.
                type: str
                default: password
          password:
            description:
              - Refused. A password in the ScaledObject is readable by anyone who can read the object; use
                O(keda.redis.password_secret).
            type: str
      scaling_modifiers:
        description: KEDA's C(advanced.scalingModifiers), one metric computed from the triggers.
        type: dict
        suboptions:
          formula:
            description:
              - "An expression over trigger names, for example V(gpu_utilization > 80 && queue_time_ms > 50 ? 2 : 1)."
            type: str
            required: true
          target:
            description: The target of the computed metric.
            type: float
            required: true
          activation_target:
            description: The activation target of the computed metric.
            type: float
          metric_type:
            description: The computed metric's type.
            type: str
            choices: [AverageValue, Value]
            default: AverageValue
      fallback:
        description:
          - What KEDA does when a trigger fails O(keda.fallback.failure_threshold) times in a row (Prometheus down, a query
            with no result). Always set; these are the defaults.
        type: dict
        suboptions:
          failure_threshold:
            description: Failed checks in a row before the fallback.
            type: int
            default: 3
          replicas:
            description: Replicas during the fallback. Defaults to O(min_replicas) (at least 1).
            type: int
          behavior:
            description: V(currentReplicasIfHigher) keeps more replicas when more run; V(static) always sets O(keda.fallback.replicas).
            type: str
            choices: [static, currentReplicas, currentReplicasIfHigher, currentReplicasIfLower]
            default: currentReplicasIfHigher
      behavior:
        description:
          - The HPA behavior KEDA's HPA gets (C(advanced.horizontalPodAutoscalerConfig.behavior)).
            C(scaleDown.stabilizationWindowSeconds) defaults to O(startup_timeout).
        type: dict
      dcgm_label_prefix:
        description:
          - Put in front of the C(pod) and C(namespace) labels of DCGM series, V(exported_) where Prometheus renamed the
            exporter's own labels because the scrape does not honor them.
        type: str
        default: ""
  labels:
    description: Labels added to the objects. Values are strings.
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
  - The ScaledObject needs KEDA's CRDs; it is stored without them being acted on until the KEDA operator runs.
  - Signals need Prometheus to scrape the serving pods (ServiceMonitor or PodMonitor, labels C(namespace) and C(pod)) and,
    for the GPU signals, the DCGM exporter with its Kubernetes pod mapping.
seealso:
  - name: Autoscaling in this collection
    description: docs/autoscaling.md, every default and each generated query.
    link: https://github.com/inferops/kubernetes/blob/main/docs/autoscaling.md
"""

EXAMPLES = r"""
- name: HPA on requests per second per pod (served by prometheus-adapter) and CPU
  inferops.kubernetes.inference_autoscaling:
    name: resnet
    namespace: serving
    runtime: tensorflow_serving
    min_replicas: 2
    max_replicas: 8
    hpa:
      metrics:
        - type: Pods
          pods:
            metric: {name: inference_requests_per_second}
            target: {type: AverageValue, averageValue: "100"}
        - type: Resource
          resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}

- name: KEDA on Triton's queue time and GPU utilisation, scaled up only when both are high
  inferops.kubernetes.inference_autoscaling:
    name: bert
    namespace: serving
    runtime: triton
    max_replicas: 6
    keda:
      prometheus_address: http://prometheus-operated.monitoring.svc:9090
      signals:
        - {name: queue_time_ms, target: 50}
        - {name: gpu_utilization, target: 80}
      scaling_modifiers:
        formula: "gpu_utilization > 80 && queue_time_ms > 50 ? 2 : 1"
        target: 1
        metric_type: Value

- name: KEDA on a Redis request queue, password from a Secret
  inferops.kubernetes.inference_autoscaling:
    name: densenet
    namespace: serving
    runtime: torchserve
    max_replicas: 4
    keda:
      redis:
        address: redis.queue.svc:6379
        list_name: densenet-requests
        list_length: 20
        password_secret: {name: redis-auth, key: password}

- name: Take the autoscaler back (and give KServe its own again)
  inferops.kubernetes.inference_autoscaling:
    name: iris
    namespace: serving
    runtime: kserve
    state: absent
"""

RETURN = r"""
autoscaler:
  description: V(hpa) or V(keda); null with O(state=absent).
  returned: always
  type: str
target:
  description: The workload scaled, as C(Kind namespace/name).
  returned: always
  type: str
  sample: Deployment serving/bert
objects:
  description:
    - Each object applied, whether it changed and whether it was created; with O(state=absent), those deleted or withdrawn from.
  returned: always
  type: list
  elements: dict
  sample: [{"ref": "ScaledObject serving/bert", "changed": true, "created": true}]
removed:
  description: This module's objects of the service that the spec no longer has (the other autoscaler kind), removed.
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
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling import options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling.deploy import run_inference_autoscaling


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(**options.ARGUMENT_SPEC), supports_check_mode=True)
    run_api_module(module, lambda client: run_inference_autoscaling(client, module))


if __name__ == "__main__":
    main()
