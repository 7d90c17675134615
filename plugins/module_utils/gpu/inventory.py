# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU inventory of a cluster: per node and per product, from Node and Pod objects (plain dicts)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, List, Optional

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.conditions import condition_status
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import classify

try:
    from kubernetes.utils.quantity import parse_quantity
except ImportError:  # guarded in the module; the pure helpers below need it only when called
    parse_quantity = None

LABEL_PREFIX = "nvidia.com/"
TERMINAL_PHASES = ("Succeeded", "Failed")


def _count(value: Any) -> int:
    if value is None:
        return 0
    return int(parse_quantity(value)) if parse_quantity else int(Decimal(str(value)))


def _requests(container: Dict[str, Any]) -> Dict[str, int]:
    """Requests per GPU resource of one container. Extended resources default their request to the limit."""
    resources = container.get("resources") or {}
    merged = dict(resources.get("limits") or {})
    merged.update(resources.get("requests") or {})
    return {name: _count(value) for name, value in merged.items() if classify(name)}


def _add(total: Dict[str, int], extra: Dict[str, int]) -> None:
    for name, value in extra.items():
        total[name] = total.get(name, 0) + value


def pod_gpu_requests(pod: Dict[str, Any]) -> Dict[str, int]:
    """The scheduler's effective request of a pod for each GPU resource.

    max(app containers + sidecars, each init container + the sidecars started before it) + overhead.
    """
    spec = pod.get("spec") or {}
    effective: Dict[str, int] = {}
    sidecars: Dict[str, int] = {}
    for init in spec.get("initContainers") or []:
        requests = _requests(init)
        if init.get("restartPolicy") == "Always":
            _add(sidecars, requests)
            continue
        during = dict(sidecars)
        _add(during, requests)
        for name, value in during.items():
            effective[name] = max(effective.get(name, 0), value)
    running = dict(sidecars)
    for container in spec.get("containers") or []:
        _add(running, _requests(container))
    for name, value in running.items():
        effective[name] = max(effective.get(name, 0), value)
    _add(effective, {k: _count(v) for k, v in (spec.get("overhead") or {}).items() if classify(k)})
    return {name: value for name, value in effective.items() if value}


def _ready(node: Dict[str, Any]) -> bool:
    return condition_status(node, "Ready") == "True"


def _int_label(labels: Dict[str, Any], key: str) -> Optional[int]:
    value = labels.get(key)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _driver_version(labels: Dict[str, Any]) -> Optional[str]:
    if labels.get("nvidia.com/cuda.driver-version.full"):
        return labels["nvidia.com/cuda.driver-version.full"]
    parts: List[Any] = [labels.get("nvidia.com/cuda.driver.%s" % p) for p in ("major", "minor", "rev")]
    return ".".join(parts) if all(parts) else None


def _cuda_version(labels: Dict[str, Any]) -> Optional[str]:
    if labels.get("nvidia.com/cuda.runtime-version.full"):
        return labels["nvidia.com/cuda.runtime-version.full"]
    parts: List[Any] = [labels.get("nvidia.com/cuda.runtime.%s" % p) for p in ("major", "minor")]
    return ".".join(parts) if all(parts) else None


