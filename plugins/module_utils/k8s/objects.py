# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces every capability's objects share: who manages them, the config digest that rolls pods,
namespaces with the Pod Security level their pods need, and where a GPU node add-on runs."""

from __future__ import annotations

import hashlib
from typing import Any, Dict

MANAGED_BY = "inferops.kubernetes"

# GPU node add-ons (the device plugin, the DCGM exporter) run on GPU nodes only: the label the GPU
# Operator (or the collection's node label module) sets, or Node Feature Discovery's PCI vendor label
# for NVIDIA (10de). Terms are ORed.
GPU_ADDON_AFFINITY: Dict[str, Any] = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}]},
                {"matchExpressions": [{"key": "feature.node.kubernetes.io/pci-10de.present", "operator": "In", "values": ["true"]}]},
            ]
        }
    }
}

# GPU nodes are commonly tainted nvidia.com/gpu:NoSchedule so that only GPU workloads land there; a
# GPU node add-on must still run on them, and on nodes reserved for critical add-ons.
GPU_ADDON_TOLERATIONS = (
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "CriticalAddonsOnly", "operator": "Exists"},
)

# On a pod template: the digest of the configuration its pods read, so a changed config rolls the pods.
CONFIG_HASH_ANNOTATION = "inferops.kubernetes/config-sha256"


def config_digest(text: str) -> str:
    """The CONFIG_HASH_ANNOTATION value of a configuration, given as text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pod_security_namespace(name: str, level: str) -> Dict[str, Any]:
    """A Namespace of this collection whose Pod Security level is enforced, audited and warned."""
    labels = {"app.kubernetes.io/managed-by": MANAGED_BY}
    for mode in ("enforce", "audit", "warn"):
        labels["pod-security.kubernetes.io/%s" % mode] = level
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
