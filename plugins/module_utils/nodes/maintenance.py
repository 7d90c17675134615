# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Take a GPU node out of service for a GPU change and bring it back once it advertises the new GPUs.

`drain`: cordon the node and evict the pods that use its GPUs (through the Eviction API, so
PodDisruptionBudgets are honoured), then wait until they are gone. DaemonSet pods stay: the
device plugin itself must keep running, and a DaemonSet would put them straight back.

`ready`: restart the device plugin pod on the node (it reads the GPUs only when it starts),
wait until the node's allocatable GPU resources are the expected ones, then uncordon the node,
but only when this module cordoned it: a node an administrator cordoned stays cordoned.
"""

from __future__ import annotations

import time
from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.inventory import pod_gpu_requests
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import classify
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError

# Marks a cordon this collection made, so `ready` lifts only its own.
CORDONED_BY = "inferops.kubernetes/cordoned-for"
TERMINAL = ("Succeeded", "Failed")


class MaintenanceError(K8sError):
    """The node could not be drained or did not come back as expected."""


def _ref(pod):
    return "%s/%s" % (pod["metadata"]["namespace"], pod["metadata"]["name"])


def _owned_by_daemonset(pod):
    return any(o.get("kind") == "DaemonSet" for o in pod["metadata"].get("ownerReferences") or [])


def pods_to_evict(pods, scope):
    """The pods a drain moves: not finished, not DaemonSet-owned, not mirror pods; with scope=gpu only GPU users."""
    chosen = []
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in TERMINAL or _owned_by_daemonset(pod):
            continue
        if "kubernetes.io/config.mirror" in (pod["metadata"].get("annotations") or {}):
            continue
        if scope == "gpu" and not pod_gpu_requests(pod):
            continue
        chosen.append(pod)
    return chosen


def gpu_allocatable(node):
    """The node's allocatable GPU resources (nvidia.com/gpu, mig-*, *.shared) as integers."""
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    return {k: int(v) for k, v in allocatable.items() if classify(k) and str(v).isdigit() and int(v) > 0}


def resources_match(node, expected):
    """True when the node advertises exactly the expected GPU resources (zero counts mean absent)."""
    want = {k: int(v) for k, v in expected.items() if int(v) > 0}
    return gpu_allocatable(node) == want


def _node(client, name):
    node = client.get("v1", "Node", name)
    if node is None:
        raise MaintenanceError("node: no node named %s in the cluster (the Kubernetes node name of the GPU host)" % name)
    return node


def _patch_node(client, name, patch, check_mode):
    return client.patch("v1", "Node", name, patch, dry_run=check_mode)


def _node_pods(client, name):
    return client.list("v1", "Pod", field_selector="spec.nodeName=%s" % name)


def drain(client, name, reason, scope="gpu", timeout=300, check_mode=False, sleep=time.sleep, clock=time.monotonic):
    """Cordon and evict. Returns {changed, cordoned, evicted}; raises MaintenanceError on a timeout."""
    node = _node(client, name)
    spec = node.get("spec") or {}
    cordon = not spec.get("unschedulable")
    result = {"changed": False, "cordoned": False, "evicted": []}
    if cordon:  # an existing cordon, ours or an administrator's, is left as it is
        _patch_node(client, name, {"metadata": {"annotations": {CORDONED_BY: reason}}, "spec": {"unschedulable": True}}, check_mode)
        result.update(changed=True, cordoned=True)
    victims = pods_to_evict(_node_pods(client, name), scope)
    result["evicted"] = [_ref(p) for p in victims]
    if not victims or check_mode:
        result["changed"] = result["changed"] or bool(victims)
        return result
    result["changed"] = True
    deadline = clock() + timeout
    pending = {p["metadata"]["uid"]: p for p in victims}
    blocked: Dict[str, str] = {}
    evicted = set()
    while True:
        for uid, pod in pending.items():
            if uid in evicted:
                continue
            try:
                client.evict(pod["metadata"]["namespace"], pod["metadata"]["name"])
                evicted.add(uid)
                blocked.pop(uid, None)
            except K8sError as exc:
                status = exc.details.get("status")
                if status == 404:
                    evicted.add(uid)
                elif status == 429:  # a PodDisruptionBudget says not now
                    blocked[uid] = exc.msg
                else:
                    raise
        left = {p["metadata"]["uid"] for p in _node_pods(client, name)} & set(pending)
        if not left:
            return result
        if clock() >= deadline:
            names = ", ".join(sorted(_ref(pending[uid]) for uid in left))
            why = "; ".join(sorted(set(blocked[uid] for uid in left if uid in blocked)))
            raise MaintenanceError(
                "node %s: pods still on it after %ss: %s%s. The node stays cordoned; free them (or relax their "
                "PodDisruptionBudget) and run again." % (name, timeout, names, (" (eviction refused: %s)" % why) if why else ""))
        sleep(1.0)


def ready(client, name, expected, restart_namespace=None, restart_selector=None, timeout=300, check_mode=False,
          only_if_cordoned=False, sleep=time.sleep, clock=time.monotonic):
    """Restart the device plugin pod, wait for the expected resources, lift our cordon. Returns {changed, ...}.

    only_if_cordoned: do all that only when this collection's cordon is on the node (an earlier run
    stopped half-way); otherwise change nothing.
    """
    node = _node(client, name)
    result = {"changed": False, "restarted": [], "uncordoned": False, "resources": gpu_allocatable(node)}
    if only_if_cordoned and CORDONED_BY not in (node["metadata"].get("annotations") or {}):
        return result
    if restart_selector:
        plugin_pods = [p for p in client.list("v1", "Pod", namespace=restart_namespace, label_selector=restart_selector)
                       if (p.get("spec") or {}).get("nodeName") == name]
        if not plugin_pods:
            raise MaintenanceError(
                "restart_selector: no pod matching %s in namespace %s runs on node %s; deploy the device plugin "
                "(the device_plugin role) or fix the selector." % (restart_selector, restart_namespace, name))
        for pod in plugin_pods:
            client.delete("v1", "Pod", pod["metadata"]["name"], namespace=restart_namespace, dry_run=check_mode)
            result["restarted"].append(_ref(pod))
        result["changed"] = True
    if not check_mode:
        deadline = clock() + timeout
        while not resources_match(node, expected):
            if clock() >= deadline:
                raise MaintenanceError(
                    "node %s: after %ss it advertises %s, expected %s. The device plugin has not registered the new "
                    "GPUs: look at its pod's log on that node. The node stays cordoned." % (
                        name, timeout, gpu_allocatable(node) or "no GPU resources",
                        {k: int(v) for k, v in expected.items() if int(v) > 0}))
            sleep(1.0)
            node = _node(client, name)
        result["resources"] = gpu_allocatable(node)
    annotations = node["metadata"].get("annotations") or {}
    if CORDONED_BY in annotations:
        patch: Dict[str, Any] = {"metadata": {"annotations": {CORDONED_BY: None}}}
        if (node.get("spec") or {}).get("unschedulable"):
            patch["spec"] = {"unschedulable": None}
            result["uncordoned"] = True
        _patch_node(client, name, patch, check_mode)
        result["changed"] = True
    return result
