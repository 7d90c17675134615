# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVIDIA's dcgm-exporter as plain-dict manifests, from one validated spec.

`validate` checks every input and raises InputError naming the option and the fix; `build_manifests`
turns the validated spec into the Namespace, ConfigMap (the counters file), DaemonSet, Service and
ServiceMonitor in the order they must be applied. Nothing here talks to the API.

Pod attribution: with DCGM_EXPORTER_KUBERNETES the exporter asks the kubelet's pod-resources API (the
socket in /var/lib/kubelet/pod-resources) which container holds which GPU, and adds namespace, pod and
container labels to that GPU's series. The ServiceMonitor keeps those labels (honorLabels): without it
Prometheus's own target labels of the same names (the exporter's pod) win and the GPU owner's move to
exported_namespace, exported_pod, exported_container.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List

from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter.counters import render_counters, valid_counters
from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter.options import EXPORTER_OPTIONS
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.objects import (
    CONFIG_HASH_ANNOTATION,
    GPU_ADDON_AFFINITY,
    GPU_ADDON_TOLERATIONS,
    MANAGED_BY,
    config_digest,
    pod_security_namespace,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import option_defaults
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    fail,
    valid_duration,
    valid_image,
    valid_labels,
    valid_toleration,
    with_defaults,
)

NAME = "dcgm-exporter"
CONFIG_MAP_NAME = "dcgm-exporter-counters"
COUNTERS_KEY = "counters.csv"
# beside, not over, the image's own /etc/dcgm-exporter (its other counter files stay readable)
COUNTERS_DIR = "/etc/dcgm-exporter/inferops"
POD_RESOURCES_MOUNT = "/var/lib/kubelet/pod-resources"
PORT = 9400
PORT_NAME = "metrics"
METRICS_PATH = "/metrics"
SERVICE_MONITOR_API = "monitoring.coreos.com/v1"

DEFAULTS = option_defaults(EXPORTER_OPTIONS)
DEFAULT_IMAGE = DEFAULTS["image"]

SELECTOR_LABELS = {"app.kubernetes.io/name": NAME}
COMMON_LABELS = dict(SELECTOR_LABELS, **{"app.kubernetes.io/managed-by": MANAGED_BY})

# The labels the exporter sets on every GPU series; the Hostname is the node's name (NODE_NAME).
GPU_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname")
# ... and, in Kubernetes mode, on the series of a GPU that a container holds
POD_LABELS = ("namespace", "pod", "container")


def _name(path, value, pattern, limit, example):
    if not isinstance(value, str) or len(value) > limit or not pattern.match(value):
        fail(path, "%r is not a valid name" % (value,), "Use lower-case letters, digits and '-', for example %s." % example)
    return value


def _service_monitor_labels(value, wanted):
    labels = valid_labels("service_monitor_labels", value)
    if wanted and not labels:
        fail("service_monitor_labels", "empty, so the ServiceMonitor carries no label a Prometheus selects it by",
             "Set the labels your Prometheus's serviceMonitorSelector matches, for example {release: kube-prometheus-stack} "
             "for kube-prometheus-stack installed as kube-prometheus-stack, or set service_monitor=false.")
    return labels


def validate(spec: Dict[str, Any]) -> Dict[str, Any]:
    """A complete, checked copy of spec (module option names; missing ones take DEFAULTS).

    Raises InputError naming the first wrong option and the fix; nothing is built before this passes.
    """
    merged = with_defaults(spec, DEFAULTS, "DCGM exporter")
    interval = merged["collect_interval_ms"]
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 100:
        fail("collect_interval_ms", "%r is not a collection interval of 100 ms or more" % (interval,),
             "Give milliseconds, for example 30000 (dcgm-exporter's default); DCGM samples most fields no faster than that.")
    pod_resources = merged["pod_resources_dir"]
    if not isinstance(pod_resources, str) or not pod_resources.startswith("/") or pod_resources.rstrip("/") == "":
        fail("pod_resources_dir", "%r is not an absolute directory on the node" % (pod_resources,),
             "Give the kubelet's pod-resources directory, /var/lib/kubelet/pod-resources unless the kubelet's --root-dir moves it.")
    runtime_class = merged["runtime_class_name"] or None
    if runtime_class is not None:
        _name("runtime_class_name", runtime_class, DNS_SUBDOMAIN, 253, "nvidia")
    if not isinstance(merged["service_monitor"], bool):
        fail("service_monitor", "expected true or false, got %r" % (merged["service_monitor"],), "Set true or false.")
    scrape = merged["scrape_interval"]
    valid_duration("scrape_interval", scrape)
    if not isinstance(merged["tolerations"], list):
        fail("tolerations", "expected a list, got %s" % type(merged["tolerations"]).__name__, "Give a list of tolerations.")
    return {
        "namespace": _name("namespace", merged["namespace"], DNS_LABEL, 63, NAME),
        "image": valid_image("image", merged["image"], DEFAULT_IMAGE),
        "counters": valid_counters(merged["counters"]),
        "collect_interval_ms": interval,
        "pod_resources_dir": pod_resources.rstrip("/"),
        "runtime_class_name": runtime_class,
        "service_monitor": merged["service_monitor"],
        "service_monitor_labels": _service_monitor_labels(merged["service_monitor_labels"], merged["service_monitor"]),
        "scrape_interval": scrape,
        "tolerations": [valid_toleration(i, t) for i, t in enumerate(merged["tolerations"])],
        "node_selector": valid_labels("node_selector", merged["node_selector"]),
    }