def node_entry(node: Dict[str, Any], pods: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Inventory of one node, given the non-terminal pods bound to it."""
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    status = node.get("status") or {}
    capacity = {k: _count(v) for k, v in (status.get("capacity") or {}).items() if classify(k)}
    allocatable = {k: _count(v) for k, v in (status.get("allocatable") or {}).items() if classify(k)}
    in_use: Dict[str, int] = {}
    gpu_pods: List[Dict[str, Any]] = []
    for pod in pods:
        requests = pod_gpu_requests(pod)
        if requests:
            _add(in_use, requests)
            pod_meta = pod.get("metadata") or {}
            gpu_pods.append({
                "namespace": pod_meta.get("namespace"),
                "name": pod_meta.get("name"),
                "phase": (pod.get("status") or {}).get("phase"),
                "requests": requests,
            })
    resources: Dict[str, Dict[str, Any]] = {}
    for name in sorted(set(capacity) | set(allocatable) | set(in_use)):
        kind, profile = classify(name)  # type: ignore[misc]  # not None: every name here passed classify()
        alloc = allocatable.get(name, 0)
        used = in_use.get(name, 0)
        resources[name] = {
            "kind": kind,
            "mig_profile": profile,
            "capacity": capacity.get(name, 0),
            "allocatable": alloc,
            "in_use": used,
            "free": max(alloc - used, 0),
        }
    spec = node.get("spec") or {}
    return {
        "name": metadata.get("name"),
        "ready": _ready(node),
        "schedulable": not spec.get("unschedulable", False),
        "taints": [
            {k: t[k] for k in ("key", "value", "effect") if t.get(k) is not None} for t in spec.get("taints") or []
        ],
        "gpu_present": bool(resources) or labels.get("nvidia.com/gpu.present") == "true",
        "product": labels.get("nvidia.com/gpu.product"),
        "memory_mib": _int_label(labels, "nvidia.com/gpu.memory"),
        "gpu_count": _int_label(labels, "nvidia.com/gpu.count"),
        "family": labels.get("nvidia.com/gpu.family"),
        "mig_capable": labels.get("nvidia.com/mig.capable") == "true" if "nvidia.com/mig.capable" in labels else None,
        "mig_strategy": labels.get("nvidia.com/mig.strategy"),
        "sharing_strategy": labels.get("nvidia.com/gpu.sharing-strategy"),
        "replicas": _int_label(labels, "nvidia.com/gpu.replicas"),
        "driver_version": _driver_version(labels),
        "cuda_version": _cuda_version(labels),
        "labels": {k: v for k, v in sorted(labels.items()) if k.startswith(LABEL_PREFIX)},
        "resources": resources,
        "pods": sorted(gpu_pods, key=lambda p: (p["namespace"] or "", p["name"] or "")),
    }


def _bump(target: Dict[str, Dict[str, int]], key: str, entry: Dict[str, Any], available: bool) -> None:
    slot = target.setdefault(key, {"capacity": 0, "allocatable": 0, "in_use": 0, "free": 0, "unavailable": 0})
    slot["capacity"] += entry["capacity"]
    slot["allocatable"] += entry["allocatable"]
    slot["in_use"] += entry["in_use"]
    if available:
        slot["free"] += entry["free"]
    else:
        slot["unavailable"] += entry["allocatable"]


def summarize(entries: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Fleet totals per resource and per product.

    `free` counts only nodes that are Ready and schedulable: a GPU on a cordoned or
    NotReady node cannot take a new pod, so it is counted as `unavailable` instead.
    """
    resources: Dict[str, Dict[str, int]] = {}
    products: Dict[str, Dict[str, Any]] = {}
    for entry in entries:
        if not entry["resources"]:
            continue
        available = entry["ready"] and entry["schedulable"]
        product = entry["product"] or "unknown"
        slot = products.setdefault(product, {"nodes": 0, "memory_mib": entry["memory_mib"], "resources": {}})
        slot["nodes"] += 1
        for name, res in entry["resources"].items():
            _bump(resources, name, res, available)
            _bump(slot["resources"], name, res, available)
    for slot in products.values():
        whole = slot["resources"].get("nvidia.com/gpu", {})
        slot["free_gpus"] = whole.get("free", 0)
    gpu_nodes = [e for e in entries if e["resources"]]
    return {
        "nodes": len(entries),
        "gpu_nodes": len(gpu_nodes),
        "schedulable_gpu_nodes": sum(1 for e in gpu_nodes if e["ready"] and e["schedulable"]),
        "resources": resources,
        "products": products,
    }


def build_inventory(nodes: List[Dict[str, Any]], pods: List[Dict[str, Any]], include_cpu_nodes: bool = False) -> Dict[str, Any]:
    """Inventory of the given nodes. pods: any pods; terminal or unbound ones are ignored."""
    by_node: Dict[Optional[str], List[Dict[str, Any]]] = {}
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name and (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES:
            by_node.setdefault(node_name, []).append(pod)
    entries = [node_entry(node, by_node.get((node.get("metadata") or {}).get("name"), [])) for node in nodes]
    entries.sort(key=lambda e: e["name"] or "")
    summary = summarize(entries)
    if not include_cpu_nodes:
        entries = [e for e in entries if e["gpu_present"]]
    return {"nodes": entries, "summary": summary}
