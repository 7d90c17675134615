# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces every runtime's pod shares: labels, security context, scheduling, probes, scratch volumes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.objects import MANAGED_BY, config_digest

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec

COMPONENT = "model-server"
GPU_TAINT_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
# The user id the runtimes' own images run as (tensorflow/serving runs as root by default;
# the pod sets this id so that runAsNonRoot holds for every runtime).
RUN_AS_USER = 1000
# Seconds the endpoints controller and proxies need to stop sending new requests to a stopping pod.
PRE_STOP_SLEEP = 5
PROBE_PERIOD = 10


def instance_labels(name):
    """The labels that select the serving pods of the service called name."""
    return {"app.kubernetes.io/instance": name, "app.kubernetes.io/component": COMPONENT}


def selector_labels(spec: StackSpec):
    return instance_labels(spec["name"])


def labels(spec: StackSpec):
    result = dict(spec["labels"])
    result.update(selector_labels(spec))
    result.update({
        "app.kubernetes.io/name": spec["runtime"].replace("_", "-"),
        "app.kubernetes.io/managed-by": MANAGED_BY,
    })
    return result


def metadata(spec: StackSpec, name, with_labels=True):
    meta = {"name": name, "namespace": spec["namespace"]}
    if with_labels:
        meta["labels"] = labels(spec)
    return meta


def config_hash(*config_maps):
    """The config digest (k8s/objects.py) of ConfigMaps' data: in the pod template, a changed config rolls the pods."""
    return config_digest(json.dumps([c["data"] for c in config_maps if c], sort_keys=True))


def container_security_context(spec: StackSpec):
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": spec["read_only_root_filesystem"],
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context():
    # The images' own non-root user; fsGroup makes a PVC's files readable to it.
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(spec: StackSpec):
    return {part: dict(values) for part, values in spec["resources"].items() if values}


def tolerations(spec: StackSpec):
    result = [dict(t) for t in spec["tolerations"]]
    # GPU nodes are commonly tainted nvidia.com/gpu:NoSchedule to keep other pods off them.
    if spec["gpu"] and not any(t.get("key") == "nvidia.com/gpu" for t in result):
        result.insert(0, dict(GPU_TAINT_TOLERATION))
    return result


def topology_spread(spec: StackSpec, selector):
    if spec["spread"] == "none":
        return []
    return [{
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        # prefer: replicas beyond the node count still schedule; require: they stay Pending.
        "whenUnsatisfiable": "DoNotSchedule" if spec["spread"] == "require" else "ScheduleAnyway",
        "labelSelector": {"matchLabels": dict(selector)},
    }]


def place(pod_spec, spec: StackSpec):
    """Put the spec's node selector, tolerations and topology spread on a pod spec (or KServe predictor)."""
    if spec["node_selector"]:
        pod_spec["nodeSelector"] = dict(spec["node_selector"])
    chosen = tolerations(spec)
    if chosen:
        pod_spec["tolerations"] = chosen
    spread = topology_spread(spec, selector_labels(spec))
    if spread:
        pod_spec["topologySpreadConstraints"] = spread
    return pod_spec


def http_probe(path, port_name, period=PROBE_PERIOD, failure_threshold=3, timeout=5):
    return {
        "httpGet": {"path": path, "port": port_name},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failure_threshold,
    }


def probes(spec: StackSpec, runtime):
    """Startup, readiness and liveness on the runtime's real health endpoints.

    The startup probe allows startup_timeout seconds for the model to load; liveness only begins
    after it, so a slow load is not killed as a hang.
    """
    model = spec["model"]["name"]
    protocol = spec["kserve"]["protocol"]
    ready = runtime.health_path(model, protocol)
    live = runtime.liveness_path(model, protocol)
    attempts = -(-spec["startup_timeout"] // PROBE_PERIOD)
    return {
        "startupProbe": http_probe(ready, "http", failure_threshold=attempts),
        "readinessProbe": http_probe(ready, "http", period=5),
        "livenessProbe": http_probe(live, "http", failure_threshold=3),
    }


def lifecycle():
    # A sleep action needs no shell in the image.
    return {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP}}}


def container_ports(spec: StackSpec):
    return [{"name": name, "containerPort": port, "protocol": "TCP"} for name, port in sorted(spec["ports"].items())]


def scratch_volume(name, mount_path, memory=False):
    """An emptyDir for a directory the runtime writes, so that the root filesystem can stay read-only."""
    volume = {"name": name, "emptyDir": {"medium": "Memory"} if memory else {}}
    return volume, {"name": name, "mountPath": mount_path}


def model_volume(spec: StackSpec):
    if not spec["model"]["pvc"]:
        return None
    return {"name": "model", "persistentVolumeClaim": {"claimName": spec["model"]["pvc"], "readOnly": True}}


def config_map(spec: StackSpec, suffix, data):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, "%s-%s" % (spec["name"], suffix)),
        "data": data,
    }