def namespace_manifest(spec):
    # The exporter mounts a hostPath (the kubelet's pod-resources directory) and runs as root with
    # CAP_SYS_ADMIN (DCGM's profiling fields, DCGM_FI_PROF_*): Pod Security's privileged level.
    return pod_security_namespace(spec["namespace"], "privileged")


def config_map_manifest(spec):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP_NAME, "namespace": spec["namespace"], "labels": dict(COMMON_LABELS)},
        "data": {COUNTERS_KEY: render_counters(spec["counters"])},
    }


def daemonset_manifest(spec, counters_text):
    env = [
        {"name": "DCGM_EXPORTER_LISTEN", "value": ":%d" % PORT},
        {"name": "DCGM_EXPORTER_COLLECTORS", "value": "%s/%s" % (COUNTERS_DIR, COUNTERS_KEY)},
        {"name": "DCGM_EXPORTER_INTERVAL", "value": str(spec["collect_interval_ms"])},
        # pod attribution through the kubelet's pod-resources API
        {"name": "DCGM_EXPORTER_KUBERNETES", "value": "true"},
        {"name": "DCGM_POD_RESOURCES_KUBELET_SOCKET", "value": POD_RESOURCES_MOUNT + "/kubelet.sock"},
        # the Hostname label: the node's name rather than the pod's
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        # what the NVIDIA runtime mounts into the exporter's own container: every GPU, NVML
        {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
        {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"},
    ]
    tolerations = [dict(t) for t in GPU_ADDON_TOLERATIONS]
    tolerations += [t for t in spec["tolerations"] if t not in tolerations]
    pod_spec: Dict[str, Any] = {
        # the exporter reads the kubelet's socket and DCGM, never the API server (pod labels are not enabled)
        "automountServiceAccountToken": False,
        "affinity": copy.deepcopy(GPU_ADDON_AFFINITY),
        "tolerations": tolerations,
        "containers": [{
            "name": NAME,
            "image": spec["image"],
            "env": env,
            "ports": [{"name": PORT_NAME, "containerPort": PORT, "protocol": "TCP"}],
            # as upstream's manifest: root with CAP_SYS_ADMIN for the profiling fields, nothing else
            "securityContext": {
                "runAsNonRoot": False,
                "runAsUser": 0,
                "allowPrivilegeEscalation": False,
                "capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]},
            },
            "readinessProbe": {"httpGet": {"path": "/health", "port": PORT}, "periodSeconds": 10},
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            "volumeMounts": [
                {"name": "pod-resources", "mountPath": POD_RESOURCES_MOUNT, "readOnly": True},
                {"name": "counters", "mountPath": COUNTERS_DIR, "readOnly": True},
            ],
        }],
        "volumes": [
            {"name": "pod-resources", "hostPath": {"path": spec["pod_resources_dir"], "type": "Directory"}},
            {"name": "counters", "configMap": {"name": CONFIG_MAP_NAME}},
        ],
    }
    if spec["runtime_class_name"]:
        pod_spec["runtimeClassName"] = spec["runtime_class_name"]
    if spec["node_selector"]:
        pod_spec["nodeSelector"] = dict(spec["node_selector"])
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": spec["namespace"], "labels": dict(COMMON_LABELS)},
        "spec": {
            "selector": {"matchLabels": dict(SELECTOR_LABELS)},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                # the exporter reads its counters file once, at start: a changed file rolls the pods
                "metadata": {"labels": dict(COMMON_LABELS), "annotations": {CONFIG_HASH_ANNOTATION: config_digest(counters_text)}},
                "spec": pod_spec,
            },
        },
    }


def service_manifest(spec):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": spec["namespace"], "labels": dict(COMMON_LABELS)},
        "spec": {
            "selector": dict(SELECTOR_LABELS),
            "ports": [{"name": PORT_NAME, "port": PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }


def service_monitor_manifest(spec):
    labels = dict(COMMON_LABELS)
    labels.update(spec["service_monitor_labels"])
    return {
        "apiVersion": SERVICE_MONITOR_API,
        "kind": "ServiceMonitor",
        "metadata": {"name": NAME, "namespace": spec["namespace"], "labels": labels},
        "spec": {
            "selector": {"matchLabels": dict(COMMON_LABELS)},
            "namespaceSelector": {"matchNames": [spec["namespace"]]},
            "endpoints": [{
                "port": PORT_NAME,
                "path": METRICS_PATH,
                "interval": spec["scrape_interval"],
                # the exporter's namespace/pod/container labels name the GPU's owner: keep them over the target's
                "honorLabels": True,
                # the node the GPU is in, as a label Prometheus's own relabelling gives (the exporter's Hostname too)
                "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"}],
            }],
        },
    }


def build_manifests(spec) -> List[Dict[str, Any]]:
    """Validated spec -> objects in apply order: Namespace, ConfigMap, DaemonSet, Service, ServiceMonitor (optional)."""
    config_map = config_map_manifest(spec)
    objects = [namespace_manifest(spec), config_map, daemonset_manifest(spec, config_map["data"][COUNTERS_KEY]), service_manifest(spec)]
    if spec["service_monitor"]:
        objects.append(service_monitor_manifest(spec))
    return objects
